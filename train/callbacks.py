"""What `twgrpo train` writes and prints as it goes: every log to a JSON Lines file (cut back to the checkpoint a
resumed run starts from), and one short line per logging step instead of TRL's dict of metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from twgrpo_data.io.jsonl_log import append_jsonl
from twgrpo_data.outputs import atomic_write_text

# (log key, label, format) of the one line printed per logging step; every key still goes to metrics.jsonl
_STEP_LINE = (
    ("reward", "reward", "{:.3f}"),
    ("reward_std", "±", "{:.3f}"),
    ("soft_accuracy", "soft acc", "{:.3f}"),
    ("completions/mean_length", "length", "{:.1f}"),
    ("tw/weight_mean", "w mean", "{:.2f}"),
    ("tw/weight_max", "max", "{:.2f}"),
    ("tw/weight_entropy", "entropy", "{:.2f}"),
    ("loss", "loss", "{:.4g}"),
    ("grad_norm", "grad", "{:.3g}"),
)


class MetricsJsonlCallback(TrainerCallback):
    """Append every training log (TRL's metrics plus ours) to a JSONL file, one object per logging step.

    On (re)start the file is cut back to the steps up to the checkpoint being resumed, so a resumed run never
    holds the same step twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or not self.path.exists():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8").split("\n"):
            try:
                row = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue  # the last line, torn by a kill
            if row is not None and row.get("step", 0) <= state.global_step:
                keep.append(line)
        atomic_write_text(self.path, "".join(line + "\n" for line in keep))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch}
        row.update({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in logs.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path, [row])


def step_line(step: int, max_steps: int, logs: dict[str, Any]) -> str:
    """One short line for a training log (reward, its std, soft accuracy, completion length, token-weight
    stats, loss), instead of TRL's dict of 30-odd keys; other logs (eval, the end summary) as `key value` pairs.

    Example:
        >>> step_line(3, 10, {"reward": 0.5, "reward_std": 0.25, "loss": 0.01, "entropy": 6.0})
        'step 3/10  reward 0.500 ± 0.250  loss 0.01'
    """
    if "reward" not in logs:
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in logs.items() if k != "total_flos"}
        return f"step {step}/{max_steps}  " + "  ".join(f"{k} {v}" for k, v in shown.items())
    parts = [f"step {step}/{max_steps}"]
    for key, label, fmt in _STEP_LINE:
        value = logs.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            text = fmt.format(value)
            if label == "±" or label == "max":
                parts[-1] += f" {label} {text}"
            else:
                parts.append(f"{label} {text}")
    return "  ".join(parts)


class StepLineProgressCallback(ProgressCallback):
    """The progress bar, with `step_line` under it instead of every log's whole dict."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs:
            self.training_bar.write(step_line(state.global_step, state.max_steps, logs))


class StepLinePrinterCallback(PrinterCallback):
    """`disable_tqdm`: `step_line` printed, instead of every log's whole dict."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_local_process_zero and logs:
            print(step_line(state.global_step, state.max_steps, logs), flush=True)
