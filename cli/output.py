"""Where every command prints: one console for results (stdout), one for notes, warnings and progress (stderr),
one JSON printer for `--json`, and the status line shown while a slow step runs.

Results go to stdout so that `twgrpo … --json | jq` and `> file` get them alone; everything meant for the person
at the terminal goes to stderr. Rich consoles look up `sys.stdout`/`sys.stderr` when they print, so output
redirected by a caller (a test, a notebook) follows.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout (what every `--json` prints: plain text, never highlighted)."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def warning(text: str) -> None:
    """A `warning:` line on stderr (`text` is shown as it is, never read as rich markup)."""
    err_console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)


def note(text: str) -> None:
    """A `note:` line on stderr (`text` is shown as it is)."""
    err_console.print(f"[yellow]note:[/] {escape(text)}", soft_wrap=True)


def status(message: str) -> contextlib.AbstractContextManager:
    """`with status("reading x.json"): ...` shows a spinner and `message` on stderr until the block ends, only when
    stderr is a terminal (pipes, logs and tests see nothing)."""
    if not err_console.is_terminal:
        return contextlib.nullcontext()
    return err_console.status(message)
