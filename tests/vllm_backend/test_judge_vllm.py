"""The LLM judge against a real `vllm serve` (format only): the questions MMVU's and TempCompass's official
scorers ask — MMVU's with a JSON-schema `response_format`, TempCompass's with `presence_penalty` — are accepted
by vLLM's OpenAI server, the replies come back as text, are cached in the run's judge.jsonl and recorded per
sample. A tiny random model's verdicts are nonsense, so only their form is checked.

Needs the `vllm_server` fixture (tests/vllm_backend/conftest.py): a session-scoped `vllm serve` of a tiny model
on 127.0.0.1, with `.url` (the OpenAI base URL, ".../v1") and `.model` (the served model name).
"""

from __future__ import annotations

import json

from twgrpo_data.benchmarks import mmvu, tempcompass
from twgrpo_data.record import Record
from twgrpo_eval.judge import JUDGEMENTS, Judge, JudgeSettings, Recorder, read_judgements


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


def test_mmvu_and_tempcompass_judge_questions_are_served_by_vllm(vllm_server, tmp_path):
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
