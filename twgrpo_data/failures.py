"""Failures of many items grouped by what went wrong: an eval run that "completed" with a sixth of its videos
missing says so at the end, on its report page and to `--max-failed`; `data validate` with a wrong --video-root
prints one line for MMVU's 625 records whose videos are missing, not 625 lines.

Errors name the file or id they are about (`video: /data/v/12.mp4: no such video file`); the group is the error
with those names taken out (`video: …: no such video file`), counted, with its first item as the example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# a part of an error between ": " separators that names a file: a path (a slash, no parenthesised reason) or a
# name with a file suffix (`.mp4`, not the `.0s` of `600.0s`)
_NAMES_A_FILE = re.compile(r"^[^()]*[/\\][^()]*$|^[^()]*\.[A-Za-z][A-Za-z0-9]{1,4}$")


@dataclass(frozen=True)
class FailureGroup:
    """Items that failed the same way: how many, and the first of them."""

    kind: str
    count: int
    example_id: str
    example: str


def failure_kind(error: str) -> str:
    """`error` without the file it names: `video: /a/b.mp4: no such video file` → `video: …: no such video file`."""
    parts = str(error).split(": ")
    return ": ".join("…" if _NAMES_A_FILE.match(part.strip()) else part for part in parts)


def failure_groups(rows: Iterable[dict[str, Any]]) -> list[FailureGroup]:
    """The failed rows of a run (`samples.jsonl` lines with an `error`) grouped by `failure_kind`, largest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("error"):
            groups.setdefault(failure_kind(row["error"]), []).append(row)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [FailureGroup(kind, len(items), str(items[0].get("id")), str(items[0]["error"])) for kind, items in ordered]


def parse_rate(text: str) -> float:
    """`--max-failed`: a share of the items, as `0.05` or `5%`; a value outside [0, 1] is refused."""
    value = text.strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise ValueError(f"expected a share of the items, 0..1 or 0%..100% (e.g. 0.05 or 5%), got {text!r}")
    return rate
