"""QAI on the question forms of issue 30: two-part questions, quotations, scope words, overlapping options,
wrappers and requests, already-negative questions (opt-in affirmation), paraphrased options (local and LLM
meaning checks), and `--no-contractions` placement. Examples per class, hypothesis properties for the
invariants, and the development questions of these forms (tests/data/qai_forms) for what must hold on all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import DATA

from twgrpo_data.qai.invert import convert
from twgrpo_data.qai.negate import ALREADY_NEGATIVE, NEGATED, Negator, template_question
from twgrpo_data.qai.negation.quotes import mask_quotations
from twgrpo_data.qai.options import options_overlap, shares_quotation
from twgrpo_data.qai.same_meaning import LexicalVerifier
from twgrpo_data.record import Record, letter_index

FORMS = Path(__file__).parent / "data" / "qai_forms" / "questions.jsonl"
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def negator() -> Negator:
    return Negator()


@pytest.fixture(scope="module")
def spelled_out() -> Negator:
    return Negator(contractions=False)


@pytest.fixture(scope="module")
def affirmer() -> Negator:
    return Negator(already_negative="affirm")


@pytest.fixture(scope="module")
def forms() -> list[dict]:
    return [json.loads(line) for line in FORMS.read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------------------------------------
# 1. two-part questions


@pytest.mark.parametrize(
    "question",
    [
        "What is the main tool the person uses, and why does she switch to another one later?",
        "How does the audience react to the speech and what does this suggest about what they think of it?",
        "What is the tone of the video, why are the men continuously shifting gazes?",
        "Why is the woman laughing, did the girl tell a joke?",
        "What is the woman's favorite drink, and why?",
        "What did the man do first and what happened next?",
        "What is the man holding, and where is he?",
    ],
)
def test_two_part_questions_are_refused_in_both_modes_and_get_the_template(question, negator, spelled_out):
    for n in (negator, spelled_out):
        assert n.negate(question).status != NEGATED
    assert template_question(question).startswith("Which option is NOT a correct answer to the question: ")


@pytest.mark.parametrize(
    "question,negated",
    [
        ("Who picked up the ball and threw it?", "Who didn't pick up the ball and throw it?"),
        ("When and where did the match take place?", "When and where didn't the match take place?"),
        ("What is the relationship between the man and what he holds?", None),  # a free relative, not a question
        (
            "What happens to the ball, which is red, after it falls?",
            "What doesn't happen to the ball, which is red, after it falls?",
        ),
    ],
)
def test_one_question_with_coordinated_parts_is_negated_as_a_whole(question, negated, negator):
    result = negator.negate(question)
    assert result.reason != "coordinated_question"
    if negated is not None:
        assert result.negated == negated


WH_CLAUSES = st.sampled_from(
    [
        "what does the man hold",
        "why does she leave",
        "where is the cup",
        "what did the boy throw",
        "who opens the door",
        "which tool does she use",
    ]
)


@PROPERTY
@given(first=WH_CLAUSES, second=WH_CLAUSES, joint=st.sampled_from([", and ", " and ", "; ", ", but "]))
def test_no_part_of_two_questions_is_negated_alone(first, second, joint, negator):
    # (a bare comma before "who …" is also a relative clause: "the man, who opens the door")
    question = first[0].upper() + first[1:] + joint + second + "?"
    assert negator.negate(question).status != NEGATED


# ----------------------------------------------------------------------------------------------------------
# 2. quotations are text


@pytest.mark.parametrize(
    "question,negated",
    [
        (
            "What does the man do before she says 'Don't go. It is late'?",
            "What doesn't the man do before she says 'Don't go. It is late'?",
        ),
        (
            "When the subtitle mentions 'we can't stay here,' what does the man do?",
            "When the subtitle mentions 'we can't stay here,' what doesn't the man do?",
        ),
        ('Why does the woman say "don\'t be nice to me"?', "Why doesn't the woman say \"don't be nice to me\"?"),
        (
            "Can you identify when the action 'person opens the door' happens in the video?",
            "Can you identify when the action 'person opens the door' doesn't happen in the video?",
        ),
    ],
)
def test_quotations_are_masked_text(question, negated, negator):
    assert negator.negate(question).negated == negated


def test_a_full_stop_inside_a_quotation_never_splits_the_template():
    question = "What does the man do before she says 'Don't go. It is late'?"
    assert template_question(question) == (
        "Which option is NOT a correct answer to the question: what does the man do before she says "
        "'Don't go. It is late'?"
    )


QUOTED = st.text(alphabet="abcdefghij klmno,.!?;:", min_size=1, max_size=30).filter(
    lambda t: t.strip() and t[0] != " " and t[-1] != " " and "  " not in t
)


@PROPERTY
@given(inner=QUOTED, negative=st.sampled_from(["", "don't ", "not ", "can't "]))
def test_a_quotation_never_changes_the_negation_around_it(inner, negative, negator):
    line = negative + inner
    question = f"What does the man do after she says '{line}'?"
    result = negator.negate(question)
    assert (result.status, result.negated) == (NEGATED, f"What doesn't the man do after she says '{line}'?")
    masked = mask_quotations(question)
    assert masked.restore(masked.text) == question


# ----------------------------------------------------------------------------------------------------------
# 3. scope words on the verb


@pytest.mark.parametrize(
    "question",
    [
        "Which object appears for the first time at the end?",
        "What did the man do first?",
        "why did the boy throw the ball again",
        "why is the man still holding the cup",
        "What has the man already eaten?",
        "What does the woman do at first?",
        "What is about 5 meters long?",
        "What does the man finally pick up?",
    ],
)
def test_scope_words_on_the_verb_are_refused_in_both_modes(question, negator, spelled_out):
    assert negator.negate(question).reason == spelled_out.negate(question).reason == "scope_adverbial"


@pytest.mark.parametrize(
    "question,negated",
    [
        ("What is the first step in preparing the dish?", "What isn't the first step in preparing the dish?"),
        (
            "what did the boy do after he threw the ball for the first time",
            "what didn't the boy do after he threw the ball for the first time",
        ),
        ("why do the dogs stand still", "why don't the dogs stand still"),
        ("what does the man do at the beginning of the video", "what doesn't the man do at the beginning of the video"),
    ],
)
def test_scope_words_elsewhere_keep_the_negation(question, negated, negator):
    assert negator.negate(question).negated == negated


# ----------------------------------------------------------------------------------------------------------
# 4. options that are not mutually exclusive


@pytest.mark.parametrize(
    "options,overlap",
    [
        (["the coach alone", "the coach and two players", "three players"], True),
        (["Christina Aguilera", "Both A Great Big World and Christina Aguilera", "A Great Big World"], True),
        (["show love and care", "show love", "balance dog"], True),
        (["Throughout the video, the chef adds salt", "At the start, the chef stirs the pot"], False),
        (["At the beginning of the video", "Throughout the entire video"], True),
        (["the coach", "two players", "three fans"], False),
    ],
)
def test_options_part_of_another(options, overlap):
    assert options_overlap(options) is overlap


def test_an_option_sharing_the_answers_quoted_line_overlaps():
    options = ["He says 'Don't go' and leaves", '"Don\'t go. It is late"', "He waves"]
    assert shares_quotation(options, 1)
    assert not shares_quotation(['He says "hello"', 'He says "goodbye"', "He waves"], 0)


MEMBERS = st.lists(st.sampled_from(["coach", "dog", "red car", "two players", "the girl", "a cat"]), min_size=2,
                   max_size=3, unique=True)  # fmt: skip


@PROPERTY
@given(members=MEMBERS, alone=st.sampled_from(["", " alone", "only "]))
def test_a_member_of_a_list_option_always_overlaps(members, alone):
    single = f"only {members[0]}" if alone == "only " else members[0] + alone
    assert options_overlap([" and ".join(members), single, "nobody"])


# ----------------------------------------------------------------------------------------------------------
# 5. wrappers, requests, already-negative questions


@pytest.mark.parametrize(
    "question,negated",
    [
        (
            "Could you say which option best describes the video?",
            "Could you say which option doesn't best describe the video?",
        ),
        (
            "Please pick the option that matches the steps in the video.",
            "Please pick the option that doesn't match the steps in the video.",
        ),
        ("Could you say why the woman turns around?", "Could you say why the woman doesn't turn around?"),
        ("Identify what the woman feels about Italians.", "Identify what the woman doesn't feel about Italians."),
        ("Select the answer which explains why he left.", "Select the answer which doesn't explain why he left."),
    ],
)
def test_wrapped_clauses_are_negated(question, negated, negator):
    assert negator.negate(question).negated == negated


@pytest.mark.parametrize(
    "question,reason",
    [
        ("Describe the overall tone of the video.", "instruction"),
        ("Arrange the events involving the players in the correct order.", "instruction"),
        ("Can you identify the direction of the gray sphere's movement in the video?", "indirect_question"),
        ("Could you tell whether the man is happy?", "indirect_question"),
        ("Can you see the dog?", "yes_no"),
    ],
)
def test_requests_without_a_clause_to_negate_are_refused_with_what_they_are(question, reason, negator):
    assert negator.negate(question).reason == reason


@pytest.mark.parametrize(
    "question,affirmed",
    [
        ("Which tool is not used?", "Which tool is used?"),
        ("Which of these is NOT true?", "Which of these is true?"),
        ("Which object cannot be lifted?", "Which object can be lifted?"),
        ("Which tool doesn't belong?", "Which tool does belong?"),
        ("What won't the man do?", "What will the man do?"),
        ("What does the man never do?", "What does the man do?"),
        ("why did nt the man at the back play with the boy", "why did the man at the back play with the boy"),
    ],
)
def test_already_negative_questions_are_affirmed_only_on_request(question, affirmed, negator, affirmer):
    assert negator.negate(question).status == ALREADY_NEGATIVE
    assert (affirmer.negate(question).negated, affirmer.negate(question).reason) == (affirmed, "negation_removed")


@pytest.mark.parametrize("question", ["What did nobody see?", "Why did no one stop him?", "Which is not not true?"])
def test_negations_that_cannot_simply_be_removed_stay_negative(question, affirmer):
    assert affirmer.negate(question).status == ALREADY_NEGATIVE


def test_affirming_a_spelled_out_negation_gives_the_question_back(spelled_out, affirmer):
    real = [item["question"] for item in json.loads((DATA / "nextgqa_val.json").read_text())][::7]
    # do-support stays when a negation is removed ("what did not happen" → "what did happen"): the auxiliary
    # rule's negations come back exactly
    negated = [r for r in spelled_out.negate_many(real) if r.ok and r.reason == "auxiliary"]
    back = affirmer.negate_many([r.negated for r in negated])
    assert len(negated) > 300
    assert [b.negated for b in back] == [r.question for r in negated]


def test_template_fallback_never_wraps_a_negative_question():
    records = [
        Record("n1", "Which tool is not used?", ["hammer", "saw", "drill"], ["A"]),
        Record("n2", "Why didn't the man run?", ["tired", "lazy", "hurt"], ["B"]),
        Record("n3", "How did the boy react?", ["cried", "laughed", "ran"], ["C"]),
    ]
    out, report = convert(records, 1.0, fallback="template", why="template")
    assert [r.question for r in out[:2]] == [r.question for r in records[:2]]
    assert report.counts["already_negative"] == 2 and out[2].qai["strategy"] == "template"
    out, report = convert(records, 1.0, fallback="template", negator=Negator(already_negative="affirm"))
    assert (out[0].question, out[0].qai["strategy"]) == ("Which tool is used?", "affirmation")
    assert {out[0].options[letter_index(a)] for a in out[0].answer} <= {"drill", "saw"}
    assert "hammer" in out[0].options and "hammer" not in {out[0].options[letter_index(a)] for a in out[0].answer}
    assert report.strategies["affirmation"] == 2


# ----------------------------------------------------------------------------------------------------------
# 6. paraphrased options: the meaning check


@pytest.mark.parametrize(
    "answer,option,same",
    [
        ("She seems happy and relaxed", "she seems happy and relaxed.", True),
        ("cooking dinner", "cook dinner", True),
        ("The man is happy", "The man is hapy", True),
        ("the dog chases the cat", "the cat chases the dog", False),
        ("woman", "women", False),
        ("walking", "talking", False),
        ("10 seconds", "16 seconds", False),
        ("Christina", "Kristina", False),
        ("cooking dinner", "making food", False),  # a paraphrase: only the LLM verifier sees it
    ],
)
def test_local_verifier(answer, option, same):
    assert LexicalVerifier().judge([("Q?", answer, [option])])[0][0].same is same


@PROPERTY
@given(
    words=st.lists(
        st.sampled_from(["the", "man", "opens", "a", "red", "door", "quickly", "dog"]), min_size=1, max_size=6
    ),
    noise=st.sampled_from(["", ".", "!", "  ", " ."]),
    upper=st.booleans(),
)
def test_local_verifier_sees_through_case_spacing_and_punctuation(words, noise, upper):
    answer = " ".join(words)
    option = (answer.upper() if upper else answer) + noise
    assert LexicalVerifier().judge([("Q?", answer, [option])])[0][0].same is any(w not in ("the", "a") for w in words)


def test_same_meaning_options_are_dropped_or_refuse_the_record():
    rec = Record("p1", "What is the woman's mood?", ["happy", "sad", "Happy.", "angry"], ["A"])
    out, report = convert([rec], 1.0)
    (inv,) = out
    assert "Happy." not in inv.options and "happy" in inv.options
    assert inv.qai["meaning_check"]["same"] == [False, True, False] and inv.qai["original_answer"] == ["A"]
    assert report.to_dict()["meaning_check"]["options_dropped"] == 1
    out, report = convert([rec], 1.0, same_meaning="refuse")
    assert out[0] == rec and report.unnegatable_reasons["same_meaning"] == 1
    out, _ = convert([rec], 1.0, meaning=None)
    assert "Happy." in out[0].options and "meaning_check" not in out[0].qai


@pytest.fixture()
def judge_server():
    from eval_helpers import FakeOpenAIServer

    synonyms = {frozenset({"cooking dinner", "making food"}), frozenset({"happy", "joyful"})}

    def answer(body):
        text = body["messages"][-1]["content"]
        first, second = re.search(r"Option 1: (.*)\nOption 2: (.*)\n", text).groups()
        return "Yes." if frozenset({first.lower(), second.lower()}) in synonyms else "no"

    server = FakeOpenAIServer(models=("judge",), answer=answer)
    yield server
    server.close()


def test_llm_verifier_catches_paraphrases_and_stores_its_verdicts(judge_server, monkeypatch):
    from twgrpo_eval.meaning_judge import LLMVerifier

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-key")
    verifier = LLMVerifier("judge", api_base=judge_server.url)
    records = [
        Record("m1", "What is the man doing?", ["cooking dinner", "making food", "sleeping"], ["A"]),
        Record("m2", "How does she feel?", ["happy", "joyful", "sad", "Happy!"], ["A"]),
    ]
    out, report = convert(records, 1.0, meaning=verifier)
    verifier.close()
    assert "making food" not in out[0].options and out[0].qai["meaning_check"]["same"] == [True, False]
    assert out[0].qai["meaning_check"]["why"][0] == "judge: yes"
    assert report.counts["unnegatable"] == 1  # "How …": refused, though checked
    assert len(judge_server.bodies) == 4  # "Happy!" was settled locally
    assert all(a == "Bearer sk-test-secret-key" for a in judge_server.auth)
    assert "sk-test" not in json.dumps(report.to_dict()) + json.dumps([r.qai for r in out])


def test_llm_verifier_without_a_verdict_stops_the_conversion(monkeypatch):
    from eval_helpers import FakeOpenAIServer

    from twgrpo_data.errors import TwgrpoError
    from twgrpo_eval.meaning_judge import LLMVerifier

    server = FakeOpenAIServer(models=("judge",), answer=lambda body: "maybe")
    try:
        verifier = LLMVerifier("judge", api_base=server.url)
        with pytest.raises(TwgrpoError, match="neither yes nor no"):
            convert(
                [Record("m1", "What is he doing?", ["cooking", "baking", "sleeping"], ["A"])], 1.0, meaning=verifier
            )
    finally:
        server.close()


def test_convert_cli_meaning_check_llm(judge_server, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "m1",
                "question": "What is the man doing?",
                "options": ["cooking dinner", "making food", "sleeping"],
                "answer": ["A"],
            }
        )
        + "\n"  # fmt: skip
    )
    out = tmp_path / "out.jsonl"
    args = ["qai", "convert", data, "-o", out, "--ratio", "1", "--meaning-check", "llm", "--judge-model", "judge"]
    result = run_cli(*args, "--judge-api-base", judge_server.url, "--json")
    assert result.code == 0, result.stderr
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert rec["qai"]["meaning_check"]["verifier"] == "llm" and "making food" not in rec["options"]
    assert json.loads(result.stdout)["meaning_check"]["model"] == "judge"
    assert run_cli(*args[:-2], "--judge-api-base", judge_server.url).code == 2  # no --judge-model


# ----------------------------------------------------------------------------------------------------------
# 7. --no-contractions places "not" where it belongs; `qai negate --why template`


@pytest.mark.parametrize(
    "question,spelled",
    [
        ("What did the man wear?", "What did the man not wear?"),
        ("why does the man wearing a red cap bend down", "why does the man wearing a red cap not bend down"),
        (
            "what does the man playing the drum do after the song",
            "what does the man playing the drum not do after the song",
        ),
        ("Which tools or objects does the man use?", None),  # refused rather than "tools not or objects"
        ("why is there words and numbers on the board", "why is there not words and numbers on the board"),
        ("What is the first step in preparing the dish?", "What is not the first step in preparing the dish?"),
        ("What is the person able to do?", "What is the person not able to do?"),
        ("Where were Leslie and Leonard when Leslie left?", None),
        ("why does the boy wearing blue struggle after taking off his goggles", None),
    ],
)
def test_spelled_out_not_goes_before_the_verb_never_inside_the_subject(question, spelled, spelled_out):
    assert spelled_out.negate(question).negated == spelled


def test_spelled_out_negation_is_the_contracted_one_written_out(forms, negator, spelled_out):
    questions = [row["question"] for row in forms]
    for short, long in zip(negator.negate_many(questions), spelled_out.negate_many(questions)):
        if long.ok:
            assert short.ok
            assert not re.search(r"\bnot (?:or|and|nor)\b|,\s*not\b", long.negated), long.negated


def test_negate_cli_has_the_why_and_fallback_choices_of_convert():
    result = run_cli("qai", "negate", "-", "--why", "template", input="why did the man run\nwho ran\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.code == 0 and lines[0]["strategy"] == "template" and lines[0]["reason"] == "why_question"
    assert lines[1] == {"question": "who ran", "negated": "who didn't run", "status": "negated", "reason": "do_support"}
    assert run_cli("qai", "negate", "-", "--why", "never", input="who ran\n").code == 2


# ----------------------------------------------------------------------------------------------------------
# the development questions of these forms (tests/data/qai_forms)


def test_forms_dev_file_keeps_provenance_and_licence(forms):
    assert len(forms) >= 300
    for row in forms:
        assert row["licence"] in ("MIT", "Apache-2.0") and re.match(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}:", row["origin"])
        assert not re.search(r"egoschema|intentqa|mlvu|tvqa|longvideobench|nextqa", row["origin"], re.IGNORECASE)


def test_fast_path_gives_the_parse_path_answer_on_the_forms(forms):
    questions = [row["question"] for row in forms]
    assert Negator().negate_many(questions) == Negator(fast=False).negate_many(questions)


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".parquet"])
def test_meaning_check_provenance_round_trips_through_every_format(tmp_path, suffix):
    from twgrpo_data.io.writers import write_records
    from twgrpo_data.sources import open_input

    recs = [
        Record("p1", "What is the woman's mood?", ["happy", "sad", "Happy.", "angry"], ["A"]),
        Record("p2", "What is the man's mood?", ["calm", "sad", "angry"], ["A"]),
    ]
    out, _ = convert(recs, 1.0)
    assert "meaning_check" in out[0].qai and "meaning_check" not in out[1].qai
    path = tmp_path / f"out{suffix}"
    write_records(out, path)
    assert open_input(path).raise_or_skip(False).records == out
