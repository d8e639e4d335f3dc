"""`twgrpo eval rescore` against TW-GRPO's own MMVU log (published 65.76) and hand-made logs."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_cli
from paths import DATA, FIXTURES

from twgrpo_eval.rescore import rescore_log

LOG = DATA / "logs" / "twgrpo_mmvu_eval.jsonl"


def test_mmvu_log_rescore_reproduces_published_figure(shared):
    s = rescore_log(LOG).summary()
    assert s["n"] == 625
    assert s["accuracy"] == pytest.approx(65.76, abs=1e-9)
    assert s["soft_accuracy"] == pytest.approx(65.76, abs=1e-9)
    metrics = json.loads((DATA / "logs" / "twgrpo_mmvu_eval_temp_metrics.json").read_text())
    assert s["accuracy"] == pytest.approx(metrics["strict_accuracy"], abs=1e-9)
    assert s["format_rate"] == 100.0


def test_rescore_agrees_with_scores_stored_in_the_log(shared):
    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    items = rescore_log(LOG).items
    assert [i.soft for i in items] == [r["accuracy_score"] for r in rows]
    assert [i.parsed for i in items] == [r["extracted_answer"] for r in rows]


def _zero_shot_log(tmp_path, n=40):
    """A zero-shot style log: bare letters, a few tagged outputs the zero-shot script scores as wrong."""
    rows = [json.loads(line) for line in LOG.read_text().splitlines()[:n]]
    for k, r in enumerate(rows):
        gold = r["ground_truth"][len("<answer>") : -len("</answer>")]
        r["model_output"] = f"<answer>{gold}</answer>" if k % 10 == 0 else (gold if k % 3 else "E")
    path = tmp_path / "zs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    expected = 100 * sum(r["model_output"].strip() == r["ground_truth"][8:-9] for r in rows) / n
    return path, expected


def test_raw_parser_scores_zero_shot_log_like_the_zero_shot_script(tmp_path, shared):
    path, expected = _zero_shot_log(tmp_path)
    assert rescore_log(path, "raw").summary()["accuracy"] == pytest.approx(expected)
    # the tagged answers are right, and the lenient parser credits them
    assert rescore_log(path, "lenient").summary()["accuracy"] > expected


def test_duplicates_from_restarts_keep_last_line(tmp_path, shared):
    rows = [json.loads(line) for line in LOG.read_text().splitlines()[:5]]
    wrong = dict(rows[0], model_output="<answer>Z</answer>")
    path = tmp_path / "dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [wrong] + rows))
    log = rescore_log(path)
    assert log.duplicates_removed == 1 and len(log.items) == 5
    assert [i.id for i in log.items] == [str(r["question"]["problem_id"]) for r in rows]


def test_samples_jsonl_rescore_uses_run_parser_and_counts_errors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"parser": "lenient"}))
    lines = [
        {"id": "a", "output": "(A)", "gold": ["A"], "options": ["x", "y"], "category": "c", "error": None},
        {
            "id": "b",
            "output": None,
            "gold": ["A", "B"],
            "options": ["x", "y"],
            "category": "c",
            "error": "video missing",
        },
    ]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    s = rescore_log(tmp_path / "samples.jsonl").summary()
    assert s["parser"] == "lenient" and s["accuracy"] == 50.0 and s["n_failed"] == 1


def test_cli_rescore_json_output(shared):
    out = run_cli("eval", "rescore", LOG, "--json")
    assert out.code == 0, out.stderr
    s = json.loads(out.stdout)
    assert (s["accuracy"], s["soft_accuracy"], s["n"]) == (65.76, 65.76, 625)


def test_cli_rescore_bad_log_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_output": "x", "ground_truth": "<answer>A</answer>"}\nnot json\n')
    out = run_cli("eval", "rescore", bad)
    assert out.code == 1
    assert out.stderr.strip().count("\n") == 0 and "invalid JSON on line 2" in out.stderr
    assert "Traceback" not in out.stderr


def test_mmvu_log_is_broken_down_by_subject(shared):
    s = rescore_log(LOG).summary()
    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    chemistry = sum("/Chemistry/" in r["question"]["video"] for r in rows)
    assert s["by_category"]["Chemistry"]["n"] == chemistry > 0
    assert sum(b["n"] for b in s["by_category"].values()) == 625


def test_a_zero_shot_log_is_scored_raw_without_flags(tmp_path, shared):
    """A zero-shot log (bare letters; its extracted_answer is the raw output) read with the CoT parser would
    give ~0; the log's own scoring is detected instead, and said."""
    rows = [json.loads(line) for line in LOG.read_text().splitlines()[:50]]
    for k, r in enumerate(rows):
        gold = r["ground_truth"][len("<answer>") : -len("</answer>")]
        r["model_output"] = r["extracted_answer"] = gold if k % 4 else "E"
    path = tmp_path / "zero_shot.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = rescore_log(path)
    expected = 100 * sum(r["model_output"] == r["ground_truth"][8:-9] for r in rows) / len(rows)
    assert log.parser == "raw" and "extracted_answer equals the raw output" in log.parser_reason
    assert log.summary()["accuracy"] == pytest.approx(expected) and expected > 50
    assert rescore_log(path, "twgrpo").summary()["accuracy"] == 0.0  # the silent zero this avoids
    assert any("read no answer from 50 of 50" in w for w in rescore_log(path, "twgrpo").warnings)
    out = run_cli("eval", "rescore", path, env={"COLUMNS": "200"})
    assert out.code == 0 and "parser raw (its extracted_answer equals the raw output" in out.stdout


