"""`twgrpo train …`: TW-GRPO / GRPO training from a YAML config, and training-curve plots."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from pathlib import Path

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from twgrpo_data.outputs import PLOT_SUFFIXES, TRAIN_RUN, OutputSpec, refuse_stdout, resolve_run_folder, run_folder

from .options import out_help, output_path
from .output import console

# options of `train` itself; every other `--name [value]` is a training setting
_OWN_WITH_VALUE = ("--config", "-c", "--out", "-o")
_OWN_FLAGS = ("--resume", "--help", "-h")


def split_settings(args: list[str]) -> tuple[list[str], list[str]]:
    """Split `train`'s arguments into (its own options, `key=value` settings).

    Settings may be written `key=value`, `--key value`, `--key=value` or `--key-name value`; a bare
    `--flag` followed by another option (or nothing) means `flag=true`.
    """
    own, settings, i = [], [], 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in _OWN_WITH_VALUE:
            own.extend(args[i : i + (1 if "=" in arg else 2)])
            i += 1 if "=" in arg else 2
            continue
        if arg in _OWN_FLAGS or not arg.startswith("--"):
            (settings if not arg.startswith("-") and "=" in arg else own).append(arg)
            i += 1
            continue
        key, eq, value = arg[2:].partition("=")
        if not eq:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is not None and not nxt.startswith("--"):
                value, i = nxt, i + 1
            else:
                value = "true"
        settings.append(f"{key.replace('-', '_')}={value}")
        i += 1
    return own, settings


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]


def settings_table() -> list[tuple[str, str, str]]:
    """(name, default, help) of every training setting, from the `TWGRPOConfig` dataclass: TW-GRPO's own
    settings first, in the order the class declares them (model and data, video, rewards, token weights,
    outputs), then the TRL / transformers ones alphabetically."""
    from dataclasses import MISSING, fields

    from trl import GRPOConfig

    from twgrpo_train.config import TWGRPOConfig

    inherited = {f.name for f in fields(GRPOConfig)}
    own = [f for f in fields(TWGRPOConfig) if f.init and f.name not in inherited]
    rest = sorted((f for f in fields(TWGRPOConfig) if f.init and f.name in inherited), key=lambda f: f.name)
    rows = []
    for f in own + rest:
        default = (
            f.default
            if f.default is not MISSING
            else (f.default_factory() if f.default_factory is not MISSING else None)
        )
        rows.append(
            (
                f.name,
                repr(default) if isinstance(default, str) else str(default),
                _first_sentence(f.metadata.get("help", "")),
            )
        )
    return rows


class _TrainGroup(TyperGroup):
    """`train` runs itself unless a sub-command is named; settings (`key=value`, `--key value`) are overrides.

    Click would read the first positional argument as a sub-command name and reject unknown options, so
    settings are taken out of the argument list before parsing and handed to the callback. `--help` lists
    every setting with its default and help text, generated from the config dataclass.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        positional = [
            a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in _OWN_WITH_VALUE)
        ]
        if positional and positional[0] in self.commands:
            return super().parse_args(ctx, args)
        own, ctx.meta["train_overrides"] = split_settings(args)
        return super().parse_args(ctx, own)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        from rich.table import Table

        table = Table(
            title="Training settings (key=value or --key value; defaults of TWGRPOConfig): TW-GRPO's own "
            "first, then TRL's and transformers'",
            title_justify="left",
            show_lines=False,
            box=None,
            pad_edge=False,
        )
        table.add_column("setting", no_wrap=True)
        table.add_column("default", overflow="fold", max_width=24)
        table.add_column("help", overflow="fold")
        for row in settings_table():
            table.add_row(*row)
        console.print(table)


app = typer.Typer(
    cls=_TrainGroup,
    help="Train a video model with TW-GRPO (or GRPO) on TRL.\n\n"
    "Run: twgrpo train --config CONFIG.yaml \\[key=value | --key value ...] \\[-o DIR] \\[--resume]. Every "
    "setting (listed below) is a TWGRPOConfig field.\n\n"
    "Example: twgrpo train --config examples/train_tiny.yaml model=runs/Qwen2.5-VL-tiny --max_steps 4 -o runs/t",
    invoke_without_command=True,
)


