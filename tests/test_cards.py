"""Dataset cards: metadata the Hub accepts, numbers that come from the data, the QAI report's extra facts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard, DatasetCardData
from hypothesis import given
from hypothesis import strategies as st
from paths import DATA, FIXTURES

from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.hub import cards
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input

SIZE_CATEGORIES = json.loads((Path(datasets.__file__).parent / "utils/resources/size_categories.json").read_text())


def qai_records(n_negated: int = 2, n_plain: int = 3, source: str = "nextgqa", seed: int = 0) -> list[Record]:
    """Records as `qai convert` writes them: inverted ones carry `qai`, the others `qai=None`."""
    out = []
    for i in range(n_negated):
        out.append(
            Record(
                id=f"neg{i}",
                question="why didn't the boy open the box",
                options=["cry", "smile", "run", "wave"],
                answer=["B", "C", "D"][: 2 + i % 2],
                video=f"1104/{i}.mp4",
                source=source,
                meta={"type": "CW", "glue": [[1.5, 3.0]]},
                qai={
                    "negated": True,
                    "original_question": "why did the boy open the box",
                    "original_answer": ["A"],
                    "removed_options": ["jump"],
                    "seed": seed,
                },
            )
        )
    for i in range(n_plain):
        out.append(
            Record(
                id=f"plain{i}",
                question="what is on the table",
                options=["cup", "pen", "book", "key", "hat"],
                answer=["C"],
                video=f"1104/p{i}.mp4",
                source=source,
                meta={"type": "DL"},
            )
        )
    return out


def report_for(records: list[Record], tmp_path: Path, **changes) -> Path:
    negated = sum(1 for r in records if r.qai and r.qai["negated"])
    report = {
        "input": "/data/somewhere/nextgqa_val.json",
        "output": "qai.jsonl",
        "n_records": len(records),
        "seed": 0,
        "ratio": 0.5,
        "min_keep": 1,
        "counts": {
            "negated": negated,
            "not_selected": 1,
            "unnegatable": 2,
            "already_negative": 0,
            "already_multi": 0,
            "skipped_invalid": 0,
        },
        "unnegatable_reasons": {"how_question": 1, "yes_no": 1},
        "answer_count_histogram": {"1": 3},
        "option_count_histogram": {"5": 3},
        "spacy_model": "en_core_web_sm",
        "spacy_model_version": "3.8.0",
        "spacy_version": "3.8.7",
        "twgrpo_version": "0.1.0",
    }
    report.update(changes)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def reparse(card) -> DatasetCard:
    """Parse the card text the way the Hub library does and re-validate its metadata strictly."""
    parsed = DatasetCard(str(card))
    DatasetCardData(**parsed.data.to_dict())
    return parsed


def test_card_metadata_parses_and_validates():
    card = reparse(cards.render_card({"train": qai_records()}, repo_id="me/nextgqa-qai"))
    data = card.data
    assert data.license == "mit"
    assert data.language == ["en"]
    assert data.size_categories == ["n<1K"] and data.size_categories[0] in SIZE_CATEGORIES
    assert data.source_datasets is None  # NExT-GQA has no Hub dataset to name
    assert "arxiv:2505.24718" in data.tags  # links the card to the paper's Hub page
    assert data.pretty_name == "NExT-GQA with Question-Answer Inversion"
    assert "question-answer-inversion" in data.tags


def test_counts_in_card_come_from_the_records():
    records = qai_records(n_negated=3, n_plain=5)
    text = str(cards.render_card({"train": records}, repo_id="me/x"))
    assert "Negated questions: **3** of 8 (37.5%)" in text
    answer_hist = Counter(len(r.answer) for r in records)
    for k, n in answer_hist.items():
        assert re.search(rf"^\| {k} \| {n} \| {100 * n / 8:.1f}% \|$", text, re.M), (k, n)
    option_hist = Counter(len(r.options) for r in records)
    for k, n in option_hist.items():
        assert re.search(rf"^\| {k} \| {n} \| {100 * n / 8:.1f}% \|$", text, re.M), (k, n)
    assert "Seed: 0" in text
    assert "| `train` | 8 |" in text


def test_card_without_report_says_spacy_model_not_recorded():
    text = str(cards.render_card({"train": qai_records()}, repo_id="me/x"))
    assert "report (`twgrpo qai convert --report`) was not supplied" in text
    assert "en_core_web_sm" not in text


def test_report_adds_spacy_model_and_unnegatable_reasons(tmp_path):
    records = qai_records()
    report = cards.load_report(report_for(records, tmp_path))
    text = str(cards.render_card({"train": records}, repo_id="me/x", report=report))
    assert "spaCy model: `en_core_web_sm` 3.8.0 (spaCy 3.8.7)" in text
    assert "| how question | 1 |" in text and "| yes no | 1 |" in text
    assert "- Unnegatable: 2" in text
    assert "Selection ratio: 0.5" in text
    assert "from `nextgqa_val.json`" in text and "/data/somewhere" not in text  # no local paths leak


def test_report_of_other_data_is_refused(tmp_path):
    records = qai_records(n_negated=2)
    report = cards.load_report(report_for(records, tmp_path, counts={"negated": 5}))
    with pytest.raises(TwgrpoError, match=r"report.json: the report does not describe this dataset: .*5 negated"):
        cards.render_card({"train": records}, repo_id="me/x", report=report)


def test_report_with_another_seed_is_refused(tmp_path):
    records = qai_records(seed=3)
    report = cards.load_report(report_for(records, tmp_path, seed=0))
    with pytest.raises(TwgrpoError, match=r"seed is 0, the records carry seed\(s\) \[3\]"):
        cards.render_card({"train": records}, repo_id="me/x", report=report)


def test_not_a_report_names_the_file(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputFormatError, match="r.json: not a QAI report"):
        cards.load_report(bad)


@pytest.mark.parametrize("template", cards.available_templates())
def test_every_shipped_template_renders_a_valid_card(template):
    records = qai_records()
    card = reparse(cards.render_card({"validation": records}, repo_id="me/x", template=template))
    assert card.data.language == ["en"]
    assert "Videos are **not** included" in card.text
    assert "arXiv:2505.24718" in card.text  # TW-GRPO citation
    assert "Xiao, Junbin" in card.text  # the source's citation


def test_shipped_templates_are_the_documented_four():
    assert set(cards.available_templates()) >= {"nextgqa-qai", "star-qai", "clevrer-counterfactual", "generic"}


@pytest.mark.parametrize(
    ("sources", "qai", "expected"),
    [
        ({"nextgqa"}, True, "nextgqa-qai"),
        ({"star"}, True, "star-qai"),
        ({"clevrer"}, False, "clevrer-counterfactual"),
        ({"nextgqa"}, False, "generic"),
        ({"nextgqa", "star"}, True, "generic"),
    ],
)
def test_template_is_chosen_from_sources_and_qai(sources, qai, expected):
    records = [
        r for s in sorted(sources) for r in (qai_records(source=s) if qai else qai_records(n_negated=0, source=s))
    ]
    records = [r.replace(id=f"{r.source}-{r.id}") for r in records]
    assert cards.choose_template(cards.DatasetStats.from_splits({"train": records})) == expected


def test_mixed_sources_list_every_licence_and_citation():
    records = qai_records(n_negated=0, source="clevrer") + [
        r.replace(id="m" + r.id, source="mvbench") for r in qai_records(n_negated=0)
    ]
    card = reparse(cards.render_card({"train": records}, repo_id="me/mix"))
    assert card.data.license == ["cc0-1.0", "mit"]
    assert card.data.source_datasets == ["OpenGVLab/MVBench"]  # Hub ids only; CLEVRER has none
    assert "Yi, Kexin" in card.text and "Li, Kunchang" in card.text


def test_unknown_source_gets_unknown_licence():
    card = reparse(cards.render_card({"train": qai_records(n_negated=0, source="mydata")}, repo_id="me/x"))
    assert card.data.license == "unknown"
    assert card.data.source_datasets is None  # nothing to name for a source the table does not know
    assert "| mydata | 3 | `unknown` |" in card.text


def test_card_explains_videos_with_real_example_paths():
    text = str(cards.render_card({"train": qai_records()}, repo_id="me/x"))
    assert "Example values: `1104/0.mp4`, `1104/1.mp4`." in text
    assert "lmms-lab/NExTQA" in text


def test_official_mixed_file_counts_is_negated_flags():
    """Golden: TW-GRPO's own mixed NExT-GQA file; the expected counts are recomputed from the raw JSON."""
    path = DATA / "nextgqa_val_mixed.official.json"
    raw = json.loads(path.read_text())
    flagged = sum(1 for item in raw if item.get("is_negated") is True)
    multi = sum(1 for item in raw if "," in item["solution"])
    records = open_input(path).raise_or_skip(False).records
    text = str(cards.render_card({"validation": records}, repo_id="me/nextgqa-mixed"))
    assert (
        f"{flagged} of {len(raw)} questions ({100 * flagged / len(raw):.1f}%) were negated by the\noriginal "
        "TW-GRPO conversion script" in text
    )
    assert f"Multi-answer questions: {multi} ({100 * multi / len(raw):.1f}%)" in text
    assert f"Videos referenced: {len({item['video'] for item in raw})}" in text


