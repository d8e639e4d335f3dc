"""The evaluation and QAI report pages in headless Chromium: they load without errors, show the numbers of
results.json and of the QAI report, filter and open as a user expects, and hostile text in the data or the
model's outputs stays text (issue 17, issue 18.2). Screenshots go to build/browser/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from eval_helpers import write_set
from paths import REPO, VIDEOS
from report_helpers import HOSTILE, SAMPLE_DATA, make_run, mixed_outputs, sample_records, samples, status

from twgrpo_data.html_page import write_page
from twgrpo_data.qai.invert import convert
from twgrpo_data.qai.report_html import build_qai_page
from twgrpo_data.record import Record
from twgrpo_eval.report import write_report
from twgrpo_eval.runner import EvalConfig, run_eval

FRAMES = 4


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny random Qwen2.5-VL evaluated on the sample set and the sample videos (transformers backend)."""
    out = tmp_path_factory.mktemp("tiny") / "mmvu-tiny"
    run_eval(
        EvalConfig(
            bench="mmvu",
            model=str(tiny_model_dir),
            backend="transformers",
            data=str(SAMPLE_DATA),
            video_root=str(VIDEOS),
            out=str(out),
            frames=FRAMES,
            max_new_tokens=8,
        ),
    )
    return out


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    outputs, fail = mixed_outputs()
    return make_run(tmp_path_factory.mktemp("mixed") / "mmvu-scripted", outputs, fail=fail)


@pytest.fixture(scope="module")
def pages(tiny_run, mixed_run, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    return {
        "tiny": write_report([tiny_run], folder / "tiny.html", video_root=VIDEOS),
        "mixed": write_report([mixed_run], folder / "mixed.html", video_root=VIDEOS),
        "two": write_report([tiny_run, mixed_run], folder / "two.html", video_root=VIDEOS),
    }


def _results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text(encoding="utf-8"))


def _block(results: dict, group: str) -> dict:
    if group == "all":
        return results
    if group.startswith("category "):
        return results["by_category"][group[len("category ") :]]
    return results[{"single-answer": "single", "multi-answer": "multi"}[group]]


def _visible_ids(page) -> list[str]:
    return page.eval_on_selector_all("details.item", "els => els.filter(e => !e.hidden).map(e => e.dataset.id)")


def test_tiny_run_page_loads_clean_with_the_table_first(open_page, pages):
    view = open_page(pages["tiny"])
    assert view.errors() == []
    box = view.page.locator("table.results").bounding_box()
    assert box is not None and box["y"] + box["height"] < 768  # the whole table above the fold on a laptop
    assert view.page.locator("svg.chart rect").count() >= 3
    view.screenshot("eval_report_tiny.png")
    view.screenshot("eval_report_tiny_full.png", full_page=True)


@pytest.mark.parametrize("which", ["tiny", "mixed"])
def test_table_numbers_equal_results_json(open_page, pages, tiny_run, mixed_run, which):
    results = _results({"tiny": tiny_run, "mixed": mixed_run}[which])
    view = open_page(pages[which])
    cells = view.page.eval_on_selector_all(
        "table.results span.v", "els => els.map(e => [e.dataset.group, e.dataset.metric, e.textContent])"
    )
    assert len(cells) >= 2 * (3 + len(results["by_category"])) - 2
    for group, metric, text in cells:
        assert text == f"{_block(results, group)[metric]:.2f}", (group, metric)
    for group, text in view.page.eval_on_selector_all(
        "table.results td.n", "els => els.map(e => [e.dataset.group, e.textContent])"
    ):
        assert text == str(_block(results, group)["n"]), group
    assert view.page.locator("[data-failed='0']").text_content() == str(results["n_failed"])
    if which == "mixed":
        assert 0 < results["accuracy"] < 100  # a table of zeros would prove little


