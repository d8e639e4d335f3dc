"""TW-GRPO's evaluation prompts, built from records: golden tests on the real MMVU file and the CLEVRER layout."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paths import DATA, FIXTURES

from twgrpo_data.benchmarks import resolve_style
from twgrpo_data.io.unified_format import unified_to_record
from twgrpo_data.prompts import (
    CLEVRER_SYSTEM,
    MULTIPLE_CHOICE_SUFFIX,
    build_prompt,
    default_parser,
    template_of,
)
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input


def _mmvu_first() -> tuple[dict, Record]:
    raw = json.loads((DATA / "eval_mmvu.json").read_text(encoding="utf-8"))[0]
    return raw, unified_to_record(raw, 0, "mmvu")


def test_general_prompt_renders_like_twgrpo_eval_script(shared):
    raw, record = _mmvu_first()
    text = build_prompt(record, "cot").text
    # eval_general_videor1.py: problem + "Options:\n" + one line per option, then the template and suffix
    question = raw["problem"] + "Options:\n" + "".join(o + "\n" for o in raw["options"])
    assert text.startswith(question + " Please think about this question as if you were a human pondering deeply.")
    assert "produced approximately?Options:\nA. 10.0\n" in text
    assert "\nE. 20.0\n Please think" in text
    assert "natural language thought expressions. It's encouraged" in text  # TW-GRPO's period, not Video-R1's
    assert text.endswith("give your final answer between the <answer> and </answer> tags." + MULTIPLE_CHOICE_SUFFIX)


def test_general_prompt_has_no_system_message(shared):
    _, record = _mmvu_first()
    prompt = build_prompt(record, "cot")
    assert prompt.system is None
    assert [m["role"] for m in prompt.messages()] == ["user"]
    assert prompt.messages()[0]["content"][0] == {"type": "video"}


def test_zeroshot_prompt_keeps_the_tag_suffix(shared):
    _, record = _mmvu_first()
    text = build_prompt(record, "zeroshot").text
    assert "\n Answer with the option's letter from the given choices directly." + MULTIPLE_CHOICE_SUFFIX in text


def test_clevrer_prompt_is_the_unified_problem_plus_template(shared):
    path = FIXTURES / "unified" / "CLEVRER" / "clevrer_counterfactual_val.json"
    raws = json.loads(path.read_text(encoding="utf-8"))
    records = open_input(path).raise_or_skip(False).records
    for raw, record in zip(raws, records):
        prompt = build_prompt(record, "clevrer")
        assert prompt.text == raw["problem"] + (
            " Output the thinking process in <think> </think> and final answer "
            "(letters separated by , if multiple) in <answer> </answer> tags. "
        )
        assert prompt.system == CLEVRER_SYSTEM
        assert prompt.messages()[0] == {"role": "system", "content": CLEVRER_SYSTEM}


def test_auto_style_uses_the_multi_answer_template_for_multi_answer_sets():
    single = Record("1", "q", ["a", "b"], ["A"], video="v.mp4")
    multi = Record("2", "q", ["a", "b"], ["A", "B"], video="v.mp4")
    assert resolve_style("auto", "mmvu", [single]) == "cot"
    assert resolve_style("auto", "nextgqa", [single, multi]) == "clevrer"
    assert resolve_style("auto", "clevrer", [single]) == "clevrer"
    assert resolve_style("zeroshot", "nextgqa", [multi]) == "zeroshot"
    with pytest.raises(ValueError):
        resolve_style("fancy", "mmvu", [single])


def test_zeroshot_is_scored_on_the_raw_output_like_twgrpo():
    assert default_parser("zeroshot") == "raw"
    assert default_parser("cot") == default_parser("clevrer") == "twgrpo"


def test_text_only_record_gets_string_content():
    prompt = build_prompt(Record("1", "What is 2+2?", ["3", "4"], ["B"]), "cot")
    assert prompt.has_video is False
    assert isinstance(prompt.messages()[-1]["content"], str)


def test_template_of_covers_every_style_and_rejects_others():
    assert template_of("clevrer")["system"] == CLEVRER_SYSTEM
    assert "{Question}" in template_of("cot")["template"]
    with pytest.raises(ValueError):
        template_of("r1")


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@given(
    question=_text,
    options=st.lists(_text, min_size=2, max_size=6),
    style=st.sampled_from(["cot", "zeroshot", "clevrer"]),
)
def test_prompt_contains_question_and_every_lettered_option_in_order(question, options, style):
    record = Record("x", question.strip(), [o.strip() for o in options], ["A"], video="v.mp4")
    text = build_prompt(record, style).text
    assert text.startswith(record.question)
    pos = 0
    for i, option in enumerate(record.options):
        line = f"{chr(65 + i)}. {option}"
        found = text.find(line, pos)
        assert found >= pos
        pos = found + len(line)


@given(options=st.lists(_text, min_size=2, max_size=4, unique=True))
def test_prompt_hash_changes_with_what_the_model_is_asked(options):
    a = Record("x", "Which one?", [o.strip() for o in options], ["A"], video="v.mp4")
    b = Record("y", "Which one?", list(reversed(a.options)), ["A"], video="v.mp4")
    assert (
        build_prompt(a, "cot").hash
        == build_prompt(Record("z", a.question, a.options, ["B"], video="w.mp4"), "cot").hash
    )
    if a.options != b.options:
        assert build_prompt(a, "cot").hash != build_prompt(b, "cot").hash


def test_training_and_evaluation_read_their_prompts_from_one_module():
    import twgrpo_data.prompts as shared
    import twgrpo_train.data as train_data

    assert train_data.TRAIN_TEMPLATE is shared.TRAIN_TEMPLATE
    record = Record("t", "What happens?", ["it falls", "it rolls"], ["A", "B"], video="v.mp4")
    row = train_data.record_to_prompt_row(record, video="v.mp4")
    assert row["prompt"][0]["content"][1]["text"] == shared.training_text(record)
    assert shared.training_text(record).startswith("What happens?\nA it falls\nB it rolls  Output the thinking")
    # evaluation's CLEVRER prompt shows the same options, with TW-GRPO's eval "A. text" layout
    assert build_prompt(record, "clevrer").text.startswith("What happens?\nA. it falls\nB. it rolls Output")


def test_clevrer_zeroshot_prompt_is_eval_clevrer_zeroshot_py(shared):
    """`src/eval/eval_clevrer_zeroshot.py`: the R1 system message and
    "{Question} Output the final answer (letters separated by , if multiple) in <answer> </answer> tags directly. "
    (https://github.com/longmalongma/TW-GRPO/blob/main/src/eval/eval_clevrer_zeroshot.py)."""
    path = FIXTURES / "unified" / "CLEVRER" / "clevrer_counterfactual_val.json"
    raws = json.loads(path.read_text(encoding="utf-8"))
    for raw, record in zip(raws, open_input(path).raise_or_skip(False).records):
        prompt = build_prompt(record, "clevrer-zeroshot")
        assert prompt.text == raw["problem"] + (
            " Output the final answer (letters separated by , if multiple) in <answer> </answer> tags directly. "
        )
        assert prompt.system == CLEVRER_SYSTEM
    assert default_parser("clevrer-zeroshot") == "twgrpo"
    assert resolve_style("auto", "clevrer", []) == "clevrer"  # the paper's zero-shot row ran eval_clevrer.py