def test_custom_card_file_can_extend_the_layout_and_set_licence(tmp_path):
    custom = tmp_path / "CARD.md"
    custom.write_text(
        "---\nlicense: cc-by-4.0\npretty_name: My QAI set\n---\n{% extends '_layout.md' %}\n"
        "{% block summary %}Hand-picked questions, {{ stats.n_records }} of them.{% endblock %}\n"
    )
    card = reparse(cards.render_card({"train": qai_records()}, repo_id="me/x", template=custom))
    assert card.data.license == "cc-by-4.0"
    assert card.text.startswith("# My QAI set\n\nHand-picked questions, 5 of them.")


def test_undefined_template_variable_names_the_file(tmp_path):
    custom = tmp_path / "CARD.md"
    custom.write_text("---\nlicense: mit\n---\n# {{ no_such_variable }}\n")
    with pytest.raises(InputFormatError, match=r"CARD.md: template error: 'no_such_variable' is undefined"):
        cards.render_card({"train": qai_records()}, repo_id="me/x", template=custom)


def test_template_syntax_error_names_the_line_in_the_file(tmp_path):
    custom = tmp_path / "CARD.md"
    custom.write_text("---\nlicense: mit\n---\n# Title\n\n{% if stats.n_records %}\nunclosed\n")
    with pytest.raises(InputFormatError, match=r"CARD.md line 7: template error: Unexpected end of template"):
        cards.render_card({"train": qai_records()}, repo_id="me/x", template=custom)