def test_filters_show_exactly_the_matching_items(open_page, pages, mixed_run):
    rows = samples(mixed_run)
    view = open_page(pages["mixed"])
    page = view.page
    assert sorted(_visible_ids(page)) == sorted(r["id"] for r in rows)
    for wanted in ("wrong", "right", "failed"):
        page.select_option("#filter-status", wanted)
        expected = sorted(r["id"] for r in rows if status(r) == wanted)
        assert expected, wanted
        assert sorted(_visible_ids(page)) == expected
        assert page.locator("#shown").text_content() == str(len(expected))
    page.select_option("#filter-status", "")
    page.select_option("#filter-answers", "multi")
    assert sorted(_visible_ids(page)) == sorted(r["id"] for r in rows if len(r["gold"]) > 1)
    page.select_option("#filter-answers", "")
    page.fill("#search", "billiards")
    by_id = {r.id: r for r in sample_records()}
    assert sorted(_visible_ids(page)) == sorted(
        i for i, r in by_id.items() if "billiards" in (r.question + " ".join(r.options)).lower()
    )
    page.fill("#search", "")
    page.select_option("#filter-status", "wrong")
    view.screenshot("eval_report_wrong_filter.png", full_page=True)
    assert view.errors() == []


def test_opening_a_row_shows_the_frame_strip(open_page, pages):
    view = open_page(pages["tiny"])
    row = view.page.locator("details.item").first
    assert not row.locator(".strip img").first.is_visible()
    row.locator("summary").click()
    images = row.locator(".strip img")
    assert images.count() == FRAMES
    assert images.first.is_visible()
    widths = images.evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
    assert all(w and w > 0 for w in widths)  # data: thumbnails decoded under the page's CSP
    assert row.locator("ol.options li.gold").count() >= 1
    row.scroll_into_view_if_needed()
    view.screenshot("eval_report_row_open.png")
    assert view.errors() == []


