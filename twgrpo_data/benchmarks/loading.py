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

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..formats import LoadResult, parse_json, read_text
from ..garbage_collection import gc_paused
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


@gc_paused()  # builds ~10^5 objects; see `gc_paused`
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


def is_saved_dataset(path: Path) -> bool:
    """A folder written by `datasets`' `save_to_disk` (one dataset or a `DatasetDict`)."""
    return path.is_dir() and any((path / n).is_file() for n in ("dataset_info.json", "dataset_dict.json", "state.json"))


def saved_dataset_columns(path: Path) -> set[str]:
    """Column names of a `save_to_disk` folder (of its first split); empty when it is not one."""
    if not is_saved_dataset(path):
        return set()
    from datasets import DatasetDict

    from ..hub_sources import load_saved_dataset

    ds = load_saved_dataset(path)
    ds = next(iter(ds.values())) if isinstance(ds, DatasetDict) else ds
    return set(ds.column_names)


def read_saved_rows(path: Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a `save_to_disk` folder (a Hub dataset saved locally, e.g. lmms-lab's Video-MME);
    a `DatasetDict` gives `split`, or its only split."""
    from datasets import DatasetDict

    from ..hub_sources import load_saved_dataset

    try:
        ds = load_saved_dataset(path)
    except TwgrpoError:
        raise
    except Exception as exc:  # datasets' errors name no file
        raise InputFormatError(f"{path}: unreadable save_to_disk folder ({exc})") from None
    if isinstance(ds, DatasetDict):
        if split is None and len(ds) != 1:
            raise InputFormatError(f"{path}: dataset has splits {list(ds)}; choose one")
        ds = ds[split or next(iter(ds))]
    return ds.to_list()


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


@gc_paused()  # builds ~10^5 objects; see `gc_paused`
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


@gc_paused()  # builds ~10^5 objects; see `gc_paused`
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
