"""Where the tests' inputs lie: the repository and the real data in `../shared` beside it (as in CI). Test modules
import these names from here; pytest fixtures live in conftest.py."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
FIXTURES = SHARED / "fixtures" / "benchmarks"
DATA = SHARED / "data"
VIDEOS = DATA / "videos"
# the tiny training config every training test runs (with a model built by `twgrpo dev tiny-model`)
TINY_YAML = REPO / "examples" / "train_tiny.yaml"
