"""`twgrpo eval compare --table` as people compare runs (issue 28.5–6): n and failed items in every cell, runs
that failed too often refused, McNemar only on runs of the same data and for any number of rows (each against
the first), two runs of one model told apart by `--label`, and a run whose records are another benchmark's
flagged."""

from __future__ import annotations

import json

import pytest
from eval_helpers import AnswerKey, run_with, text_records, write_set
from paths import FIXTURES

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.sources import open_input
from twgrpo_eval.compare import load_runs, paired_test_rows, paper_table, render_table


def _runs(tmp_path, models=("base", "tuned", "big"), right=(4, 11, 8), bench="mmvu", records=None, fail=None):
    records = records or text_records(12)
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = write_set(tmp_path / f"{bench}.json", records)
    folders = []
    for model, n_right in zip(models, right):
        key = AnswerKey({r.id: (",".join(r.answer) if i < n_right else "D") for i, r in enumerate(records)})
        folder = tmp_path / f"{bench}-{model}"
        run_with(folder, data, key, bench=bench)
        config = json.loads((folder / "run" / "config.json").read_text())
        config["model"] = f"/models/{model}"
        (folder / "run" / "config.json").write_text(json.dumps(config))
        folders.append(folder / "run")
    return folders


def test_each_cell_shows_n_and_failures_and_every_row_is_tested_against_the_first(tmp_path):
    runs = load_runs(_runs(tmp_path))
    table = paper_table(runs)
    assert [name for name, _ in table.rows] == ["base", "tuned", "big"]
    assert table.rows[0][1][0].endswith("(n=12)")
    tests = paired_test_rows(table)
    assert [name for name, _ in tests] == ["McNemar p (base vs tuned)", "McNemar p (base vs big)"]
    assert tests[0][1] == ["0.0156 (n=12)"]  # 7 discordant items, all one way
    md = render_table(table, "markdown")
    assert "McNemar p (base vs big)" in md and md.count("\n") == 2 + 3 + 2


def test_a_run_that_failed_too_often_is_refused_and_failures_are_shown(tmp_path):
    records = text_records(10)
    data = write_set(tmp_path / "set.json", records)
    folder = tmp_path / "flaky"
    run_with(folder, data, AnswerKey({r.id: "A" for r in records}), bench="mmvu")
    lines = [json.loads(x) for x in (folder / "run" / "samples.jsonl").read_text().splitlines()]
    lines[0]["error"] = "video: missing"  # one of ten items failed: 10% > 5%
    (folder / "run" / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    from twgrpo_eval.run_folder import write_results

    results = json.loads((folder / "run" / "results.json").read_text())
    write_results(folder / "run", "twgrpo", results["run"])
    runs = load_runs([folder / "run"])
    with pytest.raises(TwgrpoError, match="1 of 10 items failed \\(10.0% > 5%\\).*--max-failed"):
        paper_table(runs)
    table = paper_table(runs, max_failed=0.2)
    assert table.rows[0][1][0].endswith("(n=10, 1 failed)")


def test_runs_of_different_data_are_not_paired(tmp_path):
    a, b = _runs(tmp_path, models=("base", "tuned"), right=(4, 11))
    other = text_records(12)
    other[0] = other[0].replace(answer=["B"])  # a corrected gold answer: other data, same ids
    (c,) = _runs(tmp_path / "other", models=("big",), right=(8,), records=other)
    table = paper_table(load_runs([a, b, c]))
    cells = dict(paired_test_rows(table))
    assert cells["McNemar p (base vs tuned)"] == ["0.0156 (n=12)"]
    assert cells["McNemar p (base vs big)"] == ["– (the runs read different data)"]


def test_two_runs_of_one_model_get_a_row_each_named_by_label(tmp_path):
    records = text_records(12)
    data = write_set(tmp_path / "set.json", records)
    folders = []
    for name, right in (("zeroshot", 5), ("cot", 9)):
        key = AnswerKey({r.id: (",".join(r.answer) if i < right else "D") for i, r in enumerate(records)})
        run_with(tmp_path / name, data, key, bench="mmvu")
        folders.append(tmp_path / name / "run")
    runs = load_runs(folders)
    unlabelled = paper_table(runs)  # one model, two runs on one benchmark: a row per run folder
    assert [name for name, _ in unlabelled.rows] == ["zeroshot/run", "cot/run"]
    table = paper_table(runs, ["zero-shot prompt", "CoT prompt"])
    assert [name for name, _ in table.rows] == ["zero-shot prompt", "CoT prompt"]
    assert paired_test_rows(table)[0][0] == "McNemar p (zero-shot prompt vs CoT prompt)"
    with pytest.raises(TwgrpoError, match="--label: give one per run"):
        paper_table(runs, ["only one"])


def test_a_run_whose_records_are_another_benchmarks_is_flagged(tmp_path, shared):
    nextgqa = FIXTURES / "unified" / "evaluation" / "eval_nextgqa.json"
    records = [r.replace(video=None) for r in open_input(nextgqa).records]  # NExT-GQA's fields, no videos
    data = write_set(tmp_path / "questions.json", records)
    run_with(tmp_path, data, AnswerKey({r.id: "C" for r in records}), bench="videomme")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["records_bench"] == "nextgqa"
    table = paper_table(load_runs([tmp_path / "run"]))
    assert table.warnings and "look like nextgqa's, but it ran as --bench videomme" in table.warnings[0]
