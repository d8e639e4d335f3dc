#!/usr/bin/env bash
# GPU check (issue 19): token-weight memory, a TW-GRPO step at Qwen2.5-VL 3B/7B size, the transformers eval
# backend on CUDA, in one process and under 8 minutes (benchmarks/gpu_check.py says what it measures).
#
#   scripts/gpu_check.sh              on the GPU machine, from the repo root, with .gpu-wheels carried
#                                     (`make gpu-wheels` here first): installs the carried wheels and twgrpo
#                                     into a target folder, then runs the check with `python3`
#   scripts/gpu_check.sh --dry-run    CPU, tiny shapes, nothing installed: every code path (CI runs it)
#
# Other arguments go to benchmarks/gpu_check.py. Results: a table on stdout and, when $OUT is set,
# $OUT/gpu_check.json and the whole log in $OUT/gpu_check.log. Environment: PYTHON (default python3; the
# repo's .venv for --dry-run), GPU_WHEELS (default .gpu-wheels), GPU_SITE (default .gpu-site, beside .gpu-wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1

for arg in "$@"; do
    if [[ $arg == --dry-run ]]; then
        if [[ -z ${PYTHON:-} ]]; then
            PYTHON=python3
            [[ -x .venv/bin/python ]] && PYTHON=.venv/bin/python
        fi
        exec "$PYTHON" benchmarks/gpu_check.py "$@"
    fi
done

# the device tool returns only the output's tail: keep the whole log beside the JSON
if [[ -n ${OUT:-} ]]; then
    mkdir -p "$OUT"
    exec > >(tee -a "$OUT/gpu_check.log") 2>&1
fi
PYTHON=${PYTHON:-python3}
WHEELS=${GPU_WHEELS:-.gpu-wheels}
SITE=$(realpath -m "${GPU_SITE:-.gpu-site}")  # absolute: PYTHONPATH must not depend on the cwd
TOTAL_S=465  # whole run, install included: under 8 minutes with room for the final report
started=$SECONDS
if ! compgen -G "$WHEELS/*.whl" >/dev/null; then
    echo "gpu_check: no wheels in $WHEELS/: run 'make gpu-wheels' on the CPU machine and carry $WHEELS" >&2
    exit 1
fi
pip=("$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE")
"${pip[@]}" "$WHEELS"/*.whl
# twgrpo itself from this checkout (build isolation with the carried setuptools; the repo stays the source)
"${pip[@]}" --find-links "$WHEELS/build" .
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
left=$((TOTAL_S - (SECONDS - started)))
echo "gpu_check: installed into $SITE in $((SECONDS - started)) s; $left s left"
# the check stops its own parts at --budget-s; the timeout is for what a Python signal cannot interrupt
exec timeout --signal=TERM --kill-after=10 $((left + 10)) "$PYTHON" benchmarks/gpu_check.py --budget-s "$((left - 5))" "$@"
