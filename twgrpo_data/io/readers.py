"""The interchange formats (DESIGN §2) read from local files: detection by suffix and first record, and one reader
that collects record-level problems instead of stopping at the first.

    unified   the Video-R1 / TW-GRPO JSON list (`twgrpo_data.io.unified_format`)
    records   this toolkit's own records, as a JSON list (`.json`) or one per line (`.jsonl`)
    parquet   one row per record; `meta` as JSON text or a struct, `qai` as a struct (`twgrpo_data.io.arrow`)
    hf        an HF `datasets` folder written by `save_to_disk`
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..record import Problem, Record, validate_records
from .arrow import from_hf_dataset, table_to_records
from .json_text import head_text, read_json_objects
from .load_result import LoadResult
from .saved_dataset import is_saved_dataset, load_saved_dataset, saved_dataset_columns
from .unified_format import unified_to_record

READ_FORMATS = ("auto", "unified", "records", "parquet", "hf")
RECORD_FIELDS = {"id", "question", "options", "answer", "video", "source", "meta", "qai"}


def _looks_like_records(obj: dict) -> bool:
    """Our records: the four required keys with a list answer, or only Record fields including `meta` or
    `source` (then a wrong `answer` type is reported as a record error, not as an unknown format)."""
    if not {"id", "question", "options", "answer"} <= set(obj):
        return False
    return isinstance(obj.get("answer"), list) or (set(obj) <= RECORD_FIELDS and bool({"meta", "source"} & set(obj)))


def _looks_like_unified(obj: dict) -> bool:
    return "solution" in obj and ("problem" in obj or "question" in obj)


def detect_format(path: str | os.PathLike) -> str:
    """'unified', 'records', 'parquet' or 'hf' — by extension, then by the first record's keys."""
    p = Path(path)
    if not p.exists():
        raise InputFormatError(f"{p}: no such file or folder")
    if p.is_dir():
        if is_saved_dataset(p):
            return "hf"
        raise InputFormatError(f"{p}: a folder that is not an HF `save_to_disk` dataset")
    if p.suffix == ".parquet":
        return "parquet"
    if p.suffix.lower() in (".csv", ".tsv"):
        raise InputFormatError(
            f"{p}: a CSV table that is not a NExT-GQA/NExT-QA file (expected columns "
            "video_id or video, question, answer, qid, a0-a4)"
        )
    first = _first_object(p)
    if first is None:
        raise InputFormatError(f"{p}: no records (an empty file or list)")
    if _looks_like_records(first):
        return "records"
    if _looks_like_unified(first):
        return "unified"
    raise InputFormatError(
        f"{p}: not a records or unified file (first record has keys {sorted(first)[:8]}), nor a benchmark's "
        "native file twgrpo recognises; name the benchmark it is (`twgrpo data load --bench NAME`)"
    )


def _first_object(p: Path) -> dict | None:
    """The file's first JSON value, parsed from its head; the whole file only when the head cannot tell."""
    with p.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(1 << 16).lstrip()
    if head.startswith("["):
        head = head[1:].lstrip()
        if head.startswith("]"):
            return None
    if head.startswith("{"):
        try:
            obj, _ = json.JSONDecoder().raw_decode(head)
            return obj
        except (ValueError, RecursionError):  # JSONDecodeError, a too long number, too deep nesting
            pass  # cut by the head's end, or invalid: the full read below tells which
    for obj in read_json_objects(p):
        if not isinstance(obj, dict):
            raise InputFormatError(f"{p}: record 0 is a {type(obj).__name__}, not a JSON object")
        return obj
    return None


def is_interchange(path: Path) -> bool:
    """A unified/records/parquet/HF file written by twgrpo or Video-R1 rather than a native benchmark file."""
    if path.is_dir():
        return {"id", "question", "options", "answer", "meta"} <= saved_dataset_columns(path)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError):  # unreadable: the reader that opens it says why, naming the file
            return False
        return {"id", "question", "options", "answer", "meta"} <= set(names)
    if path.suffix in (".json", ".jsonl"):
        head = head_text(path, 16384)
        return '"solution"' in head or ('"answer": [' in head and '"meta"' in head)
    return False


def read_interchange(
    path: str | os.PathLike, fmt: str = "auto", *, source: str = "", split: str | None = None
) -> LoadResult:
    """Read every record of the local file or folder `path`, collecting (not raising) record-level problems.

    Records that fail to convert or have schema errors are left out of `records` and listed in
    `problems`; warnings (e.g. single-option questions) keep their record. `source` is given to unified
    records that name none; `split` picks one split of an HF folder holding several.
    """
    p = Path(path)
    fmt = detect_format(p) if fmt == "auto" else fmt
    if fmt not in READ_FORMATS:
        raise InputFormatError(f"unknown input format {fmt!r}; expected one of {', '.join(READ_FORMATS)}")
    file = str(p)
    candidates: list[tuple[int, Record]] = []
    problems: list[Problem] = []
    if fmt in ("unified", "records"):
        for i, raw in enumerate(read_json_objects(p)):
            try:
                if fmt == "unified":
                    rec = unified_to_record(raw, i, source, file)
                else:
                    if not isinstance(raw, dict):
                        raise RecordError(f"expected a JSON object, got {type(raw).__name__}")
                    rec = Record.from_dict(raw)
            except RecordError as exc:
                rid = raw.get("id") if isinstance(raw, dict) else None
                problems.append(
                    Problem(exc.reason, file, i, exc.record_id or (None if rid is None else str(rid)), exc.field)
                )
                continue
            except (TypeError, ValueError) as exc:
                problems.append(Problem(f"malformed record: {exc}", file, i))
                continue
            candidates.append((i, rec))
    else:
        try:
            arrow_records = _read_arrow(p, fmt, split)
        except RecordError as exc:
            raise RecordError(exc.reason, file=file, record_id=exc.record_id, field=exc.field) from None
        except TwgrpoError:
            raise
        except Exception as exc:  # pyarrow / datasets raise many types, none naming the file
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            what = "parquet file" if fmt == "parquet" else "HF dataset folder"
            raise InputFormatError(f"{p}: unreadable {what} ({reason})") from None
        candidates.extend(enumerate(arrow_records))
    bad_index: set[int] = set()
    found = validate_records([r for _, r in candidates], file)
    # validate_records numbers records 0..n-1 over `candidates`; map back to file positions
    for prob in found:
        pos = candidates[prob.index][0]
        problems.append(Problem(prob.message, file, pos, prob.record_id, prob.field, prob.severity))
        if prob.severity == "error":
            bad_index.add(pos)
    problems.sort(key=lambda pr: pr.index if pr.index is not None else -1)
    records = [r for i, r in candidates if i not in bad_index]
    return LoadResult(records, problems, file=file)


def _read_arrow(p: Path, fmt: str, split: str | None) -> list[Record]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return table_to_records(pq.read_table(p), str(p))
    from datasets import DatasetDict

    ds = load_saved_dataset(p)
    if isinstance(ds, DatasetDict):
        names = list(ds)
        if split is None and len(names) != 1:
            raise InputFormatError(f"{p}: dataset has splits {names}; choose one with --split")
        ds = ds[split or names[0]]
    return from_hf_dataset(ds)
