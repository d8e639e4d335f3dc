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
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from twgrpo_data import __version__
from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.failures import FailureGroup, failure_groups
from twgrpo_data.formats import read_jsonl
from twgrpo_data.html_page import jpeg_data_uri, json_for_script, render_page, write_page
from twgrpo_data.metrics import bootstrap_ci
from twgrpo_data.record import Record, letter
from twgrpo_data.scoring import answer_set

from .compare import SETTING_ROWS, RunSummary, info_rows, load_runs, metric_rows
from .run_files import sample_problem
from .run_folder import SAMPLES

DEFAULT_MAX_SAMPLES = 500
DEFAULT_MAX_STRIPS = 50
MAX_STRIP_FRAMES = 16
THUMB_HEIGHT = 72
# pixel budget for re-sampled thumbnails: a few 28×28 patches, far below the model's
_THUMB_MIN_PIXELS, _THUMB_MAX_PIXELS = 4 * 28 * 28, 24 * 28 * 28
_PARTS = re.compile(r"(<think>.*?(?:</think>|$)|<answer>.*?(?:</answer>|$))", re.DOTALL | re.IGNORECASE)
SERIES = 6  # colours in page.css (.s0 … .s5); more runs reuse them
_LETTER = re.compile(r"[A-Z]")


# ----------------------------------------------------------------------------------------------------------
# samples


@dataclass
class SampleView:
    """One answered item of one run, as the page shows it."""

    run: int
    id: str
    status: str  # right | wrong | failed
    question: str | None
    question_note: str | None
    options: list[dict[str, Any]]
    gold: list[str]
    parsed: str
    strict: float
    soft: float
    category: str | None
    error: str | None
    parts: list[tuple[str, str]]
    output_chars: int
    frames: list[dict[str, str]] = field(default_factory=list)
    frames_note: str | None = None
    anchor: str = ""  # the element id that links to this sample (from the disagreements table)

    @property
    def multi(self) -> bool:
        return len(self.gold) > 1

    @property
    def off_options(self) -> list[str]:
        """Parsed letters that name no option (`E` for a question with four): the parser read a letter the
        model could not mean, or the model answered another question."""
        letters = {o["letter"] for o in self.options}
        return sorted(x for x in parsed_letters(self.parsed) if x not in letters) if self.options else []

    @property
    def blank(self) -> bool:
        """An output of whitespace only (shown as a note: an empty-looking box says nothing)."""
        return self.output_chars > 0 and not any(text.strip() for _, text in self.parts)

    @property
    def key(self) -> str:
        return f"{self.run}:{self.id}"


def parsed_letters(parsed: str | None) -> set[str]:
    """The single capital letters in a parsed answer (`"A,C"` → {A, C}); other text (a raw answer) gives none."""
    return {x for x in answer_set(parsed) if _LETTER.fullmatch(x)} if parsed else set()


def status_of(row: dict[str, Any]) -> str:
    """right (strict 1), failed (an error: missing video, backend failure) or wrong."""
    if row.get("error"):
        return "failed"
    return "right" if float(row.get("strict") or 0.0) == 1.0 else "wrong"


def output_parts(text: str | None) -> list[tuple[str, str]]:
    """The raw output cut into `(kind, text)` parts: `think`, `answer` (tags included) and `text`."""
    if not text:
        return []
    parts = []
    for piece in _PARTS.split(text):
        if not piece:
            continue
        low = piece[:8].lower()
        kind = "think" if low.startswith("<think>") else "answer" if low.startswith("<answer>") else "text"
        parts.append((kind, piece))
    return parts


def read_run_samples(path: Path) -> list[dict[str, Any]]:
    """The last line per id of a run's samples.jsonl, in first-seen order (a resumed item's final answer); a
    line whose fields do not have the types the runner writes is an error naming the line and field."""
    if not path.is_file():
        raise InputFormatError(f"{path.parent}: no {SAMPLES} (not a twgrpo eval run folder)")
    latest: dict[str, dict[str, Any]] = {}
    for lineno, row in enumerate(read_jsonl(path), start=1):
        if "id" not in row:
            raise InputFormatError(f"{path}: a line has no 'id'")
        problem = sample_problem(row)
        if problem:
            raise InputFormatError(f"{path}: line {lineno} (id {row['id']!r}), {problem}")
        latest[str(row["id"])] = row
    return list(latest.values())


