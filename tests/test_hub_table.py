"""The Hub's Arrow tables, built column-wise (`formats.hub_tables`, `formats.meta_column`), against the
per-record reference: `pyarrow.Table.from_pylist` of `record_to_row`, and the record-by-record definition of
when a `meta` struct stores every record exactly."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from paths import DATA
from test_cards import qai_records

from twgrpo_data.io.arrow import hf_features, hub_tables, record_to_row, table_to_records
from twgrpo_data.io.meta_column import meta_column
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input


def reference_table(records: list[Record], meta, category: bool = False) -> pa.Table:
    """The table row by row: each record's `record_to_row`, converted by pyarrow in one `from_pylist`."""
    rows = [record_to_row(r, meta_struct=meta is not None, category=category) for r in records]
    return pa.Table.from_pylist(rows, schema=hf_features(meta, category).arrow_schema)


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
    empty part, and every `meta` read back (None fields dropped) equal to itself — the same text, or the same
    numbers where an int was stored in a column of floats (issue 32.6)."""
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
    return all(json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or a == b for a, b in zip(metas, back))


def _split(records: list[Record]) -> dict[str, list[Record]]:
    return {"train": records[: len(records) // 2], "test": records[len(records) // 2 :]}


@pytest.mark.parametrize(
    "path", [DATA / "nextgqa_val_mixed.official.json", DATA / "eval_mmvu.json"], ids=lambda p: p.name
)
def test_columnar_tables_equal_the_per_record_reference_on_real_data(path):
    records = open_input(path).raise_or_skip(False).records
    tables, meta = hub_tables(_split(records))
    assert (meta is not None) == struct_stores_exactly([r.meta for r in records])
    category = any(r.meta.get("category") is not None for r in records)
    for name, split in _split(records).items():
        assert tables[name].equals(reference_table(split, meta, category))
        assert table_to_records(tables[name]) == split


def test_nextgqa_meta_is_a_struct_though_its_glue_mixes_ints_and_floats():
    """220 of NExT-GQA val's 3,358 records have an integer `glue` endpoint where the others have floats: `meta`
    is still a struct the Dataset Viewer can filter (the ints stored as the same floats), and `category` is a
    top-level column (issue 32.6)."""
    from datasets import List, Value

    from twgrpo_data.benchmarks import load_benchmark

    records = load_benchmark("nextgqa", DATA / "nextgqa_val.json").records
    with_int = [r for r in records if any(isinstance(x, int) for span in r.meta["glue"] for x in span)]
    assert len(with_int) == 220
    tables, meta = hub_tables({"validation": records})
    assert meta is not None and meta["glue"] == List(List(Value("float64")))
    table = tables["validation"]
    assert table.column("category").to_pylist() == [r.meta["type"] for r in records]
    back = {r.id: r for r in table_to_records(table)}
    assert [back[r.id] for r in records] == records  # equal, 29 == 29.0
    first = back[with_int[0].id].meta["glue"]
    assert all(isinstance(x, float) for span in first for x in span)
    assert first == with_int[0].meta["glue"]
    # a key holding a number in one record and text in another still has no struct: JSON text
    clash = [Record("a", "q", ["x", "y"], ["A"], meta={"k": 1}), Record("b", "q", ["x", "y"], ["A"], meta={"k": "1"})]
    assert meta_column(clash)[1] is None


def test_a_table_without_categories_has_no_category_column_and_an_empty_cell_adds_nothing():
    plain = [Record("a", "q", ["x", "y"], ["A"], meta={"n": 1})]
    assert "category" not in hub_tables({"t": plain})[0]["t"].column_names
    mixed = [*plain, Record("b", "q", ["x", "y"], ["B"], meta={"category": "CW"})]
    table = hub_tables({"t": mixed})[0]["t"]
    assert table.column("category").to_pylist() == [None, "CW"]
    assert table_to_records(table) == mixed


def test_qai_records_table_equals_the_reference():
    records = qai_records()
    tables, meta = hub_tables({"train": records})
    category = any(r.meta.get("category") is not None for r in records)
    assert tables["train"].equals(reference_table(records, meta, category))


_key = st.sampled_from(["a", "b", "x y", "k-1", "", "\x00", "é", "1", " a", "category"])
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
    category = any(m.get("category") is not None for m in metas)
    assert tables["train"].equals(reference_table(records, meta, category))
    assert [r.meta for r in table_to_records(tables["train"])] == metas