def test_two_runs_show_matrix_and_disagreements(open_page, pages, tiny_run, mixed_run):
    view = open_page(pages["two"])
    page = view.page
    a = {r["id"]: r for r in samples(tiny_run)}
    b = {r["id"]: r for r in samples(mixed_run)}
    expected = sorted(i for i in a if (status(a[i]), a[i]["parsed"]) != (status(b[i]), b[i]["parsed"]))
    shown = page.eval_on_selector_all("table.disagree tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert sorted(shown) == expected and expected
    assert page.locator("[data-delta='1']").count() == 1
    assert page.locator("details.item").count() == len(a) + len(b)
    page.select_option("select[data-filter=run]", "1")
    assert sorted(_visible_ids(page)) == sorted(b)
    view.screenshot("eval_report_two_runs.png", full_page=True)
    assert view.errors() == []


def test_a_disagreement_id_opens_its_sample_even_when_the_filters_hide_it(open_page, pages):
    view = open_page(pages["two"])
    page = view.page
    page.select_option("#filter-status", "right")  # the tiny run answers nothing right: its rows are hidden
    link = page.locator("table.disagree tbody tr td:first-child a").first
    target = page.locator(f"[id='{link.get_attribute('href')[1:]}']")
    assert target.is_hidden()
    link.click()
    assert target.is_visible() and target.evaluate("e => e.open")
    assert page.locator("#filter-status").input_value() == ""  # the filters were cleared to show it
    view.screenshot("eval_report_disagreement_link.png")
    assert view.errors() == []


def test_failures_letters_and_soft_accuracy_are_on_the_page(open_page, pages, mixed_run):
    view = open_page(pages["mixed"])
    page = view.page
    badge = page.locator("header .badge.partial")
    assert badge.text_content() == "complete · 1 failed"
    colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(255, 232, 179)"  # amber, not the green of a clean run
    assert page.locator("[data-failures='0'] li").count() == 1
    assert page.locator("svg.chart rect.soft").count() >= 1
    assert page.locator("table.letters tbody tr").count() >= 3
    page.locator("#letters").scroll_into_view_if_needed()
    view.screenshot("eval_report_letters.png")
    assert view.errors() == []


def test_qai_page_counts_equal_the_report(open_page, tmp_path):
    report_path, html = tmp_path / "report.json", tmp_path / "qai.html"
    run_cli(
        *["qai", "convert", "examples/nextgqa_val_sample.json", "-o", tmp_path / "qai.json", "--seed", "0"],
        *["--report", report_path, "--html", html],
        cwd=REPO,
        check=True,
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    view = open_page(html)
    page = view.page
    counts = dict(page.eval_on_selector_all("td[data-count]", "els => els.map(e => [e.dataset.count, e.textContent])"))
    assert counts == {k: str(v) for k, v in report["counts"].items()}
    reasons = dict(
        page.eval_on_selector_all("td[data-reason]", "els => els.map(e => [e.dataset.reason, e.textContent])")
    )
    assert reasons == {k: str(v) for k, v in report["unnegatable_reasons"].items()}
    listed = report["counts"]["negated"] + report["counts"]["unnegatable"] + report["counts"]["already_negative"]
    assert page.locator("details.item").count() == listed
    page.select_option("#filter-status", "unnegatable")
    assert page.locator("#shown").text_content() == str(report["counts"]["unnegatable"])
    page.select_option("#filter-status", "negated")
    first = page.locator("details.item:not([hidden])").first
    first.locator("summary").click()
    before, after = first.locator("ol.options").nth(0), first.locator("ol.options").nth(1)
    assert before.locator("li.gold").count() == 1 and after.locator("li.gold").count() >= 1  # QAI: gold inverted
    view.screenshot("qai_report.png")
    first.scroll_into_view_if_needed()
    view.screenshot("qai_report_row_open.png")
    assert view.errors() == []


# ----------------------------------------------------------------------------------------------------------
# hostile text (issue 18.2)


def _assert_inert(view) -> None:
    page = view.page
    page.click("#expand-all")
    page.fill("#search", "script")
    page.fill("#search", "")
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#jslink").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("h1").is_visible()  # the injected <style>body{display:none}</style> is text too
    others = [m for m in view.errors() if "Content Security Policy" not in m[1]]
    assert others == []


def test_hostile_outputs_and_questions_stay_text(open_page, tmp_path):
    records = []
    for i, rec in enumerate(sample_records()):
        payload = HOSTILE[i % len(HOSTILE)]
        records.append(
            rec.replace(
                question=f"{payload} {rec.question}",
                options=[HOSTILE[(i + 1) % len(HOSTILE)], *rec.options[1:]],
                meta={**rec.meta, "category": HOSTILE[(i + 2) % len(HOSTILE)]},
            )
        )
    records[0] = records[0].replace(id='x"><script>window.__pwned=8</script>')
    records[1] = records[1].replace(video='<img src=x onerror="window.__pwned=9">.mp4')
    data = write_set(tmp_path / "hostile.json", records)
    outputs = {
        r.id: f"<think>{HOSTILE[i % len(HOSTILE)]}</think><answer>A</answer>{HOSTILE[-1 - i % 3]}"
        for i, r in enumerate(records)
    }
    run = make_run(tmp_path / "hostile-run", outputs, fail={records[2].id: HOSTILE[1]}, data=data)
    page_path = write_report([run], tmp_path / "hostile.html", video_root=VIDEOS)
    html = page_path.read_text(encoding="utf-8")
    assert html.count("<script") == 2  # the page's own JSON block and script, nothing injected
    view = open_page(page_path)
    text = view.page.locator("#items").text_content()
    for payload in HOSTILE[:5]:
        assert payload in text  # shown as the characters the model wrote
    _assert_inert(view)
    view.screenshot("eval_report_hostile.png", full_page=True)


def test_hostile_questions_in_the_qai_page_stay_text(open_page, tmp_path):
    records = [
        Record(
            f"h{i}",
            f"why did the boy {payload} run",
            ["to play", "to hide", "to eat"],
            ["A"],
            video="v.mp4",
            source="nextgqa",
        )
        for i, payload in enumerate(HOSTILE)
    ]
    records.append(Record("h-how", f"how did the girl {HOSTILE[0]} react", ["smile", "cry"], ["B"], source="nextgqa"))
    outputs, report = convert(records, ratio=1.0, seed=0)
    html = build_qai_page(report.to_dict(), records, outputs, source="hostile")
    assert report.counts["negated"] >= 1
    view = open_page(write_page(tmp_path / "qai_hostile.html", html))
    _assert_inert(view)
    view.screenshot("qai_report_hostile.png", full_page=True)
