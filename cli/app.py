"""The `twgrpo` command: a typer app whose sub-commands live one module per group."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from twgrpo_data.errors import TwgrpoError

from . import data, dev, eval as eval_cmd, publish, qai, train

app = typer.Typer(
    name="twgrpo",
    help="Question-Answer Inversion, benchmark loading, evaluation and TW-GRPO training for video QA.\n\n"
         "Example: twgrpo qai convert nextgqa_val.json -o qai.json --seed 0",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(qai.app, name="qai")
app.add_typer(data.app, name="data")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(train.app, name="train")
app.command("publish")(publish.publish)
app.add_typer(dev.app, name="dev")

err_console = Console(stderr=True, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: user errors print one line and exit 1 (a traceback only with --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        app(args=args, prog_name="twgrpo", standalone_mode=True)
    except TwgrpoError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(1)
