"""Shared test fixtures: the `../shared` data beside the repo and a tiny model built once per session (the paths
themselves are in paths.py, the way to run the command in cli_helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from paths import SHARED

# pytest-xdist's workers (`make test-fast` runs two) set COLUMNS=80, and a rich console made while it is set keeps
# that width, whatever width a test then asks for: the command's tables are laid out as in a plain `pytest` run.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

# CI replays a fixed set of examples (no example database, no randomness), so a red run is a real regression;
# locally Hypothesis keeps exploring new examples on every run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory) -> None:
    """twgrpo's derived-data cache (the verb-lemma table) in a folder of this session: tests neither read a
    stale table from the home folder nor leave one there. CLI subprocesses inherit it."""
    os.environ["TWGRPO_CACHE"] = str(tmp_path_factory.mktemp("twgrpo_cache"))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: tests read the real data from there")
    return SHARED


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Qwen2.5-VL with tokenizer and processors (`twgrpo dev tiny-model`), built once."""
    from twgrpo_eval.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "Qwen2.5-VL-tiny"
    build_tiny_model(out)
    return out
