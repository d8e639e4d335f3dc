"""Scoring of model outputs and aggregation into accuracy / soft accuracy with 95% intervals (DESIGN §5).

Eval runs (`samples.jsonl`), re-scoring of logs and training all go through `score_output` and `summarize`,
so a number means the same everywhere. Intervals are Wilson intervals, except where items come in clusters
that are not independent — Video-MME asks three questions about each video — there they are the
clustered-standard-error intervals lmms-eval reports (`clustered_ci`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .scoring import format_reward, gold_set, parse_answer, soft_reward

if TYPE_CHECKING:  # numpy loads when something is scored, not when the CLI starts
    import numpy as np


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
    kind: str | None = None  # a second breakdown: MMVU question type, TempCompass task type
    cluster: str | None = None  # items of one cluster (one Video-MME video) are not independent

    @property
    def multi(self) -> bool:
        return len(self.gold) > 1

    @property
    def single(self) -> bool:
        return len(self.gold) == 1  # open-ended items (no gold letters) are neither

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_output(
    item_id: str,
    output: str | None,
    gold: str | Sequence[str],
    *,
    parser: str = "twgrpo",
    options: Sequence[str] | None = None,
    category: str | None = None,
    error: str | None = None,
    cluster: str | None = None,
) -> ItemScore:
    """Parse `output` and score it against `gold` (letters, 'A,C' or '<answer>A,C</answer>').

    The format reward is taken on the stripped output, as TW-GRPO's evaluation computed it (its outputs were
    stripped before scoring): a trailing newline is not a format error."""
    letters = sorted(gold_set(gold))
    if error is not None or output is None:
        return ItemScore(item_id, "", letters, 0.0, 0.0, 0.0, category, error or "no output", 0, cluster=cluster)
    parsed = parse_answer(output, parser, options)
    soft = soft_reward(parsed, letters)
    fmt = format_reward(output.strip(), "eval")
    return ItemScore(
        item_id, parsed, letters, soft, float(soft == 1.0), fmt, category, None, len(output), None, cluster
    )


Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_ci(mean: float, n: int, z: float = Z95) -> list[float]:
    """Wilson score interval (×100) of a proportion `mean` over `n` items.

    Unlike a percentile bootstrap it never collapses on small groups (5 of 5 right gives [56.6, 100], not
    [100, 100]). For soft accuracy — scores in [0, 1] — it is applied to the mean score: a [0, 1] variable
    with mean p has variance at most p(1 − p), so the interval is conservative there.
    """
    if n <= 0:
        return [float("nan"), float("nan")]
    denom = 1 + z * z / n
    centre = (mean + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, mean * (1 - mean)) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half) * 100, 4), round(min(1.0, centre + half) * 100, 4)]


def clustered_stderr(scores: Sequence[float], clusters: Sequence[Any]) -> float:
    """Standard error of the mean of `scores` when items of one cluster are correlated (lmms-eval's
    `clustered_stderr`; Miller 2024, "Adding Error Bars to Evals", eq. 4):

        SE² = Var(s)/n + (1/n²) · Σ_c Σ_{i≠j in c} (s_i − s̄)(s_j − s̄),   Var with n − 1.

    With one item per cluster it is the plain standard error."""
    n = len(scores)
    if n < 2:
        return float("nan")
    mean = sum(scores) / n
    variance = sum((s - mean) ** 2 for s in scores) / (n - 1)
    deviations: dict[Any, list[float]] = {}
    for score, cluster in zip(scores, clusters):
        deviations.setdefault(cluster, []).append(score - mean)
    cross = sum(sum(d) ** 2 - sum(x * x for x in d) for d in deviations.values())
    return math.sqrt(max(0.0, variance / n + cross / (n * n)))


def clustered_ci(scores: Sequence[float], clusters: Sequence[Any], z: float = Z95) -> list[float]:
    """95% interval (×100) of the mean of `scores`: mean ± z·`clustered_stderr`, clamped to [0, 100]."""
    if not scores:
        return [float("nan"), float("nan")]
    mean = sum(scores) / len(scores)
    half = z * clustered_stderr(scores, clusters) if len(scores) > 1 else float("nan")
    if math.isnan(half):
        return [float("nan"), float("nan")]
    return [round(max(0.0, mean - half) * 100, 4), round(min(1.0, mean + half) * 100, 4)]


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean of `values` (×100), reproducible through `seed`.

    Used for paired per-item differences between two runs, which take values in {-1, 0, 1} (no Wilson form)."""
    if len(values) == 0:
        return [float("nan"), float("nan")]
    import numpy as np

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


