"""The HTML report pages without a browser: JSON for the page script, output parts, the CSP matching the
page's own style and script, escaping, paired differences, reconstructed fields, the QAI page's outcomes, and
the CLI commands. The pages in a real browser: tests/browser/."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape
from pathlib import Path

import pytest
from cli_helpers import run_cli
from hypothesis import given
from hypothesis import strategies as st
from paths import VIDEOS
from report_helpers import HOSTILE, make_run, mixed_outputs, sample_records, samples, status

from twgrpo_data.html_page import json_for_script
from twgrpo_data.io.writers import write_records
from twgrpo_data.qai.invert import convert
from twgrpo_data.qai.report_html import build_qai_page, qai_page_from_file
from twgrpo_data.record import Record
from twgrpo_eval.report import build_report
from twgrpo_eval.report_samples import output_parts, select_samples
from twgrpo_eval.report_tables import paired_difference

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_json_for_script_cannot_leave_its_script_block_and_reads_back(value):
    text = json_for_script(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value


@given(
    st.lists(st.sampled_from(["<think>", "</think>", "<answer>", "</ANSWER>", "A", " ", "\n", "<"]), max_size=12).map(
        "".join
    )
)
def test_output_parts_keep_every_character(text):
    assert "".join(part for _, part in output_parts(text)) == text


def test_output_parts_set_think_and_answer_apart():
    assert output_parts("pre <think>why\nso</think> <answer>B</answer>") == [
        ("text", "pre "),
        ("think", "<think>why\nso</think>"),
        ("text", " "),
        ("answer", "<answer>B</answer>"),
    ]
    assert output_parts("<THINK>cut short") == [("think", "<THINK>cut short")]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    outputs, fail = mixed_outputs()
    return make_run(tmp_path_factory.mktemp("mixed") / "run", outputs, fail=fail)


@pytest.fixture(scope="module")
def mixed_html(mixed_run) -> str:
    return build_report([mixed_run], video_root=VIDEOS)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_allows_exactly_the_pages_own_style_and_script(mixed_html):
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', mixed_html).group(1))
    style = re.search(r"<style>(.*?)</style>", mixed_html, re.DOTALL).group(1)
    script = re.findall(r"<script>(.*?)</script>", mixed_html, re.DOTALL)
    assert len(script) == 1
    assert f"style-src {_sha(style)};" in csp and f"script-src {_sha(script[0])};" in csp
    assert "default-src 'none'" in csp and "img-src data:;" in csp and "unsafe" not in csp
    # nothing loaded from anywhere but the page itself
    assert re.findall(r'(?:src|href)="(?!data:)[^"]*"', mixed_html) == []
    assert mixed_html.count("<script") == 2


def test_table_cells_are_the_numbers_of_results_json(mixed_run, mixed_html):
    results = json.loads((mixed_run / "results.json").read_text())
    cells = re.findall(r'data-group="([^"]+)" data-metric="([^"]+)" data-run="0">([^<]+)<', mixed_html)
    blocks = {
        "all": results,
        "single-answer": results["single"],
        "multi-answer": results["multi"],
        **{f"category {c}": b for c, b in results["by_category"].items()},
    }
    assert {(g, m) for g, m, _ in cells} == {
        (g, m) for g in blocks for m in ("accuracy", "soft_accuracy") if blocks[g]["n"]
    }
    for group, metric, text in cells:
        assert text == f"{blocks[group][metric]:.2f}"
    assert 0 < results["accuracy"] < 100


def test_question_from_the_data_file_is_labelled_reconstructed(mixed_run, mixed_html):
    rows = samples(mixed_run)
    recorded = sum(bool(r.get("question")) for r in rows)
    assert mixed_html.count("reconstructed from the data file") == len(rows) - recorded
    for rec in sample_records():
        assert f'<p class="question">{rec.question}</p>' in mixed_html.replace("&#39;", "'")


def test_failed_and_wrong_items_come_first_when_samples_are_capped(mixed_run):
    rows = samples(mixed_run)
    chosen = select_samples(rows, 3)
    order = {"failed": 0, "wrong": 1, "right": 2}
    assert [order[status(r)] for r in chosen] == sorted(order[status(r)] for r in rows)[:3]
    calls = []
    html = build_report(
        [mixed_run],
        video_root=VIDEOS,
        max_samples=2,
        max_strips=1,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert html.count('<details class="item"') == 2 and "first 2 of 6" in html
    assert calls == [(1, 1)]
    assert html.count('<div class="strip">') <= 1


def test_hostile_text_is_escaped_in_the_markup(tmp_path):
    outputs = {r.id: HOSTILE[i % len(HOSTILE)] for i, r in enumerate(sample_records())}
    html = build_report([make_run(tmp_path / "run", outputs, fail={"scenes-1": HOSTILE[4]})])
    for payload in HOSTILE:
        assert payload not in html
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html
    assert html.count("<script") == 2


def test_paired_difference_uses_the_items_both_runs_answered():
    a = [{"id": i, "strict": s} for i, s in zip("abcde", [1, 0, 1, 0, 1])]
    b = [{"id": i, "strict": s} for i, s in zip("abcdf", [1, 1, 1, 0, 0])]
    d = paired_difference(a, b)
    assert d["n"] == 4 and d["diff"] == 25.0
    assert d["ci"][0] <= 25.0 <= d["ci"][1]
    assert paired_difference(a, [{"id": "z", "strict": 1}]) == {"n": 0, "diff": None, "ci": None}


def test_two_runs_page_lists_the_disagreements(mixed_run, tmp_path):
    other = make_run(tmp_path / "other", {r.id: "<answer>A</answer>" for r in sample_records()})
    html = build_report([mixed_run, other])
    a = {r["id"]: r for r in samples(mixed_run)}
    b = {r["id"]: r for r in samples(other)}
    expected = {i for i in a if (status(a[i]), a[i]["parsed"]) != (status(b[i]), b[i]["parsed"])}
    section = html[html.index('id="disagree"') : html.index('id="samples"')]
    assert set(re.findall(r"<tr><td>(?:<a href=\"#s0-\d+\">)?([^<]+)(?:</a>)?</td>", section)) == expected
    assert 'data-delta="1"' in html


# ----------------------------------------------------------------------------------------------------------
# QAI page


QAI_RECORDS = [
    Record("r1", "why did the boy run", ["to play", "to hide", "to eat"], ["A"], source="nextgqa"),
    Record("r2", "how did the girl react", ["smile", "cry"], ["B"], source="nextgqa"),
    Record("r3", "what did the man <b>hold</b>", ["a cup", "a pen", "a hat", "a bag"], ["C"], source="nextgqa"),
    Record("r4", "which ones are red", ["x", "y", "z"], ["A", "B"], source="nextgqa"),
]


def test_qai_page_counts_and_outcomes_match_the_conversion(tmp_path):
    outputs, report = convert(QAI_RECORDS, ratio=1.0, seed=0)
    data = report.to_dict()
    html = build_qai_page(data, QAI_RECORDS, outputs, source="t")
    counts = dict(re.findall(r'data-count="([a-z_]+)">(\d+)<', html))
    assert counts == {**{k: str(v) for k, v in data["counts"].items()}, "total": "4"}
    listed = re.findall(r'<details class="item" data-key="([^"]+)" data-status="([^"]+)"', html)
    assert dict(listed) == {"r1": "negated", "r2": "unnegatable", "r3": "negated"}
    assert "what did the man &lt;b&gt;hold&lt;/b&gt;" in html and "<b>hold</b>" not in html
    assert "differ from a re-run" not in html


def test_qai_page_from_report_file_flags_an_output_that_the_settings_do_not_reproduce(tmp_path):
    outputs, report = convert(QAI_RECORDS, ratio=1.0, seed=0)
    write_records(QAI_RECORDS, tmp_path / "in.json")
    outputs[0] = outputs[0].replace(question="something else")
    write_records(outputs, tmp_path / "out.json")
    report.input, report.output = "in.json", "out.json"  # relative to the report's folder
    (tmp_path / "report.json").write_text(json.dumps(report.to_dict()))
    html = qai_page_from_file(tmp_path / "report.json")
    assert "1 output record(s) differ from a re-run" in html
    alone = qai_page_from_file(tmp_path / "out.json")
    assert "no report given" in alone and alone.count('<details class="item"') == 2  # r1, r3 carry provenance


# ----------------------------------------------------------------------------------------------------------
# CLI


def test_cli_eval_report_writes_the_page_and_refuses_a_non_run(mixed_run, tmp_path):
    result = run_cli("eval", "report", mixed_run, "-o", tmp_path / "r.html")
    assert result.code == 0 and (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    result = run_cli("eval", "report", tmp_path, "-o", tmp_path / "x.html")
    assert result.code == 1 and result.stderr.strip().startswith("error:") and len(result.err_lines) == 1
    assert not (tmp_path / "x.html").exists()


def test_recorded_question_and_frame_indices_are_used_as_recorded(mixed_run, tmp_path):
    import shutil

    run = tmp_path / "recorded"
    shutil.copytree(mixed_run, run)
    rows = samples(run)
    for row in rows:  # the keys the runner adds (issue 12.5)
        row["question"] = f"Recorded question of {row['id']}?"
        row["frame_indices"] = [0, 5, 10]
        row["frame_timestamps"] = [0.0, 0.2, 0.4]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    html = build_report([run], video_root=VIDEOS)
    assert "reconstructed" not in html
    assert html.count("Recorded question of") == 2 * len(rows)  # summary line and body
    ok = [r for r in rows if not (r.get("error") or "").startswith("video:")]
    assert html.count('alt="frame 5 · 0.20s"') == len(ok)
    assert html.count('<div class="strip">') == len(ok)
