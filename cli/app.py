"""The `twgrpo` command: a typer app whose sub-commands live one module per group."""

from __future__ import annotations

import re
import sys

import typer
from rich.console import Console
from rich.markup import escape

from twgrpo_data.errors import TwgrpoError

try:  # typer >= 0.2x ships its own copy of click; older typer raises click's exceptions
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from . import data, dev, publish, qai, train
from . import eval as eval_cmd

app = typer.Typer(
    name="twgrpo",
    help="Question-Answer Inversion, benchmark loading, evaluation and TW-GRPO training for video QA.\n\n"
    "Example: twgrpo qai convert nextgqa_val.json -o qai.json --seed 0",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
app.add_typer(qai.app, name="qai")
app.add_typer(data.app, name="data")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(train.app, name="train")
app.command("publish")(publish.publish)
app.add_typer(dev.app, name="dev")

err_console = Console(stderr=True, highlight=False)


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


def build_command():
    """The click command tree of `app`, with `--debug` added to every group and command so that each
    `--help` shows it and it works after any sub-command."""
    root = typer.main.get_command(app)
    debug = _debug_option()
    todo = [root]
    while todo:
        cmd = todo.pop()
        cmd.params.append(debug)
        todo.extend(getattr(cmd, "commands", {}).values())
    return root


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: every failure is one line on stderr — exit 1 for a user error, 2 for a usage
    error — and a traceback only with --debug."""
    _Debug.on = False
    args = list(sys.argv[1:] if argv is None else argv)
    try:
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
    """Print `message` as one `error:` line; a Hugging Face token that slipped into it is masked."""
    text = _TOKEN.sub("hf_***", " ".join(message.split()))
    err_console.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)
