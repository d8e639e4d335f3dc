"""`twgrpo data load` on every benchmark fixture, and `twgrpo data validate --video-root`."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_helpers import run_cli
from paths import FIXTURES, VIDEOS

FIXTURE_OF = {
    "mvbench": FIXTURES / "mvbench",
    "tempcompass": FIXTURES / "tempcompass",
    "videomme": FIXTURES / "videomme",
    "mmvu": FIXTURES / "mmvu" / "validation.json",
    "nextgqa": FIXTURES / "nextgqa",
    "nextqa": FIXTURES / "nextqa",
    "clevrer": FIXTURES / "clevrer",
    "star": FIXTURES / "star" / "STAR_val.json",
    "unified": FIXTURES / "unified" / "evaluation" / "eval_mvbench.json",
}


@pytest.mark.parametrize("name", FIXTURE_OF)
def test_load_writes_records_that_validate(name, tmp_path):
    out = tmp_path / f"{name}.json"
    loaded = run_cli("data", "load", "--bench", name, str(FIXTURE_OF[name]), "-o", str(out), "--json")
    assert loaded.code == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert summary["records"] > 0 and summary["output_format"] == "unified"
    assert "None" not in summary["categories"] or name == "unified"
    checked = run_cli("data", "validate", str(out), "--json")
    assert checked.code == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert (report["records"], report["errors"]) == (summary["records"], 0)


def test_load_mmvu_reports_skipped_open_ended():
    out = run_cli("data", "load", "--bench", "mmvu", str(FIXTURE_OF["mmvu"]))
    assert out.code == 0, out.stderr
    assert "skipped 2: open-ended" in out.stdout and "Thermodynamics" in out.stdout


def test_load_detects_the_benchmark_and_passes_options(tmp_path):
    result = run_cli("data", "load", str(FIXTURES / "clevrer"), "--types", "all", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["benchmark"] == "clevrer" and summary["multi_answer"] == 1
    assert summary["skipped"] == {"descriptive (open answer, not multiple choice)": 2}


def test_load_help_lists_names_and_default_paths():
    out = run_cli("data", "load", "--help").stdout
    for name in FIXTURE_OF:
        assert name in out
    assert "MVBench/json" in out and "Example: twgrpo data load" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--bench", "mmvu", str(FIXTURE_OF["mmvu"]), "--types", "x"], "--types does not apply to mmvu"),
        (["--bench", "nope", str(FIXTURE_OF["mmvu"])], "unknown benchmark 'nope'"),
        ([str(FIXTURES)], "cannot tell which benchmark"),
    ],
)
def test_load_user_errors_are_one_line(args, message):
    out = run_cli("data", "load", *args)
    assert out.code == 1 and message in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_validate_video_root_lists_missing_and_unreadable_videos(tmp_path):
    data = tmp_path / "tc.jsonl"
    assert run_cli("data", "load", str(FIXTURES / "tempcompass"), "-o", str(data)).code == 0
    root = tmp_path / "TempCompass"
    (root / "videos").mkdir(parents=True)
    shutil.copy(VIDEOS / "video1.mp4", root / "videos" / "1034419625.mp4")
    (root / "videos" / "1034419625_reverse.mp4").write_bytes(b"\x00" * 4096)
    out = run_cli("data", "validate", str(data), "--video-root", str(root))
    assert out.code == 1 and "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    # the 16 questions on the reversed video: one line (issue 32.4), and `--json` lists each
    assert len(lines) == 1 and lines[0].startswith("error: 16 records (1 file): …: unreadable video")
    assert "field 'video'" in lines[0] and "1034419625_reverse.mp4: unreadable video" in lines[0]
    listed = json.loads(run_cli("data", "validate", str(data), "--video-root", str(root), "--json").stdout)
    assert len([p for p in listed["problems"] if "1034419625_reverse.mp4: unreadable video" in p["message"]]) == 16


def test_validate_video_root_names_mvbench_known_gaps(tmp_path):
    data = tmp_path / "mvb.json"
    assert run_cli("data", "load", str(FIXTURES / "mvbench"), "-o", str(data)).code == 0
    result = run_cli("data", "validate", str(data), "--video-root", str(tmp_path), "--json")
    assert result.code == 1
    problems = [p for p in json.loads(result.stdout)["problems"] if p["field"] == "video"]
    assert len(problems) == 14
    ntu = [p["message"] for p in problems if p["id"].startswith("fine_grained_pose")]
    assert len(ntu) == 2 and all("NTU RGB+D videos were removed" in m for m in ntu)


def test_load_invalid_item_fails_in_one_line_unless_skipped(tmp_path):
    items = json.loads((FIXTURES / "mvbench" / "json" / "action_antonym.json").read_text())
    items[0]["answer"] = "Juggling"
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "action_antonym.json").write_text(json.dumps(items))
    out = run_cli("data", "load", "--bench", "mvbench", str(tmp_path))
    assert out.code == 1 and out.stderr.count("\n") == 1
    assert (
        "action_antonym.json: record 0 (id 'action_antonym_0'), field 'answer'" in out.stderr
        and "--skip-invalid" in out.stderr
    )
    kept = run_cli("data", "load", "--bench", "mvbench", str(tmp_path), "--skip-invalid", "--json")
    assert kept.code == 0 and json.loads(kept.stdout)["records"] == 1
