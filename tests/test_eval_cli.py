"""`twgrpo eval` end to end, as a user runs it: the tiny random Qwen2.5-VL, the transformers backend and the
real videos in ../shared/data/videos; `rescore` reproduces results.json; a killed run resumes; `compare`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, VIDEOS
from eval_helpers import AnswerKey, run_with, text_records, write_set
from twgrpo_data.formats import read_records, record_to_unified
from twgrpo_data.record import Record
from twgrpo_eval.prompts import build_prompt

TWGRPO = str(Path(sys.executable).with_name("twgrpo"))
# A few frames at a tiny pixel budget and short answers keep each run to seconds on a CPU.
FAST = ["--backend", "transformers", "--frames", "4", "--min-pixels", "3136", "--max-pixels", "12544",
        "--max-new-tokens", "8", "--video-root", str(VIDEOS), "--no-progress"]


def _twgrpo(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([TWGRPO, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"twgrpo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def _metrics(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("file", "run", "parser_reason")}


def _ids(run: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (run / "samples.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_eval_on_the_example_set_is_reproduced_by_rescore(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    _twgrpo("eval", "--bench", "mmvu", "--data", "examples/eval_sample.json", "--model", str(tiny_model_dir),
            "--out", str(run), *FAST)
    results = json.loads((run / "results.json").read_text())
    rescored = json.loads(_twgrpo("eval", "rescore", str(run / "samples.jsonl"), "--json").stdout)
    assert _metrics(results) == _metrics(rescored)
    assert results["n"] == 6 and results["single"]["n"] == 4 and results["multi"]["n"] == 2
    assert set(results["by_category"]) == {"Mechanics", "Scenes", "CLEVRER"}
    lines = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert all(line["error"] is None and line["frames"] == 4 and line["fps"] > 0 for line in lines)
    config = json.loads((run / "config.json").read_text())
    assert config["prompt"] == "clevrer"  # the set has multi-answer items
    assert config["model"] == str(tiny_model_dir)
    assert config["sessions"][0]["backend"]["model_class"] == "Qwen2_5_VLForConditionalGeneration"


@pytest.mark.slow
def test_clevrer_style_multi_answer_set(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    proc = _twgrpo("eval", "--bench", "clevrer", "--data", "examples/eval_clevrer_sample.json", "--model",
                   str(tiny_model_dir), "--out", str(run), *FAST)
    assert "multi-answer" in proc.stdout and "accuracy" in proc.stdout
    results = json.loads((run / "results.json").read_text())
    assert (results["single"]["n"], results["multi"]["n"]) == (1, 2)
    records = {r.id: r for r in read_records(REPO / "examples" / "eval_clevrer_sample.json").records}
    for line in (run / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["prompt_hash"] == build_prompt(records[row["id"]], "clevrer").hash
        assert row["gold"] == records[row["id"]].answer


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results_without_duplicates(tiny_model_dir, tmp_path):
    videos = ["clevrer_8.mp4", "video1.mp4", "video_12176.mp4"]
    records = [Record(f"k{i}", f"Question number {i}?", ["left", "right", "up", "down"],
                      ["A", "C"] if i % 4 == 0 else [chr(65 + i % 4)], video=videos[i % 3], source="mmvu")
               for i in range(14)]
    data = tmp_path / "set.json"
    data.write_text(json.dumps([record_to_unified(r) for r in records]))
    args = ["eval", "--bench", "mmvu", "--data", str(data), "--model", str(tiny_model_dir), *FAST,
            "--batch-size", "2"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([TWGRPO, *args, "--out", str(killed)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    samples = killed / "samples.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _ids(killed)
    assert 2 <= len(partial) < len(records), "the run should have been killed part-way"
    assert not (killed / "results.json").exists()
    _twgrpo(*args, "--out", str(killed))
    ids = _ids(killed)
    assert sorted(ids) == sorted(r.id for r in records)  # each id once: nothing redone, nothing lost
    assert ids[: len(partial)] == partial
    fresh = tmp_path / "fresh"
    _twgrpo(*args, "--out", str(fresh))
    resumed_results = json.loads((killed / "results.json").read_text())
    assert _metrics(resumed_results) == _metrics(json.loads((fresh / "results.json").read_text()))
    by_id = {json.loads(line)["id"]: json.loads(line) for line in (fresh / "samples.jsonl").read_text().splitlines()}
    for line in (killed / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert (row["output"], row["prompt_hash"], row["fps"]) == (by_id[row["id"]]["output"],
                                                                  by_id[row["id"]]["prompt_hash"],
                                                                  by_id[row["id"]]["fps"])
    assert len(json.loads((killed / "config.json").read_text())["sessions"]) == 2


def test_compare_prints_runs_side_by_side_and_plots(tmp_path):
    records = text_records(6)
    data = write_set(tmp_path / "set.json", records)
    good = AnswerKey({r.id: ",".join(r.answer) for r in records})
    half = AnswerKey({r.id: r.answer[0] for r in records})  # only the first letter of multi-answer golds
    run_with(tmp_path / "a", data, good)
    run_with(tmp_path / "b", data, half)
    runs = [str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")]
    png = tmp_path / "cmp.png"
    proc = _twgrpo("eval", "compare", *runs, "--plot", str(png), env={"COLUMNS": "160"})
    assert "a/run" in proc.stdout and "b/run" in proc.stdout  # same folder names, told apart by their parents
    row = next(line for line in proc.stdout.splitlines() if "multi-answer (n=2)" in line)
    assert [cell.split(" [")[0].strip() for cell in row.split("│")[2:6]] == ["100.00", "100.00", "0.00", "50.00"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(_twgrpo("eval", "compare", *runs, "--json").stdout)
    assert data["a/run"]["accuracy"] == 100.0 and data["b/run"]["multi"]["soft_accuracy"] == 50.0


def test_eval_errors_are_one_line(tmp_path):
    proc = _twgrpo("eval", "--bench", "mmvu", "--model", "m", "--data", str(tmp_path / "none.json"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'none.json'}: no such file or folder"]
    proc = _twgrpo("eval", "compare", str(tmp_path), check=False)
    assert proc.returncode == 1 and "no results.json" in proc.stderr
    proc = _twgrpo("eval", "--bench", "mmvu", "--model", "m", "--backend", "openai", "--tp", "2", check=False)
    assert proc.returncode == 2 and "only for --backend vllm" in proc.stderr
