"""Loader fidelity on the shared benchmark fixtures: counts, options, gold letters, categories and quirks."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from paths import DATA, FIXTURES

from twgrpo_data.benchmarks import clevrer, mmvu, mvbench, nextgqa, star, tempcompass, videomme
from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.record import validate_records


def by_id(result):
    return {r.id: r for r in result.records}


# ----------------------------------------------------------------------------------------------------------
# MVBench


def test_mvbench_reads_every_task_file_with_task_categories():
    result = mvbench.load(FIXTURES / "mvbench")
    assert len(result.records) == 14 and not result.errors
    assert Counter(r.meta["category"] for r in result.records) == {
        t: 2
        for t in (
            "action_antonym",
            "action_localization",
            "action_sequence",
            "counterfactual_inference",
            "egocentric_navigation",
            "episodic_reasoning",
            "fine_grained_pose",
        )
    }
    assert all(r.source == "mvbench" for r in result.records)


def test_mvbench_gold_letter_is_the_position_of_the_answer_text():
    recs = by_id(mvbench.load(FIXTURES / "mvbench"))
    antonym = recs["action_antonym_0"]
    assert antonym.options == ["Not sure", "Scattering something down", "Piling something up"]
    assert antonym.answer == ["C"] and antonym.video == "ssv2_video/166583.webm"
    assert recs["fine_grained_pose_0"].answer == ["C"]  # "drop"


def test_mvbench_answer_with_trailing_space_still_matches():
    rec = by_id(mvbench.load(FIXTURES / "mvbench"))["episodic_reasoning_1"]
    assert rec.answer == ["B"]
    assert rec.options[1] == "She thinks Bernadette should be recognized for her work, not her looks."


def test_mvbench_one_candidate_item_is_kept_with_a_warning():
    result = mvbench.load(FIXTURES / "mvbench")
    rec = by_id(result)["counterfactual_inference_1"]
    assert rec.options == ["The cube collides with the gray cylinder"] and rec.answer == ["A"]
    assert [(w.record_id, w.field) for w in result.warnings] == [("counterfactual_inference_1", "options")]


def test_mvbench_keeps_clip_bounds_and_frame_folder_facts():
    recs = by_id(mvbench.load(FIXTURES / "mvbench"))
    tvqa = recs["episodic_reasoning_0"]
    assert tvqa.meta["data_type"] == "frame" and tvqa.meta["fps"] == 3
    assert (tvqa.meta["start"], tvqa.meta["end"]) == (0.0, 38.32)
    assert tvqa.video == "tvqa/frames_fps3_hq/castle_s07e04_seg02_clip_14"
    loc = recs["action_localization_0"]
    assert loc.meta["accurate_end"] == 15.2 and loc.video == "sta/sta_video/RPY8D.mp4"
    assert "start" not in recs["action_antonym_0"].meta


def test_mvbench_task_filter_and_single_file():
    assert {r.meta["task"] for r in mvbench.load(FIXTURES / "mvbench", types=["action_sequence"]).records} == {
        "action_sequence"
    }
    assert len(mvbench.load(FIXTURES / "mvbench" / "json" / "episodic_reasoning.json").records) == 2
    with pytest.raises(TwgrpoError, match="unknown MVBench task"):
        mvbench.load(FIXTURES / "mvbench", types=["no_such_task"])


def test_mvbench_bad_item_is_a_located_problem_and_the_rest_load(tmp_path):
    items = json.loads((FIXTURES / "mvbench/json/action_antonym.json").read_text())
    items[1]["answer"] = "Juggling"
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "action_antonym.json").write_text(json.dumps(items))
    result = mvbench.load(tmp_path)
    assert [r.id for r in result.records] == ["action_antonym_0"]
    (problem,) = result.errors
    assert (problem.index, problem.record_id, problem.field) == (1, "action_antonym_1", "answer")
    assert "action_antonym.json" in str(problem) and "'Juggling' is not one of the 3 options" in str(problem)


# ----------------------------------------------------------------------------------------------------------
# TempCompass


def test_tempcompass_counts_per_task_type_and_dimension():
    result = tempcompass.load(FIXTURES / "tempcompass")
    assert Counter(r.meta["task_type"] for r in result.records) == {
        "multi-choice": 10,
        "yes_no": 19,
        "caption_matching": 9,
        "captioning": 12,
    }
    assert Counter(r.meta["category"] for r in result.records) == {"action": 18, "direction": 32}
    assert not result.problems


def test_tempcompass_original_json_and_lmms_parquet_give_the_same_records():
    assert (
        tempcompass.load(FIXTURES / "tempcompass").records
        == tempcompass.load(FIXTURES / "tempcompass" / "lmms-lab").records
    )


def test_tempcompass_parses_each_option_style():
    recs = by_id(tempcompass.load(FIXTURES / "tempcompass"))
    mc = recs["1034419625_action_multi-choice_1"]
    assert mc.question == "Which activity is the man engaged in?"
    assert mc.options == ["passing a basketball", "dribbling a basketball", "dunking a basketball"]
    assert mc.answer == ["C"]
    option_n = recs["1034419625_action_caption_matching_0"]
    assert option_n.options == ["The man is dribbling a basketball.", "A man is dunking a basketball."]
    assert option_n.answer == ["B"]  # "Option 2: …"
    assert recs["1034419625_action_caption_matching_1"].answer == ["A"]  # "Sentence A: …"
    yes_no = recs["1034419625_direction_yes_no_0"]
    assert yes_no.options == ["yes", "no"]


def test_tempcompass_captioning_gold_follows_answer_not_mc_answer():
    rec = by_id(tempcompass.load(FIXTURES / "tempcompass"))["1034419625_action_captioning_0"]
    assert rec.answer == ["B"]  # answer "B. dunking a basketball"
    assert rec.meta["mc_answer"] == "A. dunking a basketball"  # a different letter for the same action
    assert rec.options[1] == "{'subject': 'man', 'action': 'dunking a basketball'}"
    assert rec.question.endswith("accordingly.\nGenerated Caption:") and "Information A" not in rec.question


# ----------------------------------------------------------------------------------------------------------
# Video-MME


def test_videomme_parquet_rows_become_four_option_records():
    result = videomme.load(FIXTURES / "videomme")
    recs = by_id(result)
    assert len(result.records) == 8 and not result.problems
    first = recs["001-1"]
    assert first.options == ["Apples.", "Candles.", "Berries.", "The three kinds are of the same number."]
    assert first.answer == ["C"] and first.video == "data/fFjv93ACGo8.mp4"
    assert first.meta["domain"] == "Knowledge" and first.meta["task_type"] == "Counting Problem"
    assert Counter(r.meta["category"] for r in result.records) == {"short": 6, "medium": 1, "long": 1}


def test_videomme_invalid_json_template_is_read():
    template = FIXTURES / "videomme" / "output_test_template.json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(template.read_text())  # the quirk: trailing commas
    result = videomme.load(template)
    assert [r.id for r in result.records][:3] == ["001-1", "001-2", "001-3"] and len(result.records) == 9
    assert by_id(result)["003-3"].answer == ["D"] and by_id(result)["003-3"].video is None
    assert "response" not in by_id(result)["001-1"].meta


def test_videomme_subtitles_are_attached_without_markup():
    recs = by_id(videomme.load(FIXTURES / "videomme", subtitles=True))
    assert recs["001-1"].meta["subtitles"] == [
        [0.0, 2.5, "CONSTRUCTED placeholder subtitle line one"],
        [2.5, 5.0, "CONSTRUCTED placeholder subtitle line two"],
    ]
    assert recs["002-1"].meta["subtitles"] == []


# ----------------------------------------------------------------------------------------------------------
# MMVU


def test_mmvu_keeps_multiple_choice_and_counts_open_ended():
    result = mmvu.load(FIXTURES / "mmvu" / "validation.json")
    assert [r.id for r in result.records] == ["validation_3", "validation_5"]
    assert result.skipped == {"open-ended": 2}
    rec = result.records[0]
    assert rec.options[1] == "Adiabatic compression" and len(rec.options) == 5 and rec.answer == ["B"]
    assert rec.video == "videos/Thermodynamics/0.mp4"
    assert rec.meta["category"] == "Thermodynamics" and result.records[1].meta["category"] == "Materials Science"


# ----------------------------------------------------------------------------------------------------------
# NExT-GQA / NExT-QA


def test_nextgqa_csv_gold_from_answer_text_with_grounding_spans():
    result = nextgqa.load(FIXTURES / "nextgqa" / "datasets" / "nextgqa" / "val.csv")
    recs = by_id(result)
    assert len(result.records) == 17 and not result.problems
    rec = recs["4882821564_1"]
    assert rec.answer == ["C"] and rec.options[2] == "unwrap it"
    assert rec.meta["glue"] == [[13.8, 29.8]] and rec.meta["duration"] == 90
    assert rec.video == "1104/4882821564.mp4"  # via map_vid_vidorID.json
    assert len(recs["2435100235_1"].meta["glue"]) == 4
    assert Counter(r.meta["category"] for r in result.records) == {"CW": 10, "TN": 4, "CH": 1, "TC": 2}


def test_nextgqa_json_and_csv_agree_on_every_question():
    csv_recs = by_id(nextgqa.load(FIXTURES / "nextgqa" / "datasets" / "nextgqa" / "val.csv"))
    json_recs = by_id(nextgqa.load(FIXTURES / "unified" / "evaluation" / "nextgqa_val.json"))
    assert csv_recs.keys() == json_recs.keys()
    for rid, rec in json_recs.items():
        other = csv_recs[rid]
        assert (rec.question, rec.options, rec.answer, rec.video) == (
            other.question,
            other.options,
            other.answer,
            other.video,
        )
        assert rec.meta["glue"] == other.meta["glue"] and rec.meta["category"] == other.meta["category"]


def test_nextgqa_reads_the_full_videochat_r1_val_file(shared):
    result = nextgqa.load(DATA / "nextgqa_val.json")
    assert len(result.records) == 3358 and not result.problems
    assert Counter(r.meta["category"] for r in result.records) == {
        "CW": 1474,
        "TN": 879,
        "CH": 481,
        "TC": 472,
        "TP": 52,
    }
    assert not validate_records(result.records)


def test_nextgqa_mixed_file_keeps_multi_answer_gold():
    rec = by_id(nextgqa.load(FIXTURES / "unified" / "evaluation" / "nextgqa_val_mixed.json"))["4882821564_1"]
    assert rec.options == ["unwrap it", "playing with toy train", "gesture something"]
    assert rec.answer == ["B", "C"] and rec.meta["is_negated"] is True


def test_nextqa_csv_answer_is_an_index():
    result = nextgqa.load_nextqa(FIXTURES / "nextqa" / "dataset" / "nextqa" / "test.csv")
    assert sorted(r.meta["category"] for r in result.records) == sorted(
        ["CW", "CH", "TN", "TC", "TP", "DC", "DL", "DO"]
    )
    recs = by_id(result)
    assert recs["2574374895_8"].answer == ["C"] and recs["9072405003_9"].answer == ["A"]
    assert all(r.source == "nextqa" and "glue" not in r.meta for r in result.records)


def test_nextqa_parquet_matches_csv():
    csv_recs = by_id(nextgqa.load_nextqa(FIXTURES / "nextqa" / "dataset" / "nextqa" / "test.csv"))
    pq_recs = by_id(
        nextgqa.load_nextqa(FIXTURES / "nextqa" / "lmms-lab_CONSTRUCTED" / "MC" / "test-00000-of-00001.parquet")
    )
    assert csv_recs.keys() == pq_recs.keys()
    assert all(csv_recs[k].answer == pq_recs[k].answer and csv_recs[k].options == pq_recs[k].options for k in csv_recs)


def test_nextgqa_forced_format_and_bad_format():
    assert len(nextgqa.load(FIXTURES / "nextgqa" / "datasets" / "nextgqa" / "test.csv", fmt="csv").records) == 13
    with pytest.raises(TwgrpoError, match="input format"):
        nextgqa.load(FIXTURES / "nextgqa", fmt="xml")


# ----------------------------------------------------------------------------------------------------------
# CLEVRER


def test_clevrer_counterfactual_default_with_multi_answer_gold():
    result = clevrer.load(FIXTURES / "clevrer" / "questions" / "validation.json")
    recs = by_id(result)
    assert list(recs) == ["12176_0", "11363_0"]
    assert recs["12176_0"].answer == ["A", "B"] and recs["12176_0"].is_multi_answer
    assert recs["11363_0"].answer == ["D"]
    assert recs["12176_0"].video == "video_validation/video_12176.mp4"
    assert result.skipped == {"descriptive (not selected)": 2}
    assert {r.meta["category"] for r in result.records} == {"counterfactual"}


def test_clevrer_all_types_skips_open_answers_and_reads_explanatory():
    result = clevrer.load(FIXTURES / "clevrer" / "questions" / "train.json", types=["all"])
    (rec,) = result.records
    assert rec.id == "4760_12" and rec.answer == ["C", "D"] and rec.meta["category"] == "explanatory"
    assert clevrer.load(FIXTURES / "clevrer", types=["all"]).skipped == {
        "descriptive (open answer, not multiple choice)": 2
    }


def test_clevrer_question_without_a_correct_choice_is_skipped(tmp_path):
    scenes = json.loads((FIXTURES / "clevrer" / "questions" / "validation.json").read_text())
    for choice in scenes[1]["questions"][0]["choices"]:
        choice["answer"] = "wrong"
    (tmp_path / "validation.json").write_text(json.dumps(scenes))
    result = clevrer.load(tmp_path)
    assert [r.id for r in result.records] == ["12176_0"] and result.skipped["no correct choice"] == 1


# ----------------------------------------------------------------------------------------------------------
# STAR


STAR_GOLD = {
    "Interaction_T1_2297": ["B"],
    "Sequence_T4_1391": ["A"],
    "Prediction_T1_843": ["A"],
    "Feasibility_T6_467": ["B"],
}


def test_star_official_layout_gold_from_answer_text():
    result = star.load(FIXTURES / "star" / "STAR_val.json")
    assert {r.id: r.answer for r in result.records} == STAR_GOLD
    rec = by_id(result)["Interaction_T1_2297"]
    assert rec.options == ["The clothes.", "The bag.", "The blanket.", "The pillow."]
    assert (rec.meta["start"], rec.meta["end"]) == (6.4, 11.3) and rec.video == "Charades_v1_480/MIV2M.mp4"
    assert {r.meta["category"] for r in result.records} == {"Interaction", "Sequence", "Prediction", "Feasibility"}


def test_star_homepage_layout_gives_the_same_records():
    homepage = star.load(FIXTURES / "star" / "homepage_data" / "selected_examples_keyframes_dict.json")
    assert homepage.records == star.load(FIXTURES / "star").records


def test_star_reads_twgrpo_unified_file():
    result = star.load(FIXTURES / "unified" / "evaluation" / "STAR.json")
    assert [r.answer for r in result.records][0] == ["B"] and {r.source for r in result.records} == {"star"}


# ----------------------------------------------------------------------------------------------------------
# shared behaviour


LOADERS = [
    (mvbench.load, FIXTURES / "mvbench"),
    (tempcompass.load, FIXTURES / "tempcompass"),
    (tempcompass.load, FIXTURES / "tempcompass" / "lmms-lab"),
    (videomme.load, FIXTURES / "videomme"),
    (videomme.load, FIXTURES / "videomme" / "output_test_template.json"),
    (mmvu.load, FIXTURES / "mmvu"),
    (nextgqa.load, FIXTURES / "nextgqa"),
    (nextgqa.load_nextqa, FIXTURES / "nextqa"),
    (clevrer.load, FIXTURES / "clevrer"),
    (star.load, FIXTURES / "star"),
]


@pytest.mark.parametrize("load,path", LOADERS, ids=[str(p.relative_to(FIXTURES)) for _, p in LOADERS])
def test_loader_output_passes_validation_with_unique_ids_and_categories(load, path):
    result = load(path)
    assert result.records
    assert not [p for p in validate_records(result.records) if p.severity == "error"]
    assert all(r.meta.get("category") for r in result.records)


@pytest.mark.parametrize("load", sorted({fn for fn, _ in LOADERS}, key=lambda f: f.__module__ + f.__name__))
def test_missing_path_is_a_clear_error(load, tmp_path):
    with pytest.raises(InputFormatError, match="no such file or folder"):
        load(tmp_path / "nope")


def test_invalid_json_names_the_file(tmp_path):
    bad = tmp_path / "validation.json"
    bad.write_text("[{")
    with pytest.raises(InputFormatError, match=r"validation.json: invalid JSON at line 1"):
        mmvu.load(bad)
