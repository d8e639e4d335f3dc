"""Hypothesis-generated malformed records and files against the readers (issue 10): a reader either returns
the valid records with every other record listed as a problem naming file, record and field, or raises one
`TwgrpoError`; never another exception (a traceback in the CLI)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twgrpo_data.benchmarks import load_benchmark
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.json_text import read_json_objects, read_jsonl
from twgrpo_data.record import Record, check_record
from twgrpo_data.sources import open_input

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

RECORD = {
    "id": "r1",
    "question": "what did the boy do",
    "options": ["sat", "ran"],
    "answer": ["B"],
    "video": "v.mp4",
    "source": "nextgqa",
    "meta": {"category": "CW"},
}
UNIFIED = {
    "id": "u1",
    "problem": "what did the boy do\nA. sat\nB. ran",
    "options": ["A. sat", "B. ran"],
    "solution": "<answer>B</answer>",
    "video": "v.mp4",
}
NATIVE = {
    "id": "4882821564_1",
    "video": "1104/4882821564.mp4",
    "question": "why did the boy pick it up",
    "options": ["(A) share", "(B) approach", "(C) unwrap"],
    "type": "CW",
    "answer": "(C)",
}


def mutated(base: dict) -> st.SearchStrategy[dict]:
    """`base` with some fields replaced by arbitrary JSON, some deleted, maybe an unknown one added."""
    keys = sorted(base)
    return st.builds(
        lambda replace, drop, extra: {**{k: v for k, v in base.items() if k not in drop}, **replace, **extra},
        st.dictionaries(st.sampled_from(keys), json_values, max_size=3),
        st.sets(st.sampled_from(keys), max_size=2),
        st.dictionaries(st.sampled_from(["x", "meta2"]), json_values, max_size=1),
    )


def _write(data: bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    with handle:
        handle.write(data)
    return Path(handle.name)


def _check_result(path: Path, result, n_items: int) -> None:
    for record in result.records:
        assert isinstance(record, Record)
        assert not [c for c in check_record(record) if c[2] == "error"], record
    for problem in result.problems:
        assert problem.file == str(path) or problem.file == str(path.resolve())
        assert problem.index is None or 0 <= problem.index < n_items
        assert str(problem)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    st.lists(mutated(RECORD) | mutated(UNIFIED) | json_values, min_size=1, max_size=4),
    st.sampled_from([".json", ".jsonl"]),
)
def test_malformed_records_and_unified_items(items, suffix):
    text = json.dumps(items) if suffix == ".json" else "".join(json.dumps(i) + "\n" for i in items)
    path = _write(text.encode("utf-8"), suffix)
    try:
        result = open_input(path)
    except TwgrpoError as exc:
        assert str(path) in str(exc) or "record" in str(exc), exc
        return
    finally:
        path.unlink()
    _check_result(path, result, len(items))


@FUZZ
@given(st.lists(mutated(NATIVE), min_size=1, max_size=4))
def test_malformed_native_nextgqa_items(items):
    path = _write(json.dumps(items).encode("utf-8"), ".json")
    try:
        result = load_benchmark("nextgqa", path)
    except TwgrpoError as exc:
        assert str(path) in str(exc), exc
        return
    finally:
        path.unlink()
    _check_result(path, result, len(items))
    for problem in result.problems:  # the id is named whenever the item has one
        item = items[problem.index]
        if isinstance(item.get("id"), str) and problem.field != "id":
            assert problem.record_id == item["id"], problem


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(RECORD) + ["qai"]), json_values, max_size=8))
def test_record_from_dict_raises_only_record_errors(data):
    try:
        Record.from_dict(data)
    except TwgrpoError:
        pass


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([".json", ".jsonl", ".parquet", ".csv"]))
def test_random_bytes_are_one_error(data, suffix):
    path = _write(data, suffix)
    try:
        for read in (open_input, read_json_objects if suffix != ".parquet" else open_input, read_jsonl):
            try:
                read(path)
            except TwgrpoError as exc:
                assert str(path) in str(exc), exc
    finally:
        path.unlink()
