"""The eval run: scoring, results.json = re-score of samples.jsonl, resume without double counting, per-item
failures (missing/corrupt video, backend errors) and config.json. The model is an answer key here (a backend
that answers instantly from a table) so that the expected numbers are known; test_eval_cli.py runs the real
tiny model through the command line."""

from __future__ import annotations

import json
import shutil

import pytest
from eval_helpers import AnswerKey, metrics, run_with, text_records, write_set
from paths import VIDEOS

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.record import Record
from twgrpo_eval.rescore import rescore_log
from twgrpo_eval.run_folder import read_samples


def test_results_are_the_rescore_of_samples_with_known_numbers(tmp_path):
    records = [
        Record("a", "q?", ["x", "y"], ["A"], source="mmvu", meta={"category": "k1"}),
        Record("b", "q?", ["x", "y", "z"], ["A", "B"], source="mmvu", meta={"category": "k1"}),
        Record("c", "q?", ["x", "y", "z"], ["B"], source="mmvu", meta={"category": "k2"}),
        Record("d", "q?", ["x", "y", "z"], ["B", "C"], source="mmvu", meta={"category": "k2"}),
    ]
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
    records = [
        Record("ok1", "q?", ["x", "y"], ["A"], video="ok.mp4", source="mmvu"),
        Record("missing", "q?", ["x", "y"], ["A"], video="nowhere/missing.mp4", source="mmvu"),
        Record("corrupt", "q?", ["x", "y"], ["A"], video="corrupt.mp4", source="mmvu"),
        Record("ok2", "q?", ["x", "y"], ["B"], video="ok.mp4", source="mmvu"),
    ]
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({r.id: r.answer[0] for r in records})
    results = run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=4)
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    assert results["n"] == 4 and results["n_failed"] == 2 and results["accuracy"] == 50.0
    assert (
        lines["missing"]["error"].startswith("video: ")
        and "missing.mp4: no such video file" in lines["missing"]["error"]
    )
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
    records = [
        Record("w", "q?", ["x", "y"], ["A"], video="ok.mp4", source="mmvu"),
        Record("v", "q?", ["x", "y"], ["A"], video="late.mp4", source="mmvu"),
        Record("t", "q?", ["x", "y"], ["B"], source="mmvu"),
    ]
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
    assert config["video_sampling"] == {
        "frames": None,
        "fps": 2.0,
        "min_frames": 4,
        "max_frames": 4,
        "min_pixels": 3136,
        "max_pixels": 12544,
    }
    session = config["sessions"][0]
    assert session["versions"]["twgrpo"] and session["versions"]["python"]
    assert session["backend"]["name"] == "answer-key" and session["written"] == 1


def test_unknown_benchmark_and_bad_settings_are_user_errors(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(1))
    with pytest.raises(TwgrpoError, match="unknown benchmark 'mmvuu'"):
        run_with(tmp_path, data, AnswerKey({}), bench="mmvuu")
    with pytest.raises(TwgrpoError, match="--max-pixels"):
        run_with(tmp_path, data, AnswerKey({}), min_pixels=5000, max_pixels=4000)


# ----------------------------------------------------------------------------------------------------------
# readable samples, protocol changes, locking, failed starts (issue 12.1, 12.5)