def mcnemar_exact(a_right: Sequence[bool], b_right: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test of two systems answering the same items (paired).

    Only discordant items count: `b` = items A got right and B wrong, `c` = the reverse; under "no
    difference" each discordant item falls either way with probability ½, so the two-sided p-value is
    `min(1, 2 · P[Binomial(b + c, ½) <= min(b, c)])`.
    """
    if len(a_right) != len(b_right):
        raise ValueError("paired results must cover the same items")
    b = sum(1 for x, y in zip(a_right, b_right) if x and not y)
    c = sum(1 for x, y in zip(a_right, b_right) if y and not x)
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n if n else 1.0
    return {"n": len(a_right), "a_only": b, "b_only": c, "p_value": round(min(1.0, 2 * tail), 6)}


def _block(items: list[ItemScore], clustered: bool) -> dict[str, Any]:
    if not items:
        return {"n": 0, "accuracy": None, "soft_accuracy": None}
    import numpy as np

    strict = float(np.mean([i.strict for i in items]))
    soft = float(np.mean([i.soft for i in items]))
    if clustered:
        clusters = [i.cluster if i.cluster is not None else f"item {i.id}" for i in items]
        ci = [clustered_ci([i.strict for i in items], clusters), clustered_ci([i.soft for i in items], clusters)]
    else:
        ci = [wilson_ci(strict, len(items)), wilson_ci(soft, len(items))]
    return {
        "n": len(items),
        "accuracy": round(strict * 100, 4),
        "soft_accuracy": round(soft * 100, 4),
        "accuracy_ci95": ci[0],
        "soft_accuracy_ci95": ci[1],
    }


#: `ci_method` of results whose items come in clusters (the table headers print it).
CLUSTERED = "clustered"


def summarize(items: Iterable[ItemScore]) -> dict[str, Any]:
    """Overall, single- vs multi-answer, per-category and per-kind accuracy and soft accuracy (×100) with 95%
    intervals: Wilson's, or — when items carry a `cluster` (Video-MME's video) — the clustered-standard-error
    interval (`ci_method` says which). The result does not depend on the items' order (so a sharded run
    merges to the same file).

    Failed items count as wrong (they are part of the benchmark) and are also counted in `n_failed`.
    """
    items = list(items)
    clustered = any(i.cluster is not None for i in items)
    out = _block(items, clustered)
    out["ci_method"] = CLUSTERED if clustered else "wilson"
    done = [i for i in items if i.error is None]
    out["n_failed"] = len(items) - len(done)
    out["format_rate"] = round(100 * sum(i.format for i in done) / len(done), 4) if done else None
    out["mean_output_chars"] = round(sum(i.output_chars for i in done) / len(done), 1) if done else None
    out["single"] = _block([i for i in items if i.single], clustered)
    out["multi"] = _block([i for i in items if i.multi], clustered)
    categories = sorted({i.category for i in items if i.category})
    out["by_category"] = {c: _block([i for i in items if i.category == c], clustered) for c in categories}
    kinds = sorted({i.kind for i in items if i.kind})
    if kinds:
        out["by_kind"] = {k: _block([i for i in items if i.kind == k], clustered) for k in kinds}
    return out
