"""Append-only JSON Lines logs a run writes as it goes (evaluation samples, judge replies, training metrics): each
append is one write made durable (flush + fsync), so a kill leaves at most the last line cut short — which the
owner of the log cuts off before appending again (`cut_torn_tail`) and a reader of someone else's log skips
(`read_jsonl_log`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InputFormatError
from .json_text import json_line_objects, parse_json, read_text


def append_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> None:
    """Append `rows` to `path`, one JSON line each (non-ASCII kept as is), in one write, then flush and fsync."""
    blob = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())


def cut_torn_tail(path: str | os.PathLike) -> bool:
    """Cut `path` back to its last complete line (a kill during `append_jsonl` leaves a line without its newline,
    and the next append would glue a new line onto it); whether anything was cut. A missing file is left alone."""
    try:
        fh = Path(path).open("rb+")
    except FileNotFoundError:
        return False
    with fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end == len(data):
            return False
        fh.truncate(end)
    return True


def read_jsonl_log(path: str | os.PathLike) -> tuple[list[dict[str, Any]], bool]:
    """`read_jsonl` for a log another process appends to: a last line without its newline that does not parse
    (a write cut short by a kill) is dropped. Returns the objects and whether a line was dropped; any other bad
    line is an error naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(f"{p}: no such file")
    text = read_text(p)
    head, _, last = text.rpartition("\n")
    torn = False
    if last.strip():
        try:
            parse_json(last, p)
        except json.JSONDecodeError:
            text, torn = head, True
    return json_line_objects(text, p), torn
