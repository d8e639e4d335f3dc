"""Published records must not point into this machine: an absolute path whose folder exists here, a `file:` URL or
a relative path climbing out with `..`, in `id`, `video`, `source` or anywhere in `meta` (also inside longer
text), is refused before anything is written or uploaded."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import TwgrpoError
from ..record import Record

# A path inside any text: a `file:` URL, an absolute or home path starting a word (not the path part of an
# http URL), a Windows drive path, a relative path climbing out with '..'.
_PATH_IN_TEXT = re.compile(
    r"file:[^\s\"'<>]*"
    r"|(?<![\w.:/\\~-])(?:~[\w.-]*)?/[^\s\"'<>|,;()\[\]{}]+"
    r"|(?<![\w])[A-Za-z]:[\\/][^\s\"'<>|,;]*"
    r"|(?<![\w.])\.\.(?=[\\/])[^\s\"'<>|,;]*"
)


def _path_problem(found: str) -> str | None:
    """Why a path found in a record's text must not be published, or None (e.g. TW-GRPO's "/MMVU/videos/…",
    which names no folder of this machine, or a relative path inside the video root)."""
    if found.startswith("file:"):
        return "a file: URL"
    if found.startswith(".."):
        return "a relative path that climbs out with '..'"
    if found.startswith(("/", "~")) or re.match(r"[A-Za-z]:[\\/]", found):
        folder = os.path.dirname(os.path.expanduser(found))
        if folder not in ("", "/") and _is_local_folder(folder):
            return "a local absolute path"
    return None


@functools.lru_cache(maxsize=4096)
def _is_local_folder(folder: str) -> bool:
    return os.path.isdir(folder)


def _string_paths(text: str, where: tuple, found: list[tuple[str, str, str]]) -> None:
    """Add `(where, path, why)` for each path of this machine inside `text` to `found`."""
    if "/" in text or "\\" in text or "file:" in text:  # most texts: one test
        found += [(".".join(map(str, where)), path, why) for path, why in _text_paths(text)]


@functools.lru_cache(maxsize=1 << 16)
def _text_paths(text: str) -> tuple[tuple[str, str], ...]:
    """`(path, why)` of each path of this machine inside `text` (cached: video paths repeat across questions)."""
    matches = (m.group(0) for m in _PATH_IN_TEXT.finditer(text))
    return tuple((path, why) for path in matches if (why := _path_problem(path)) is not None)


def _local_paths(value: Any) -> list[tuple[str, str, str]]:
    """`(where, path, why)` for every path of this machine inside `value` (strings at any depth of dicts and
    lists; `where` is the key path). Walked with a stack, not recursion: 10^5 records' `meta` stay cheap."""
    found: list[tuple[str, str, str]] = []
    if isinstance(value, str):
        _string_paths(value, (), found)
        return found
    stack = [((), value)] if isinstance(value, (dict, list, tuple)) else []
    while stack:
        where, container = stack.pop()
        for key, item in container.items() if isinstance(container, dict) else enumerate(container):
            if isinstance(item, str):
                _string_paths(item, (*where, key), found)
            elif isinstance(item, (dict, list, tuple)):
                stack.append(((*where, key), item))
    return found


def check_no_local_paths(splits: Mapping[str, Sequence[Record]]) -> None:
    """Refuse records that point into this machine — an absolute path whose folder exists here, a `file:` URL or
    a relative path climbing out with `..`, in `id`, `video`, `source` or anywhere in `meta` (also inside longer
    text): published records must not reveal it. Every record is checked before anything is written; the error
    names the first record and field and counts the others."""
    found: list[tuple[str, str, str, str, str]] = []
    hits: list[tuple[str, str, str]] = []
    for records in splits.values():
        for record in records:
            for name, value in (("id", record.id), ("video", record.video), ("source", record.source)):
                if value and ("/" in value or "\\" in value or "file:" in value):
                    _string_paths(value, (), hits)
                    found += [(record.id, name, *hit) for hit in hits]
                    hits.clear()
            if record.meta:
                found += [(record.id, "meta", *hit) for hit in _local_paths(record.meta)]
    if found:
        record_id, name, where, path, why = found[0]
        at = f", at {where}" if where else ""
        more = f"; {len(found) - 1} more path(s) in the records" if len(found) > 1 else ""
        raise TwgrpoError(
            f"record {record_id!r}, field {name!r}: holds {why} ({path}{at}){more}; publish paths relative to the "
            "video root instead (nothing was written or uploaded)"
        )
