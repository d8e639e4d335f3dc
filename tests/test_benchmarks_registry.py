"""The benchmark registry: detection, routing of unified files, categories, and finding each record's video."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, VIDEOS
from twgrpo_data.benchmarks import (BENCHMARKS, check_record_videos, detect_benchmark, list_benchmarks,
                                    load_benchmark, locate_video)
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.formats import write_records

UNIFIED = FIXTURES / "unified" / "evaluation"


def test_registry_lists_every_benchmark_with_the_same_interface():
    assert list_benchmarks() == ["mvbench", "tempcompass", "videomme", "mmvu", "nextgqa", "nextqa", "clevrer",
                                 "star", "unified"]
    for name, module in BENCHMARKS.items():
        assert module.NAME == name and module.DEFAULT_PATH and module.DESCRIPTION
        assert callable(module.load) and callable(module.categories) and callable(module.detect)


DETECT = {
    "mvbench": "mvbench", "mvbench/json/action_antonym.json": "mvbench",
    "tempcompass": "tempcompass", "tempcompass/lmms-lab": "tempcompass",
    "tempcompass/lmms-lab/yes_no/test-00000-of-00001.parquet": "tempcompass",
    "videomme": "videomme", "videomme/output_test_template.json": "videomme",
    "mmvu": "mmvu", "mmvu/validation.json": "mmvu",
    "nextgqa": "nextgqa", "nextgqa/datasets/nextgqa/test.csv": "nextgqa",
    "nextqa": "nextqa", "nextqa/dataset/nextqa/val.csv": "nextqa", "nextqa/lmms-lab_CONSTRUCTED": "nextqa",
    "clevrer": "clevrer", "star": "star", "star/homepage_data/selected_examples_keyframes_dict.json": "star",
    "unified/evaluation/eval_mvbench.json": "unified", "unified/evaluation/eval_mmvu.json": "unified",
    "unified/evaluation/nextgqa_val.json": "nextgqa", "unified/evaluation/STAR.json": "star",
    "unified/CLEVRER/clevrer_counterfactual_val.json": "unified",
}


@pytest.mark.parametrize("rel,name", DETECT.items(), ids=list(DETECT))
def test_detect_benchmark_sniffs_native_layouts(rel, name):
    assert detect_benchmark(FIXTURES / rel) == name


def test_detect_benchmark_unknown_is_none(tmp_path):
    (tmp_path / "x.json").write_text('[{"foo": 1}]')
    assert detect_benchmark(tmp_path / "x.json") is None and detect_benchmark(tmp_path / "missing") is None


def test_unified_eval_files_get_each_benchmarks_categories():
    mv = load_benchmark("mvbench", UNIFIED / "eval_mvbench.json")  # problem_id 1, 401, … → alphabetical tasks
    assert [r.meta["category"] for r in mv.records] == ["action_antonym", "action_localization", "action_sequence",
                                                        "counterfactual_inference", "episodic_reasoning",
                                                        "fine_grained_pose"]
    mmvu = load_benchmark("unified", UNIFIED / "eval_mmvu.json")
    assert [r.meta["category"] for r in mmvu.records] == ["Chemistry", "Thermodynamics", "Materials Science"]
    tc = load_benchmark("tempcompass", UNIFIED / "eval_tempcompass.json")
    assert [r.meta["task_type"] for r in tc.records] == ["caption_matching", "captioning", "multi-choice",
                                                         "yes_no", "yes_no"]
    assert {r.meta["category"] for r in tc.records} == {"action", "direction"}
    assert {r.meta["category"] for r in load_benchmark("videomme", UNIFIED / "eval_videomme.json").records} == {
        "short"}


def test_unified_mvbench_answers_match_the_native_loader():
    native = {(r.meta["task"], r.meta["video_name"]): r for r in load_benchmark("mvbench", FIXTURES / "mvbench").records}
    for rec in load_benchmark("mvbench", UNIFIED / "eval_mvbench.json").records:
        twin = native[(rec.meta["task"], rec.meta["ori_video"])]
        assert (rec.options, rec.answer) == (twin.options, twin.answer)


def test_records_written_by_twgrpo_load_back_identically(tmp_path):
    original = load_benchmark("clevrer", FIXTURES / "clevrer").records
    write_records(original, tmp_path / "c.jsonl")
    assert load_benchmark("clevrer", tmp_path / "c.jsonl").records == original


def test_load_benchmark_rejects_unknown_names_and_options():
    with pytest.raises(TwgrpoError, match="unknown benchmark 'mvbenchh'"):
        load_benchmark("mvbenchh", FIXTURES / "mvbench")
    with pytest.raises(TwgrpoError, match=r"mmvu has no option\(s\) \['types'\]"):
        load_benchmark("mmvu", FIXTURES / "mmvu", types=["x"])


# ----------------------------------------------------------------------------------------------------------
# videos


def _mvbench(rid: str):
    return next(r for r in load_benchmark("mvbench", FIXTURES / "mvbench").records if r.id == rid)


def test_locate_video_applies_clip_bounds_to_full_videos(tmp_path):
    rec = _mvbench("action_sequence_0")
    full = tmp_path / "star" / "Charades_v1_480" / "ZS9XR.mp4"
    full.parent.mkdir(parents=True)
    shutil.copy(VIDEOS / "clevrer_8.mp4", full)
    ref = locate_video(rec, tmp_path)
    assert (ref.path, ref.start, ref.end) == (str(full), 1.5, 17.1)


def test_locate_video_drops_bounds_for_pre_cut_segments(tmp_path):
    rec = _mvbench("action_sequence_0")
    segment = tmp_path / "star" / "Charades_segment" / "ZS9XR.mp4"
    segment.parent.mkdir(parents=True)
    shutil.copy(VIDEOS / "clevrer_8.mp4", segment)
    ref = locate_video(rec, tmp_path)
    assert (ref.path, ref.start, ref.end) == (str(segment), None, None)


def test_locate_video_reads_tvqa_frame_folders_at_3_fps(tmp_path):
    rec = _mvbench("episodic_reasoning_0")
    folder = tmp_path / "tvqa" / "frames_fps3_hq" / "castle_s07e04_seg02_clip_14"
    folder.mkdir(parents=True)
    ref = locate_video(rec, tmp_path)
    assert (ref.path, ref.frame_fps, ref.end) == (str(folder), 3.0, 38.32)


def test_locate_video_finds_clevrer_per_thousand_folders(tmp_path):
    rec = load_benchmark("clevrer", FIXTURES / "clevrer").records[0]
    target = tmp_path / "video_validation" / "video_12000-13000" / "video_12176.mp4"
    target.parent.mkdir(parents=True)
    shutil.copy(VIDEOS / "video_12176.mp4", target)
    ref = locate_video(rec, tmp_path)
    assert ref.path == str(target)
    assert ref.sample(num_frames=4).num_frames == 4


def _tempcompass_root(tmp_path: Path) -> Path:
    (tmp_path / "videos").mkdir()
    shutil.copy(VIDEOS / "video1.mp4", tmp_path / "videos" / "1034419625.mp4")
    data = (VIDEOS / "video1.mp4").read_bytes()
    (tmp_path / "videos" / "1034419625_reverse.mp4").write_bytes(data[: len(data) // 3])
    return tmp_path


def test_check_record_videos_reports_each_record_of_a_broken_video(tmp_path):
    recs = load_benchmark("tempcompass", FIXTURES / "tempcompass").records
    calls = []
    problems = check_record_videos(recs, _tempcompass_root(tmp_path), file="tc.json",
                                   progress=lambda done, total: calls.append((done, total)))
    broken = [r.id for r in recs if r.meta["video_id"] == "1034419625_reverse"]
    assert [p.record_id for p in problems] == broken
    assert all(p.field == "video" and "1034419625_reverse.mp4: unreadable video" in p.message for p in problems)
    assert calls[-1] == (2, 2)  # two distinct videos, each checked once


def test_check_record_videos_names_known_mvbench_gaps(tmp_path):
    recs = load_benchmark("mvbench", FIXTURES / "mvbench").records
    problems = {p.record_id: p.message for p in check_record_videos(recs, tmp_path)}
    assert len(problems) == len(recs)
    assert "NTU RGB+D videos were removed" in problems["fine_grained_pose_0"]
    assert "no such video file" in problems["fine_grained_pose_0"]
    assert ".webm" in problems["action_antonym_0"]


def test_check_record_videos_accepts_the_real_clevrer_video():
    rec = load_benchmark("clevrer", FIXTURES / "clevrer").records[0]  # video_12176.mp4 is in ../shared
    assert check_record_videos([rec], VIDEOS) == []


def test_record_without_video_is_a_warning():
    rec = load_benchmark("videomme", FIXTURES / "videomme" / "output_test_template.json").records[0]
    (problem,) = check_record_videos([rec], VIDEOS)
    assert problem.severity == "warning" and "has no video" in problem.message
