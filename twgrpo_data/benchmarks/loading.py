"""What every native benchmark loader shares: reading its files with clear errors, converting items one by
one with per-item problems, counted skips, and schema validation of the result."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError
from ..io.json_text import parse_json, read_text
from ..io.load_result import LoadResult
from ..record import Problem, Record, letter, validate_records


class Skip(Exception):
    """Raised by a converter for an item that is left out on purpose; the reason is counted in `skipped`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def existing(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputFormatError(f"{p}: no such file or folder")
    return p


def find_first(root: Path, candidates: Iterable[str], what: str) -> Path:
    """`root` itself when it is a file, else the first of `candidates` (relative to `root`) that exists."""
    if root.is_file():
        return root
    tried = list(candidates)
    for rel in tried:
        if (root / rel).exists():
            return root / rel
    raise InputFormatError(f"{root}: no {what} here (looked for {', '.join(tried)})")


def read_json(path: Path) -> Any:
    try:
        return parse_json(read_text(path), path, data=True)
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; problems are reported as CSV problems naming file and line."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputFormatError(f"{path}: invalid CSV on line {reader.line_num}: {exc}") from None
    if reader.fieldnames is None:
        raise InputFormatError(f"{path}: empty CSV file (no header)")
    ragged = next((i for i, row in enumerate(rows) if None in row), None)
    if ragged is not None:
        raise InputFormatError(f"{path}: invalid CSV: row {ragged + 2} has more fields than the header")
    return rows


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow's errors carry no file name
        raise InputFormatError(f"{path}: unreadable parquet ({exc})") from None


def fill_categories(record: Record, categories: Callable[[Record], dict[str, Any]]) -> Record:
    """`record` with the keys of `categories(record)` that its `meta` lacks filled in (None values left out)."""
    extra = {k: v for k, v in categories(record).items() if v is not None and k not in record.meta}
    return record.replace(meta={**record.meta, **extra}) if extra else record


def letter_of_text(options: list[str], text: Any, field: str = "answer") -> str:
    """Letter of the option whose text equals `text` after stripping (MVBench and STAR answers carry stray
    spaces, e.g. 14 of MVBench's episodic_reasoning answers end in one)."""
    if not isinstance(text, str):
        raise RecordError(f"expected the answer text, got {text!r}", field=field)
    wanted = text.strip()
    for i, option in enumerate(options):
        if option.strip() == wanted:
            return letter(i)
    raise RecordError(f"answer {text!r} is not one of the {len(options)} options", field=field)


def collect(
    items: Iterable[tuple[int, Any]],
    convert: Callable[[int, Any], Record],
    *,
    file: str,
    id_of: Callable[[int, Any], Any] = lambda index, raw: None,
) -> tuple[list[tuple[int, Record]], list[Problem], Counter]:
    """Convert native `(index, item)` pairs one by one with `convert(index, item)`. A `RecordError` becomes a
    problem located at the item's position in `file` (its id from `id_of(index, item)` when the error has
    none); a `Skip` is counted by reason."""
    records: list[tuple[int, Record]] = []
    problems: list[Problem] = []
    skipped: Counter = Counter()
    for index, raw in items:
        try:
            records.append((index, convert(index, raw)))
        except Skip as skip:
            skipped[skip.reason] += 1
        except RecordError as exc:
            rid = exc.record_id
            if rid is None:
                try:
                    rid = id_of(index, raw)
                except (KeyError, TypeError, AttributeError):
                    rid = None
            problems.append(Problem(exc.reason, file, index, None if rid is None else str(rid), exc.field))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            missing = exc.args[0] if isinstance(exc, KeyError) else None
            try:
                rid = id_of(index, raw)
            except (KeyError, TypeError, AttributeError):
                rid = None
            problems.append(
                Problem(
                    "missing" if missing else f"malformed item: {exc}",
                    file,
                    index,
                    None if rid is None else str(rid),
                    field=str(missing) if missing else None,
                )
            )
    return records, problems, skipped


def finish(
    parts: Iterable[tuple[list[tuple[int, Record]], list[Problem], Counter, str]], file: str | os.PathLike
) -> LoadResult:
    """Merge per-file conversions, validate the records (ids unique across files) and drop invalid ones.

    Every dropped record stays listed in `problems`; warnings (e.g. a one-option MVBench item) keep theirs.
    """
    located: list[tuple[str, int, Record]] = []
    problems: list[Problem] = []
    skipped: Counter = Counter()
    for records, probs, skips, part_file in parts:
        located += [(part_file, i, r) for i, r in records]
        problems += probs
        skipped.update(skips)
    bad: set[int] = set()
    for prob in validate_records([r for _, _, r in located]):
        part_file, index, _ = located[prob.index]
        problems.append(Problem(prob.message, part_file, index, prob.record_id, prob.field, prob.severity))
        if prob.severity == "error":
            bad.add(prob.index)
    kept = [r for n, (_, _, r) in enumerate(located) if n not in bad]
    return LoadResult(kept, problems, skipped, file=str(file))
