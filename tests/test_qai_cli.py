"""`twgrpo qai convert` and `twgrpo qai negate` end to end, through the installed `twgrpo` command."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from paths import DATA, FIXTURES

REPORT_KEYS = {
    "input",
    "output",
    "n_records",
    "seed",
    "ratio",
    "min_keep",
    "counts",
    "unnegatable_reasons",
    "answer_count_histogram",
    "option_count_histogram",
    "spacy_model",
    "spacy_model_version",
    "spacy_version",
    "twgrpo_version",
}


@pytest.fixture(scope="module")
def nextgqa_run(tmp_path_factory):
    """The acceptance command, run twice."""
    out = tmp_path_factory.mktemp("qai")
    runs = []
    for name in ("a", "b"):
        proc = run_cli(
            "qai",
            "convert",
            DATA / "nextgqa_val.json",
            "-o",
            out / f"{name}.json",
            "--seed",
            "0",
            "--report",
            out / f"{name}.report.json",
            "--compare",
            DATA / "nextgqa_val_mixed.official.json",
        )
        assert proc.code == 0, proc.stderr
        runs.append(proc)
    return out, runs


@pytest.mark.slow
def test_convert_nextgqa_val_is_byte_identical_across_runs(nextgqa_run):
    out, _ = nextgqa_run
    assert (out / "a.json").read_bytes() == (out / "b.json").read_bytes()


@pytest.mark.slow
def test_convert_nextgqa_val_writes_unified_records_and_a_report(nextgqa_run):
    out, runs = nextgqa_run
    items = json.loads((out / "a.json").read_text())
    assert len(items) == 3358
    negated = [x for x in items if x.get("is_negated")]
    assert all(x["qai"]["original_question"] != x["question"] for x in negated)
    assert all(x["problem"].startswith(x["question"] + "\nA. ") for x in items)
    assert any(x["solution"].count(",") >= 1 for x in negated)  # multi-answer "<answer>B,C</answer>"
    report = json.loads((out / "a.report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert report["counts"]["negated"] == len(negated)
    assert report["label_noise_in_official"]["label_noise"] == 22
    assert "negated" in runs[0].stdout and "how_question" in runs[0].stdout  # the rich summary


def test_convert_star_native_file_to_records_jsonl(tmp_path):
    out = tmp_path / "star.jsonl"
    proc = run_cli("qai", "convert", FIXTURES / "star" / "STAR_val.json", "-o", out, "--ratio", "1", "--json")
    assert proc.code == 0, proc.stderr
    report = json.loads(proc.stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == report["n_records"] == 4
    assert report["counts"]["negated"] == sum(r["qai"] is not None for r in rows) >= 3
    thrown = next(r for r in rows if r["qai"] and r["qai"]["original_question"].startswith("Which object was thrown"))
    assert thrown["question"] == "Which object wasn't thrown by the person?"


def test_convert_nextgqa_csv_to_parquet(tmp_path):
    out = tmp_path / "val.parquet"
    proc = run_cli(
        "qai",
        "convert",
        FIXTURES / "nextgqa" / "datasets" / "nextgqa" / "val.csv",
        "--from",
        "csv",
        "-o",
        out,
        "--to",
        "parquet",
        "--ratio",
        "1",
        "--no-contractions",
        "--json",
    )
    assert proc.code == 0, proc.stderr
    import pyarrow.parquet as pq

    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 17
    assert not any("n't" in r["question"] for r in rows)
    assert any(" not " in r["question"] and r["qai"]["negated"] for r in rows)


def _broken(tmp_path: Path, change) -> Path:
    items = json.loads((DATA / "nextgqa_val.json").read_text())[:6]
    items = copy.deepcopy(items)
    change(items)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(items))
    return path


@pytest.mark.parametrize(
    "change,expect",
    [
        (lambda items: items[1].update(answer="(F)"), ["record 1", "'answer'", "'F'"]),
        (lambda items: items[2].pop("options"), ["record 2", "'options'"]),
        (lambda items: items[3].update(question=""), ["record 3", "'question'"]),
    ],
)
def test_malformed_record_is_one_line_naming_file_record_and_field(tmp_path, change, expect):
    path = _broken(tmp_path, change)
    proc = run_cli("qai", "convert", path, "-o", tmp_path / "out.json")
    assert proc.code == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.json" in lines[0] and "Traceback" not in proc.stderr
    for part in expect:
        assert part in lines[0]
    assert not (tmp_path / "out.json").exists()

    skipped = run_cli("qai", "convert", path, "-o", tmp_path / "out.json", "--skip-invalid", "--json")
    assert skipped.code == 0, skipped.stderr
    report = json.loads(skipped.stdout)
    assert report["counts"]["skipped_invalid"] == 1 and report["n_records"] == 5


def test_bad_json_is_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "a", "question": "why did')
    proc = run_cli("qai", "convert", path)
    assert proc.code == 1 and "bad.json" in proc.stderr and "invalid JSON" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_negate_text_file_gives_one_json_line_per_question_in_order(tmp_path):
    questions = ["why did the boy run", "how did the boy react", "who picked up the ball", "why didn't he stop"]
    src = tmp_path / "q.txt"
    src.write_text("\n".join(questions) + "\n")
    proc = run_cli("qai", "negate", src)
    assert proc.code == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [x["question"] for x in lines] == questions
    assert [x["status"] for x in lines] == ["negated", "unnegatable", "negated", "already_negative"]
    assert lines[2] == {
        "question": "who picked up the ball",
        "negated": "who didn't pick up the ball",
        "status": "negated",
        "reason": "do_support",
    }


def test_negate_jsonl_to_file_and_stdin(tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_text(json.dumps({"question": "What is the man doing?", "id": 1}) + "\n")
    out = tmp_path / "neg.jsonl"
    proc = run_cli("qai", "negate", src, "-o", out, "--no-contractions")
    assert proc.code == 0, proc.stderr
    assert json.loads(out.read_text())["negated"] == "What is the man not doing?"
    piped = run_cli("qai", "negate", "-", input="where did the man go\n")
    assert json.loads(piped.stdout)["negated"] == "where didn't the man go"


def test_negate_jsonl_without_question_field_is_a_user_error(tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_text('{"text": "why"}\n')
    proc = run_cli("qai", "negate", src)
    assert proc.code == 1 and "record 0" in proc.stderr and "'question'" in proc.stderr


# ----------------------------------------------------------------------------------------------------------
# issue 14 acceptance: negate on the QAI development questions, convert with the template fallback


DEV = DATA / "qai_dev" / "questions.jsonl"


@pytest.mark.slow
def test_negate_dev_questions_prints_per_status_counts(tmp_path):
    out = tmp_path / "neg.jsonl"
    proc = run_cli("qai", "negate", DEV, "-o", out)
    assert proc.code == 0, proc.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(DEV.read_text().splitlines()) == 8330
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith("8330 questions")
    negated = sum(x["status"] == "negated" for x in lines)
    assert f"negated: {negated}" in summary and "unnegatable (how_many)" in summary


def test_negate_to_stdout_prints_counts_on_stderr(tmp_path):
    src = tmp_path / "q.jsonl"
    rows = DEV.read_text().splitlines()[::400]
    src.write_text("\n".join(rows) + "\n")
    proc = run_cli("qai", "negate", src)
    assert proc.code == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(rows)
    assert f"{len(rows)} questions → stdout: " in proc.stderr and "negated: " in proc.stderr


def _dev_records_file(tmp_path: Path, step: int) -> Path:
    """A records .jsonl built from every `step`-th development question (id, question, options, answer)."""
    rows = [json.loads(line) for line in DEV.read_text().splitlines()]
    path = tmp_path / "dev.records.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"{r['source']}-{i}",
                    "question": r["question"],
                    "options": r["options"],
                    "answer": [r["answer"]],
                    "source": r["source"],
                }
            )
            + "\n"
            for i, r in enumerate(rows)
            if r.get("options") and i % step == 0
        )
    )
    return path


def test_convert_with_template_fallback_sets_the_strategy_and_counts_add_up(tmp_path):
    src = _dev_records_file(tmp_path, 20)
    out = tmp_path / "out.jsonl"
    proc = run_cli(
        "qai",
        "convert",
        src,
        "-o",
        out,
        "--ratio",
        "1",
        "--fallback",
        "template",
        "--json",
        "--report",
        tmp_path / "report.json",
    )
    assert proc.code == 0, proc.stderr
    report = json.loads(proc.stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    counts = report["counts"]
    assert sum(v for k, v in counts.items() if k != "skipped_invalid") == report["n_records"] == len(rows)
    assert sum(report["unnegatable_reasons"].values()) == counts["unnegatable"]
    strategies = {
        s: sum(1 for r in rows if r["qai"] and r["qai"]["strategy"] == s)
        for s in ("negation", "template", "affirmation")
    }
    assert strategies == report["strategies"] and sum(strategies.values()) == counts["negated"]
    assert strategies["template"] > 0 and report["unnegatable_reasons"]["options_overlap"] > 0
    assert sum(report["template_reasons"].values()) == strategies["template"]
    assert report["fallback"] == "template" and report["why"] == "negate"


def test_convert_rejects_an_unknown_fallback(tmp_path):
    src = _dev_records_file(tmp_path, 400)
    proc = run_cli("qai", "convert", src, "-o", tmp_path / "o.jsonl", "--fallback", "paraphrase")
    assert proc.code == 2 and "--fallback" in proc.stderr
