"""`twgrpo eval --backend openai` against vLLM's own OpenAI-compatible server (`vllm serve`, default process
layout) serving the tiny Qwen2.5-VL on 127.0.0.1: the video request format the server accepts, what the frames
become on the way (JPEG), and the answers next to the offline engine's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from engine_spy import read_requests, received_frames
from vllm_helpers import VIDEO_RUN, VIDEOS, samples, twgrpo

from twgrpo_data.benchmarks import mmvu, tempcompass
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input
from twgrpo_data.video import sample_video
from twgrpo_eval.judge import JUDGEMENTS, Judge, JudgeSettings, Recorder, read_judgements
from twgrpo_eval.rescore import rescore_log

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served_run(served_tiny_model, tmp_path_factory):
    run = tmp_path_factory.mktemp("served") / "run"
    server = served_tiny_model
    twgrpo(*VIDEO_RUN, "--model", server.model, "--backend", "openai", "--api-base", server.url, "--out", run)
    return run


def test_served_run_is_complete_and_scored_as_rescore_scores_it(served_run):
    results = json.loads((served_run / "results.json").read_text())
    summary = rescore_log(served_run / "samples.jsonl").summary()
    assert {k: results[k] for k in ("accuracy", "soft_accuracy", "n")} == {
        k: summary[k] for k in ("accuracy", "soft_accuracy", "n")
    }
    assert results["run"]["complete"] and results["n_failed"] == 0


def test_the_server_receives_one_video_of_our_frames_at_the_real_rate(served_run, served_tiny_model):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(served_tiny_model.model)
    records = {r.id: r for r in open_input(VIDEO_RUN[VIDEO_RUN.index("--data") + 1]).raise_or_skip(False).records}
    lines = samples(served_run)
    requests = read_requests(served_tiny_model.spy)
    assert len(requests) == len(lines)
    errors = []
    for request in requests:
        assert len(request.videos) == 1 and request.images == 0  # one video, not 16 images
        prompt = processor.tokenizer.decode(request.prompt_token_ids)
        [item] = [i for i, r in records.items() if r.question in prompt]
        ours = sample_video(VIDEOS / records[item].video, frames=16, min_pixels=3136, max_pixels=12544)
        frames = received_frames(request, processor)
        assert frames.shape == ours.frames.shape  # every frame, at the run's pixel budget
        # 2 frames per temporal patch at the real sampling rate, as the offline engine is told
        assert float(request.videos[0]["second_per_grid_ts"]) == pytest.approx(2 / lines[item]["fps"], rel=1e-5)
        errors.append(np.abs(frames.astype(int) - ours.frames.astype(int)).mean())
    # JPEG at quality 95 on the way: 0.9–2.0 grey levels per pixel on average on these small frames
    print("served frames vs ours, mean |difference| per pixel:", [round(float(e), 2) for e in errors])
    assert 0 < max(errors) < 3, errors


def test_served_answers_next_to_the_offline_engines(served_run, offline_runs):
    served, offline = samples(served_run), samples(offline_runs["merged"])
    assert list(served) == list(offline)
    same = [i for i in served if served[i]["output"] == offline[i]["output"]]
    print(f"served vs offline: {len(same)}/{len(served)} identical greedy answers (JPEG frames vs exact frames)")
    # JPEG noise may flip a near-tie of the random model; frames at another size or rate would change them all
    assert len(same) > len(served) / 2
    assert {i: s["parsed"] for i, s in served.items()} == {i: s["parsed"] for i, s in offline.items()}


def _open_ended() -> Record:
    return Record(
        "validation_0",
        "Which cinematic shooting technique is shown in the video?",
        [],
        [],
        video="videos/Art/0.mp4",
        source="mmvu",
        meta={"question_type": "open-ended", "answer_text": "Dolly Zoom", "category": "Art"},
    )


def test_mmvu_and_tempcompass_judge_questions_are_served_by_vllm(served_tiny_model, tmp_path):
    """The LLM judge against the same server (format only): the questions MMVU's and TempCompass's official
    scorers ask — MMVU's with a JSON-schema `response_format`, TempCompass's with `presence_penalty` — are
    accepted, the replies come back as text, are cached in the run's judge.jsonl and recorded per sample. A tiny
    random model's verdicts are nonsense, so only their form is checked. (Last in this module: the engine spy
    test above counts the video requests the server received.)"""
    vllm_server = served_tiny_model
    judge = Judge(JudgeSettings(vllm_server.model, vllm_server.url, timeout=300.0), tmp_path / JUDGEMENTS)
    try:
        recorder = Recorder(judge.ask)
        verdict = mmvu.official_score(mmvu.official_reference(_open_ended()), "A dolly zoom.", recorder)
        (asked,) = recorder.judgements
        assert isinstance(asked["reply"], str) and asked["params"]["response_format"]["type"] == "json_schema"
        assert verdict.error is None or verdict.error.startswith("judge:")  # a random model may not fill the schema
        ref = {"task_type": "yes_no", "question": "Is the man dribbling a basketball?", "answer": "no"}
        yes_no = Recorder(judge.ask)
        tempcompass.official_score(ref, "He is dunking.", yes_no)  # the rules cannot read it: the judge is asked
        assert yes_no.judgements and all(isinstance(j["reply"], str) for j in yes_no.judgements)
        asked_before = judge.asked
        assert judge.ask(asked["messages"], asked["params"]) == asked["reply"]  # from the cache
        assert judge.asked == asked_before
    finally:
        judge.close()
    cached = read_judgements(tmp_path / JUDGEMENTS)
    assert len(cached) == judge.asked and all(isinstance(r, str) for r in cached.values())
    rows = [json.loads(line) for line in (tmp_path / JUDGEMENTS).read_text().splitlines()]
    assert {row["model"] for row in rows} == {vllm_server.model}