def data_records(bench: Any, data: str | Path | None) -> tuple[dict[str, Record], str | None]:
    """The records of the reader's data file `data` (read as the run's benchmark `bench`) by id, or
    `({}, why not)`."""
    from twgrpo_data.benchmarks import BENCHMARKS, load_benchmark

    if data is None:
        return {}, "pass the run's data file with --data to show it"
    if not isinstance(bench, str) or bench not in BENCHMARKS:
        return {}, f"config.json names no known benchmark ({bench!r})"
    try:
        result = load_benchmark(bench, data)
    except TwgrpoError as exc:
        return {}, str(exc)
    return {r.id: r for r in result.records}, None


def option_views(options: Sequence[str], gold: Sequence[str], parsed: str) -> list[dict[str, Any]]:
    """Options with their letter and whether each is gold and/or predicted."""
    predicted = answer_set(parsed) if parsed else set()
    return [
        {"letter": letter(i), "text": text, "gold": letter(i) in gold, "predicted": letter(i) in predicted}
        for i, text in enumerate(options)
    ]


def select_samples(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` rows: failed first, then wrong, then right (the ones people look for), file order
    within each."""
    rank = {"failed": 0, "wrong": 1, "right": 2}
    return sorted(rows, key=lambda r: rank[status_of(r)])[:limit]


# ----------------------------------------------------------------------------------------------------------
# frames


def _resolve_video(row: dict[str, Any], record: Record | None, video_root: str | Path | None) -> str | None:
    """The video file or frame folder the item used, found under the reader's `video_root` only: the recorded
    path (kept if it lies under the root, else mapped under it as TW-GRPO's rooted paths are), else the data
    record located under the root. None without a root: a path a run folder names is never opened."""
    if video_root is None:
        return None
    from twgrpo_data.benchmarks import locate_video
    from twgrpo_data.video import resolve_video

    recorded = row.get("video")
    try:
        if isinstance(recorded, str) and recorded:
            path = resolve_video(recorded, video_root)
            if Path(path).exists():
                return path
        if record is not None and record.video:
            path = locate_video(record, video_root).path
            return path if Path(path).exists() else None
    except TwgrpoError:  # a path that leads outside the root, or a URL
        return None
    return None


def _frames_at(path: str, indices: Sequence[int]) -> np.ndarray:
    """Decode the frames at `indices` (a video file, or a folder of frame images) as (T, H, W, 3)."""
    from twgrpo_data.errors import require
    from twgrpo_data.video import FRAME_EXTENSIONS

    if Path(path).is_dir():
        image = require("PIL.Image", "video")
        files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in FRAME_EXTENSIONS)
        frames = []
        for i in indices:
            with image.open(files[i]) as img:
                img.draft("RGB", (4 * THUMB_HEIGHT, 2 * THUMB_HEIGHT))
                frames.append(
                    np.asarray(
                        img.convert("RGB").resize((max(1, round(img.width * THUMB_HEIGHT / img.height)), THUMB_HEIGHT))
                    )
                )
        return np.stack(frames)
    decord = require("decord", "video")
    reader = decord.VideoReader(path, num_threads=1)
    unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    return reader.get_batch(unique.tolist()).asnumpy()[inverse]


def frame_strip(
    row: dict[str, Any], record: Record | None, settings: dict[str, Any], video_root: str | Path | None
) -> tuple[list[dict[str, str]], str | None]:
    """Thumbnails of the frames the model saw, and a note (reconstructed, or why there is no strip).

    The recorded `frame_indices` are decoded when the sample has them; otherwise the video is sampled again
    with the run's `video_sampling` settings (same indices, a thumbnail pixel budget). Videos are read only
    under the reader's `video_root`.
    """
    if str(row.get("error") or "").startswith("video:"):
        return [], "no frames: the video could not be read during the run"
    if video_root is None:
        return [], "no frames: pass --video-root (the folder of the videos) to show them"
    path = _resolve_video(row, record, video_root)
    if path is None:
        return [], f"no frames: the video is not under --video-root {video_root}"
    indices, times = row.get("frame_indices"), row.get("frame_timestamps")
    note = None
    try:
        if indices:
            shown = _spread(len(indices))  # only the frames the strip shows are decoded
            frames = _frames_at(path, [indices[k] for k in shown])
            labels = [f"frame {indices[k]}" + (f" · {float(times[k]):.2f}s" if times else "") for k in shown]
        else:
            from twgrpo_data.benchmarks import locate_video

            if record is None:
                return [], "no frames: the sample has no frame_indices and its data record is not available"
            sampling = {
                **(settings.get("video_sampling") or {}),
                "min_pixels": _THUMB_MIN_PIXELS,
                "max_pixels": _THUMB_MAX_PIXELS,
            }
            if "num_frames" in sampling:  # runs written before the setting was named `frames`
                sampling["frames"] = sampling.pop("num_frames")
            sampled = locate_video(record, video_root).sample(**sampling)
            shown = _spread(sampled.num_frames)
            frames = sampled.frames[shown]
            labels = [f"frame {k + 1}/{sampled.num_frames} · {sampled.timestamps[k]:.2f}s" for k in shown]
            note = "frames reconstructed: re-sampled with the run's settings (the sample has no frame_indices)"
    except Exception as exc:  # noqa: BLE001 — a thumbnail that cannot be made must not stop the report
        return [], f"no frames: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return [{"src": jpeg_data_uri(f, height=THUMB_HEIGHT), "label": label} for f, label in zip(frames, labels)], note


def _spread(n: int) -> list[int]:
    """At most `MAX_STRIP_FRAMES` positions spread evenly over `n` frames."""
    return sorted(set(np.linspace(0, n - 1, min(n, MAX_STRIP_FRAMES)).round().astype(int).tolist()))


# ----------------------------------------------------------------------------------------------------------
# the page


@dataclass
class RunView:
    """One run as the page shows it."""

    index: int
    summary: RunSummary
    samples: list[dict[str, Any]]
    shown: list[SampleView]

    @property
    def label(self) -> str:
        return self.summary.label

    @property
    def run_info(self) -> dict[str, Any]:
        return self.summary.results.get("run", {})

    @property
    def model_name(self) -> str:
        model = self.summary.settings.get("model") or self.run_info.get("model") or "?"
        return Path(str(model).rstrip("/")).name or str(model)

    @property
    def bench(self) -> str:
        return str(self.run_info.get("bench") or self.summary.settings.get("bench") or "?")

    @property
    def versions(self) -> dict[str, Any]:
        sessions = self.summary.settings.get("sessions") or [{}]
        return sessions[-1].get("versions") or {}

    @property
    def complete(self) -> bool | None:
        return self.run_info.get("complete")

    def counts(self) -> Counter:
        return Counter(status_of(r) for r in self.samples)

    @functools.cached_property
    def failures(self) -> list[FailureGroup]:
        return failure_groups(self.samples)

    @property
    def n_failed(self) -> int:
        return sum(group.count for group in self.failures)

    @property
    def badge(self) -> tuple[str, str]:
        """(css class, text) of the run's status: complete (green), incomplete, or with failed items (amber)."""
        done = "complete" if self.complete else "incomplete"
        return ("partial", f"{done} · {self.n_failed} failed") if self.n_failed else (done, done)

    @property
    def off_options(self) -> int:
        """Answered items whose parsed letters include one that names no option."""
        return sum(
            bool(parsed_letters(r.get("parsed")) - {letter(i) for i in range(len(r.get("options") or []))})
            for r in self.samples
            if r.get("options") and not r.get("error")
        )


def sample_views(
    index: int,
    summary: RunSummary,
    rows: list[dict[str, Any]],
    max_samples: int,
    max_strips: int,
    progress: Callable[[int], None] = lambda n: None,
    *,
    video_root: str | Path | None = None,
    data: str | Path | None = None,
) -> list[SampleView]:
    """Page views of the selected samples, with question/options from the reader's data file (`data`) where
    not recorded, and frames from videos under the reader's `video_root`."""
    chosen = select_samples(rows, max_samples)
    need_data = any(not r.get("question") or not r.get("options") or not r.get("frame_indices") for r in chosen)
    records, why = data_records(summary.settings.get("bench"), data) if need_data else ({}, None)
    views = []
    for n, row in enumerate(chosen):
        item_id = str(row["id"])
        record = records.get(item_id)
        question, note = row.get("question"), None
        if not question:
            question = record.question if record else None
            note = (
                "reconstructed from the data file: not recorded in samples.jsonl"
                if record
                else f"question not recorded and not found in the data file ({why or 'no record with this id'})"
            )
        options = row.get("options") or (record.options if record else [])
        gold = [str(g) for g in row.get("gold") or (record.answer if record else [])]
        parsed = str(row.get("parsed") or "")
        view = SampleView(
            index,
            item_id,
            status_of(row),
            question,
            note,
            option_views(options, gold, parsed),
            gold,
            parsed,
            float(row.get("strict") or 0.0),
            float(row.get("soft") or 0.0),
            row.get("category"),
            row.get("error"),
            output_parts(row.get("output")),
            len(row.get("output") or ""),
            anchor=f"s{index}-{n}",
        )
        if n < max_strips:
            view.frames, view.frames_note = frame_strip(row, record, summary.settings, video_root)
            progress(1)
        else:
            view.frames_note = f"frame strips are shown for the first {max_strips} samples (--max-strips)"
        views.append(view)
    return views


def paired_difference(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str = "strict") -> dict[str, Any]:
    """`b − a` on the items both runs answered: mean difference ×100 and its paired bootstrap 95% CI."""
    av = {str(r["id"]): float(r.get(key) or 0.0) for r in a}
    bv = {str(r["id"]): float(r.get(key) or 0.0) for r in b}
    common = sorted(set(av) & set(bv))
    if not common:
        return {"n": 0, "diff": None, "ci": None}
    d = np.array([bv[i] - av[i] for i in common])
    return {"n": len(common), "diff": round(float(d.mean()) * 100, 4), "ci": bootstrap_ci(d)}


def disagreements(a: RunView, b: RunView) -> dict[str, Any]:
    """Items both runs answered whose parsed answer or status differ (`rows`, each with the page anchors of the
    two samples where they are shown), and how many items the runs share (`shared`: 0 means nothing to compare,
    not agreement)."""
    rows_b = {str(r["id"]): r for r in b.samples}
    anchors = {(run.index, s.id): s.anchor for run in (a, b) for s in run.shown}
    out, shared = [], 0
    for ra in a.samples:
        rb = rows_b.get(str(ra["id"]))
        if rb is None:
            continue
        shared += 1
        if (status_of(ra), ra.get("parsed")) != (status_of(rb), rb.get("parsed")):
            item_id = str(ra["id"])
            out.append(
                {
                    "id": item_id,
                    "gold": ",".join(ra.get("gold") or []),
                    "a": ra.get("parsed") or "",
                    "a_status": status_of(ra),
                    "a_anchor": anchors.get((a.index, item_id)),
                    "b": rb.get("parsed") or "",
                    "b_status": status_of(rb),
                    "b_anchor": anchors.get((b.index, item_id)),
                    "category": ra.get("category"),
                }
            )
    return {"rows": out, "shared": shared}


def letter_histogram(runs: list[RunView]) -> dict[str, Any]:
    """Per run, the share of items whose gold answer holds each letter and the share of answered items whose
    parsed answer does: a model that favours a position answers one letter far more often than it is gold."""
    per_run = []
    for run in runs:
        answered = [r for r in run.samples if not r.get("error")]
        gold = Counter(x for r in run.samples for x in set(r.get("gold") or []))
        parsed = Counter(x for r in answered for x in parsed_letters(r.get("parsed")))
        none = sum(not parsed_letters(r.get("parsed")) for r in answered)
        per_run.append((len(run.samples), len(answered), gold, parsed, none))
    letters = sorted({x for *_, gold, parsed, _ in per_run for x in (*gold, *parsed)})

    def share(count: int, n: int) -> dict[str, Any]:
        return {"n": count, "pct": 100 * count / n if n else None}

    rows = [
        (x, [(share(gold[x], items), share(parsed[x], answered)) for items, answered, gold, parsed, _ in per_run])
        for x in letters
    ]
    return {"rows": rows, "none": [share(none, answered) for _, answered, _, _, none in per_run]}


def model_bench_table(runs: list[RunView]) -> dict[str, Any]:
    """Model × benchmark accuracy, and each run's paired difference to the first run of its benchmark.

    A row is a model; two runs of one model on one benchmark (another prompt, say) get a row each, named by
    their run folder.
    """
    pairs = Counter((r.model_name, r.bench) for r in runs)
    row_of = {r.index: r.model_name if pairs[(r.model_name, r.bench)] == 1 else r.label for r in runs}
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        base = next(r for r in runs if r.bench == run.bench)
        cell = {
            "run": run,
            "accuracy": run.summary.results.get("accuracy"),
            "ci": run.summary.results.get("accuracy_ci95"),
            "diff": None,
        }
        if base is not run:
            cell["diff"] = paired_difference(base.samples, run.samples)
            cell["base"] = base.label
        cells[(row_of[run.index], run.bench)] = cell
    return {
        "models": list(dict.fromkeys(row_of.values())),
        "benches": list(dict.fromkeys(r.bench for r in runs)),
        "cells": cells,
    }


def category_chart(runs: list[RunView], width: int = 760) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of per-category accuracy (×100) with 95% intervals, one bar per
    run in each category (overall, single- and multi-answer when no run has categories)."""
    groups: list[str] = []
    for run in runs:
        groups += [c for c in (run.summary.results.get("by_category") or {}) if c not in groups]
    by_group = "category"
    if not groups:
        groups, by_group = ["all", "single", "multi"], "group"

    def block(run: RunView, group: str) -> dict[str, Any] | None:
        res = run.summary.results
        if by_group == "group":
            return res if group == "all" else res.get(group)
        return (res.get("by_category") or {}).get(group)

    # soft accuracy as a lighter bar under each accuracy bar, where it can differ (multi-answer items)
    soft = any(
        (b := block(run, group)) and b.get("soft_accuracy") is not None and b["soft_accuracy"] != b.get("accuracy")
        for run in runs
        for group in groups
    )
    label_w, right, bar_h, gap, top = 190, 48, 12, 10, 24  # right: room for the value after a 100% interval
    soft_h = 8 if soft else 0
    plot_w = width - label_w - right
    x = lambda v: label_w + plot_w * max(0.0, min(100.0, v)) / 100  # noqa: E731
    bars, labels, y = [], [], top
    for group in groups:
        labels.append({"y": y + (bar_h + soft_h) * len(runs) / 2 + 4, "text": group})
        for run in runs:
            b = block(run, group)
            metrics = [("accuracy", bar_h, "")] + ([("soft_accuracy", soft_h, " soft")] if soft else [])
            for key, height, cls in metrics:
                if b and b.get(key) is not None:
                    bars.append(_chart_bar(run, group, b, key, x, label_w, y, height, cls))
                y += height
        y += gap
    ticks = [{"x": x(v), "label": str(v)} for v in (0, 25, 50, 75, 100)]
    return {
        "width": width,
        "height": y + 8,
        "top": top - 6,
        "bottom": y - gap + 2,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "label_w": label_w,
        "legend": [(r.label, r.index % SERIES) for r in runs],
        "by": by_group,
        "soft": soft,
    }


def _chart_bar(run, group: str, b: dict[str, Any], key: str, x, label_w: int, y: float, height: int, cls: str):
    """One bar of `category_chart`: the value of `key` in block `b` with its 95% interval."""
    value, ci = float(b[key]), b.get(f"{key}_ci95")
    name = key.replace("_", " ")
    bar = {
        "x": label_w,
        "y": y,
        "w": max(0.5, x(value) - label_w),
        "h": height - 2,
        "cls": f"s{run.index % SERIES}{cls}",
        "title": f"{run.label} · {group} · {name}: {value:.1f}"
        + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "")
        + f" (n={b.get('n')})",
        "value": f"{value:.1f}",
    }
    if ci and all(v == v for v in ci):  # NaN-free
        bar.update(ci_x1=x(ci[0]), ci_x2=x(ci[1]), cy=y + (height - 2) / 2)
    bar["tx"] = max(x(value), bar.get("ci_x2", 0)) + 4
    return bar


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
