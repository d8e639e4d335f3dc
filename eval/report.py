"""`twgrpo eval report`: one self-contained HTML page for one or more evaluation runs.

The page shows, table first: the results (accuracy and soft accuracy with their 95% intervals, overall,
single/multi-answer and per category, read from each run's `results.json`), for several runs a model ×
benchmark table with paired differences, a per-category chart (inline SVG), the protocol of each run
(`config.json`), the items two runs disagree on, and a sample browser over `samples.jsonl` (filter by
right / wrong / failed / category / multi-answer, search; a row opens to the question, the options with
gold and prediction marked, the raw output with its `<think>`/`<answer>` parts, the parsed answer, the
error and a strip of the frames the model saw).

Run folders are shared, so rendering one reads nothing its files name (issue 31): frames are decoded only from
videos under a `--video-root` the reader passes (a recorded path that leads elsewhere shows no frames), and a
question the run did not record is taken only from a data file the reader passes (`--data`) — never from the
paths or `hf://` ids in `config.json` or `samples.jsonl`. Older runs lack some per-sample keys (`question`,
`frame_indices`): the question then comes from that data file, and the frames are re-sampled with the run's
own sampling settings; both are labelled "reconstructed" on the page.

The samples and runs as the page shows them are in `report_samples`, the frame strips in `report_frames`, the
comparisons between runs in `report_tables`; this module assembles the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twgrpo_data import __version__
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.html_page import json_for_script, render_page, write_page

from .compare import SETTING_ROWS, info_rows, load_runs, metric_rows
from .report_samples import RunView, read_run_samples, sample_views
from .report_tables import category_chart, disagreements, letter_histogram, model_bench_table
from .run_folder import SAMPLES

DEFAULT_MAX_SAMPLES = 500
DEFAULT_MAX_STRIPS = 50


def protocol_rows(runs: list[RunView]) -> list[tuple[str, list[str], bool]]:
    """The protocol table as `(label, value per run, is a setting)`: `eval compare`'s counts and settings,
    then data, video, seed, versions and folder. Settings that differ between runs are highlighted."""

    def fmt(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k}={v}" for k, v in value.items() if v is not None) or "–"
        return "–" if value in (None, "") else str(value)

    rows = [
        (
            "status",
            [f"{r.badge[1]} ({len(r.samples)} of {r.run_info.get('selected', '?')} items)" for r in runs],
        )
    ]
    rows += info_rows([r.summary for r in runs])
    rows += [
        (label, [fmt(r.summary.settings.get(key)) for r in runs])
        for label, key in (
            ("data", "data"),
            ("video root", "video_root"),
            ("video sampling", "video_sampling"),
            ("seed", "seed"),
        )
    ]
    rows += [
        ("sessions", [str(len(r.summary.settings.get("sessions") or [])) for r in runs]),
        ("versions", [fmt(r.versions).replace("=", " ") for r in runs]),
        ("run folder", [str(r.summary.path) for r in runs]),
    ]
    settings = {*SETTING_ROWS, "bench", "model", "data", "video sampling", "seed", "versions"}
    return [(label, values, label in settings) for label, values in rows]


def build_report(
    paths: Sequence[str | Path],
    *,
    video_root: str | Path | None = None,
    data: str | Path | None = None,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_strips: int = DEFAULT_MAX_STRIPS,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> str:
    """The report page (HTML text) for the run folders `paths`; `progress(done, total)` follows the frame
    strips, the slow part (each decodes its video). Frames come only from videos under `video_root` and
    unrecorded questions only from `data` — both the reader's; nothing a run folder names is opened."""
    if max_samples < 0 or max_strips < 0:
        raise TwgrpoError("--max-samples and --max-strips must be at least 0")
    summaries = load_runs(paths)  # their results.json and config.json checked (`run_files.check_run_files`)
    runs = []
    all_rows = [read_run_samples(summary.path / SAMPLES) for summary in summaries]
    total, done = sum(min(len(rows), max_samples, max_strips) for rows in all_rows), 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    for i, (summary, rows) in enumerate(zip(summaries, all_rows)):
        views = sample_views(i, summary, rows, max_samples, max_strips, advance, video_root=video_root, data=data)
        runs.append(RunView(i, summary, rows, views))
    items = [
        {
            "key": s.key,
            "id": s.id,
            "run": str(s.run),
            "status": s.status,
            "category": s.category or "",
            "answers": "multi" if s.multi else "single",
        }
        for run in runs
        for s in run.shown
    ]
    categories = sorted({s.category for run in runs for s in run.shown if s.category})
    title = (
        f"{runs[0].bench} · {runs[0].model_name}"
        if len(runs) == 1
        else f"{len(runs)} runs · {', '.join(dict.fromkeys(r.bench for r in runs))}"
    )
    return render_page(
        "eval_report.html.j2",
        title=f"twgrpo eval report — {title}",
        heading=title,
        runs=runs,
        metric_rows=metric_rows(summaries),
        protocol_rows=protocol_rows(runs),
        matrix=model_bench_table(runs) if len(runs) > 1 else None,
        disagree=disagreements(runs[0], runs[1]) if len(runs) == 2 else None,
        chart=category_chart(runs),
        letters=letter_histogram(runs),
        categories=categories,
        category_legend=category_legend(runs, categories),
        n_shown=len(items),
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        twgrpo_version=__version__,
        page_data=json_for_script({"items": items}),
    )


def category_legend(runs: list[RunView], categories: list[str]) -> list[tuple[str, str]]:
    """`(code, meaning)` for the category codes on the page that their benchmark explains (NExT-QA's `CW`)."""
    from twgrpo_data.benchmarks import category_names

    names: dict[str, str] = {}
    for bench in dict.fromkeys(run.bench for run in runs):
        names.update(category_names(bench))
    shown = set(categories) | {c for run in runs for c in (run.summary.results.get("by_category") or {})}
    return [(code, names[code]) for code in sorted(shown) if code in names]


def write_report(paths: Sequence[str | Path], out: str | Path, **options: Any) -> Path:
    """Render the report of `paths` and write it to `out` (atomically)."""
    return write_page(out, build_report(paths, **options))
