"""What the tests of whole training runs share (plain run, DeepSpeed, vLLM rollouts): the environment a training
process runs in, the script that kills one at a chosen moment, and how two runs' weights and step lines are read
to be compared (a resumed run must end where the uninterrupted one ends)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from paths import REPO

from twgrpo_data.io.json_text import read_jsonl

# one thread: faster than two for the tiny model, and no oversubscribed CI cores; no Hub lookups
TRAIN_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
# `KILLED + [MODE, STEP, "--", *train_args]`: `twgrpo train` that SIGKILLs itself (tests/train_killed.py)
KILLED = [sys.executable, str(REPO / "tests" / "train_killed.py")]
# wall-clock and session-summary values differ between sessions by nature
NOT_COMPARED = {"step_time", "train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss"}


def weights(path: Path) -> dict:
    """The tensors of a saved model file, by name."""
    from safetensors.torch import load_file

    return load_file(str(path))


def step_lines(path: Path) -> list[dict]:
    """A run's metrics.jsonl without the values that differ between sessions (`NOT_COMPARED`)."""
    return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in read_jsonl(path)]
