"""`twgrpo publish` — placeholder module, filled by the publishing work (issue 7)."""

from __future__ import annotations

import typer


def publish(dataset: str = typer.Argument(..., help="dataset file or folder")) -> None:
    """Publish a dataset to the Hugging Face Hub (not built yet)."""
    raise typer.Exit(2)