@app.callback()
def train(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML file of training settings.", exists=True, dir_okay=False
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (the output_dir setting)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last complete checkpoint in output_dir."),
) -> None:
    """Train with the settings in CONFIG (key=value arguments override them)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is not None:
        refuse_stdout(str(out), TRAIN_RUN, "-o/--out")
    overrides = ctx.meta.get("train_overrides", []) + ([f"output_dir={out}"] if out is not None else [])
    if config is None and not overrides:
        from twgrpo_data.errors import UsageError

        raise UsageError(
            "--config is required: twgrpo train --config CONFIG.yaml [key=value ...] (--help lists every setting)"
        )
    from twgrpo_train.settings import precheck

    precheck(config, overrides)  # names, types and ranges before the seconds of importing TRL and torch
    from twgrpo_train.config import load_config
    from twgrpo_train.trainer import run_training

    # transformers deprecates the `gradient_checkpointing` field TRL still defines; not actionable for users.
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
    cfg = load_config(config, overrides)
    folder = _run_folder(cfg, config, "-o/--out" if out is not None else "output_dir")
    weights = f", alpha {cfg.alpha:g}: weights in [1, {cfg.max_weight:g}]" if cfg.token_weighting else ""
    console.print(
        f"training [bold]{cfg.model}[/] on {cfg.train_file} → {cfg.output_dir} "
        f"(loss {cfg.loss_type}{weights}, G={cfg.num_generations})"
    )
    main = int(os.environ.get("RANK", "0")) == 0  # the launch's main process locks the folder for all of them
    with run_folder(folder, TRAIN_RUN, "twgrpo train", "-o/--out", main=main), _lines_in_a_log(cfg, config, overrides):
        folder = run_training(cfg, resume=resume, log=lambda line: print(line, file=sys.stderr))
    console.print(
        f"done: model, checkpoints, {cfg.metrics_file}"
        + (f" and {cfg.plot_file}" if cfg.plot_file else "")
        + f" in [bold]{folder}[/]"
    )


def _lines_in_a_log(cfg, config: Path | None, overrides: list[str]) -> contextlib.AbstractContextManager:
    """When stderr is a log file (`twgrpo train … 2>train.log &`), one line per logging step there instead of a
    tqdm bar redrawn with carriage returns: transformers prints each log (`disable_tqdm`, unless the config or an
    override sets it) and the training's printed lines go to stderr, beside the notes and warnings."""
    if sys.stderr.isatty():
        return contextlib.nullcontext()
    given = {o.split("=", 1)[0] for o in overrides}
    if config is not None:
        import yaml

        given |= set(yaml.safe_load(config.read_text(encoding="utf-8")) or {})
    if "disable_tqdm" not in given:
        cfg.disable_tqdm = True
    return contextlib.redirect_stdout(sys.stderr)


def _run_folder(cfg, config: Path | None, option: str) -> Path:
    """`output_dir` under the output-path policy: a new or empty folder or an earlier training run's, never the
    model, the data, the config or a folder holding one of them."""
    inputs = [config, cfg.train_file, cfg.video_root]
    if Path(cfg.model).expanduser().exists():
        inputs.append(Path(cfg.model).expanduser())
    return resolve_run_folder(
        cfg.output_dir, TRAIN_RUN, inputs=inputs, legacy=("twgrpo_config.json", cfg.metrics_file), option=option
    )


@app.command("plot")
def plot(
    runs: list[Path] = typer.Argument(..., help="Run folders (or their metrics JSONL files); several are overlaid."),
    out: str = typer.Option(
        "training_curves.png",
        "--out",
        "-o",
        help=out_help("Plot file to write; .png, .pdf or .svg (the suffix decides)."),
    ),
    smooth: int = typer.Option(1, "--smooth", min=1, help="Moving-average window in steps."),
) -> None:
    """Plot reward std and completion length over training steps (the paper's Figure 3).

    Example: twgrpo train plot runs/twgrpo runs/grpo -o curves.png --smooth 10
    """
    from twgrpo_train.plot import plot_training_curves

    out = output_path(out, OutputSpec("plot", PLOT_SUFFIXES, default_name="training_curves.png"), inputs=runs)
    path = plot_training_curves(runs, out, smooth=smooth)
    console.print(f"wrote {escape(str(path))}")
