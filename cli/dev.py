"""`twgrpo dev …` commands: helpers for developing and testing twgrpo itself."""

from __future__ import annotations

import typer
from rich.markup import escape

from twgrpo_data.outputs import OutputSpec

from .options import out_help, output_path
from .output import console, status

app = typer.Typer(help="Developer helpers (tiny offline models for tests and smoke runs).", no_args_is_help=True)


@app.command("tiny-model")
def tiny_model(
    out_dir: str = typer.Argument(
        ...,
        help=out_help(
            "Folder to write the model, tokenizer and processor into (DIR/ → DIR/Qwen2.5-VL-tiny or DIR/Qwen2-tiny)."
        ),
    ),
    text_only: bool = typer.Option(False, "--text-only", help="A text-only Qwen2 (head_dim 64) instead of Qwen2.5-VL."),
) -> None:
    """Write a tiny random Qwen2.5-VL (or text-only Qwen2) that loads offline with `from_pretrained`.

    Example: twgrpo dev tiny-model runs/Qwen2.5-VL-tiny
    """
    from twgrpo_eval.tiny_model import build_tiny_model, build_tiny_text_model

    spec = OutputSpec("model folder", folder=True, default_name="Qwen2-tiny" if text_only else "Qwen2.5-VL-tiny")
    out_dir = output_path(out_dir, spec, option="OUT_DIR")
    with status("building tiny model"):
        path = build_tiny_text_model(out_dir) if text_only else build_tiny_model(out_dir)
    kind = "text-only Qwen2" if text_only else "Qwen2.5-VL"
    console.print(f"wrote tiny {kind} to [bold]{escape(str(path))}[/]")
