"""Comparison of finished eval runs: a side-by-side table of metrics, the paper's model × benchmark table
(rich / Markdown / LaTeX / CSV; n and failed items per cell; exact McNemar tests of every row against the first,
as lmms-eval's `--baseline`), and a bar chart (PNG, PDF or SVG, from the file's suffix) with 95% intervals."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.io.json_text import parse_json, read_text
from twgrpo_data.metrics import mcnemar_exact
from twgrpo_data.outputs import atomic_path

from .run_files import check_run_files
from .run_folder import CONFIG, RESULTS, SAMPLES, read_samples

# The benchmarks of the paper's main table, in its column order (`--bench all`).
PAPER_BENCHMARKS = ("clevrer", "nextgqa", "mmvu", "mvbench", "tempcompass", "videomme")
TABLE_FORMATS = ("rich", "markdown", "latex", "csv")
PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
}
_TEX_SPECIAL = re.compile("|".join(re.escape(c) for c in _TEX_ESCAPES))

# Protocol settings shown under the metrics, so two runs that differ in protocol are visibly different.
SETTING_ROWS = (
    "protocol",
    "backend",
    "prompt",
    "parser",
    "frames",
    "max_pixels",
    "temperature",
    "top_p",
    "max_new_tokens",
)


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
        raise InputFormatError(
            f"{folder}: no {RESULTS} (not a twgrpo eval run folder, or the run has not written "
            "results yet: re-run its `twgrpo eval` command)"
        )
    try:
        results = parse_json(read_text(results_path), results_path)
        config = parse_json(read_text(folder / CONFIG), folder / CONFIG) if (folder / CONFIG).is_file() else {}
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{folder}: invalid JSON in a run file ({exc.msg})") from None
    check_run_files(folder, results, config)  # a received folder may hold a string where a number belongs
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
        rows.append(
            (
                name,
                [int(block.get("n", 0)) if block else 0 for block in found],
                [(_metric(block, "accuracy"), _metric(block, "soft_accuracy")) for block in found],
            )
        )
    return rows


def info_rows(runs: Sequence[RunSummary]) -> list[tuple[str, list[str]]]:
    """Rows of counts and protocol settings, as strings."""

    def fmt(value: Any) -> str:
        return "–" if value is None else str(value)

    rows = [
        ("failed", [fmt(r.results.get("n_failed")) for r in runs]),
        ("format %", [fmt(r.results.get("format_rate")) for r in runs]),
        ("mean output chars", [fmt(r.results.get("mean_output_chars")) for r in runs]),
        ("bench", [fmt(r.results.get("run", {}).get("bench", r.settings.get("bench"))) for r in runs]),
        ("model", [fmt(r.settings.get("model") or r.results.get("run", {}).get("model")) for r in runs]),
    ]
    rows += [(key, [fmt(r.settings.get(key)) for r in runs]) for key in SETTING_ROWS]
    return rows


def plot_runs(runs: Sequence[RunSummary], path: str | Path) -> Path:
    """Write a bar chart — PNG, PDF or SVG after the file's suffix — of accuracy and soft accuracy (overall,
    single-, multi-answer) per run, with 95% intervals."""
    target = Path(path)
    fmt = PLOT_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise TwgrpoError(f"--plot {target}: the suffix picks the format; use one of {', '.join(PLOT_FORMATS)}")
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [("all", None), ("single-answer", "single"), ("multi-answer", "multi")]
    groups = [
        (g, k)
        for g, k in groups
        if any(_metric(r.results if k is None else r.results.get(k), "accuracy")[0] is not None for r in runs)
    ]
    fig, axes = plt.subplots(
        1, 2, figsize=(max(6.0, 2.2 * len(groups) * max(1, len(runs)) / 1.5), 4.2), sharey=True, squeeze=False
    )
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
            bars = ax.bar(
                x + (i - (len(runs) - 1) / 2) * width, values, width, yerr=[low, high], capsize=3, label=run.label
            )
            ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.1f}" for v in values], fontsize=7, padding=2)
        ax.set_xticks(x, [g for g, _ in groups])
        ax.set_title(f"{title} (×100, 95% Wilson CI)", fontsize=10)
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("%")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(runs)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * ((len(runs) + 3) // 4), 1, 1))
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=120, format=fmt)
    plt.close(fig)
    return target


# ----------------------------------------------------------------------------------------------------------
# the paper's table


def model_id(run: RunSummary) -> str:
    """The model a run evaluated: its path or Hub id."""
    return str(run.settings.get("model") or run.results.get("run", {}).get("model") or run.label).rstrip("/")


def model_names(runs: Sequence[RunSummary]) -> dict[str, str]:
    """`model id → display name`: the last part of the path or Hub id, with more of it where two models would
    otherwise share a name (e.g. `twgrpo/checkpoint-500` and `grpo/checkpoint-500`)."""
    ids = sorted({model_id(r) for r in runs})
    depth = {m: 1 for m in ids}

    def name(m: str) -> str:
        parts = Path(m).parts
        return "/".join(parts[-depth[m] :]) or m

    while True:
        names = [name(m) for m in ids]
        clashing = [m for m in ids if names.count(name(m)) > 1 and depth[m] < len(Path(m).parts)]
        if not clashing:
            return {m: name(m) for m in ids}
        for m in clashing:
            depth[m] += 1


def bench_name(run: RunSummary) -> str:
    return str(run.results.get("run", {}).get("bench") or run.settings.get("bench") or "?")


@dataclass
class PaperTable:
    """Rows (models, or runs) × benchmarks: accuracy, and soft accuracy where a benchmark has multi-answer
    items, with each cell's n and failed items; McNemar tests of every row against the first, per benchmark."""

    benches: list[str]
    rows: list[tuple[str, list[str]]]
    tests: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