def test_sample_lines_say_what_was_asked_shown_answered_and_scored(tmp_path):
    records = [Record("v", "What moves?", ["the cube", "the ball"], ["B"], video="video_12176.mp4", source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    run_with(tmp_path, data, AnswerKey({"v": "B"}), video_root=str(VIDEOS))
    line = read_samples(tmp_path / "run" / "samples.jsonl")["v"]
    for key in (
        "id",
        "question",
        "options",
        "gold",
        "prompt_hash",
        "frame_indices",
        "frame_timestamps",
        "output",
        "parsed",
        "strict",
        "soft",
        "format",
        "error",
        "category",
    ):
        assert key in line, key
    assert (line["question"], line["options"], line["gold"]) == ("What moves?", ["the cube", "the ball"], ["B"])
    assert line["frame_indices"] == [0, 42, 85, 127] and line["frame_timestamps"][0] == 0.0
    assert (line["output"], line["parsed"], line["strict"]) == ("<think>checking</think><answer>B</answer>", "B", 1.0)
    prompts = json.loads((tmp_path / "run" / "prompts.json").read_text())
    assert list(prompts) == [line["template_hash"]]
    assert prompts[line["template_hash"]]["template"].startswith("{Question} Please think about this question")


def test_resume_notices_changed_data_content_not_its_path(tmp_path):
    records = text_records(3)
    data = write_set(tmp_path / "set.json", records)
    run_with(tmp_path, data, AnswerKey({r.id: "A" for r in records}))
    moved = write_set(tmp_path / "moved.json", records)  # same content elsewhere: resumes
    assert run_with(tmp_path, moved, AnswerKey({}))["n"] == 3
    corrected = [r.replace(answer=["B"]) if r.id == "q1" else r for r in records]
    write_set(data, corrected)
    with pytest.raises(TwgrpoError, match="data_fingerprint.*the data's content changed"):
        run_with(tmp_path, data, AnswerKey({r.id: "A" for r in records}))


def test_an_edited_prompt_template_is_a_protocol_change(tmp_path, monkeypatch):
    import twgrpo_eval.protocol as protocol

    data = write_set(tmp_path / "set.json", text_records(2))
    run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), prompt="cot")
    original = protocol.template_of
    monkeypatch.setattr(
        protocol,
        "template_of",
        lambda style: {**original(style), "template": original(style)["template"] + " Be brief."},
    )
    with pytest.raises(TwgrpoError, match="prompt_template_hash.*the prompt template changed"):
        run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), prompt="cot")


def test_a_second_run_on_a_locked_folder_stops_at_once(tmp_path):
    from filelock import FileLock

    data = write_set(tmp_path / "set.json", text_records(2))
    (tmp_path / "run").mkdir()
    with FileLock(str(tmp_path / "run" / ".lock")):
        with pytest.raises(TwgrpoError, match="is being written by another twgrpo eval"):
            run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}))
    assert not (tmp_path / "run" / "config.json").exists()
    assert run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}))["n"] == 2  # free again


def test_a_start_that_fails_leaves_no_folder_behind(tmp_path):
    data = write_set(tmp_path / "set.json", text_records(2))

    def broken(name, config):
        raise TwgrpoError("--backend transformers could not load 'nowhere': no such model")

    config_kw = dict(
        bench="mmvu",
        model="nowhere",
        backend="transformers",
        data=str(data),
        out=str(tmp_path / "run"),
        allow_text_only=True,
    )
    from twgrpo_eval.runner import EvalConfig, run_eval

    with pytest.raises(TwgrpoError, match="could not load"):
        run_eval(EvalConfig(**config_kw), backend_factory=broken)
    assert not (tmp_path / "run").exists()
    with pytest.raises(TwgrpoError, match="--backend: expected auto or one of"):
        run_eval(EvalConfig(**{**config_kw, "backend": "vllmm"}))
    assert not (tmp_path / "run").exists()
    # the corrected command is not refused as "other settings"
    assert run_with(tmp_path, data, AnswerKey({"q0": "A", "q1": "A"}), max_new_tokens=64)["n"] == 2


def test_a_record_without_video_fails_its_item_in_a_video_benchmark(tmp_path):
    records = [
        Record("v", "q?", ["x", "y"], ["A"], video="video_12176.mp4", source="mmvu"),
        Record("t", "q?", ["x", "y"], ["A"], source="mmvu"),
    ]
    data = write_set(tmp_path / "set.json", records)
    results = run_with(tmp_path, data, AnswerKey({"v": "A", "t": "A"}), video_root=str(VIDEOS), allow_text_only=False)
    line = read_samples(tmp_path / "run" / "samples.jsonl")["t"]
    assert (
        results["n_failed"] == 1 and "no video (video: null)" in line["error"] and "--allow-text-only" in line["error"]
    )


def test_all_videos_missing_stops_before_the_model_loads_naming_path_and_root(tmp_path):
    records = [Record(f"m{i}", "q?", ["x", "y"], ["A"], video=f"clips/m{i}.mp4", source="mmvu") for i in range(20)]
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({})
    with pytest.raises(
        TwgrpoError,
        match=rf"none of the first 8 videos exists, e.g. {tmp_path}/clips/m0.mp4 "
        rf"\(--video-root {tmp_path}\)",
    ):
        run_with(tmp_path, data, key, video_root=str(tmp_path))
    assert key.seen == [] and not (tmp_path / "run").exists()


def test_limit_never_changes_the_protocol(tmp_path):
    records = text_records(6)  # q0 and q3 are multi-answer: `auto` means the clevrer prompt for this file
    data = write_set(tmp_path / "set.json", records[1:3] + records[:1])
    results = run_with(tmp_path, data, AnswerKey({"q1": "A", "q2": "A"}), limit=2)
    assert results["run"]["prompt"] == "clevrer"


