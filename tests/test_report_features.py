"""What the eval report page tells a researcher (issue 32.2 and 32.7): failed items in amber, disagreements linked
to their samples, a legend for category codes, answer-letter shares, soft accuracy in the chart, parsed letters
that name no option, no "disagree on 0 items" for runs without shared items; `train plot` as a 2×2 grid."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from eval_helpers import AnswerKey, run_with, write_set
from report_helpers import make_run, mixed_outputs, sample_records, samples

from twgrpo_data.failures import failure_groups, failure_kind, parse_rate
from twgrpo_data.record import Record
from twgrpo_eval.report import build_report


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    outputs, fail = mixed_outputs()
    return make_run(tmp_path_factory.mktemp("mixed") / "mmvu-scripted", outputs, fail=fail)


def section(html: str, name: str) -> str:
    start = html.index(f'<section id="{name}">')
    return html[start : html.index("</section>", start)]


def test_failure_kinds_drop_the_file_and_keep_the_reason():
    assert failure_kind("video: /data/v/12.mp4: no such video file") == "video: …: no such video file"
    assert (
        failure_kind("video: clips\\a b.webm: unreadable video (no frames)") == "video: …: unreadable video (no frames)"
    )
    assert failure_kind("backend: server returned 500") == "backend: server returned 500"
    rows = [
        {"id": "a", "error": "video: /v/1.mp4: no such video file"},
        {"id": "b", "error": None},
        {"id": "c", "error": "backend: timeout"},
        {"id": "d", "error": "video: /v/2.mp4: no such video file"},
    ]
    groups = failure_groups(rows)
    assert [(g.kind, g.count, g.example_id) for g in groups] == [
        ("video: …: no such video file", 2, "a"),
        ("backend: timeout", 1, "c"),
    ]
    assert parse_rate("5%") == 0.05 and parse_rate("0.25") == 0.25
    with pytest.raises(ValueError):
        parse_rate("120%")


def test_a_run_with_failed_items_gets_an_amber_badge_and_the_failures_listed(mixed_run):
    html = build_report([mixed_run])
    head = html[html.index("<header") : html.index("</header>")]
    assert re.search(r'class="badge partial"[^>]*>complete · 1 failed<', head)
    listed = unescape(section(html, "results"))
    assert "1 × backend: server returned 500" in listed and "1 of 6 items failed" in listed


def test_a_complete_run_without_failures_stays_green(tmp_path):
    outputs = {r.id: f"<answer>{','.join(r.answer)}</answer>" for r in sample_records()}
    html = build_report([make_run(tmp_path / "all-right", outputs)])
    assert 'class="badge complete"' in html and "partial" not in html[html.index("<header") : html.index("</header>")]


def test_disagreement_ids_link_to_their_samples(mixed_run, tmp_path):
    other = make_run(tmp_path / "other", {r.id: "<answer>A</answer>" for r in sample_records()})
    html = build_report([mixed_run, other])
    links = re.findall(r'href="#(s\d-\d+)"', section(html, "disagree"))
    assert links
    for anchor in links:
        row = re.search(rf'<details class="item" id="{anchor}" [^>]*data-id="([^"]+)"', html)
        assert row, anchor
    first = re.search(r'<tr><td><a href="#(s0-\d+)">([^<]+)</a>', section(html, "disagree"))
    assert re.search(rf'id="{first.group(1)}" data-key="0:{re.escape(first.group(2))}"', html)


def test_runs_that_share_no_items_do_not_claim_to_agree(tmp_path):
    data = write_set(tmp_path / "other.json", [Record("z1", "Which?", ["a", "b"], ["A"], source="mmvu")])
    run_with(tmp_path / "one", data, AnswerKey({"z1": "A"}))
    html = build_report([make_run(tmp_path / "sample", {}), tmp_path / "one" / "run"])
    disagree = section(html, "disagree")
    assert 'id="no-shared-items"' in disagree and "share no items" in disagree
    assert "<table" not in disagree and not re.search(r"\b0 (of|item)", disagree)


def test_category_codes_get_a_legend(tmp_path):
    records = [
        Record(f"n{i}", f"why {i}?", ["x", "y", "z"], ["A"], source="nextgqa", meta={"category": code})
        for i, code in enumerate(["CW", "DC", "CW"])
    ]
    run_with(
        tmp_path, write_set(tmp_path / "n.json", records), AnswerKey({"n0": "A", "n1": "B", "n2": "A"}), bench="nextgqa"
    )
    legend = re.search(r'<p class="note" id="category-legend">(.*?)</p>', build_report([tmp_path / "run"]))
    assert legend and unescape(re.sub("<[^>]+>", "", legend.group(1))) == "CW causal why · DC descriptive count"


def test_answer_letter_shares_equal_the_samples(mixed_run):
    html = build_report([mixed_run])
    rows = samples(mixed_run)
    answered = [r for r in rows if not r["error"]]
    for letter in "AB":
        gold = sum(letter in r["gold"] for r in rows)
        parsed = sum(letter in r["parsed"].split(",") for r in answered if r["parsed"])
        cells = dict(
            re.findall(
                rf'data-letter="{letter}" data-run="0" data-kind="(gold|parsed)">.*?([\d.]+)%', section(html, "letters")
            )
        )
        assert float(cells["gold"]) == round(100 * gold / len(rows), 1), letter
        assert float(cells["parsed"]) == round(100 * parsed / len(answered), 1), letter


def test_soft_accuracy_is_drawn_where_it_differs(mixed_run):
    results = json.loads((mixed_run / "results.json").read_text())
    assert results["soft_accuracy"] != results["accuracy"]
    chart = section(build_report([mixed_run]), "chart")
    soft = re.findall(r'<title>([^<]*soft accuracy: ([\d.]+)[^<]*)</title><rect class="s0 soft"', chart)
    assert soft and "Accuracy and soft accuracy per" in chart
    by_category = {c: b["soft_accuracy"] for c, b in results["by_category"].items()}
    for title, value in soft:
        category = title.split(" · ")[1]
        assert float(value) == round(by_category[category], 1)


def test_a_parsed_letter_that_names_no_option_is_flagged(tmp_path):
    records = sample_records()
    four = next(r for r in records if len(r.options) <= 6)
    beyond = chr(ord("A") + len(four.options) + 1)
    run = make_run(tmp_path / "off", {four.id: f"<answer>{beyond}</answer>"})
    html = build_report([run])
    assert f"{beyond} not an option</span>" in html
    assert re.search(r'data-off-options="0">1 parsed letter\(s\) not among the options', html)
    body = unescape(html)
    assert f"names {beyond}, but the question has {len(four.options)} options" in body


def test_train_plot_is_a_two_by_two_grid_with_raw_values_behind_the_smoothed_line(tmp_path):
    from twgrpo_train.plot import training_figure

    rows = [
        {"step": s, "reward_std": 0.1 * s, "completions/mean_length": 10 + s, "reward": s % 3, "soft_accuracy": 0.5}
        for s in range(1, 9)
    ]
    fig = training_figure({"a": rows, "b": rows[:5]}, smooth=3)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in axes] == [(2, 2)] * 4
    assert [ax.get_title() for ax in axes][:2] == [
        "reward std (moving average of 3)",
        "completion length (tokens) (moving average of 3)",
    ]
    lines = axes[0].get_lines()
    raw = [line for line in lines if line.get_label().startswith("_raw")]
    smoothed = [line for line in lines if not line.get_label().startswith("_")]
    assert len(raw) == len(smoothed) == 2
    assert list(raw[0].get_ydata()) == [r["reward_std"] for r in rows] and raw[0].get_alpha() < 1
    assert raw[0].get_color() == smoothed[0].get_color()
    assert lines.index(raw[0]) < lines.index(smoothed[0])  # drawn first: behind
    unsmoothed = training_figure({"a": rows}, smooth=1)
    assert all(len(ax.get_lines()) == 1 for ax in unsmoothed.axes if ax.get_visible())
