"""The `twgrpo` command: a typer app whose sub-commands live one module per group."""

from __future__ import annotations

import importlib
import re
import sys
from typing import NamedTuple

import typer
import typer.main
from rich.markup import escape
from typer.core import TyperGroup

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.garbage_collection import gc_frozen_results
from twgrpo_data.secrets import environment_secrets, scrub

from .output import err_console

try:  # typer >= 0.2x ships its own copy of click; older typer raises click's exceptions
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions


class Subcommand(NamedTuple):
    module: str  # holds `app`, a typer app
    summary: str  # what `twgrpo --help` lists
    group: bool = True  # a group of commands (`twgrpo qai …`), else `app` holds the one command


# Each sub-command lives in its own module, imported only when that command runs or shows its own help:
# `twgrpo qai negate` does not pay for eval's registries or the benchmark modules, and `twgrpo --help` for none
# of them. A test checks each summary is the first line of the command's own help.
SUBCOMMANDS: dict[str, Subcommand] = {
    "qai": Subcommand("twgrpo_cli.qai", "Question-Answer Inversion: negate questions and invert their answers."),
    "data": Subcommand("twgrpo_cli.data", "Load, validate and summarise question datasets."),
    "eval": Subcommand("twgrpo_cli.eval", "Evaluate video language models and score their outputs."),
    "train": Subcommand("twgrpo_cli.train", "Train a video model with TW-GRPO (or GRPO) on TRL."),
    "publish": Subcommand(
        "twgrpo_cli.publish",
        "Publish records to the Hugging Face Hub with a generated dataset card (one commit).",
        group=False,
    ),
    "dev": Subcommand("twgrpo_cli.dev", "Developer helpers (tiny offline models for tests and smoke runs)."),
}


class LazyGroup(TyperGroup):
    """The root group: sub-commands are built from their modules on first use, each with `--debug` added."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx, name: str):
        if name not in SUBCOMMANDS:
            return None
        if self._listing:  # the root help lists names and summaries only
            return typer.core.TyperCommand(name, short_help=SUBCOMMANDS[name].summary)
        if name not in self.commands:
            self.commands[name] = load_subcommand(name)
        return self.commands[name]

    def format_help(self, ctx, formatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def load_subcommand(name: str):
    """The click command of sub-command `name`, built from its module's typer app, with `--debug` added (and
    without the shell-completion options typer gives a one-command app: they belong to `twgrpo` itself)."""
    sub = SUBCOMMANDS[name]
    app = importlib.import_module(sub.module).app
    command = typer.main.get_group(app) if sub.group else typer.main.get_command(app)
    command.name = name
    command.params = [p for p in command.params if p.name not in ("install_completion", "show_completion")]
    _add_debug(command)
    return command


app = typer.Typer(
    name="twgrpo",
    cls=LazyGroup,
    help="Question-Answer Inversion, benchmark loading, evaluation and TW-GRPO training for video QA.\n\n"
    "Example: twgrpo qai convert nextgqa_val.json -o qai.json --seed 0",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


def _print_version(value: bool) -> None:
    if value:
        from twgrpo_data import __version__

        typer.echo(f"twgrpo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the twgrpo version and exit."
    ),
) -> None:
    # Only the root's own options live here (no docstring: the app's `help` stays its description).
    return None


class _Debug:
    """Whether `--debug` was given (on any command: it is added to every one of them)."""

    on = False


def _set_debug(value: bool) -> None:
    if value:
        _Debug.on = True


def _debug_option():
    """The `--debug` option as typer builds it (so its help renders like the others), not passed to commands."""
    probe = typer.Typer()

    @probe.command()
    def _probe(
        debug: bool = typer.Option(
            False, "--debug", is_eager=True, callback=_set_debug, help="On an error, show the full traceback."
        ),
    ) -> None:
        pass

    param = next(p for p in typer.main.get_command(probe).params if p.name == "debug")
    param.expose_value = False
    return param


def _add_debug(command) -> None:
    """Add `--debug` to `command` and every command under it, so that each `--help` shows it and it works after
    any sub-command; and show no type beside a flag in their help (`_no_flag_type`)."""
    debug = _debug_option()
    todo = [command]
    while todo:
        cmd = todo.pop()
        cmd.params.append(debug)
        _no_flag_type(cmd)
        todo.extend(getattr(cmd, "commands", {}).values())


def _no_flag_type(command) -> None:
    """typer's rich help prints `<bool>` beside every flag (its plain help prints nothing there): a flag takes no
    value, so its type column is left empty — an empty metavar — for the command's flags and its `--help`."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    built = command.get_help_option

    def get_help_option(ctx):
        option = built(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def build_command():
    """The root click command of `app` (its sub-commands load on first use, see `LazyGroup`)."""
    root = typer.main.get_command(app)
    _add_debug(root)
    return root


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: every failure is one line on stderr — exit 1 for a user error, 2 for a usage
    error — and a traceback only with --debug."""
    _Debug.on = False
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with gc_frozen_results():  # one command, its dataset kept to the end: see `gc_frozen_results`
            code = build_command().main(args=args, prog_name="twgrpo", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        code = exc.exit_code
    except click_exceptions.ClickException as exc:  # bad option value, unknown option, missing argument
        if _Debug.on:
            raise
        hint = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
        _one_line(exc.format_message() + hint)
        code = exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        code = 130
    except TwgrpoError as exc:
        if _Debug.on:
            raise
        _one_line(str(exc))
        code = exc.exit_code
    except OSError as exc:  # a file the command touched outside the checked paths (disk full, permissions)
        if _Debug.on:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _one_line(f"{where}{exc.strerror or exc}")
        code = 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        code = 130
    except Exception as exc:  # a bug: still one line, and the way to see more
        if _Debug.on:
            raise
        _one_line(
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in twgrpo - re-run with "
            "--debug for the traceback and report it"
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{16,}")


def _one_line(message: str) -> None:
    """Print `message` as one `error:` line; a Hugging Face token, a URL's credentials or a secret of the
    environment (`OPENAI_API_KEY`, …) that slipped into it is masked."""
    text = _TOKEN.sub("hf_***", scrub(" ".join(message.split()), environment_secrets()))
    err_console.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)
