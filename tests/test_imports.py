"""DESIGN §1: `twgrpo_data` never imports torch at import time, the CLI starts without heavy libraries, and
`twgrpo qai negate` parses with spaCy without importing torch (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import run_cli_fresh

CHECK = """
import importlib, pkgutil, sys
import twgrpo_data, twgrpo_data.benchmarks, twgrpo_cli.app
heavy = ("torch", "transformers", "trl", "vllm", "decord", "datasets", "matplotlib", "spacy", "thinc", "pyarrow", "numpy")
cli = sorted(m for m in heavy if m in sys.modules)
for mod in pkgutil.walk_packages(twgrpo_data.__path__, "twgrpo_data."):
    importlib.import_module(mod.name)
print(",".join(cli) + "|" + ",".join(sorted(m for m in heavy[:5] if m in sys.modules)))
"""


def test_data_package_and_cli_import_no_heavy_libraries():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "|"


@pytest.mark.slow
def test_qai_negate_parses_without_importing_torch_and_torch_still_imports_after():
    result, modules = run_cli_fresh("qai", "negate", "-", input="who picked up the ball\n", then="import torch")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["negated"] == "who didn't pick up the ball"  # needs the parser (do-support)
    assert "spacy" in modules and "torch" not in modules
    # only the qai command's module was loaded: no other command's dependencies
    other = ("twgrpo_eval", "twgrpo_train", "twgrpo_cli.eval", "twgrpo_cli.train", "twgrpo_cli.data", "pyarrow")
    assert [m for m in other + ("datasets",) if m in modules] == []


def test_root_help_loads_no_subcommand_module():
    result, modules = run_cli_fresh("--help")
    assert result.code == 0 and "qai" in result.stdout and "publish" in result.stdout, result.stderr
    from twgrpo_cli.app import SUBCOMMANDS

    commands = {sub.module for sub in SUBCOMMANDS.values()}
    assert sorted(m for m in modules if m in commands or m.startswith(("twgrpo_eval", "twgrpo_train"))) == []
    assert {"twgrpo_cli.app", "twgrpo_cli.output"} <= modules


def test_root_help_summaries_are_the_commands_own_first_lines():
    from twgrpo_cli.app import SUBCOMMANDS, load_subcommand

    for name, sub in SUBCOMMANDS.items():
        command = load_subcommand(name)
        assert command.name == name and hasattr(command, "commands") == sub.group, name
        assert sub.summary == command.help.strip().split("\n")[0], name
