"""`twgrpo_data.stats`: the counts `twgrpo data stats` prints."""

from __future__ import annotations

import pytest

from twgrpo_data.errors import RecordError
from twgrpo_data.record import Record
from twgrpo_data.stats import summarize


def _rec(rid: str, answer: list[str], **kw) -> Record:
    return Record(rid, "why?", ["a", "b", "c"], answer, **kw)


def test_negated_counts_qai_provenance_and_the_official_flag():
    recs = [
        _rec("1", ["A"], qai={"negated": True}),
        _rec("2", ["A"], qai={"negated": False}),
        _rec("3", ["A", "B"], meta={"is_negated": True}),
        _rec("4", ["A"], meta={"is_negated": False}),
        _rec("5", ["C"]),
    ]
    s = summarize(recs)
    assert s["qai_negated"] == 2 and s["multi_answer"] == 1 and s["single_answer"] == 4


def test_a_non_boolean_flag_is_an_error_naming_the_record():
    with pytest.raises(RecordError, match=r"f\.json: record 1 \(id '2'\), field 'is_negated'"):
        summarize([_rec("1", ["A"]), _rec("2", ["A"], meta={"is_negated": "yes"})], "f.json")


def test_histograms_sources_and_categories():
    recs = [
        _rec("1", ["A"], source="y", meta={"category": 7}),
        _rec("2", ["A", "B"], source="x"),
        _rec("3", ["C"], source="x", meta={"category": "CW"}),
        _rec("4", ["B"], meta={"category": "CW"}),
    ]
    s = summarize(recs)
    assert s["sources"] == {"x": 2, "y": 1, "(none)": 1} and list(s["sources"])[:2] == ["x", "y"]
    assert s["categories"] == {"CW": 2, "7": 1}
    assert s["answer_count_histogram"] == {1: 3, 2: 1} and s["option_count_histogram"] == {3: 4}
    assert summarize([])["records"] == 0
