"""Append-only JSON Lines logs (`twgrpo_data.io.jsonl_log`): one durable append for evaluation samples and judge
replies, and the repair of a last line a kill cut short before the log is appended to again."""

from __future__ import annotations

import json

from eval_helpers import FakeOpenAIServer

from twgrpo_data.io.jsonl_log import append_jsonl, cut_torn_tail, read_jsonl_log

TORN = '{"key": "a", "reply": "yes"}\n{"key": "b", "rep'


def test_appends_are_whole_lines_and_keep_non_ascii_text(tmp_path):
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [{"id": "q1", "text": "café"}, {"id": "q2"}])
    append_jsonl(log, [])
    append_jsonl(log, [{"id": "q3"}])
    assert log.read_text(encoding="utf-8") == '{"id": "q1", "text": "café"}\n{"id": "q2"}\n{"id": "q3"}\n'


def test_a_torn_tail_is_cut_back_to_the_last_whole_line_once(tmp_path):
    log = tmp_path / "log.jsonl"
    assert cut_torn_tail(log) is False and not log.exists()  # nothing to repair, nothing created
    log.write_text(TORN, encoding="utf-8")
    assert read_jsonl_log(log) == ([{"key": "a", "reply": "yes"}], True)  # a reader of someone's log skips it
    assert cut_torn_tail(log) is True and cut_torn_tail(log) is False
    append_jsonl(log, [{"key": "b", "reply": "no"}])
    assert read_jsonl_log(log) == ([{"key": "a", "reply": "yes"}, {"key": "b", "reply": "no"}], False)


def test_a_judge_resumed_after_a_kill_mid_line_appends_whole_lines(tmp_path):
    """The judge's cache kept a line cut short by a kill and appended the next judgement onto it: a log whose
    middle line is invalid JSON, which stopped the next resume."""
    from twgrpo_eval.judge import Judge, JudgeSettings, read_judgements

    log = tmp_path / "judge.jsonl"
    log.write_text(TORN, encoding="utf-8")
    server = FakeOpenAIServer(models=("judge",))
    try:
        judge = Judge(JudgeSettings("judge", server.url, api_key="sk-test"), log)
        judge.ask([{"role": "user", "content": "Is it right?"}], {"max_tokens": 8})
        judge.close()
    finally:
        server.close()
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [row["key"] for row in rows][0] == "a" and len(rows) == 2
    assert read_judgements(log) == {"a": "yes", rows[1]["key"]: "<answer>A</answer>"}
