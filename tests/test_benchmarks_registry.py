"""The benchmark registry: detection, routing of unified files, categories, and finding each record's video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paths import FIXTURES, VIDEOS

from twgrpo_data.benchmarks import (
    BENCHMARKS,
    check_record_videos,
    detect_benchmark,
    list_benchmarks,
    load_benchmark,
    locate_video,
)
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.writers import write_records

UNIFIED = FIXTURES / "unified" / "evaluation"


def test_registry_lists_every_benchmark_with_the_same_interface():
    assert list_benchmarks() == [
        "mvbench",
        "tempcompass",
        "videomme",
        "mmvu",
        "nextgqa",
        "nextqa",
        "clevrer",
        "star",
        "unified",
    ]
    for name, module in BENCHMARKS.items():
        assert module.NAME == name and module.DEFAULT_PATH and module.DESCRIPTION
        assert callable(module.load) and callable(module.categories) and callable(module.detect)


DETECT = {
    "mvbench": "mvbench",
    "mvbench/json/action_antonym.json": "mvbench",
    "tempcompass": "tempcompass",
    "tempcompass/lmms-lab": "tempcompass",
    "tempcompass/lmms-lab/yes_no/test-00000-of-00001.parquet": "tempcompass",
    "videomme": "videomme",
    "videomme/output_test_template.json": "videomme",
    "mmvu": "mmvu",
    "mmvu/validation.json": "mmvu",
    "nextgqa": "nextgqa",
    "nextgqa/datasets/nextgqa/test.csv": "nextgqa",
    "nextqa": "nextqa",
    "nextqa/dataset/nextqa/val.csv": "nextqa",
    "nextqa/lmms-lab_CONSTRUCTED": "nextqa",
    "clevrer": "clevrer",
    "star": "star",
    "star/homepage_data/selected_examples_keyframes_dict.json": "star",
    "unified/evaluation/eval_mvbench.json": "unified",
    "unified/evaluation/eval_mmvu.json": "unified",
    "unified/evaluation/nextgqa_val.json": "nextgqa",
    "unified/evaluation/STAR.json": "star",
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
    assert [r.meta["category"] for r in mv.records] == [
        "action_antonym",
        "action_localization",
        "action_sequence",
        "counterfactual_inference",
        "episodic_reasoning",
        "fine_grained_pose",
    ]
    mmvu = load_benchmark("unified", UNIFIED / "eval_mmvu.json")
    assert [r.meta["category"] for r in mmvu.records] == ["Chemistry", "Thermodynamics", "Materials Science"]
    tc = load_benchmark("tempcompass", UNIFIED / "eval_tempcompass.json")
    assert [r.meta["task_type"] for r in tc.records] == [
        "caption_matching",
        "captioning",
        "multi-choice",
        "yes_no",
        "yes_no",
    ]
    assert {r.meta["category"] for r in tc.records} == {"action", "direction"}
    assert {r.meta["category"] for r in load_benchmark("videomme", UNIFIED / "eval_videomme.json").records} == {"short"}


def test_unified_mvbench_answers_match_the_native_loader():
    native = {
        (r.meta["task"], r.meta["video_name"]): r for r in load_benchmark("mvbench", FIXTURES / "mvbench").records
    }
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
    assert ref.sample(frames=4).num_frames == 4


def _tempcompass_root(tmp_path: Path) -> Path:
    (tmp_path / "videos").mkdir()
    shutil.copy(VIDEOS / "video1.mp4", tmp_path / "videos" / "1034419625.mp4")
    data = (VIDEOS / "video1.mp4").read_bytes()
    (tmp_path / "videos" / "1034419625_reverse.mp4").write_bytes(data[: len(data) // 3])
    return tmp_path


def test_check_record_videos_reports_each_record_of_a_broken_video(tmp_path):
    recs = load_benchmark("tempcompass", FIXTURES / "tempcompass").records
    calls = []
    problems = check_record_videos(
        recs, _tempcompass_root(tmp_path), file="tc.json", progress=lambda done, total: calls.append((done, total))
    )
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


# ----------------------------------------------------------------------------------------------------------
# adding a benchmark: one module + one registry line (issue 13.2)

TOY_MODULE = '''
"""Toy benchmark: a JSON list of {"qid", "q", "choices", "gold"} items."""
import json
from pathlib import Path

from twgrpo_data.benchmarks.facts import HubSource, Source
from twgrpo_data.benchmarks.loading import collect, existing, finish
from twgrpo_data.record import Record

NAME = "toybench"
DESCRIPTION = "Toy: toy.json"
DEFAULT_PATH = "Toy/toy.json"
DEFAULT_SPLIT = "test"
PROMPT_STYLE = "clevrer"
READS_INTERCHANGE = False
SIGNATURES = (("toy_kind",),)
SOURCE = Source(name="ToyBench", license="cc-by-sa-4.0", license_note="CC BY-SA 4.0", redistribution="allowed",
                homepage="https://example.org/toy", hub_id="toy-org/ToyBench", videos="none", citation="@misc{toy}")
HUB = HubSource("toy-org/ToyBench", annotations=("toy.json",), data_path="toy.json")


def _convert(index, raw):
    return Record(id=raw["qid"], question=raw["q"], options=raw["choices"], answer=[raw["gold"]], source=NAME,
                  meta={"category": raw["kind"], "toy_kind": raw["kind"]})


def load(path=DEFAULT_PATH):
    root = existing(path)
    part = collect(enumerate(json.loads(root.read_text())), _convert, file=str(root))
    return finish([(*part, str(root))], root)


def categories(record):
    return {"category": record.meta.get("toy_kind")}


def detect(path):
    return Path(path).name == "toy.json"
'''


def test_a_toy_benchmark_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    import importlib.util

    from twgrpo_data.benchmarks import guess_from_name, prompt_style, source_table
    from twgrpo_data.benchmarks.registry import NATIVE
    from twgrpo_data.hub import cards
    from twgrpo_data.hub.publish import publish
    from twgrpo_data.sources import input_formats, open_input

    (tmp_path / "toybench.py").write_text(TOY_MODULE)
    spec = importlib.util.spec_from_file_location("toybench", tmp_path / "toybench.py")
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    monkeypatch.setitem(NATIVE, toy.NAME, toy)  # the registry line

    data = tmp_path / "toy.json"
    data.write_text(json.dumps([{"qid": "t1", "q": "which?", "choices": ["x", "y"], "gold": "B", "kind": "k1"}]))
    assert "toybench" in list_benchmarks() and detect_benchmark(data) == "toybench"
    assert load_benchmark("toybench", data).records[0].meta["category"] == "k1"
    assert source_table()["toybench"].name == "ToyBench"
    assert guess_from_name("eval_toybench.json") == "toybench"
    assert "toybench" in input_formats()
    assert prompt_style("toybench") == "clevrer"
    # a unified copy without `source` is still recognised by its fields, for the card and the licence gate
    write_records(load_benchmark("toybench", data).records, tmp_path / "copy.json")
    copy = open_input(tmp_path / "copy.json").raise_or_skip(False).records
    assert cards.record_source(copy[0].replace(source="")) == "toybench"
    result = publish(tmp_path / "copy.json", "me/toy", dry_run=True, out=tmp_path / "p")
    card = (tmp_path / "p" / "README.md").read_text()
    assert result.warnings == [] and "license: cc-by-sa-4.0" in card and "- toy-org/ToyBench" in card
