"""`twgrpo train …`: TW-GRPO / GRPO training from a YAML config, and training-curve plots."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from twgrpo_data.outputs import OutputSpec

from .options import out_help, output_path

console = Console(highlight=False)


class _TrainGroup(TyperGroup):
    """`train` runs itself unless a sub-command is named; its `key=value` arguments are config overrides.

    Click would read the first positional argument as a sub-command name, so overrides are taken out of the
    argument list before parsing (they are never sub-command names) and handed to the callback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        positional = [a for i, a in enumerate(args)
                      if not a.startswith("-") and (i == 0 or args[i - 1] not in ("--config", "-c"))]
        if positional and positional[0] in self.commands:
            return super().parse_args(ctx, args)
        ctx.meta["train_overrides"] = [a for a in positional if "=" in a]
        return super().parse_args(ctx, [a for a in args if a not in ctx.meta["train_overrides"]])


app = typer.Typer(
    cls=_TrainGroup,
    help="Train a video model with TW-GRPO (or GRPO) on TRL.\n\n"
         "Run: twgrpo train --config CONFIG.yaml \\[key=value ...] \\[--resume]. Every key is a TWGRPOConfig / "
         "GRPOConfig field.\n\n"
         "Example: twgrpo train --config examples/train_tiny.yaml model=runs/Qwen2.5-VL-tiny max_steps=4",
    invoke_without_command=True,
    no_args_is_help=True,
)


@app.callback()
def train(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of training settings.",
                                          exists=True, dir_okay=False),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in output_dir."),
) -> None:
    """Train with the settings in CONFIG (key=value arguments override them)."""
    if ctx.invoked_subcommand is not None:
        return
    overrides = ctx.meta.get("train_overrides", [])
    if config is None and not overrides:
        raise typer.BadParameter("give --config CONFIG.yaml and/or key=value settings", param_hint="--config")
    from twgrpo_train.config import load_config
    from twgrpo_train.trainer import run_training

    # transformers deprecates the `gradient_checkpointing` field TRL still defines; not actionable for users.
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
    cfg = load_config(config, overrides)
    console.print(f"training [bold]{cfg.model}[/] on {cfg.train_file} → {cfg.output_dir} "
                  f"(loss {cfg.loss_type}, alpha {cfg.alpha}, G={cfg.num_generations})")
    out = run_training(cfg, resume=resume)
    console.print(f"done: model, checkpoints, {cfg.metrics_file}"
                  + (f" and {cfg.plot_file}" if cfg.plot_file else "") + f" in [bold]{out}[/]")


@app.command("plot")
def plot(
    runs: list[Path] = typer.Argument(..., help="Run folders (or their metrics JSONL files); several are overlaid."),
    out: str = typer.Option("training_curves.png", "--out", "-o", help=out_help("PNG file to write.")),
    smooth: int = typer.Option(1, "--smooth", min=1, help="Moving-average window in steps."),
) -> None:
    """Plot reward std and completion length over training steps (the paper's Figure 3) as a PNG.

    Example: twgrpo train plot runs/twgrpo runs/grpo -o curves.png --smooth 10
    """
    from twgrpo_train.plot import plot_training_curves

    out = output_path(out, OutputSpec("plot", (".png",), default_name="training_curves.png"), inputs=runs)
    path = plot_training_curves(runs, out, smooth=smooth)
    console.print(f"wrote {path}")
