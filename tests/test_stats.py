"""`twgrpo_data.stats`: the counts `twgrpo data stats` prints."""

from __future__ import annotations

from collections import Counter

import pytest

from twgrpo_data.errors import RecordError
from twgrpo_data.record import Record
from twgrpo_data.stats import summarize


def _rec(rid: str, answer: list[str], **kw) -> Record:
    return Record(rid, "why?", ["a", "b", "c"], answer, **kw)


def test_negated_counts_qai_provenance_and_the_official_flag():
    recs = [_rec("1", ["A"], qai={"negated": True}), _rec("2", ["A"], qai={"negated": False}),
            _rec("3", ["A", "B"], meta={"is_negated": True}), _rec("4", ["A"], meta={"is_negated": False}),
            _rec("5", ["C"])]
    s = summarize(recs)
    assert s["qai_negated"] == 2 and s["multi_answer"] == 1 and s["single_answer"] == 4


def test_a_non_boolean_flag_is_an_error_naming_the_record():
    with pytest.raises(RecordError, match=r"f\.json: record 1 \(id '2'\), field 'is_negated'"):
        summarize([_rec("1", ["A"]), _rec("2", ["A"], meta={"is_negated": "yes"})], "f.json")


def test_counts_match_counting_record_by_record():
    recs = [_rec(str(i), ["A", "B"][: 1 + i % 2], source=["x", "y", ""][i % 3],
                 meta={"category": ["CW", "TN", 7][i % 4 % 3]} if i % 4 else {}) for i in range(11)]
    s = summarize(recs)
    assert s["sources"] == dict(Counter(r.source or "(none)" for r in recs).most_common())
    assert s["categories"] == dict(Counter(str(r.meta["category"]) for r in recs if "category" in r.meta).most_common())
    assert s["answers_histogram"] == dict(sorted(Counter(len(r.answer) for r in recs).items()))
    assert s["options_histogram"] == {3: 11}
    assert summarize([])["records"] == 0
