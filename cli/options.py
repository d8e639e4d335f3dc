"""What several commands share: fixed-choice option types, the output-path option text, the old `--output`
spelling, and the one call that applies the output-path policy (`twgrpo_data.outputs`)."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console

from twgrpo_data.outputs import POLICY_HELP, OutputSpec, resolve_output

err_console = Console(stderr=True, highlight=False)


def choices(name: str, values: Iterable[str]) -> type[enum.Enum]:
    """A str Enum of `values`, so typer lists them in `--help` and refuses others (exit 2) before any work."""
    return enum.Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


def out_help(text: str) -> str:
    """`text` followed by the output-path policy every output option states."""
    return f"{text} {POLICY_HELP}"


def deprecated_output(out: str | None, old: str | None) -> str | None:
    """`-o/--out`, or the old `--output` spelling with a one-line deprecation note on stderr."""
    if old is None:
        return out
    if out is not None:
        from twgrpo_data.errors import UsageError

        raise UsageError("give -o/--out only (--output is its old spelling)")
    err_console.print("[yellow]note:[/] --output is deprecated; use -o/--out")
    return old


def output_path(
    path: str | os.PathLike,
    spec: OutputSpec,
    *,
    inputs: Iterable[os.PathLike | None] = (),
    folder: bool | None = None,
    option: str = "-o/--out",
) -> Path:
    """Apply the output-path policy to a command's output option (before the command reads anything).

    Output options are typed `str`, not `Path`: a trailing '/' (write *into* the folder) must survive."""
    return resolve_output(path, spec, inputs=[p for p in inputs if p is not None], folder=folder, option=option)
