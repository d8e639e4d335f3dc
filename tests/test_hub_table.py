"""The Hub's Arrow tables, built column-wise (`formats.hub_tables`, `formats.meta_column`), against the
per-record reference: `pyarrow.Table.from_pylist` of `record_to_row`, and the record-by-record definition of
when a `meta` struct stores every record exactly."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from conftest import DATA
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_cards import qai_records

from twgrpo_data.formats import (
    hf_features,
    hub_tables,
    meta_column,
    read_records,
    record_to_row,
    table_to_records,
)
from twgrpo_data.record import Record


def reference_table(records: list[Record], meta) -> pa.Table:
    """The table row by row: each record's `record_to_row`, converted by pyarrow in one `from_pylist`."""
    rows = [record_to_row(r, meta_struct=meta is not None) for r in records]
    return pa.Table.from_pylist(rows, schema=hf_features(meta).arrow_schema)


def _nulls_dropped(value):
    if isinstance(value, dict):
        return {k: _nulls_dropped(v) for k, v in value.items() if v is not None}
    return [_nulls_dropped(v) for v in value] if isinstance(value, list) else value


def _holds_none(value) -> bool:
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return any(v is None or _holds_none(v) for v in items)


def _keys(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def struct_stores_exactly(metas: list[dict]) -> bool:
    """The definition, record by record: no None anywhere, plain keys, one arrow struct type with no null or
    empty part, and every `meta` read back (None fields dropped) equal to itself, value types included."""
    import re

    plain = re.compile(r"[^\W][\w .\-]*")
    if not metas or any(_holds_none(m) for m in metas):
        return False
    if not all(isinstance(k, str) and plain.fullmatch(k) for m in metas for k in _keys(m)):
        return False
    try:
        array = pa.array(metas)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False

    def storable(t) -> bool:
        if pa.types.is_null(t) or (pa.types.is_struct(t) and t.num_fields == 0):
            return False
        if pa.types.is_struct(t):
            return all(storable(f.type) for f in t)
        return storable(t.value_type) if pa.types.is_list(t) else True

    if not pa.types.is_struct(array.type) or not storable(array.type):
        return False
    back = [_nulls_dropped(m) for m in array.to_pylist()]
    return all(json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) for a, b in zip(metas, back))


def _split(records: list[Record]) -> dict[str, list[Record]]:
    return {"train": records[: len(records) // 2], "test": records[len(records) // 2 :]}


@pytest.mark.parametrize(
    "path", [DATA / "nextgqa_val_mixed.official.json", DATA / "eval_mmvu.json"], ids=lambda p: p.name
)
def test_columnar_tables_equal_the_per_record_reference_on_real_data(path):
    records = read_records(path).records
    tables, meta = hub_tables(_split(records))
    assert (meta is not None) == struct_stores_exactly([r.meta for r in records])
    for name, split in _split(records).items():
        assert tables[name].equals(reference_table(split, meta))
        assert table_to_records(tables[name]) == split


def test_real_data_decides_both_ways():
    """eval_mmvu's `meta` fits a struct; the mixed NExT-GQA file (its `glue` holds ints and floats) does not."""
    assert hub_tables({"t": read_records(DATA / "eval_mmvu.json").records})[1] is not None
    assert hub_tables({"t": read_records(DATA / "nextgqa_val_mixed.official.json").records})[1] is None


def test_qai_records_table_equals_the_reference():
    records = qai_records()
    tables, meta = hub_tables({"train": records})
    assert tables["train"].equals(reference_table(records, meta))


_key = st.sampled_from(["a", "b", "x y", "k-1", "", "\x00", "é", "1", " a"])
_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=3)
_value = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=3), max_leaves=6
)
_any_meta = st.dictionaries(_key, _value, max_size=3)
# one type per key (what a struct can hold), so that both decisions come up often
_typed_meta = st.fixed_dictionaries(
    {},
    optional={
        "n": st.integers(-5, 5),
        "x y": st.text(max_size=3) | st.none(),
        "f": st.lists(st.floats(allow_nan=False) | st.none(), max_size=2),
        "d": st.dictionaries(st.sampled_from(["e", "g"]), st.integers(0, 3) | st.booleans(), max_size=2),
    },
)


@settings(max_examples=150, deadline=None)
@example([{"x y": "a"}, {"x y": None}])  # a None among strings: a null cell, read back as a missing key
@example([{"n": 1, "d": {"e": 2}}, {"d": {"e": None}}])  # the same one level down
@example([{"n": 1}, {"n": 2, "f": [0.5]}, {"f": [1]}])  # an int where the column holds floats
@given(st.lists(_typed_meta | _typed_meta | _any_meta, min_size=1, max_size=5))
def test_meta_column_decides_as_the_per_record_definition_and_keeps_every_meta(metas):
    records = [Record(id=str(i), question="q", options=["a", "b"], answer=["A"], meta=m) for i, m in enumerate(metas)]
    array, meta = meta_column(records)
    assert (meta is not None) == struct_stores_exactly(metas)
    tables, _ = hub_tables({"train": records})
    assert tables["train"].equals(reference_table(records, meta))
    assert [r.meta for r in table_to_records(tables["train"])] == metas
