"""The runs and samples of an eval report page: each sample as the page shows it (status, options with gold and
prediction marked, the output cut into its think/answer parts, its frame strip) and each run with its counts,
failures and status badge."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.failures import FailureGroup, failure_groups
from twgrpo_data.io.json_text import read_jsonl
from twgrpo_data.record import Record, letter
from twgrpo_data.scoring import answer_set

from .compare import RunSummary
from .report_frames import frame_strip
from .run_files import sample_problem
from .run_folder import SAMPLES

_PARTS = re.compile(r"(<think>.*?(?:</think>|$)|<answer>.*?(?:</answer>|$))", re.DOTALL | re.IGNORECASE)
_LETTER = re.compile(r"[A-Z]")


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
    from twgrpo_data.benchmarks import BENCHMARKS
    from twgrpo_data.sources import open_input

    if data is None:
        return {}, "pass the run's data file with --data to show it"
    if not isinstance(bench, str) or bench not in BENCHMARKS:
        return {}, f"config.json names no known benchmark ({bench!r})"
    try:
        result = open_input(data, bench=bench)
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
