"""`twgrpo train …` — filled by the trainer work (issue 6)."""

from __future__ import annotations

import typer

app = typer.Typer(help="train commands", no_args_is_help=True)