#: A cell whose run failed on more than this share of its items is refused (`--max-failed`).
MAX_FAILED_SHARE = 0.05


def paper_table(
    runs: Sequence[RunSummary], labels: Sequence[str] | None = None, max_failed: float = MAX_FAILED_SHARE
) -> PaperTable:
    """The paper's table from run folders. A row is a model — or, where one model has several runs on a
    benchmark (base vs trained, zero-shot vs CoT prompt), each run: named by `labels` (one per run, as given)
    or by its folder. Every row is tested against the first row's run of the same benchmark (exact McNemar on
    the items both answered), only where the two runs read the same data (equal data fingerprints).

    A run that failed on more than `max_failed` of its items is refused: its number would be a silent
    underestimate. A run whose records look like another benchmark's is a warning."""
    if labels is not None and len(labels) != len(runs):
        raise TwgrpoError(f"--label: give one per run ({len(runs)}), got {len(labels)}")
    names = model_names(runs)
    per_bench = Counter((names[model_id(r)], bench_name(r)) for r in runs)
    cells: dict[tuple[str, str], RunSummary] = {}
    rows: list[str] = []
    benches: list[str] = []
    warnings = []
    for i, run in enumerate(runs):
        model = names[model_id(run)]
        row = labels[i] if labels is not None else model if per_bench[(model, bench_name(run))] == 1 else run.label
        key = (row, bench_name(run))
        if key in cells:
            raise TwgrpoError(f"two runs labelled {row} on {key[1]}: {cells[key].path} and {run.path}")
        _check_failures(run, max_failed)
        looks = run.settings.get("records_bench")
        if looks and looks != key[1]:
            warnings.append(f"{run.path}: its records look like {looks}'s, but it ran as --bench {key[1]}")
        cells[key] = run
        rows += [row] if row not in rows else []
        benches += [key[1]] if key[1] not in benches else []
    order = {b: i for i, b in enumerate(PAPER_BENCHMARKS)}
    benches.sort(key=lambda b: (order.get(b, len(order)), b))
    table_rows = [
        (row, ["–" if (run := cells.get((row, b))) is None else _table_cell(run.results) for b in benches])
        for row in rows
    ]
    tests = []
    for bench in benches:
        base_row = next((row for row in rows if (row, bench) in cells), None)
        for row in rows:
            if row == base_row or (row, bench) not in cells:
                continue
            a, b = cells[(base_row, bench)], cells[(row, bench)]
            test = {"bench": bench, "a": base_row, "b": row}
            if a.settings.get("data_fingerprint") != b.settings.get("data_fingerprint"):
                test["skipped"] = "the runs read different data"
            else:
                test.update(paired_test(a, b))
            tests.append(test)
    return PaperTable(benches, table_rows, tests, warnings)


