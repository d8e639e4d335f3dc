"""What an eval report page compares: paired differences between runs, the items two runs disagree on, the
letters answered against the letters that are gold, the model × benchmark table and the per-category chart."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from twgrpo_data.metrics import bootstrap_ci

from .report_samples import RunView, parsed_letters, status_of

SERIES = 6  # colours in page.css (.s0 … .s5); more runs reuse them


def paired_difference(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str = "strict") -> dict[str, Any]:
    """`b − a` on the items both runs answered: mean difference ×100 and its paired bootstrap 95% CI."""
    av = {str(r["id"]): float(r.get(key) or 0.0) for r in a}
    bv = {str(r["id"]): float(r.get(key) or 0.0) for r in b}
    common = sorted(set(av) & set(bv))
    if not common:
        return {"n": 0, "diff": None, "ci": None}
    d = np.array([bv[i] - av[i] for i in common])
    return {"n": len(common), "diff": round(float(d.mean()) * 100, 4), "ci": bootstrap_ci(d)}


def disagreements(a: RunView, b: RunView) -> dict[str, Any]:
    """Items both runs answered whose parsed answer or status differ (`rows`, each with the page anchors of the
    two samples where they are shown), and how many items the runs share (`shared`: 0 means nothing to compare,
    not agreement)."""
    rows_b = {str(r["id"]): r for r in b.samples}
    anchors = {(run.index, s.id): s.anchor for run in (a, b) for s in run.shown}
    out, shared = [], 0
    for ra in a.samples:
        rb = rows_b.get(str(ra["id"]))
        if rb is None:
            continue
        shared += 1
        if (status_of(ra), ra.get("parsed")) != (status_of(rb), rb.get("parsed")):
            item_id = str(ra["id"])
            out.append(
                {
                    "id": item_id,
                    "gold": ",".join(ra.get("gold") or []),
                    "a": ra.get("parsed") or "",
                    "a_status": status_of(ra),
                    "a_anchor": anchors.get((a.index, item_id)),
                    "b": rb.get("parsed") or "",
                    "b_status": status_of(rb),
                    "b_anchor": anchors.get((b.index, item_id)),
                    "category": ra.get("category"),
                }
            )
    return {"rows": out, "shared": shared}


def letter_histogram(runs: list[RunView]) -> dict[str, Any]:
    """Per run, the share of items whose gold answer holds each letter and the share of answered items whose
    parsed answer does: a model that favours a position answers one letter far more often than it is gold."""
    per_run = []
    for run in runs:
        answered = [r for r in run.samples if not r.get("error")]
        gold = Counter(x for r in run.samples for x in set(r.get("gold") or []))
        parsed = Counter(x for r in answered for x in parsed_letters(r.get("parsed")))
        none = sum(not parsed_letters(r.get("parsed")) for r in answered)
        per_run.append((len(run.samples), len(answered), gold, parsed, none))
    letters = sorted({x for *_, gold, parsed, _ in per_run for x in (*gold, *parsed)})

    def share(count: int, n: int) -> dict[str, Any]:
        return {"n": count, "pct": 100 * count / n if n else None}

    rows = [
        (x, [(share(gold[x], items), share(parsed[x], answered)) for items, answered, gold, parsed, _ in per_run])
        for x in letters
    ]
    return {"rows": rows, "none": [share(none, answered) for _, answered, _, _, none in per_run]}


def model_bench_table(runs: list[RunView]) -> dict[str, Any]:
    """Model × benchmark accuracy, and each run's paired difference to the first run of its benchmark.

    A row is a model; two runs of one model on one benchmark (another prompt, say) get a row each, named by
    their run folder.
    """
    pairs = Counter((r.model_name, r.bench) for r in runs)
    row_of = {r.index: r.model_name if pairs[(r.model_name, r.bench)] == 1 else r.label for r in runs}
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        base = next(r for r in runs if r.bench == run.bench)
        cell = {
            "run": run,
            "accuracy": run.summary.results.get("accuracy"),
            "ci": run.summary.results.get("accuracy_ci95"),
            "diff": None,
        }
        if base is not run:
            cell["diff"] = paired_difference(base.samples, run.samples)
            cell["base"] = base.label
        cells[(row_of[run.index], run.bench)] = cell
    return {
        "models": list(dict.fromkeys(row_of.values())),
        "benches": list(dict.fromkeys(r.bench for r in runs)),
        "cells": cells,
    }


def category_chart(runs: list[RunView], width: int = 760) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of per-category accuracy (×100) with 95% intervals, one bar per
    run in each category (overall, single- and multi-answer when no run has categories)."""
    groups: list[str] = []
    for run in runs:
        groups += [c for c in (run.summary.results.get("by_category") or {}) if c not in groups]
    by_group = "category"
    if not groups:
        groups, by_group = ["all", "single", "multi"], "group"

    def block(run: RunView, group: str) -> dict[str, Any] | None:
        res = run.summary.results
        if by_group == "group":
            return res if group == "all" else res.get(group)
        return (res.get("by_category") or {}).get(group)

    # soft accuracy as a lighter bar under each accuracy bar, where it can differ (multi-answer items)
    soft = any(
        (b := block(run, group)) and b.get("soft_accuracy") is not None and b["soft_accuracy"] != b.get("accuracy")
        for run in runs
        for group in groups
    )
    label_w, right, bar_h, gap, top = 190, 48, 12, 10, 24  # right: room for the value after a 100% interval
    soft_h = 8 if soft else 0
    plot_w = width - label_w - right
    x = lambda v: label_w + plot_w * max(0.0, min(100.0, v)) / 100  # noqa: E731
    bars, labels, y = [], [], top
    for group in groups:
        labels.append({"y": y + (bar_h + soft_h) * len(runs) / 2 + 4, "text": group})
        for run in runs:
            b = block(run, group)
            metrics = [("accuracy", bar_h, "")] + ([("soft_accuracy", soft_h, " soft")] if soft else [])
            for key, height, cls in metrics:
                if b and b.get(key) is not None:
                    bars.append(_chart_bar(run, group, b, key, x, label_w, y, height, cls))
                y += height
        y += gap
    ticks = [{"x": x(v), "label": str(v)} for v in (0, 25, 50, 75, 100)]
    return {
        "width": width,
        "height": y + 8,
        "top": top - 6,
        "bottom": y - gap + 2,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "label_w": label_w,
        "legend": [(r.label, r.index % SERIES) for r in runs],
        "by": by_group,
        "soft": soft,
    }


def _chart_bar(run, group: str, b: dict[str, Any], key: str, x, label_w: int, y: float, height: int, cls: str):
    """One bar of `category_chart`: the value of `key` in block `b` with its 95% interval."""
    value, ci = float(b[key]), b.get(f"{key}_ci95")
    name = key.replace("_", " ")
    bar = {
        "x": label_w,
        "y": y,
        "w": max(0.5, x(value) - label_w),
        "h": height - 2,
        "cls": f"s{run.index % SERIES}{cls}",
        "title": f"{run.label} · {group} · {name}: {value:.1f}"
        + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "")
        + f" (n={b.get('n')})",
        "value": f"{value:.1f}",
    }
    if ci and all(v == v for v in ci):  # NaN-free
        bar.update(ci_x1=x(ci[0]), ci_x2=x(ci[1]), cy=y + (height - 2) / 2)
    bar["tx"] = max(x(value), bar.get("ci_x2", 0)) + 4
    return bar
