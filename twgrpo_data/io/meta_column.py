"""The `meta` column of a published table: a struct the Hub's Dataset Viewer can filter on when one stores every
record's `meta` exactly, else JSON text (`meta_column`); and the one place that representation is made and read
back (`meta_to_arrow`, `meta_from_arrow`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..record import Record


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


_FIELD_NAME = re.compile(r"[^\W][\w .\-]*")
# `json.dumps(meta, ensure_ascii=False, sort_keys=True)` with one encoder: `dumps` builds a new one per call
# when given options, a third of the cost for ~10^5 small mappings
_meta_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _struct_arrow_type(t) -> bool:
    """`t` (the type pyarrow inferred for every `meta`) is a struct that stores them: no null or empty part
    anywhere, and every field name (at any depth) plain — letters, digits, `_`, `-`, `.`, space; not empty —
    since parquet and `datasets` drop or merge other keys ("" and "\\x00")."""
    import pyarrow as pa

    def storable(t) -> bool:
        if pa.types.is_null(t) or (pa.types.is_struct(t) and t.num_fields == 0):
            return False
        if pa.types.is_struct(t):
            return all(_FIELD_NAME.fullmatch(f.name) and storable(f.type) for f in t)
        return storable(t.value_type) if pa.types.is_list(t) or pa.types.is_large_list(t) else True

    return pa.types.is_struct(t) and storable(t)


def _null_list_item(array) -> bool:
    """A list somewhere in `array` holds a null item (a None in a JSON list; a struct can not store it apart
    from a missing key, a list item it can, but `meta` stays exact only without None anywhere)."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_struct(t):
        return any(_null_list_item(child) for child in array.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        items = array.flatten()
        return items.null_count > 0 or _null_list_item(items)
    return False


def _reads_back_unchanged(array, metas: list[dict[str, Any]]) -> bool:
    """Reading the struct `array` back (None fields dropped) gives every one of `metas` unchanged: the same keys
    and values, where an int stored in a column of floats counts as unchanged, being the same number
    (NExT-GQA's `glue` spans hold `29` beside `13.8`; the struct stores 29.0).

    When every field is an int, bool or string (or a list of them), values come back as they went in, and a
    record changes only where a key holds None (a null cell, read back as a missing key): then it is a count,
    the keys present against the non-null cells. Otherwise (floats, nested structs) records are read back and
    compared, in slices, stopping at the first that differs.
    """
    import pyarrow as pa

    def exact(t) -> bool:
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return exact(t.value_type)
        return pa.types.is_int64(t) or pa.types.is_boolean(t) or pa.types.is_string(t)

    if all(exact(f.type) for f in array.type):
        present = sum(len(child) - child.null_count for child in array.flatten())
        return present == sum(map(len, metas))
    back = (_without_nulls(m) for i in range(0, len(array), 4096) for m in array.slice(i, 4096).to_pylist())
    # text first (fast, and NaN-safe), then as numbers: an int in a column of floats comes back a float of the
    # same value (pyarrow refuses an int a float cannot hold exactly, and never mixes bools with numbers)
    return all(_meta_json(a) == _meta_json(b) or a == b for a, b in zip(metas, back))


def meta_column(records: Sequence[Record]):
    """The Arrow `meta` column of `records` and its `datasets` feature: a struct the Hub's Dataset Viewer can
    filter on when one stores every record's `meta` exactly, else JSON text and None.

    The struct type is decided once for the column, by pyarrow's own type inference (`pa.array`) and checks on
    that type; the inferred array is the column. A struct stores missing keys as None, so it is used only when
    no `meta` holds a None itself, the type has no null or empty part and only plain field names (see
    `_struct_arrow_type`), and reading it back (None fields dropped) gives every `meta` unchanged: the same
    values, an int in a column of floats coming back as the same number (`_reads_back_unchanged`; the check
    stops at the first record that differs).
    """
    import pyarrow as pa

    metas = [r.meta for r in records]
    try:
        array = pa.array(metas) if metas else None
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        array = None  # e.g. one key holding an int here and a string there
    if array is not None and _struct_arrow_type(array.type) and not _null_list_item(array):
        if _reads_back_unchanged(array, metas):
            from datasets import Features

            features = Features.from_arrow_schema(pa.schema([pa.field("meta", array.type)]))
            return array.cast(features.arrow_schema.field("meta").type), features["meta"]
    return pa.array([meta_to_arrow(m) for m in metas], pa.string()), None


def meta_struct_feature(records: Iterable[Record]):
    """The `datasets` struct feature that stores every record's `meta` exactly (`meta_column`), so the Hub's
    Dataset Viewer can filter on its fields; None when no struct does (then `meta` stays JSON text)."""
    return meta_column(list(records))[1]


def meta_to_arrow(meta: dict[str, Any], struct: bool = False) -> str | dict[str, Any]:
    """`meta` as stored in the Arrow `meta` column: JSON text, or the mapping itself for a struct column
    (`meta_struct_feature`); the one place that representation is made."""
    return meta if struct else _meta_json(meta)


def meta_from_arrow(value: Any) -> dict[str, Any]:
    """Inverse of `meta_to_arrow`: JSON text, or a struct whose None fields are keys the record did not have
    (arrow gives every row every field of the struct); a null or empty cell is an empty mapping."""
    return json.loads(value) if isinstance(value, str) and value else _without_nulls(value or {})
