# The README's two commands are `make demo` and `make test`; both create the venv first when needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch/torchvision are pinned to the builds that lie on this machine's disk (see README).
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test test-vllm bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[all]' $(TORCH)
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: setup
	bash examples/demo.sh

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
