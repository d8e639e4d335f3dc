"""`twgrpo data validate|stats` end to end through the command."""

from __future__ import annotations

import json

from cli_helpers import run_cli
from paths import DATA


def test_validate_accepts_the_mmvu_eval_set(shared):
    out = run_cli("data", "validate", str(DATA / "eval_mmvu.json"))
    assert out.code == 0, out.stderr
    assert "625 records, 0 error(s)" in out.stdout


def test_validate_lists_each_problem_on_one_line_and_exits_1(tmp_path, shared):
    raw = json.loads((DATA / "eval_mmvu.json").read_text())[:6]
    raw[1].pop("solution")
    raw[2]["solution"] = "<answer>F</answer>"
    raw[4]["problem_id"] = raw[5]["problem_id"]
    bad = tmp_path / "corrupt.json"
    bad.write_text(json.dumps(raw))
    out = run_cli("data", "validate", str(bad))
    assert out.code == 1 and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 3
    assert "record 1 (id '2'), field 'solution'" in lines[0]
    assert "record 2 (id '3'), field 'answer'" in lines[1]
    assert "record 5 (id '6'), field 'id': duplicate id" in lines[2]


def test_validate_bad_json_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    out = run_cli("data", "validate", str(bad))
    assert out.code == 1 and out.stderr.count("\n") == 1 and "invalid JSON" in out.stderr


def test_stats_json_counts_official_qai_file(shared):
    out = run_cli("data", "stats", str(DATA / "nextgqa_val_mixed.official.json"), "--json")
    s = json.loads(out.stdout)
    assert s["records"] == 3358 and s["multi_answer"] == 1238
    assert sum(s["option_count_histogram"].values()) == 3358
    raw = json.loads((DATA / "nextgqa_val_mixed.official.json").read_text())
    assert s["qai_negated"] == sum(r["is_negated"] is True for r in raw) > 0


def test_a_problem_is_the_same_json_in_every_command(tmp_path):
    """`Problem.to_dict` everywhere (issue 26): `data validate --json` lists what `data load --json` and the QAI
    report list, with the same keys (once `message` in one command and `reason` in another)."""
    raw = json.loads((DATA / "eval_mmvu.json").read_text())[:3]
    raw[1].pop("solution")
    bad = tmp_path / "corrupt.json"
    bad.write_text(json.dumps(raw))
    validated = json.loads(run_cli("data", "validate", bad, "--json").stdout)["problems"]
    loaded = json.loads(run_cli("data", "load", "--bench", "mmvu", bad, "--skip-invalid", "--json").stdout)
    assert validated == loaded["invalid_items"]
    assert list(validated[0]) == ["severity", "file", "index", "id", "field", "message"]
    assert validated[0]["index"] == 1 and validated[0]["field"] == "solution"
