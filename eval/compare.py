"""Side-by-side comparison of finished eval runs: a table of metrics and a bar chart with 95% intervals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from twgrpo_data.errors import InputFormatError
from twgrpo_data.formats import atomic_path

from .runner import CONFIG, RESULTS

# Protocol settings shown under the metrics, so two runs that differ in protocol are visibly different.
SETTING_ROWS = ("backend", "prompt", "parser", "frames", "max_pixels", "temperature", "top_p", "max_new_tokens")


@dataclass
class RunSummary:
    """One run folder's results.json and config.json."""

    label: str
    path: Path
    results: dict[str, Any]
    settings: dict[str, Any]


def load_run(path: str | Path) -> RunSummary:
    """Read a run folder (or its results.json)."""
    p = Path(path)
    folder = p.parent if p.name == RESULTS else p
    results_path = folder / RESULTS
    if not results_path.is_file():
        raise InputFormatError(f"{folder}: no {RESULTS} (not a twgrpo eval run folder, or the run has not written "
                               "results yet: re-run its `twgrpo eval` command)")
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8")) if (folder / CONFIG).is_file() else {}
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{folder}: invalid JSON in a run file ({exc.msg})") from None
    if "accuracy" not in results:
        raise InputFormatError(f"{results_path}: no metrics in it")
    return RunSummary(folder.name, folder, results, config)


def load_runs(paths: Sequence[str | Path]) -> list[RunSummary]:
    """Read several runs; labels are folder names, made unique with their parent folder when they clash."""
    runs = [load_run(p) for p in paths]
    names = [r.label for r in runs]
    for run in runs:
        if names.count(run.label) > 1:
            run.label = f"{run.path.parent.name}/{run.path.name}"
    return runs


def _metric(block: dict[str, Any] | None, key: str) -> tuple[float | None, list[float] | None]:
    if not block or block.get(key) is None:
        return None, None
    return block[key], block.get(f"{key}_ci95")


Cell = tuple[float | None, list[float] | None]


def metric_rows(runs: Sequence[RunSummary]) -> list[tuple[str, list[int], list[tuple[Cell, Cell]]]]:
    """Rows `(group, [n per run], [(accuracy, soft accuracy) per run])` for the whole set, single- and
    multi-answer items and each category; a cell is `(value ×100, 95% CI)`, `(None, None)` where a run lacks
    the group. Groups no run has are left out."""
    def blocks(run: RunSummary) -> dict[str, dict[str, Any] | None]:
        r = run.results
        out = {"all": r, "single-answer": r.get("single"), "multi-answer": r.get("multi")}
        out.update({f"category {c}": b for c, b in (r.get("by_category") or {}).items()})
        return out

    per_run = [blocks(run) for run in runs]
    names: list[str] = []
    for b in per_run:
        names += [n for n in b if n not in names]
    rows = []
    for name in names:
        found = [b.get(name) for b in per_run]
        if all(not block or not block.get("n") for block in found):
            continue
        rows.append((name, [int(block.get("n", 0)) if block else 0 for block in found],
                     [(_metric(block, "accuracy"), _metric(block, "soft_accuracy")) for block in found]))
    return rows


def info_rows(runs: Sequence[RunSummary]) -> list[tuple[str, list[str]]]:
    """Rows of counts and protocol settings, as strings."""
    def fmt(value: Any) -> str:
        return "–" if value is None else str(value)

    rows = [("failed", [fmt(r.results.get("n_failed")) for r in runs]),
            ("format %", [fmt(r.results.get("format_rate")) for r in runs]),
            ("mean output chars", [fmt(r.results.get("mean_output_chars")) for r in runs]),
            ("bench", [fmt(r.results.get("run", {}).get("bench", r.settings.get("bench"))) for r in runs]),
            ("model", [fmt(r.settings.get("model") or r.results.get("run", {}).get("model")) for r in runs])]
    rows += [(key, [fmt(r.settings.get(key)) for r in runs]) for key in SETTING_ROWS]
    return rows


def plot_runs(runs: Sequence[RunSummary], path: str | Path) -> Path:
    """Write a PNG bar chart: accuracy and soft accuracy (overall, single-, multi-answer) per run, with 95% CIs."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [("all", None), ("single-answer", "single"), ("multi-answer", "multi")]
    groups = [(g, k) for g, k in groups if any(_metric(r.results if k is None else r.results.get(k), "accuracy")[0]
                                               is not None for r in runs)]
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 2.2 * len(groups) * max(1, len(runs)) / 1.5), 4.2),
                             sharey=True, squeeze=False)
    width = 0.8 / max(1, len(runs))
    x = np.arange(len(groups))
    for ax, (key, title) in zip(axes[0], (("accuracy", "accuracy"), ("soft_accuracy", "soft accuracy"))):
        for i, run in enumerate(runs):
            values, low, high = [], [], []
            for _, sub in groups:
                value, ci = _metric(run.results if sub is None else run.results.get(sub), key)
                values.append(np.nan if value is None else value)
                low.append(0.0 if value is None or not ci else max(0.0, value - ci[0]))
                high.append(0.0 if value is None or not ci else max(0.0, ci[1] - value))
            bars = ax.bar(x + (i - (len(runs) - 1) / 2) * width, values, width, yerr=[low, high], capsize=3,
                          label=run.label)
            ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.1f}" for v in values], fontsize=7,
                         padding=2)
        ax.set_xticks(x, [g for g, _ in groups])
        ax.set_title(f"{title} (×100, 95% Wilson CI)", fontsize=10)
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("%")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(runs)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * ((len(runs) + 3) // 4), 1, 1))
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return target
