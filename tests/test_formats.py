"""Record schema, validation and lossless interchange formats."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from paths import DATA, FIXTURES

from twgrpo_data.errors import InputFormatError, RecordError
from twgrpo_data.io.arrow import QAI_KEYS
from twgrpo_data.io.readers import detect_format
from twgrpo_data.io.unified_format import (
    _OPTION_LINE,
    UNIFIED_DEFAULTS,
    _spells_options,
    option_texts,
    record_to_unified,
    split_problem,
    strip_option_prefix,
    unified_to_record,
)
from twgrpo_data.io.writers import dumps_indented, msgspec_writes_alike, write_records
from twgrpo_data.record import Record, check_record, is_clean, letter, validate_records
from twgrpo_data.sources import open_input

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s and "\n" not in s
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=6,
)
# keys the unified format itself uses are reserved and cannot live in `meta`
RESERVED = {
    "id",
    "problem",
    "options",
    "solution",
    "video",
    "path",
    "source",
    "qai",
    "question",
    "is_negated",
    *UNIFIED_DEFAULTS,
}
meta_key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(lambda k: k not in RESERVED)


@st.composite
def records(draw):
    n = draw(st.integers(1, 6))
    options = draw(st.lists(text, min_size=n, max_size=n, unique=True))
    answer = sorted(draw(st.sets(st.sampled_from("ABCDEF"[:n]), min_size=1)))
    qai = draw(
        st.none()
        | st.fixed_dictionaries(
            {
                "negated": st.booleans(),
                "original_question": text,
                "original_answer": st.lists(st.sampled_from("ABCDE"), max_size=2),
                "removed_options": st.lists(text, max_size=2),
                "seed": st.integers(0, 2**31),
                "strategy": st.sampled_from(["negation", "template"]),
            }
        )
    )
    return Record(
        id=draw(text),
        question=draw(text),
        options=options,
        answer=answer,
        video=draw(st.none() | text),
        source=draw(st.sampled_from(["", "nextgqa", "mmvu"])),
        meta=draw(st.dictionaries(meta_key, json_value, max_size=3)),
        qai=qai,
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    recs=st.lists(records(), min_size=1, max_size=4, unique_by=lambda r: r.id),
    suffix=st.sampled_from([".json", ".jsonl", ".parquet", ""]),
)
def test_every_format_round_trips_records_exactly(tmp_path_factory, recs, suffix):
    path = tmp_path_factory.mktemp("rt") / f"data{suffix}"
    write_records(recs, path)
    assert open_input(path).raise_or_skip(False).records == recs


def test_unified_round_trip_keeps_native_file_verbatim(tmp_path):
    raw = json.loads((DATA / "eval_mmvu.json").read_text())[:20]
    recs = [unified_to_record(r, i, "mmvu") for i, r in enumerate(raw)]
    back = [record_to_unified(r) for r in recs]
    for original, written in zip(raw, back):
        for key, value in original.items():
            if key != "problem":
                assert written[key] == value, key
        assert written["problem"].startswith(original["problem"])


def test_unified_reader_splits_option_lines_out_of_problem():
    stem, options = split_problem("Without the sphere, what will happen?\nA. x collides\nB. y", None)
    assert stem == "Without the sphere, what will happen?"
    assert options == ["x collides", "y"]


def test_official_qai_file_reads_with_multi_answers(shared):
    result = open_input(DATA / "nextgqa_val_mixed.official.json").raise_or_skip(False)
    recs = result.records
    assert len(recs) == 3358
    first = recs[0]
    assert first.question == "why didn't the boy pick up one present from the group of them and move to the sofa"
    assert first.options == ["unwrap it", "playing with toy train", "gesture something"]
    assert first.answer == ["B", "C"]
    assert sum(r.is_multi_answer for r in recs) == 1238


def test_clevrer_unified_without_options_field_parses_problem_lines():
    recs = open_input(FIXTURES / "unified" / "CLEVRER" / "clevrer_counterfactual_val.json").raise_or_skip(False).records
    assert [r.answer for r in recs] == [["A", "B"], ["D"]]
    assert len(recs[1].options) == 4 and recs[0].source == "clevrer"


def test_mmvu_eval_set_is_valid(shared):
    result = open_input(DATA / "eval_mmvu.json")
    assert len(result.records) == 625 and result.problems == []


@pytest.mark.parametrize(
    "mutate, field, needle",
    [
        (lambda r: r.pop("solution"), "solution", "missing"),
        (lambda r: r.update(solution="<answer>(F)</answer>"), "answer", "not a capital letter"),
        (lambda r: r.update(solution="<answer>F</answer>"), "answer", "outside the 5 options"),
        (lambda r: r.update(options=[]), "options", "no options"),
        (lambda r: r.update(problem="  "), "problem", "missing or empty"),
    ],
)
def test_bad_record_error_names_file_record_and_field(tmp_path, mutate, field, needle):
    raw = json.loads((DATA / "eval_mmvu.json").read_text())[:3]
    mutate(raw[1])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(RecordError) as info:
        open_input(path).raise_or_skip(False)
    msg = str(info.value)
    assert str(path) in msg and "record 1 (id '2')" in msg and f"field {field!r}" in msg and needle in msg
    assert "\n" not in msg
    skipped = open_input(path).raise_or_skip(True)
    assert len(skipped.records) == 2 and skipped.skipped["invalid"] == 1


def test_duplicate_ids_are_reported():
    recs = [Record("a", "q?", ["x", "y"], ["A"]), Record("a", "q?", ["x", "y"], ["B"])]
    problems = validate_records(recs, "f.json")
    assert [(p.index, p.field) for p in problems] == [(1, "id")]


_odd = st.one_of(
    st.none(),
    st.integers(-2, 30),
    st.just(""),
    st.just(" "),
    st.text(max_size=3),
    st.lists(st.text(max_size=2), max_size=3),
)


@st.composite
def _near_valid_records(draw) -> Record:
    """A valid record with, most of the time, one field swapped for something odd or borderline."""
    n = draw(st.integers(1, 27))
    options = [f"o{k}" for k in range(n)]
    answer = sorted(draw(st.sets(st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: min(n, 26)])), min_size=1)))
    fields = {"id": "r1", "question": "why?", "options": options, "answer": answer, "video": "v.mp4", "meta": {}}
    name = draw(st.sampled_from([None, *fields]))
    if name == "answer":
        extra = draw(st.sampled_from(["A", "B", "Z", "", "a", "AB", 1, ["A"]]))
        fields["answer"] = draw(st.one_of(_odd, st.permutations(answer + [extra]), st.permutations(answer)))
    elif name == "options":
        fields["options"] = draw(st.one_of(_odd, st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=28)))
    elif name is not None:
        fields[name] = draw(st.one_of(_odd, st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
    return Record(**fields)


@settings(max_examples=1500, deadline=None)
@given(_near_valid_records())
@example(Record("r1", "why?", ["a", "b"], ["A", ["A"]]))  # an unhashable gold "letter"
@example(Record("r1", "why?", ["a", "b"], ["B", "A"]))
def test_is_clean_agrees_with_check_record(record):
    # validation takes the cheap pass for clean records and check_record's messages for the rest: the two must agree
    assert is_clean(record) == (check_record(record) == [])


def _spells_options_by_pattern(lines, options):
    # the definition: every line reads back, through the option-line pattern, as its letter and its option
    for i, (line, option) in enumerate(zip(lines, options)):
        m = _OPTION_LINE.match(line.strip())
        if not (m and m.group(1) == letter(i) and m.group(2) == option.strip()):
            return False
    return True


_option_text = st.text(alphabet=st.sampled_from(list("ab .:()\t\u00a0\u2028\r") + ["A", "B"]), max_size=5)


@settings(max_examples=800, deadline=None)
@given(st.lists(_option_text, min_size=1, max_size=4), st.data())
def test_spells_options_fast_path_agrees_with_the_pattern(options, data):
    # the lines twgrpo writes, or odd variants of them
    lines = [
        data.draw(
            st.sampled_from(
                [f"{letter(i)}. {o.strip()}", f"{letter(i)}. {o}", f"({letter(i)}) {o}", o, f" {letter(i)}.  {o} "]
            )
        )
        for i, o in enumerate(options)
    ]
    assert _spells_options(lines, options) == _spells_options_by_pattern(lines, options)


def test_single_option_question_is_a_warning_not_an_error():
    problems = validate_records([Record("a", "q?", ["only"], ["A"])])
    assert [p.severity for p in problems] == ["warning"]


def test_invalid_json_is_one_line_format_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"problem": "x", ')
    with pytest.raises(InputFormatError, match=r"broken\.json: invalid JSON at line 1"):
        open_input(path).raise_or_skip(False)


def test_detect_format_by_content(tmp_path):
    write_records([Record("a", "q?", ["x", "y"], ["A"])], tmp_path / "r.jsonl")
    assert detect_format(tmp_path / "r.jsonl") == "records"
    assert detect_format(DATA / "eval_mmvu.json") == "unified"


def test_failed_write_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "out.jsonl"
    good = [Record("a", "q?", ["x", "y"], ["A"])]
    write_records(good, path)
    bad = [Record("b", "q?", ["x"], ["A"], qai={"unexpected": 1})]
    with pytest.raises(RecordError):
        write_records(bad, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    assert open_input(path).raise_or_skip(False).records == good
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_qai_keys_are_the_design_keys():
    assert QAI_KEYS == (
        "negated",
        "original_question",
        "original_answer",
        "removed_options",
        "seed",
        "strategy",
        "meaning_check",  # issue 30: the meaning check's verdicts, where it dropped an option or an LLM judged
    )


# every JSON value the stdlib writes: floats of any magnitude (exponent forms), big ints, control characters,
# line separators and non-ASCII text in strings and keys
any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(any_json)
def test_dumps_indented_is_the_stdlib_indented_json_byte_for_byte(value):
    assert dumps_indented(value) == json.dumps(value, ensure_ascii=False, indent=2)


# JSON-like values with every kind of float, odd keys and types: what `msgspec_writes_alike` must judge
odd_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from([1e16, 1.5e-7, 1e-4, 9.999e-5, 1e-5, 0.0, -0.0, 123456789012345678.0, 1e15, 5e-324])
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 3), st.booleans()), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(odd_json)
def test_what_msgspec_writes_alike_it_writes_as_the_stdlib_does(value):
    import msgspec

    stdlib = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if msgspec_writes_alike(value):
        assert msgspec.json.encode(value).decode() == stdlib
        assert dumps_indented(value, checked=True) == json.dumps(value, ensure_ascii=False, indent=2)


def test_msgspec_writes_alike_refuses_what_it_would_change():
    for value in ([1e16], {"x": float("nan")}, {1: "a"}, [{"y": (1.5e-7,)}], [float("inf")], {True: 1}, b"x"):
        assert not msgspec_writes_alike(value), value


def test_dumps_indented_writes_nan_and_infinity_as_the_stdlib_does():
    value = {"x": [float("nan"), float("inf"), -float("inf"), 1e16, 1.5e-7, {}, []]}
    assert dumps_indented(value) == json.dumps(value, ensure_ascii=False, indent=2)


def test_unified_and_records_json_writes_equal_the_stdlib_writer_on_real_data(shared, tmp_path):
    """The fast writer against the per-record reference (`record_to_unified` + `json.dumps(indent=2)`)."""
    recs = (
        open_input(DATA / "nextgqa_val_mixed.official.json").raise_or_skip(False).records
        + open_input(DATA / "eval_mmvu.json").raise_or_skip(False).records
    )
    write_records(recs, tmp_path / "u.json")
    want = json.dumps([record_to_unified(r) for r in recs], ensure_ascii=False, indent=2) + "\n"
    assert (tmp_path / "u.json").read_text(encoding="utf-8") == want
    write_records(recs, tmp_path / "r.json", "records-json")
    want = json.dumps([r.to_dict() for r in recs], ensure_ascii=False, indent=2) + "\n"
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == want


@given(st.lists(st.sampled_from(["(A) ball", " B. cube ", "(C) (C) c", "A) x", "D: y", "E", "(B) z", ""]), max_size=6))
def test_option_texts_strips_each_prefix_like_strip_option_prefix(options):
    expected = [strip_option_prefix(o.strip(), i) for i, o in enumerate(options)]
    assert option_texts(options) == expected
    assert option_texts(options) == expected  # the cached parse, as a new list
    assert option_texts(options) is not option_texts(options)
