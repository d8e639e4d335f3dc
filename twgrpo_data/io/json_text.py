"""UTF-8 JSON and JSON Lines text: read with one error naming the file, line, record and field for anything that is
not (a BOM of another encoding, binary data, bad syntax, NaN or a lone surrogate in a dataset)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, format_location

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of `path` (a UTF-8 BOM is dropped); anything else is one `InputFormatError` naming
    the file: missing, a folder, unreadable, UTF-16/32, Latin-1 or binary."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputFormatError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputFormatError(f"{p}: is a folder, not a file") from None
    except OSError as exc:
        raise InputFormatError(f"{p}: cannot read: {exc.strerror or exc}") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputFormatError(f"{p}: {name} text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = "binary data" if b"\x00" in data[:8192] else "not UTF-8 text (Latin-1 or another encoding?)"
        line = data[: exc.start].count(b"\n") + 1
        raise InputFormatError(f"{p}: {kind}: byte 0x{data[exc.start]:02x} on line {line} is not valid UTF-8") from None


class _NonFinite(Exception):
    """Raised from inside the JSON decoder at a NaN/±Infinity token (the C scanner calls `parse_constant` only
    for those, so a file without one pays nothing)."""


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


_DATA_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json(text: str, p: Path, *, data: bool = False, where: str | None = None) -> Any:
    """`json.loads` whose failures (bad syntax, nesting too deep for Python) name the file
    (a number longer than Python reads too).

    `data=True` (a dataset, whose values are written back out): NaN, ±Infinity (Python reads them, JSON has
    none) and lone surrogates (a \\uD800-\\uDFFF escape that is no character: encoding it fails) are refused
    too, naming the record (`where`, e.g. "line 3", else its index in the list) and the field."""
    try:
        value = _DATA_DECODER.decode(text) if data else json.loads(text)
        suspect = data and "\\u" in text and ("\\ud" in text or "\\uD" in text)
    except RecursionError:
        raise InputFormatError(f"{p}: JSON nested too deeply to read") from None
    except _NonFinite:
        value, suspect = json.loads(text), True
    except json.JSONDecodeError:
        raise
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits() (a CPU-time guard)
        raise InputFormatError(f"{p}: a number with more than {sys.get_int_max_str_digits()} digits") from None
    if suspect:
        found = find_unwritable(value)
        if found is not None:
            path, what = found
            if where is None and path and isinstance(path[0], int):
                index, path = path[0], path[1:]
                record = value[index]
                rid = record.get("id") if isinstance(record, dict) else None
                where = format_location(None, index, None if rid is None else str(rid), None).rstrip(": ")
            field = ".".join(str(k) for k in path)
            raise InputFormatError(
                f"{p}: {where + ', ' if where else ''}{'field ' + repr(field) + ': ' if field else ''}{what}"
            )
    return value


def find_unwritable(value: Any) -> tuple[list[Any], str] | None:
    """The first NaN/±Infinity or lone surrogate in `value` (keys included): its path and what it is."""
    stack: list[tuple[list[Any], Any]] = [([], value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return path, f"{json.dumps(v)} has no JSON form (only Python reads it); write null for a missing number"
        if isinstance(v, str) and _lone_surrogate(v):
            return path, "holds a lone surrogate (a \\uD800-\\uDFFF escape that is no character); fix the text"
        if isinstance(v, dict):
            for k, item in reversed(list(v.items())):
                if isinstance(k, str) and _lone_surrogate(k):
                    return [*path, k], "a key holding a lone surrogate (no character); fix the text"
                stack.append(([*path, k], item))
        elif isinstance(v, list):
            stack.extend(([*path, i], item) for i, item in reversed(list(enumerate(v))))
    return None


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_json_objects(p: Path) -> list[Any]:
    """A JSON list, or JSON Lines (one object per line; `.jsonl` or a list that does not parse whole)."""
    text = read_text(p)
    if p.suffix != ".jsonl":
        try:
            data = parse_json(text, p, data=True)
        except json.JSONDecodeError as exc:
            if not text.lstrip().startswith("{"):
                raise InputFormatError(
                    f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ) from None
        else:
            if isinstance(data, dict):
                return [data]
            if not isinstance(data, list):
                raise InputFormatError(f"{p}: expected a JSON list of records, got {type(data).__name__}")
            return data
    return [value for _, value in _json_lines(text, p, data=True)]


def _json_lines(text: str, p: Path, *, data: bool = False) -> list[tuple[int, Any]]:
    """(line number, value) of each non-blank line; a bad line is an error naming the file and line."""
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is data
        if not line.strip():
            continue
        try:
            out.append((lineno, parse_json(line, p, data=data, where=f"line {lineno}")))
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{p}: invalid JSON on line {lineno}: {exc.msg}") from None
    return out


def json_line_objects(text: str, p: Path) -> list[dict[str, Any]]:
    """The JSON object of each non-blank line of `text` (read from `p`, which errors name with the line)."""
    rows = []
    for lineno, value in _json_lines(text, p):
        if not isinstance(value, dict):
            raise InputFormatError(f"{p}: line {lineno}: expected a JSON object")
        rows.append(value)
    return rows


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file (eval logs, samples, metrics; any suffix, TW-GRPO names its
    logs *.json); errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(f"{p}: no such file")
    return json_line_objects(read_text(p), p)


def head_text(path: Path, size: int = 65536) -> str:
    """The first `size` characters of a file (a UTF-8 byte-order mark, as Excel writes, dropped), for format
    sniffing without parsing a large file — and in a JSON list at least its whole first record, however long
    it is, so that a sniffer never misses one of its keys."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(size)
        start = head.lstrip().lstrip("[").lstrip()
        while start.startswith("{") and len(head) == size and not _holds_first_object(start):
            more = fh.read(size)
            if not more:
                break
            head += more
            start = head.lstrip().lstrip("[").lstrip()
            size = len(head)
        return head


def _holds_first_object(text: str) -> bool:
    """Whether `text` (starting at a JSON object) holds that whole object; an invalid one reads to the end."""
    try:
        json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return False
    except RecursionError:
        return True
    return True
