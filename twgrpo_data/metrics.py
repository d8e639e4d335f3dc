"""Scoring of model outputs and aggregation into accuracy / soft accuracy with bootstrap intervals (DESIGN §5).

Eval runs (`samples.jsonl`), re-scoring of logs and training all go through `score_output` and `summarize`,
so a number means the same everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .scoring import format_reward, gold_set, parse_answer, soft_reward


@dataclass(frozen=True)
class ItemScore:
    """One scored item. `error` is set when the item failed (missing video, backend error): it scores 0."""

    id: str
    parsed: str
    gold: list[str]
    soft: float
    strict: float
    format: float
    category: str | None = None
    error: str | None = None
    output_chars: int = 0

    @property
    def multi(self) -> bool:
        return len(self.gold) > 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_output(item_id: str, output: str | None, gold: str | Sequence[str], *, parser: str = "twgrpo",
                 options: Sequence[str] | None = None, category: str | None = None,
                 error: str | None = None) -> ItemScore:
    """Parse `output` and score it against `gold` (letters, 'A,C' or '<answer>A,C</answer>')."""
    letters = sorted(gold_set(gold))
    if error is not None or output is None:
        return ItemScore(item_id, "", letters, 0.0, 0.0, 0.0, category, error or "no output", 0)
    parsed = parse_answer(output, parser, options)
    soft = soft_reward(parsed, letters)
    return ItemScore(item_id, parsed, letters, soft, float(soft == 1.0), format_reward(output, "eval"),
                     category, None, len(output))


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean of `values` (×100), reproducible through `seed`."""
    if len(values) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # resample in slices so memory stays bounded for large n
    step = max(1, 2_000_000 // len(values))
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, len(values), size=(stop - start, len(values)))
        means[start:stop] = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [round(float(lo) * 100, 4), round(float(hi) * 100, 4)]


def _block(items: list[ItemScore], n_boot: int, seed: int) -> dict[str, Any]:
    strict = np.array([i.strict for i in items], dtype=float)
    soft = np.array([i.soft for i in items], dtype=float)
    if not items:
        return {"n": 0, "accuracy": None, "soft_accuracy": None}
    return {
        "n": len(items),
        "accuracy": round(float(strict.mean()) * 100, 4),
        "soft_accuracy": round(float(soft.mean()) * 100, 4),
        "accuracy_ci95": bootstrap_ci(strict, n_boot, seed),
        "soft_accuracy_ci95": bootstrap_ci(soft, n_boot, seed),
    }


def summarize(items: Iterable[ItemScore], *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Overall, single- vs multi-answer and per-category accuracy and soft accuracy (×100) with 95% CIs.

    Failed items count as wrong (they are part of the benchmark) and are also counted in `n_failed`.
    """
    items = list(items)
    out = _block(items, n_boot, seed)
    done = [i for i in items if i.error is None]
    out["n_failed"] = len(items) - len(done)
    out["format_rate"] = round(100 * sum(i.format for i in done) / len(done), 4) if done else None
    out["mean_output_chars"] = round(sum(i.output_chars for i in done) / len(done), 1) if done else None
    out["single"] = _block([i for i in items if not i.multi], n_boot, seed)
    out["multi"] = _block([i for i in items if i.multi], n_boot, seed)
    categories = sorted({i.category for i in items if i.category})
    out["by_category"] = {c: _block([i for i in items if i.category == c], n_boot, seed) for c in categories}
    return out