def test_a_mostly_untagged_log_is_scored_raw_and_a_cot_log_twgrpo(tmp_path, shared):
    path, expected = _zero_shot_log(tmp_path)  # 10% tagged outputs, extracted answers from another run
    log = rescore_log(path)
    assert log.parser == "raw" and "have no <answer> block" in log.parser_reason
    assert log.summary()["accuracy"] == pytest.approx(expected)
    assert rescore_log(LOG).parser == "twgrpo"  # the published CoT log: 65.76 as before


def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, shared):
    lines = LOG.read_text().splitlines()[:6]
    path = tmp_path / "torn.jsonl"
    path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])
    log = rescore_log(path)
    assert len(log.items) == 5 and any("cut short" in w for w in log.warnings)


def test_a_cot_log_with_few_answer_tags_is_scored_by_its_own_extracted_answers(tmp_path, shared):
    """Issue 28.5: a CoT log whose outputs mostly say "Answer: B" instead of <answer>B</answer> was switched to
    the raw parser by the tag count and read 0.00 with exit 0; its extracted_answer says how it was scored."""
    import re

    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    for k, row in enumerate(rows):
        if k % 5:  # four in five outputs lose their tags; the stored readings stay what the script read
            row["model_output"] = re.sub(r"<answer>(.*?)</answer>", r"Answer: \1", row["model_output"], flags=re.S)
    path = tmp_path / "few_tags.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = rescore_log(path)
    assert log.parser == "twgrpo" and "is the twgrpo parser's reading on 625 of 625 lines" in log.parser_reason
    assert log.summary()["accuracy"] == pytest.approx(65.76, abs=1e-9)
    assert rescore_log(path, "raw").summary()["accuracy"] == 0.0  # what the tag count picked before


def test_video_mme_items_of_one_video_get_clustered_intervals_in_a_rescored_log(tmp_path, shared):
    """A TW-GRPO Video-MME log: its records carry videoID, so the interval is clustered by video."""
    src = FIXTURES / "unified" / "evaluation" / "eval_videomme.json"
    rows = []
    for k, item in enumerate(json.loads(src.read_text(encoding="utf-8"))):
        answer = item["solution"] if k % 2 else "<answer>Z</answer>"
        rows.append({"question": item, "ground_truth": item["solution"], "model_output": answer})
    path = tmp_path / "x_eval_videomme_eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = rescore_log(path).summary()
    assert summary["ci_method"] == "clustered" and summary["n"] == 6
    out = run_cli("eval", "rescore", path, env={"COLUMNS": "400"})
    assert out.code == 0 and "95% CI clustered by video" in " ".join(out.stdout.split())
