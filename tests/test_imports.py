"""DESIGN §1: `twgrpo_data` never imports torch at import time, the CLI starts without heavy libraries, and
`twgrpo qai negate` parses with spaCy without importing torch (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHECK = """
import importlib, pkgutil, sys
import twgrpo_data, twgrpo_data.benchmarks, twgrpo_cli.app
heavy = ("torch", "transformers", "trl", "vllm", "decord", "datasets", "matplotlib", "spacy", "thinc", "pyarrow", "numpy")
cli = sorted(m for m in heavy if m in sys.modules)
for mod in pkgutil.walk_packages(twgrpo_data.__path__, "twgrpo_data."):
    importlib.import_module(mod.name)
print(",".join(cli) + "|" + ",".join(sorted(m for m in heavy[:5] if m in sys.modules)))
"""

# Runs `twgrpo qai negate -` in this process, then reports what it imported and whether torch still imports.
NEGATE = """
import io, json, sys
sys.stdin = io.StringIO("who picked up the ball\\n")
from twgrpo_cli.app import main
try:
    main(["qai", "negate", "-"])
except SystemExit as exc:
    assert not exc.code, exc.code
after_negate = {m: m in sys.modules for m in ("spacy", "torch")}
import torch
print(json.dumps(after_negate))
"""


def test_data_package_and_cli_import_no_heavy_libraries():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "|"


@pytest.mark.slow
def test_qai_negate_parses_without_importing_torch_and_torch_still_imports_after():
    out = subprocess.run([sys.executable, "-c", NEGATE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result, imported = out.stdout.strip().splitlines()
    assert json.loads(result)["negated"] == "who didn't pick up the ball"  # needs the parser (do-support)
    assert json.loads(imported) == {"spacy": True, "torch": False}
