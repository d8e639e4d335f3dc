"""`twgrpo eval …`: evaluate a model, re-score logs, compare runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from twgrpo_data.rewards import PARSERS

app = typer.Typer(help="Evaluate video language models and score their outputs.", no_args_is_help=True)
console = Console()


def _check_parser(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in PARSERS:
        raise typer.BadParameter(f"expected one of {', '.join(PARSERS)}")
    return value


def _pct(block: dict, key: str = "accuracy") -> str:
    if not block or block.get(key) is None:
        return "–"
    lo, hi = block[f"{key}_ci95"]
    return f"{block[key]:.2f} [{lo:.1f}, {hi:.1f}]"


@app.command("rescore")
def rescore(
    logs: list[Path] = typer.Argument(..., help="TW-GRPO eval logs (JSONL) or twgrpo samples.jsonl files"),
    parser: Optional[str] = typer.Option(None, callback=_check_parser,
                                         help="twgrpo | raw | lenient (default: the run's own, else twgrpo)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Re-score existing per-sample eval logs (duplicates from restarted runs removed).

    Example: twgrpo eval rescore ../shared/data/logs/twgrpo_mmvu_eval.jsonl --parser lenient
    """
    from twgrpo_eval.rescore import rescore_log

    summaries = [rescore_log(p, parser).summary() for p in logs]
    if as_json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"logs": summaries}, indent=2))
        return
    table = Table(title="Re-scored logs (×100, 95% bootstrap CI)")
    for col in ("log", "parser", "n", "dups", "accuracy", "soft accuracy", "single", "multi", "format %",
                "failed"):
        table.add_column(col, justify="left" if col in ("log", "parser") else "right")
    for s in summaries:
        table.add_row(Path(s["file"]).name, s["parser"], str(s["n"]), str(s["duplicates_removed"]),
                      _pct(s), _pct(s, "soft_accuracy"),
                      f"{_pct(s['single'])} (n={s['single']['n']})", f"{_pct(s['multi'])} (n={s['multi']['n']})",
                      "–" if s["format_rate"] is None else f"{s['format_rate']:.1f}", str(s["n_failed"]))
    console.print(table)
