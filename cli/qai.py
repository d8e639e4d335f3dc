"""`twgrpo qai …` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="qai commands", no_args_is_help=True)