def test_an_all_failed_run_exits_with_the_reason(tmp_path):
    records = [Record("a", "q?", ["x", "y"], ["A"], source="mmvu"), Record("b", "q?", ["x", "y"], ["A"], source="mmvu")]
    data = write_set(tmp_path / "set.json", records)
    with pytest.raises(TwgrpoError, match=r"every item of the first batch \(2\) failed.*RuntimeError: dead"):
        run_with(tmp_path, data, AnswerKey({}, error="dead"))
    lines = read_samples(tmp_path / "run" / "samples.jsonl")  # kept, so the fixed re-run retries them
    assert sorted(lines) == ["a", "b"] and all(line["error"] for line in lines.values())


def _bad_then_good(tmp_path, order: str) -> list[Record]:
    """Records over corrupt (c) and good (g) videos, in `order` (e.g. "ccgggg")."""
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    shutil.copy(VIDEOS / "clevrer_8.mp4", tmp_path / "ok.mp4")
    return [
        Record(f"{kind}{i}", "q?", ["x", "y"], ["A"], video="ok.mp4" if kind == "g" else "corrupt.mp4", source="mmvu")
        for i, kind in enumerate(order)
    ]


def test_a_rerun_after_a_first_batch_of_bad_items_moves_on(tmp_path):
    """The first batch failing entirely stops a run that has answered nothing; its re-run tries the other items
    first instead of stopping on the same bad ones again (issue 25.4)."""
    records = _bad_then_good(tmp_path, "ccgggg")
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({r.id: "A" for r in records})
    with pytest.raises(TwgrpoError, match=r"every item of the first batch \(2\) failed, e.g. 'c0'"):
        run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=2)
    results = run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=2)
    assert key.seen == [["g2", "g3"], ["g4", "g5"]]  # the bad ones were retried last (and failed again)
    assert results["n"] == 6 and results["n_failed"] == 2 and results["run"]["complete"]


def test_a_session_whose_first_batch_fails_goes_on_when_the_run_answered_before(tmp_path):
    records = _bad_then_good(tmp_path, "ggccgg")
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({r.id: "A" for r in records})
    run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=2, limit=2)
    results = run_with(tmp_path, data, key, video_root=str(tmp_path), batch_size=2)
    assert results["n"] == 6 and results["n_failed"] == 2 and results["accuracy"] == pytest.approx(200 / 3, abs=1e-3)


@pytest.mark.parametrize("setting", [{"frames": 100_000}, {"temperature": float("nan")}, {"sample_fps": float("nan")}])
def test_unusable_values_are_refused_before_the_run_folder_exists(tmp_path, setting):
    data = write_set(tmp_path / "set.json", text_records(2))
    key = AnswerKey({"q0": "A", "q1": "A"})
    with pytest.raises(TwgrpoError, match=f"--{next(iter(setting)).replace('_', '-')}"):
        run_with(tmp_path, data, key, **setting)
    assert not (tmp_path / "run").exists()
    assert run_with(tmp_path, data, key)["n"] == 2  # the corrected command runs


# ----------------------------------------------------------------------------------------------------------
# shards (issue 12.4)


