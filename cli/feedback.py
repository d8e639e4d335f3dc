"""Feedback on slow steps: a rich status line on stderr while a step runs, shown only when stderr is a
terminal (pipes, logs and tests see nothing)."""

from __future__ import annotations

import contextlib

from rich.console import Console

err_console = Console(stderr=True, highlight=False)


def status(message: str, console: Console = err_console) -> contextlib.AbstractContextManager:
    """`with status("reading x.json"): ...` shows a spinner and `message` until the block ends."""
    if not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(message)