def _check_failures(run: RunSummary, max_failed: float) -> None:
    n, failed = run.results.get("n") or 0, run.results.get("n_failed") or 0
    if n and failed / n > max_failed:
        raise TwgrpoError(
            f"{run.path}: {failed} of {n} items failed ({100 * failed / n:.1f}% > {100 * max_failed:g}%): its "
            "accuracy counts them wrong; fix and resume the run, or pass --max-failed to show it anyway"
        )


def _table_cell(results: dict[str, Any]) -> str:
    text = f"{results['accuracy']:.1f}"
    if (results.get("multi") or {}).get("n"):
        text += f" / {results['soft_accuracy']:.1f}"
    failed = results.get("n_failed") or 0
    return text + f" (n={results.get('n')}" + (f", {failed} failed" if failed else "") + ")"


def paired_test(a: RunSummary, b: RunSummary) -> dict[str, Any]:
    """Exact McNemar test on the items both runs answered (strict accuracy), from their samples.jsonl."""
    left, right = read_samples(a.path / SAMPLES), read_samples(b.path / SAMPLES)
    shared = [i for i in left if i in right]
    if not shared:
        raise TwgrpoError(f"{a.path} and {b.path} share no item ids; a paired test needs the same items")
    result = mcnemar_exact(
        [bool(left[i].get("strict")) for i in shared], [bool(right[i].get("strict")) for i in shared]
    )
    acc = [100 * sum(bool(rows[i].get("strict")) for i in shared) / len(shared) for rows in (left, right)]
    return {**result, "accuracy_a": round(acc[0], 4), "accuracy_b": round(acc[1], 4)}


def paired_test_rows(table: PaperTable) -> list[tuple[str, list[str]]]:
    """The paired tests as one table row per compared pair (empty cells where there is none)."""
    pairs = list(dict.fromkeys((t["a"], t["b"]) for t in table.tests))
    out = []
    for a, b in pairs:
        by_bench = {t["bench"]: t for t in table.tests if (t["a"], t["b"]) == (a, b)}
        cells = []
        for bench in table.benches:
            t = by_bench.get(bench)
            if t is None:
                cells.append("–")
            elif "skipped" in t:
                cells.append(f"– ({t['skipped']})")
            else:
                cells.append(f"{t['p_value']:.3g} (n={t['n']})")
        out.append((f"McNemar p ({a} vs {b})", cells))
    return out


def render_table(table: PaperTable, fmt: str) -> str:
    """The table as Markdown, LaTeX (booktabs) or CSV text."""
    header = ["model", *table.benches]
    rows = [[name, *cells] for name, cells in table.rows]
    extra = [[name, *cells] for name, cells in paired_test_rows(table)]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([header, *rows, *extra])
        return buf.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * len(table.benches)]
        lines += ["| " + " | ".join(r) + " |" for r in rows + extra]
        return "\n".join(lines) + "\n"
    if fmt == "latex":

        def tex(text: str) -> str:  # one pass, so an inserted brace is never escaped again
            return _TEX_SPECIAL.sub(lambda m: _TEX_ESCAPES[m.group(0)], text)

        lines = [
            r"\begin{tabular}{l" + "r" * len(table.benches) + "}",
            r"\toprule",
            " & ".join(tex(h) for h in header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(tex(c) for c in r) + r" \\" for r in rows]
        if extra:
            lines.append(r"\midrule")
            lines += [" & ".join(tex(c) for c in r) + r" \\" for r in extra]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown table format {fmt!r}; expected one of {', '.join(TABLE_FORMATS)}")
