"""The eval run: scoring, results.json = re-score of samples.jsonl, resume without double counting, per-item
failures (missing/corrupt video, backend errors) and config.json. The model is an answer key here (a backend
that answers instantly from a table) so that the expected numbers are known; test_eval_cli.py runs the real
tiny model through the command line."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import VIDEOS
from eval_helpers import AnswerKey, metrics, run_with, text_records, write_set
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.record import Record
from twgrpo_eval.rescore import rescore_log
from twgrpo_eval.runner import read_samples

def test_results_are_the_rescore_of_samples_with_known_numbers(tmp_path):
    records = [Record("a", "q?", ["x", "y"], ["A"], source="mmvu", meta={"category": "k1"}),
               Record("b", "q?", ["x", "y", "z"], ["A", "B"], source="mmvu", meta={"category": "k1"}),
               Record("c", "q?", ["x", "y", "z"], ["B"], source="mmvu", meta={"category": "k2"}),
               Record("d", "q?", ["x", "y", "z"], ["B", "C"], source="mmvu", meta={"category": "k2"})]
    data = write_set(tmp_path / "set.json", records)
    results = run_with(tmp_path, data, AnswerKey({"a": "A", "b": "A", "c": "C", "d": "C, B"}))
    assert results["accuracy"] == 50.0 and results["soft_accuracy"] == 62.5
    assert results["single"]["n"] == 2 and results["multi"]["soft_accuracy"] == 75.0
    assert results["by_category"]["k1"]["soft_accuracy"] == 75.0
    assert results["format_rate"] == 100.0 and results["n_failed"] == 0
    assert metrics(results) == metrics(rescore_log(tmp_path / "run" / "samples.jsonl").summary())
    assert results["run"]["complete"] is True and results["run"]["prompt"] == "clevrer"  # multi-answer set
    line = read_samples(tmp_path / "run" / "samples.jsonl")["d"]
    assert (line["parsed"], line["soft"], line["strict"], line["gold"]) == ("C, B", 1.0, 1.0, ["B", "C"])


def test_rescore_uses_the_parser_the_run_used(tmp_path):
    records = [Record("a", "q?", ["x", "y"], ["A"], source="mmvu"), Record("b", "q?", ["x", "y"], ["B"], source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    results = run_with(tmp_path, data, AnswerKey({"a": "(A)", "b": "b."}), parser="lenient")
    assert results["accuracy"] == 100.0  # "(A)" and "b." count only under the lenient parser
    assert metrics(results) == metrics(rescore_log(tmp_path / "run" / "samples.jsonl").summary())
    assert rescore_log(tmp_path / "run" / "samples.jsonl", "twgrpo").summary()["accuracy"] == 0.0


def test_missing_and_corrupt_videos_fail_their_items_only(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    shutil.copy(VIDEOS / "clevrer_8.mp4", tmp_path / "ok.mp4")
    records = [Record("ok1", "q?", ["x", "y"], ["A"], video="ok.mp4", source="mmvu"),
               Record("missing", "q?", ["x", "y"], ["A"], video="nowhere/missing.mp4", source="mmvu"),
               Record("corrupt", "q?", ["x", "y"], ["A"], video="corrupt.mp4", source="mmvu"),
               Record("ok2", "q?", ["x", "y"], ["B"], video="ok.mp4", source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({r.id: r.answer[0] for r in records})
    results = run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=4)
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    assert results["n"] == 4 and results["n_failed"] == 2 and results["accuracy"] == 50.0
    assert lines["missing"]["error"].startswith("video: ") and "missing.mp4: no such video file" in lines["missing"]["error"]
    assert "corrupt.mp4" in lines["corrupt"]["error"]
    assert key.seen == [["ok1", "ok2"]]  # failed videos never reach the model; the rest share one batch
    assert lines["ok1"]["frames"] == 4 and lines["ok1"]["fps"] > 0 and lines["ok1"]["error"] is None


def test_the_model_is_told_the_real_sampling_rate_unless_overridden(tmp_path):
    records = [Record("v", "q?", ["x", "y"], ["A"], video="video_12176.mp4", source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    real = AnswerKey({"v": "A"})
    run_with(tmp_path / "real", data, real, video_root=str(VIDEOS))
    assert real.fps["v"] == pytest.approx(4 / (128 / 25.0))  # 4 frames over the 128-frame, 25 fps clip
    told = AnswerKey({"v": "A"})
    run_with(tmp_path / "told", data, told, video_root=str(VIDEOS), model_fps=2.0)  # TW-GRPO's implicit 2 fps
    assert told.fps["v"] == 2.0
    assert read_samples(tmp_path / "told" / "run" / "samples.jsonl")["v"]["fps"] == pytest.approx(real.fps["v"])


def test_interrupted_run_resumes_without_counting_anything_twice(tmp_path):
    records = text_records(10)
    data = write_set(tmp_path / "set.json", records)
    answers = {r.id: ("A" if i % 2 else "B") for i, r in enumerate(records)}
    with pytest.raises(KeyboardInterrupt):
        run_with(tmp_path, data, AnswerKey(answers, interrupt_at_call=3), batch_size=3)
    done = read_samples(tmp_path / "run" / "samples.jsonl")
    assert list(done) == ["q0", "q1", "q2", "q3", "q4", "q5"]  # two batches saved, the one in flight lost
    second = AnswerKey(answers)
    resumed = run_with(tmp_path, data, second, batch_size=3)
    assert [i for batch in second.seen for i in batch] == ["q6", "q7", "q8", "q9"]
    ids = [json.loads(line)["id"] for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(r.id for r in records)  # every id exactly once
    fresh = run_with(tmp_path / "fresh", data, AnswerKey(answers), batch_size=3)
    assert metrics(resumed) == metrics({**fresh, "file": None})
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert [s["pending"] for s in config["sessions"]] == [10, 4]


def test_failed_items_are_retried_on_resume_and_the_last_line_wins(tmp_path):
    shutil.copy(VIDEOS / "clevrer_8.mp4", tmp_path / "ok.mp4")
    records = [Record("w", "q?", ["x", "y"], ["A"], video="ok.mp4", source="mmvu"),
               Record("v", "q?", ["x", "y"], ["A"], video="late.mp4", source="mmvu"),
               Record("t", "q?", ["x", "y"], ["B"], source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    answers = {"w": "A", "v": "A", "t": "B"}
    first = run_with(tmp_path, data, AnswerKey(answers), video_root=str(tmp_path))
    assert first["n_failed"] == 1 and first["accuracy"] == pytest.approx(200 / 3, abs=1e-3)
    shutil.copy(VIDEOS / "video_12176.mp4", tmp_path / "late.mp4")  # the user fetches the missing video
    again = AnswerKey(answers)
    second = run_with(tmp_path, data, again, video_root=str(tmp_path))
    assert again.seen == [["v"]]
    assert second["n_failed"] == 0 and second["accuracy"] == 100.0 and second["duplicates_removed"] == 1


def test_a_line_cut_by_a_kill_is_dropped_and_redone(tmp_path):
    records = text_records(4)
    data = write_set(tmp_path / "set.json", records)
    answers = {r.id: "A" for r in records}
    run_with(tmp_path, data, AnswerKey(answers), limit=2)
    samples = tmp_path / "run" / "samples.jsonl"
    with samples.open("a") as fh:
        fh.write('{"id": "q2", "output": "<answer>A</ans')  # killed mid-write
    results = run_with(tmp_path, data, AnswerKey(answers))
    assert results["n"] == 4 and results["lines"] == 4
    assert all(json.loads(line) for line in samples.read_text().splitlines())


def test_resuming_with_another_protocol_is_refused(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(2))
    run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), max_new_tokens=64)
    with pytest.raises(TwgrpoError, match=r"max_new_tokens: 64 → 128"):
        run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), max_new_tokens=128)
    # speed settings may change between sessions
    run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), max_new_tokens=64, batch_size=1, workers=1)


def test_a_larger_limit_continues_but_a_smaller_selection_is_refused(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(4))
    key = AnswerKey({f"q{i}": "A" for i in range(4)})
    assert run_with(tmp_path, data, key, limit=2)["n"] == 2
    assert run_with(tmp_path, data, key, limit=4)["n"] == 4
    with pytest.raises(TwgrpoError, match=r"2 answered item\(s\) outside this selection"):
        run_with(tmp_path, data, key, limit=2)


class DiesAfterFirstCall(AnswerKey):
    """Answers the first batch, then the server goes away."""

    def _generate(self, requests):
        if self.seen:
            self.error = "connection refused"
        return super()._generate(requests)


def test_a_dead_backend_stops_the_run_after_the_first_batch_or_three_failed_batches(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(12))
    with pytest.raises(TwgrpoError, match=r"every item of the first batch \(2\) failed.*connection refused"):
        run_with(tmp_path, data, AnswerKey({}, error="connection refused"), batch_size=2)
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    assert len(lines) == 2 and all(line["error"] == "RuntimeError: connection refused" for line in lines.values())
    with pytest.raises(TwgrpoError, match="failed on every item of 3 batches in a row.*connection refused"):
        run_with(tmp_path / "later", data, DiesAfterFirstCall({f"q{i}": "A" for i in range(12)}), batch_size=2)
    lines = read_samples(tmp_path / "later" / "run" / "samples.jsonl")
    assert len(lines) == 8 and [line["error"] is None for line in lines.values()].count(True) == 2


def test_config_records_every_setting_used(tmp_path):
    data = write_set(tmp_path / "set.json", [Record("a", "q?", ["x", "y"], ["A"], source="mmvu")])
    run_with(tmp_path, data, AnswerKey({"a": "A"}), prompt="zeroshot", seed=7, sample_fps=2.0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["prompt"] == "zeroshot" and config["parser"] == "raw"  # TW-GRPO's zero-shot scorer
    assert (config["frames"], config["min_pixels"], config["max_pixels"]) == (4, 3136, 12544)
    assert (config["temperature"], config["top_p"], config["seed"]) == (0.1, 0.001, 7)
    assert config["data"] == str(data.resolve())
    assert config["prompt_template"]["template"].startswith("{Question} Answer with the option's letter")
    assert config["video_sampling"] == {"num_frames": None, "fps": 2.0, "min_frames": 4, "max_frames": 4,
                                        "min_pixels": 3136, "max_pixels": 12544}
    session = config["sessions"][0]
    assert session["versions"]["twgrpo"] and session["versions"]["python"]
    assert session["backend"]["name"] == "answer-key" and session["written"] == 1


def test_unknown_benchmark_and_bad_settings_are_user_errors(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(1))
    with pytest.raises(TwgrpoError, match="unknown benchmark 'mmvuu'"):
        run_with(tmp_path, data, AnswerKey({}), bench="mmvuu")
    with pytest.raises(TwgrpoError, match="--max-pixels"):
        run_with(tmp_path, data, AnswerKey({}), min_pixels=5000, max_pixels=4000)
