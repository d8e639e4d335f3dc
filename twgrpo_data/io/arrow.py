"""Records ↔ Arrow tables (parquet, HF `datasets`): options and answer as string lists, `qai` as a struct, `meta`
as JSON text or a struct (`meta_column`), and the `category` column the Hub's Dataset Viewer filters on."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import RecordError
from ..record import Record
from .meta_column import meta_column, meta_from_arrow, meta_to_arrow

QAI_KEYS = (
    "negated",
    "original_question",
    "original_answer",
    "removed_options",
    "seed",
    "strategy",
    "meaning_check",
)
# added later (issue 14, issue 30): records written before lack them, and `meaning_check` is set only where a
# verifier found an option of the answer's meaning or an LLM judged the options
_LATER_QAI_KEYS = ("strategy", "meaning_check")

# The Hub's Dataset Viewer filters on top-level columns only, so a published table repeats each record's
# `meta["category"]` (the benchmark's question type, task, subject, …) as a `category` column; reading a table
# back, `meta` holds that value already.
CATEGORY_COLUMN = "category"


def hf_features(meta=None, category: bool = False):
    """Typed HF features: options/answer as string lists, `qai` as a struct, `meta` as JSON text — or, given
    `meta` (a `datasets` feature from `meta_struct_feature`), as that struct; with `category`, a string
    `category` column after `source` (`CATEGORY_COLUMN`)."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "options": List(Value("string")),
            "answer": List(Value("string")),
            "video": Value("string"),
            "source": Value("string"),
            **({CATEGORY_COLUMN: Value("string")} if category else {}),
            "meta": Value("string") if meta is None else meta,
            "qai": {
                "negated": Value("bool"),
                "original_question": Value("string"),
                "original_answer": List(Value("string")),
                "removed_options": List(Value("string")),
                "seed": Value("int64"),
                "strategy": Value("string"),
                # JSON text: a struct nested in the `qai` struct changes size in an Arrow round trip (its
                # buffers of null rows), which would make the card's `num_bytes` disagree with the files
                "meaning_check": Value("string"),
            },
        }
    )


def _qai_to_arrow(record: Record) -> dict[str, Any] | None:
    """`qai` for the struct column: exactly `QAI_KEYS` (absent ones null); an unknown key is an error."""
    if record.qai is None:
        return None
    extra = set(record.qai) - set(QAI_KEYS)
    if extra:
        raise RecordError(f"unknown qai key(s) {sorted(extra)}", record_id=record.id, field="qai")
    out = {k: record.qai.get(k) for k in QAI_KEYS}
    if out["meaning_check"] is not None:
        out["meaning_check"] = json.dumps(out["meaning_check"], ensure_ascii=False, sort_keys=True)
    return out


