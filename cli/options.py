"""What several commands share: fixed-choice option types, the output-path option text, the old `--output`
spelling, the one call that applies the output-path policy (`twgrpo_data.outputs`), and options built from a
config dataclass (`config_options`, as `twgrpo eval`'s come from `EvalConfig`)."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import typer

from twgrpo_data.outputs import POLICY_HELP, OutputSpec, resolve_output

from .output import note


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
    note("--output is deprecated; use -o/--out")
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


def config_options(cls: type) -> list[inspect.Parameter]:
    """typer options for the fields of the config dataclass `cls` whose metadata names a `--help` panel (see
    `twgrpo_eval.config`): `--field-name` (or the metadata's `flags`), its help, its fixed `choices`, its `min`
    and `max`, and its default. A field without a default is an option that defaults to None (the command says it is
    required, so that `--help` of a sub-command does not ask for it)."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "panel" not in meta:
            continue
        annotation: Any = hints[f.name]
        if "choices" in meta:
            choice = Literal[tuple(meta["choices"])]  # listed in --help, others refused before any work
            annotation = choice | None if f.default is None else choice
        default = f.default
        if default is dataclasses.MISSING:
            default, annotation = None, annotation | None
        flags = meta.get("flags", ("--" + f.name.replace("_", "-"),))
        info = typer.Option(
            default, *flags, help=meta["help"], rich_help_panel=meta["panel"], min=meta.get("min"), max=meta.get("max")
        )
        params.append(option_param(f.name, annotation, info))
    return params


def option_param(name: str, annotation: Any, info: Any) -> inspect.Parameter:
    """One more typer option (or argument) of a command whose options are built (`with_options`)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def judge_api_key_param(help: str, panel: str | None = None) -> inspect.Parameter:
    """`--judge-api-key`, a secret: no default shown (the environment's key is never echoed)."""
    info = typer.Option(None, "--judge-api-key", show_default=False, rich_help_panel=panel, help=help)
    return option_param("judge_api_key", str | None, info)


def with_options(params: list[inspect.Parameter], panels: tuple[str, ...] = ()):
    """Give a command `def cmd(ctx: typer.Context, **options)` the typer options `params`: typer reads a command's
    options from its signature, so the signature is set to them (after `ctx`). `--help` shows its panels in the
    order their first options come, so the options are put panel by panel in the order of `panels`."""
    if panels:
        params = sorted(params, key=lambda p: panels.index(p.default.rich_help_panel))

    def decorate(func):
        ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
        func.__signature__ = inspect.Signature([ctx, *params])
        func.__annotations__ = {p.name: p.annotation for p in (ctx, *params)}
        return func

    return decorate
