"""Writing records in the interchange formats (DESIGN §2), atomically, and the JSON text they are written as."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecordError, UsageError
from ..outputs import atomic_path, atomic_write_text
from ..record import Record
from .arrow import records_to_table, to_hf_dataset
from .json_text import find_unwritable
from .unified_format import record_to_unified

WRITE_FORMATS = ("json", "unified", "jsonl", "records-json", "parquet", "hf")

_FORMAT_SUFFIX = {
    "json": ".json",
    "unified": ".json",
    "records-json": ".json",
    "jsonl": ".jsonl",
    "parquet": ".parquet",
}


def output_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write format for `path`: '.json' → unified, '.jsonl' → records, '.parquet', no suffix → hf. An explicit
    `fmt` must agree with a records suffix of `path` (`--to parquet -o x.json` would put parquet bytes in a
    file every reader takes for JSON)."""
    suffix = Path(path).suffix.lower()
    if fmt != "auto":
        if fmt not in WRITE_FORMATS:
            raise UsageError(f"unknown output format {fmt!r}; expected one of {', '.join(WRITE_FORMATS)}")
        wanted = _FORMAT_SUFFIX.get(fmt, "")
        if suffix in _FORMAT_SUFFIX.values() and suffix != wanted:
            raise UsageError(
                f"{path}: a {suffix} name for {fmt} output; name it "
                + (f"*{wanted}" if wanted else "without a records suffix (an HF dataset folder)")
                + " or drop the format option"
            )
        return "unified" if fmt == "json" else fmt
    if suffix and suffix not in (".json", ".jsonl", ".parquet"):
        raise UsageError(
            f"{path}: unknown output suffix {suffix!r}; expected .json, .jsonl, .parquet or no "
            "suffix (an HF dataset folder)"
        )
    return {".json": "unified", ".jsonl": "jsonl", ".parquet": "parquet"}.get(suffix, "hf")


_JSON_SCALARS = frozenset({str, int, bool, type(None)})


def msgspec_writes_alike(value: Any) -> bool:
    """Whether msgspec writes `value` as compact JSON exactly as `json.dumps(value, ensure_ascii=False)` does:
    true for nested dicts (str keys), lists and tuples of strings, ints, bools, None and floats that are 0 or
    1e-4 ≤ |x| < 1e16. Outside that range Python's repr and msgspec spell a float differently ("1e+16" /
    "1e16"), msgspec writes NaN and ±Infinity as null, and other keys or types are not written alike."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            if any(type(k) is not str for k in v):
                return False
            stack.extend(x for x in v.values() if type(x) not in _JSON_SCALARS)
        elif t is list or t is tuple:
            stack.extend(x for x in v if type(x) not in _JSON_SCALARS)
        elif t is float:
            if not (v == 0.0 or 1e-4 <= abs(v) < 1e16):  # NaN fails both comparisons
                return False
        elif t not in _JSON_SCALARS:
            return False
    return True


def dumps_indented(obj: Any, *, checked: bool = False) -> str:
    """`json.dumps(obj, ensure_ascii=False, indent=2)`, byte for byte, in a fraction of its time.

    The stdlib writes indented JSON with its pure-Python encoder (about 2.5 s for 67,160 unified records);
    its C encoder writes compact JSON in well under half of that, and msgspec re-indents it, copying every
    number and string token as it is, so the bytes are the stdlib's. NaN and Infinity, which the stdlib
    writes but JSON does not have, leave msgspec unable to read the text: then the stdlib's own indented
    writer is used. `checked=True` says the caller knows `msgspec_writes_alike(obj)`: msgspec then writes the
    compact text too, five times faster than the C encoder.
    """
    import msgspec

    if checked:
        return msgspec.json.format(msgspec.json.encode(obj), indent=2).decode()
    compact = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return msgspec.json.format(compact, indent=2)
    except msgspec.DecodeError:
        return json.dumps(obj, ensure_ascii=False, indent=2)


def _check_json_values(records: Sequence[Record]) -> None:
    """Refuse a NaN/±Infinity (a float column of a parquet or HF input) or a lone surrogate in a record's `meta`
    or `qai` before writing JSON: Python would write text that is not JSON, or fail half-way."""
    for record in records:
        for name in ("meta", "qai"):
            found = find_unwritable(getattr(record, name))
            if found is not None:
                path, what = found
                field = ".".join(str(k) for k in [name, *path])
                raise RecordError(
                    f"{what} (or write --to parquet)",
                    record_id=record.id,
                    field=field,
                )


def write_records(records: Iterable[Record], path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write `records` atomically; return the format used."""
    records = list(records)
    fmt = output_format(path, fmt)
    if fmt in ("unified", "records-json", "jsonl"):
        # a row is strings twgrpo builds plus the record's own fields: only those need the check
        checked = all(
            type(r.id) is str
            and type(r.source) is str
            and (r.video is None or type(r.video) is str)
            and msgspec_writes_alike(r.meta)
            and msgspec_writes_alike(r.qai)
            for r in records
        )
        if not checked:
            _check_json_values(records)
    if fmt == "unified":
        rows = [record_to_unified(r) for r in records]
        atomic_write_text(path, dumps_indented(rows, checked=checked) + "\n")
    elif fmt == "records-json":
        atomic_write_text(path, dumps_indented([r.to_dict() for r in records]) + "\n")
    elif fmt == "jsonl":
        atomic_write_text(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        table = records_to_table(records)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:  # hf
        ds = to_hf_dataset(records)
        with atomic_path(path, directory=True) as tmp:
            ds.save_to_disk(str(tmp))
    return fmt
