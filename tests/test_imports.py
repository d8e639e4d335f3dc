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
# only the qai command's module was loaded: no other command's dependencies
other = ("twgrpo_eval", "twgrpo_train", "twgrpo_cli.eval", "twgrpo_cli.train", "twgrpo_cli.data", "pyarrow", "datasets")
after_negate["others"] = sorted(m for m in other if m in sys.modules)
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
    assert json.loads(imported) == {"spacy": True, "torch": False, "others": []}


HELP = """
import contextlib, io, sys
from twgrpo_cli.app import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["--help"])
    except SystemExit as exc:
        assert not exc.code, exc.code
assert "qai" in out.getvalue() and "publish" in out.getvalue(), out.getvalue()
print(",".join(sorted(m for m in sys.modules if m.startswith(("twgrpo_cli.", "twgrpo_eval", "twgrpo_train")))))
"""


def test_root_help_loads_no_subcommand_module():
    out = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "twgrpo_cli.app"


def test_root_help_summaries_are_the_commands_own_first_lines():
    from twgrpo_cli.app import SUBCOMMANDS, load_subcommand

    for name, sub in SUBCOMMANDS.items():
        command = load_subcommand(name)
        assert command.name == name and hasattr(command, "commands") == sub.group, name
        assert sub.summary == command.help.strip().split("\n")[0], name
