"""Run `twgrpo train …` and SIGKILL the process at a chosen point of a checkpoint save (test helper).

    python tests/train_killed.py after-save STEP  -- twgrpo-train-arguments…   # killed once checkpoint-STEP is complete
    python tests/train_killed.py during-save STEP -- twgrpo-train-arguments…   # killed after the weights and optimizer
                                                                               # of checkpoint-STEP, before its RNG state
                                                                               # and trainer_state.json

The kill is the process sending itself SIGKILL from inside the save, so it lands at the same point on every
run (no timing, no environment variable read by the library).
"""

from __future__ import annotations

import os
import signal
import sys

from transformers import Trainer

from twgrpo_cli.app import main


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(mode: str, step: int) -> None:
    if mode == "after-save":
        save = Trainer._save_checkpoint

        def save_then_die(self, *args, **kwargs):
            save(self, *args, **kwargs)
            if self.state.global_step == step:
                _kill()

        Trainer._save_checkpoint = save_then_die
    elif mode == "during-save":
        save_rng = Trainer._save_rng_state

        def die_before_rng(self, *args, **kwargs):
            if self.state.global_step == step:
                _kill()
            save_rng(self, *args, **kwargs)

        Trainer._save_rng_state = die_before_rng
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    mode, step, sep, *rest = sys.argv[1:]
    assert sep == "--", "usage: train_killed.py MODE STEP -- ARGS…"
    arm(mode, int(step))
    main(["train", *rest])