def test_shards_split_by_id_and_merge_to_the_single_run(tmp_path):
    from twgrpo_eval.inputs import in_shard
    from twgrpo_eval.merge import merge_runs

    records = text_records(30)
    data = write_set(tmp_path / "set.json", records)
    answers = {r.id: ("A" if i % 4 else "B") for i, r in enumerate(records)}
    parts = [[r.id for r in records if in_shard(r.id, k, 3)] for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(r.id for r in records) and all(parts)
    assert [r.id for r in records[::-1] if in_shard(r.id, 2, 3)] == parts[1][::-1]  # the order does not matter
    single = run_with(tmp_path / "single", data, AnswerKey(answers))
    for k in (1, 2, 3):
        run_with(tmp_path / f"s{k}", data, AnswerKey(answers), shard=f"{k}/3", batch_size=4)
    merged = merge_runs([tmp_path / f"s{k}" / "run" for k in (3, 1, 2)], tmp_path / "merged")
    on_disk = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert on_disk == merged
    for doc in (single, merged):
        doc["run"].pop("session")
    assert merged == single
    assert [json.loads(x)["id"] for x in (tmp_path / "merged" / "samples.jsonl").read_text().splitlines()] == [
        r.id for r in records
    ]  # the data file's order
    with pytest.raises(TwgrpoError, match=r"missing \[2\]"):
        merge_runs([tmp_path / "s1" / "run", tmp_path / "s3" / "run"], tmp_path / "m2")
    with pytest.raises(TwgrpoError, match="not a shard run"):
        merge_runs([tmp_path / "single" / "run"], tmp_path / "m3")
    with pytest.raises(TwgrpoError, match="--shard: expected K/N"):
        run_with(tmp_path / "bad", data, AnswerKey(answers), shard="4/3")


def test_an_empty_shard_is_a_shard_and_the_merge_completes(tmp_path):
    """Issue 28.5: `--shard 3/3` of two records holds none; it is still a shard (its folder and results), and
    `eval merge` of the three gives the unsharded run's results."""
    from twgrpo_eval.inputs import in_shard
    from twgrpo_eval.merge import merge_runs

    records = [r for r in text_records(12) if in_shard(r.id, 1, 3) or in_shard(r.id, 2, 3)][:2]
    assert not any(in_shard(r.id, 3, 3) for r in records)
    data = write_set(tmp_path / "set.json", records)
    answers = {r.id: "A" for r in records}
    single = run_with(tmp_path / "single", data, AnswerKey(answers))
    empty = run_with(tmp_path / "s3", data, AnswerKey(answers), shard="3/3")
    assert empty["n"] == 0 and empty["run"]["complete"] and empty["accuracy"] is None
    for k in (1, 2):
        run_with(tmp_path / f"s{k}", data, AnswerKey(answers), shard=f"{k}/3")
    merged = merge_runs([tmp_path / f"s{k}" / "run" for k in (1, 2, 3)], tmp_path / "merged")
    for doc in (single, merged):
        doc["run"].pop("session")
    assert merged == single


# ----------------------------------------------------------------------------------------------------------
# secrets (issue 18.1)


def test_secret_backend_options_never_reach_the_run_folder(tmp_path):
    secret = "sk-test-SECRET-123"
    data = write_set(tmp_path / "set.json", text_records(2))
    run_with(
        tmp_path,
        data,
        AnswerKey({"q0": "A", "q1": "A"}),
        backend_options={"api_key": secret, "hf_token": secret, "max_num_batched_tokens": 512},
    )
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["backend_options"] == {
        "api_key": "<redacted>",
        "hf_token": "<redacted>",
        "max_num_batched_tokens": 512,
    }
    assert "argv" not in config["sessions"][0]
    for path in (tmp_path / "run").iterdir():
        assert secret not in path.read_text(encoding="utf-8"), path
    # a failure whose message carries the secret is scrubbed, in the samples and in the error
    with pytest.raises(TwgrpoError) as info:
        run_with(
            tmp_path / "err", data, AnswerKey({}, error=f"401 bad key {secret}"), backend_options={"api_key": secret}
        )
    assert secret not in str(info.value) and "<redacted>" in str(info.value)
    assert secret not in (tmp_path / "err" / "run" / "samples.jsonl").read_text()
    # resuming does not need the same secret
    assert run_with(tmp_path, data, AnswerKey({}), backend_options={"api_key": "another"})["n"] == 2


def test_a_video_path_escaping_the_root_fails_its_item(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    shutil.copy(VIDEOS / "clevrer_8.mp4", root / "ok.mp4")
    shutil.copy(VIDEOS / "clevrer_8.mp4", tmp_path / "outside.mp4")
    records = [
        Record("ok", "q?", ["x", "y"], ["A"], video="ok.mp4", source="mmvu"),
        Record("up", "q?", ["x", "y"], ["A"], video="../outside.mp4", source="mmvu"),
        Record("abs", "q?", ["x", "y"], ["A"], video=str(tmp_path / "outside.mp4"), source="mmvu"),
    ]
    data = write_set(tmp_path / "set.json", records)
    key = AnswerKey({"ok": "A", "up": "A", "abs": "A"})
    results = run_with(tmp_path, data, key, video_root=str(root))
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    assert results["n_failed"] == 2 and key.seen == [["ok"]]
    assert "escapes the video root" in lines["up"]["error"] and "outside the video root" in lines["abs"]["error"]
    allowed = run_with(
        tmp_path / "allowed",
        data,
        AnswerKey({"ok": "A", "up": "A", "abs": "A"}),
        video_root=str(root),
        allow_outside_video_root=True,
    )
    assert allowed["n_failed"] == 0