def test_unknown_template_lists_the_shipped_ones():
    with pytest.raises(TwgrpoError, match="nope: no such card file or template; templates: clevrer-counterfactual"):
        cards.template_path("nope")


@given(st.integers(min_value=0, max_value=10**13))
def test_size_category_is_a_hub_bucket_containing_n(n):
    label = cards.size_category(n)
    assert label in SIZE_CATEGORIES
    value = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}

    def parse(bound: str) -> int:
        return int(bound[:-1]) * value[bound[-1]]

    if label.startswith("n<"):
        assert n < parse(label[2:])
    elif label.startswith("n>"):
        assert n >= parse(label[2:])
    else:
        low, high = label.split("<n<")
        assert parse(low) <= n < parse(high)


def test_card_example_is_the_first_negated_record_as_a_hub_row():
    from twgrpo_data.io.arrow import record_to_row

    records = list(reversed(qai_records()))  # plain records first: the example must still be a negated one
    text = str(cards.render_card({"train": records}, repo_id="me/x"))
    block = re.search(r"```json\n(.*?)\n```", text, re.S).group(1)
    row = json.loads(block)
    assert row == record_to_row(next(r for r in records if r.qai), meta_struct=True)
    assert isinstance(row["meta"], dict)  # as the Hub stores it: a struct, not JSON text


def test_clevrer_benchmark_records_get_the_clevrer_card():
    from twgrpo_data.benchmarks import load_benchmark

    records = load_benchmark("clevrer", FIXTURES / "clevrer/questions/validation.json").records
    stats = cards.DatasetStats.from_splits({"validation": records})
    card = reparse(cards.render_card({"validation": records}, repo_id="me/clevrer-cf"))
    assert cards.choose_template(stats) == "clevrer-counterfactual"
    assert card.data.license == "cc0-1.0"
    assert f"Multi-answer questions: {sum(len(r.answer) > 1 for r in records)} " in card.text
    assert "No Question-Answer Inversion was applied" in card.text
