"""How `twgrpo eval` draws results: a run's metrics table and what failed, the side-by-side and paper tables of
`eval compare`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from .output import console, err_console, warning


def print_run(result) -> None:
    """A finished run's results table (stdout) and what failed (stderr)."""
    print_results(result.results, result.out)
    print_failures(result.results, result.out)


def print_failures(results: dict[str, Any], out: Path) -> None:
    """On stderr, what failed: the count, then each kind of failure with its count and first item."""
    failed = results.get("n_failed") or 0
    if not failed:
        return
    from twgrpo_data.failures import failure_groups
    from twgrpo_eval.run_folder import SAMPLES, read_samples

    groups = failure_groups(read_samples(out / SAMPLES).values())
    warning(f"{failed} of {results.get('n')} items failed (counted as wrong; the same command retries them):")
    for group in groups[:5]:
        err_console.print(
            f"  {group.count} × {escape(group.kind)} — e.g. {escape(group.example_id)!r}: {escape(group.example)}",
            soft_wrap=True,
        )
    if len(groups) > 5:
        err_console.print(f"  … and {len(groups) - 5} other kinds (see {escape(str(out / SAMPLES))})", soft_wrap=True)


def print_results(results: dict[str, Any], out: Path) -> None:
    run = results.get("run", {})
    if "accuracy" not in results:
        console.print(escape(f"no samples in {out}"), soft_wrap=True)
        return
    failed = results.get("n_failed") or 0
    status = "complete" if run.get("complete") else "[yellow]incomplete[/]"
    if failed:
        status = f"[yellow]{'complete' if run.get('complete') else 'incomplete'}, {failed} failed[/]"
    # what a run folder holds is shown as text, never read as rich markup (a received folder's model name)
    print_metrics(
        escape(
            f"{run.get('bench')} · {Path(str(run.get('model'))).name} · prompt {run.get('prompt')} · "
            f"parser {run.get('parser')}"
        ),
        results,
        f"{status} · run folder: [bold]{escape(str(out))}[/]",
    )


def print_metrics(title: str, results: dict[str, Any], note: str) -> None:
    """One table of a summary (overall, single/multi, per category and kind) and a line of the rest."""
    table = Table(title=f"{title}  (×100, {ci_label(results)})")
    for col in ("", "n", "accuracy", "soft accuracy"):
        table.add_column(col, justify="left" if not col else "right")
    blocks = [("all", results), ("single-answer", results["single"]), ("multi-answer", results["multi"])]
    blocks += [(f"  {c}", b) for c, b in results.get("by_category", {}).items()]
    blocks += [(f"  type {k}", b) for k, b in results.get("by_kind", {}).items()]
    for name, block in blocks:
        if block.get("n"):
            table.add_row(escape(name), str(block["n"]), pct(block), pct(block, "soft_accuracy"))
    console.print(table)
    fmt = "–" if results.get("format_rate") is None else f"{results['format_rate']:.1f}%"
    console.print(
        f"failed items: {results['n_failed']} · format: {fmt} · mean output: "
        f"{results.get('mean_output_chars')} chars · {note}"
    )


def ci_label(results: dict[str, Any]) -> str:
    """How a summary's intervals were made, for table headers."""
    from twgrpo_data.metrics import CLUSTERED

    if results.get("ci_method") == CLUSTERED:
        return "95% CI clustered by video (lmms-eval's clustered standard error)"
    return "95% Wilson CI"


def pct(block: dict, key: str = "accuracy") -> str:
    if not block or block.get(key) is None:
        return "–"
    lo, hi = block[f"{key}_ci95"]
    return f"{block[key]:.2f} [{lo:.1f}, {hi:.1f}]"


def print_paper_table(table, fmt: str) -> None:
    from twgrpo_eval.compare import paired_test_rows, render_table

    if fmt != "rich":
        print(render_table(table, fmt), end="")
        return
    view = Table(title="Accuracy ×100 (/ soft accuracy where multi-answer)")
    view.add_column("model")
    for bench in table.benches:
        view.add_column(bench, justify="right")
    for name, cells in table.rows:
        view.add_row(escape(name), *cells)
    extra = paired_test_rows(table)
    if extra:
        view.add_section()
        for name, cells in extra:
            view.add_row(escape(name), *cells)
    console.print(view)


def cell(value: float | None, ci: list[float] | None, n: int | None, best: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "") + ("" if n is None else f" n={n}")
    return f"[bold]{text}[/]" if best else text


def print_side_by_side(loaded) -> None:
    """Runs side by side: accuracy and soft accuracy per group of items (the best bold), then their settings."""
    from twgrpo_eval.compare import info_rows, metric_rows

    table = Table(title=f"Eval runs: accuracy / soft accuracy ×100 [{ci_label(loaded[0].results)}]")
    table.add_column("items")
    for run in loaded:
        table.add_column(f"{escape(run.label)}\naccuracy", justify="right")
        table.add_column(f"{escape(run.label)}\nsoft accuracy", justify="right")
    for group, ns, cells in metric_rows(loaded):
        same_n = len(set(ns)) == 1
        best = [max((c[k][0] for c in cells if c[k][0] is not None), default=None) for k in (0, 1)]
        row = [escape(f"{group} (n={ns[0]})" if same_n else group)]
        for n, pair in zip(ns, cells):
            for k, (value, ci) in enumerate(pair):
                row.append(cell(value, ci, None if same_n else n, len(loaded) > 1 and value == best[k]))
        table.add_row(*row)
    table.add_section()
    for label, values in info_rows(loaded):
        table.add_row(escape(label), *[cell for v in values for cell in (escape(str(v)), "")])
    console.print(table)
