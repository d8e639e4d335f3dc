"""What `twgrpo data stats` reports about a dataset, counted column-wise with `pyarrow.compute`.

A record counts as QAI-negated when its `qai` provenance says so (records written by twgrpo) or, without
`qai`, when its `meta["is_negated"]` is true: the flag the official TW-GRPO files carry
(`nextgqa_val_mixed.json` marks 1,668 of its 3,358 questions).

Example:
    >>> from twgrpo_data.formats import read_dataset
    >>> summarize(read_dataset("nextgqa_val_mixed.official.json").records)["qai_negated"]  # doctest: +SKIP
    1668
"""

from __future__ import annotations

from typing import Any, Sequence

from .errors import RecordError
from .record import Record


def is_negated(record: Record, index: int | None = None, file: str | None = None) -> bool:
    """Whether `record` holds a QAI-negated question (`qai["negated"]`, else the official `is_negated`)."""
    if record.qai is not None:
        return bool(record.qai.get("negated"))
    flag = record.meta.get("is_negated", False)
    if not isinstance(flag, bool):
        raise RecordError(f"is_negated must be true or false, got {flag!r}", file=file, index=index,
                          record_id=record.id, field="is_negated")
    return flag


def _counts(values, *, by_key: bool) -> dict[Any, int]:
    """value → count; sorted by value, or by falling count with ties in order of first appearance
    (the order of `Counter.most_common`)."""
    import pyarrow.compute as pc

    pairs = [(row["values"], row["counts"]) for row in pc.value_counts(values).to_pylist()
             if row["values"] is not None]
    return dict(sorted(pairs) if by_key else sorted(pairs, key=lambda kv: -kv[1]))


def summarize(records: Sequence[Record], file: str | None = None) -> dict[str, Any]:
    """Record count, single/multi-answer items, QAI-negated questions, options and gold letters per
    question, sources and categories."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.string()
    n_options = pc.list_value_length(pa.array([r.options for r in records], pa.list_(text)))
    n_answers = pc.list_value_length(pa.array([r.answer for r in records], pa.list_(text)))
    negated = pa.array([is_negated(r, i, file) for i, r in enumerate(records)], pa.bool_())
    sources = pa.array([r.source or "(none)" for r in records], text)
    categories = pa.array([str(r.meta["category"]) if "category" in r.meta else None for r in records], text)
    multi = pc.sum(pc.greater(n_answers, 1)).as_py() or 0
    return {
        "records": len(records),
        "single_answer": len(records) - multi,
        "multi_answer": multi,
        "qai_negated": pc.sum(negated).as_py() or 0,
        "options_histogram": _counts(n_options, by_key=True),
        "answers_histogram": _counts(n_answers, by_key=True),
        "sources": _counts(sources, by_key=False),
        "categories": _counts(categories, by_key=False),
    }
