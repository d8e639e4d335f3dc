"""DESIGN §1: `twgrpo_data` never imports torch at import time, and the CLI starts without heavy libraries."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import twgrpo_data, twgrpo_data.benchmarks, twgrpo_cli.app
for mod in pkgutil.walk_packages(twgrpo_data.__path__, "twgrpo_data."):
    importlib.import_module(mod.name)
heavy = sorted(m for m in ("torch", "transformers", "trl", "vllm", "decord") if m in sys.modules)
print(",".join(heavy))
"""


def test_data_package_and_cli_import_no_heavy_libraries():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
