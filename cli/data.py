"""`twgrpo data …`: load native benchmark files, validate datasets, summarise them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from twgrpo_data.formats import READ_FORMATS, read_dataset

app = typer.Typer(help="Load, validate and summarise question datasets.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, highlight=False)


@app.command("validate")
def validate(
    path: Path = typer.Argument(..., help="records/unified JSON(L), parquet or HF dataset folder"),
    fmt: str = typer.Option("auto", "--format", help=f"one of {', '.join(READ_FORMATS)}"),
    video_root: Optional[Path] = typer.Option(None, help="also check that every record's video exists and decodes"),
    as_json: bool = typer.Option(False, "--json", help="print the problems as JSON"),
) -> None:
    """Report every schema problem (file, record index and id, field); exit 1 if there is any error.

    Example: twgrpo data validate ../shared/data/eval_mmvu.json
    """
    result = read_dataset(path, fmt)
    problems = list(result.problems)
    if video_root is not None:
        problems += _video_problems(result, video_root)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        print(json.dumps({"file": str(path), "records": len(result.records) + len({p.index for p in result.errors}),
                          "errors": len(errors), "warnings": len(problems) - len(errors),
                          "problems": [{"severity": p.severity, "index": p.index, "id": p.record_id,
                                        "field": p.field, "message": p.message} for p in problems]}, indent=2))
    else:
        for p in problems:
            style = "red" if p.severity == "error" else "yellow"
            err_console.print(f"[{style}]{p.severity}:[/] {p}", soft_wrap=True, markup=True)
        total = len(result.records) + len({p.index for p in result.errors})
        console.print(f"{path}: {total} records, {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(1)


def _video_problems(result, video_root: Path):
    """One problem per record whose video is missing or unreadable."""
    from twgrpo_data.record import Problem
    from twgrpo_data.video import check_video, resolve_video

    out = []
    for i, rec in enumerate(result.records):
        if rec.video is None:
            continue
        reason = check_video(resolve_video(rec.video, str(video_root)))
        if reason:
            out.append(Problem(reason, result.file, i, rec.id, "video"))
    return out


@app.command("stats")
def stats(
    path: Path = typer.Argument(..., help="records/unified JSON(L), parquet or HF dataset folder"),
    fmt: str = typer.Option("auto", "--format", help=f"one of {', '.join(READ_FORMATS)}"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
) -> None:
    """Count records, options per question, single/multi-answer items, sources and categories.

    Example: twgrpo data stats ../shared/data/nextgqa_val_mixed.official.json
    """
    result = read_dataset(path, fmt)
    recs = result.records
    summary = {
        "file": str(path),
        "records": len(recs),
        "invalid": len({p.index for p in result.errors}),
        "single_answer": sum(not r.is_multi_answer for r in recs),
        "multi_answer": sum(r.is_multi_answer for r in recs),
        "qai_negated": sum(bool(r.qai and r.qai.get("negated")) for r in recs),
        "options_histogram": dict(sorted(Counter(len(r.options) for r in recs).items())),
        "answers_histogram": dict(sorted(Counter(len(r.answer) for r in recs).items())),
        "sources": dict(Counter(r.source or "(none)" for r in recs).most_common()),
        "categories": dict(Counter(str(r.meta.get("category")) for r in recs if "category" in r.meta).most_common()),
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    head = Table(title=str(path), show_header=False)
    for key in ("records", "invalid", "single_answer", "multi_answer", "qai_negated"):
        head.add_row(key.replace("_", " "), str(summary[key]))
    console.print(head)
    for key, title in (("options_histogram", "options per question"), ("answers_histogram", "gold letters"),
                       ("sources", "source"), ("categories", "category")):
        if not summary[key]:
            continue
        t = Table(title=title)
        t.add_column(title.split()[0])
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        for k, v in summary[key].items():
            t.add_row(str(k), str(v), f"{100 * v / max(1, len(recs)):.1f}%")
        console.print(t)