def _qai_from_arrow(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Inverse of `_qai_to_arrow`: the struct has every key, but a key added later (`strategy`) is absent, not
    None, in records written before it."""
    if not value:
        return None
    out = {k: v for k, v in value.items() if not (k in _LATER_QAI_KEYS and v is None)}
    if isinstance(out.get("meaning_check"), str):
        out["meaning_check"] = json.loads(out["meaning_check"])
    return out


def _arrow_columns(records: Sequence[Record], meta: Sequence[Any], category: bool = False) -> dict[str, Sequence[Any]]:
    """The Arrow columns of `records`, one list per field (pyarrow converts each in one call); `meta` is that
    column as the caller built it (`meta_to_arrow` of each record, or `meta_column`'s array); `category`
    adds the `CATEGORY_COLUMN` (meta's category as text)."""
    columns: dict[str, Sequence[Any]] = {
        "id": [r.id for r in records],
        "question": [r.question for r in records],
        "options": [r.options for r in records],
        "answer": [r.answer for r in records],
        "video": [r.video for r in records],
        "source": [r.source for r in records],
    }
    if category:
        columns[CATEGORY_COLUMN] = [
            None if r.meta.get("category") is None else str(r.meta["category"]) for r in records
        ]
    return {**columns, "meta": meta, "qai": [_qai_to_arrow(r) for r in records]}


def record_to_row(record: Record, meta_struct: bool = False, category: bool = False) -> dict[str, Any]:
    """One record as the row `records_to_table` stores (`meta` as JSON text or a struct, `qai` with every key,
    `category` when asked)."""
    columns = _arrow_columns([record], [meta_to_arrow(record.meta, meta_struct)], category)
    return {name: column[0] for name, column in columns.items()}


def has_categories(records: Iterable[Record]) -> bool:
    """Whether a published table of `records` gets a `category` column: some record's meta has a category."""
    return any(r.meta.get("category") is not None for r in records)


def records_to_table(records: Sequence[Record], meta=None, *, meta_array=None, category: bool = False):
    """Records → `pyarrow.Table` with the schema of `hf_features(meta, category)`, built column by column;
    `meta_array` is the `meta` column when it is already built (`meta_column` gives it with `meta`)."""
    import pyarrow as pa

    schema = hf_features(meta, category).arrow_schema
    if meta_array is None:
        meta_array = pa.array([meta_to_arrow(r.meta, meta is not None) for r in records], schema.field("meta").type)
    columns = _arrow_columns(records, meta_array, category)
    # qai is built child by child (`_struct_array`); a struct meta has keys missing per row, which pa.array fills
    return pa.Table.from_arrays(
        [
            _struct_array(columns[f.name], f.type)
            if f.name == "qai"
            else (columns[f.name] if f.name == "meta" else pa.array(columns[f.name], f.type))
            for f in schema
        ],
        schema=schema,
    )


def hub_tables(splits: Mapping[str, Sequence[Record]]):
    """Split name → `pyarrow.Table` for the Hub, and the `meta` feature they share (`meta_column`, decided once
    over every split: a struct when one stores every split's `meta` exactly, else None for JSON text). The
    tables have a `category` column when some record has a category (`has_categories`)."""
    everything = [r for records in splits.values() for r in records]
    array, meta = meta_column(everything)
    category = has_categories(everything)
    tables, start = {}, 0
    for name, records in splits.items():
        tables[name] = records_to_table(records, meta, meta_array=array.slice(start, len(records)), category=category)
        start += len(records)
    return tables, meta


def _struct_array(rows: list[dict[str, Any] | None], struct_type):
    """A struct column built child by child; a null row is null in every child too, as a parquet reader
    builds it (so the in-memory `nbytes` the card reports equals that of the published data)."""
    import pyarrow as pa

    children = [pa.array([None if row is None else row[f.name] for row in rows], f.type) for f in struct_type]
    mask = pa.array([row is None for row in rows]) if None in rows else None
    return pa.StructArray.from_arrays(children, fields=list(struct_type), mask=mask)


def table_to_records(table, file: str | None = None) -> list[Record]:
    """`pyarrow.Table` (as `records_to_table` builds it, or a parquet file with the same columns) → records.

    Each column is converted to Python in one call; a missing column is an error naming the field. Columns the
    schema does not have (a Hub table with extra columns, e.g. lmms-lab's `domain`) are kept in `meta` rather
    than refused; `meta`'s own keys win. An empty `category` cell (the published copy of meta's category, of a
    record that has none) adds nothing.
    """
    names = [f.name for f in dataclasses.fields(Record)]
    missing = [n for n in ("id", "question", "options", "answer") if n not in table.column_names]
    if missing:
        raise RecordError("missing", file=file, field=missing[0])
    empty = [None] * table.num_rows
    cols = {n: table.column(n).to_pylist() if n in table.column_names else empty for n in names}
    unknown = [n for n in table.column_names if n not in names]
    extra = (
        [
            {k: v for k, v in zip(unknown, row) if not (k == CATEGORY_COLUMN and v is None)}
            for row in zip(*(table.column(n).to_pylist() for n in unknown))
        ]
        if unknown
        else [{}] * table.num_rows
    )
    return [
        Record(
            id=str(rid),
            question=question,
            options=options if options is not None else [],
            answer=answer if answer is not None else [],
            video=video,
            source=source or "",
            meta={**more, **meta_from_arrow(meta)},
            qai=_qai_from_arrow(qai),
        )
        for rid, question, options, answer, video, source, meta, qai, more in zip(*(cols[n] for n in names), extra)
    ]


def to_hf_dataset(records: Sequence[Record], meta=None, *, table=None):
    """Records → `datasets.Dataset` with `hf_features(meta)` (`meta`: a struct from `meta_struct_feature`, or
    None for JSON text), from an Arrow table (no per-row encoding): `table` when already built
    (`records_to_table(records, meta)`)."""
    from datasets import Dataset, DatasetInfo, disable_progress_bars

    disable_progress_bars()  # a per-shard bar for a one-shot local write is noise
    table = records_to_table(records, meta) if table is None else table
    return Dataset(table, info=DatasetInfo(features=hf_features(meta, CATEGORY_COLUMN in table.column_names)))


def from_hf_dataset(dataset) -> list[Record]:
    """`datasets.Dataset` (as built by `to_hf_dataset`) → records, through its Arrow table."""
    return table_to_records(dataset.with_format("arrow")[:])
