"""`twgrpo qai report` / `qai convert --html`: one self-contained HTML page to audit a QAI conversion.

The page shows the report's counts (by status, refusal reason, negation rule and strategy), then a browsable
list of the rewritten records (original → rewritten question, options before and after with gold marked and
removed options struck out) and of the refusals with their reasons.

The report JSON holds counts only; which record was refused for which reason is found by converting each
input record on its own again with the report's seed, ratio and min-keep (`invert.convert` draws per record
from (seed, id), so one record alone gets the outcome it got in the whole file). The replayed records are
checked against the output file; a difference is shown at the top of the page, never hidden. The input and
output files are read from the report's own folder (or given by the reader): a report names paths of another
machine, and rendering it opens none of them.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputFormatError, TwgrpoError
from ..html_page import json_for_script, render_page
from ..progress import SILENT, Progress
from ..record import Record, letter
from ..sources import open_input
from .invert import FALLBACKS, WHY_MODES, convert
from .negate import Negator

DEFAULT_MAX_ITEMS = 2000
# outcomes listed one by one (the others are only counted: nothing to audit in an unselected record)
LISTED = ("negated", "unnegatable", "already_negative")


@dataclass
class Outcome:
    """What the conversion did to one record."""

    status: str  # a QaiReport count key: negated, not_selected, unnegatable, already_negative, already_multi
    reason: str | None  # the refusal reason, or the negation rule for a negated record
    record: Record  # the converted record (equal to the input when not negated)


def is_report(obj: Any) -> bool:
    """Whether a parsed JSON document is a `qai convert --report` file."""
    return isinstance(obj, dict) and {"counts", "n_records", "seed", "ratio", "min_keep"} <= set(obj)


_COUNT_FIELDS = (
    "counts",
    "unnegatable_reasons",
    "negation_rules",
    "strategies",
    "template_reasons",
    "answer_count_histogram",
    "option_count_histogram",
)
_TEXT_FIELDS = ("input", "output", "spacy_model", "spacy_model_version", "spacy_version", "twgrpo_version")


def check_report(doc: dict[str, Any], path: str | Path) -> None:
    """Refuse (one line naming the file and field) a report whose fields do not have the types `qai convert
    --report` writes: the page replays the conversion with its settings and the card prints its counts, and a
    shared report may be damaged or crafted."""

    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    problems = [
        (key, "a whole number ≥ 0")
        for key in ("n_records", "parsed_questions")
        if doc.get(key) is not None and not (whole(doc[key]) and doc[key] >= 0)
    ]
    problems += [(k, "a whole number") for k in ("seed", "min_keep") if doc.get(k) is not None and not whole(doc[k])]
    ratio = doc.get("ratio")
    if ratio is not None and not (isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 0 <= ratio <= 1):
        problems.append(("ratio", "a number from 0 to 1"))
    for key, allowed in (("fallback", FALLBACKS), ("why", WHY_MODES)):
        if key in doc and doc[key] not in allowed:
            problems.append((key, f"one of {', '.join(allowed)}"))
    for key in _COUNT_FIELDS:
        value = doc.get(key)
        if value is not None and not (isinstance(value, dict) and all(whole(v) for v in value.values())):
            problems.append((key, "an object of whole numbers"))
    problems += [(k, "text") for k in _TEXT_FIELDS if doc.get(k) is not None and not isinstance(doc[k], str)]
    if problems:
        key, expected = problems[0]
        raise InputFormatError(f"{path}: field {key!r} is {json.dumps(doc.get(key))[:60]}, not {expected}")


def outcomes_by_id(converted: Sequence[Record], report: Any) -> dict[str, Outcome]:
    """Each record's outcome from what `invert.convert` returned: its records and its `QaiReport`."""
    return {rec.id: Outcome(status, reason, rec) for rec, (status, reason) in zip(converted, report.outcomes)}


def replay_outcomes(
    records: Sequence[Record], report: dict[str, Any], negator: Any = None, progress: Progress = SILENT
) -> dict[str, Outcome]:
    """Each input record's outcome, by converting the records again with the report's settings (every keyword
    of `invert.convert` that the report records under its own name: seed, ratio, min_keep, …). A record's
    outcome depends only on itself and the settings, so one conversion of them all gives each the outcome it
    would get alone. The records converted are counted on a `progress` task."""
    settings = {
        name: report[name]
        for name in inspect.signature(convert).parameters
        if name not in ("records", "negator", "progress") and name in report
    }
    with progress.task("replaying the conversion", len(records)) as task:
        converted, replayed = convert(records, negator=negator or Negator(), progress=task.advance, **settings)
    return outcomes_by_id(converted, replayed)


def _option_rows(options: Sequence[str], gold: Sequence[str], removed: Sequence[str] = ()) -> list[dict[str, Any]]:
    removed_set = {o.strip().lower() for o in removed}
    return [
        {"letter": letter(i), "text": text, "gold": letter(i) in gold, "removed": text.strip().lower() in removed_set}
        for i, text in enumerate(options)
    ]


def _strategy(record: Record) -> str:
    return str((record.qai or {}).get("strategy") or "negation")


def item_views(
    inputs: Sequence[Record] | None, outputs: Sequence[Record] | None, outcomes: dict[str, Outcome]
) -> tuple[list[dict[str, Any]], int]:
    """The listed items (rewritten records and refusals) and how many output records differ from the replay."""
    by_output = {r.id: r for r in outputs or []}
    mismatches = 0
    items = []
    if inputs is None:  # an output file alone: its rewritten records carry their provenance
        for rec in outputs or []:
            if rec.qai and rec.qai.get("negated"):
                prov = rec.qai
                items.append(
                    {
                        "id": rec.id,
                        "status": "negated",
                        "reason": None,
                        "strategy": _strategy(rec),
                        "question": prov.get("original_question", ""),
                        "rewritten": rec.question,
                        "before": None,
                        "original_answer": prov.get("original_answer") or [],
                        "removed": prov.get("removed_options") or [],
                        "after": _option_rows(rec.options, rec.answer),
                    }
                )
        return items, 0
    for rec in inputs:
        outcome = outcomes[rec.id]
        written = by_output.get(rec.id)
        if written is not None and (written.question, written.options, written.answer) != (
            outcome.record.question,
            outcome.record.options,
            outcome.record.answer,
        ):
            mismatches += 1
        if outcome.status not in LISTED:
            continue
        item = {
            "id": rec.id,
            "status": outcome.status,
            "reason": outcome.reason,
            "question": rec.question,
            "strategy": "",
            "rewritten": None,
            "after": None,
            "removed": [],
            "original_answer": list(rec.answer),
            "before": _option_rows(rec.options, rec.answer),
        }
        if outcome.status == "negated":
            new = written or outcome.record
            prov = new.qai or {}
            item.update(
                strategy=_strategy(new),
                rewritten=new.question,
                removed=prov.get("removed_options") or [],
                before=_option_rows(rec.options, rec.answer, prov.get("removed_options") or []),
                after=_option_rows(new.options, new.answer),
            )
        items.append(item)
    return items, mismatches


def strategy_counts(report: dict[str, Any] | None, outputs: Sequence[Record] | None) -> dict[str, int]:
    """Rewritten records per strategy: the report's own counts when it has them, else from the records."""
    for key in ("strategies", "strategy_counts"):
        if report and isinstance(report.get(key), dict):
            return {str(k): int(v) for k, v in report[key].items()}
    return dict(Counter(_strategy(r) for r in outputs or [] if r.qai and r.qai.get("negated")))


def build_qai_page(
    report: dict[str, Any] | None,
    inputs: Sequence[Record] | None,
    outputs: Sequence[Record] | None,
    *,
    outcomes: dict[str, Outcome] | None = None,
    source: str = "",
    max_items: int = DEFAULT_MAX_ITEMS,
    negator: Any = None,
    progress: Progress = SILENT,
) -> str:
    """The page for a conversion. `report` is its `--report` JSON (None: an output file alone), `inputs` the
    original records (None when unreachable), `outputs` the converted ones; `progress` counts the replay."""
    if max_items < 0:
        raise TwgrpoError("--max-items must be at least 0")
    notes = []
    if report is None:
        notes.append(
            "no report given: counts by status and reason need the conversion's --report JSON; "
            "only the rewritten records (with their provenance) are listed"
        )
    if report is not None and inputs is None:
        notes.append(
            f"the input file {report.get('input')!r} is not in the report's folder: refusals and the options "
            "before rewriting cannot be listed (pass it with --input)"
        )
    if report is not None and inputs is not None and outcomes is None:
        outcomes = replay_outcomes(inputs, report, negator, progress)
    items, mismatches = item_views(inputs if report is not None else None, outputs, outcomes or {})
    if mismatches:
        notes.append(
            f"{mismatches} output record(s) differ from a re-run of the conversion with the report's "
            "settings (another twgrpo version or other options?): the listed outcomes may not be the "
            "ones that made this output"
        )
    total = len(items)
    items = items[:max_items]
    reasons = sorted({i["reason"] for i in items if i["status"] != "negated" and i["reason"]})
    strategies = sorted({i["strategy"] for i in items if i["strategy"]})
    index = [
        {"key": i["id"], "status": i["status"], "reason": i["reason"] or "", "strategy": i["strategy"]} for i in items
    ]
    counts = (report or {}).get("counts")
    heading = f"QAI conversion · {(report or {}).get('input') or source}"
    return render_page(
        "qai_report.html.j2",
        title=f"twgrpo QAI report — {heading}",
        heading=heading,
        report=report,
        counts=counts,
        reasons_count=(report or {}).get("unnegatable_reasons") or {},
        rules=(report or {}).get("negation_rules") or {},
        strategies_count=strategy_counts(report, outputs),
        items=items,
        total_items=total,
        reasons=reasons,
        strategies=strategies,
        notes=notes,
        n_outputs=len(outputs or []),
        source=source,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        twgrpo_version=__version__,
        page_data=json_for_script({"items": index}),
    )


def _beside(path: Any, folder: Path) -> Path | None:
    """The file a report names (`input`, `output`), looked for in the report's own folder only: as written
    when that is a relative path that stays inside the folder, else by its file name. A report is a shared file:
    an absolute path, a `..` path or a path relative to where the reader stands is never opened."""
    if not isinstance(path, str) or not path:
        return None
    written = Path(path)
    candidates = [] if written.is_absolute() or ".." in written.parts else [folder / written]
    candidates.append(folder / written.name)
    return next((c for c in candidates if c.name not in ("", ".", "..") and c.is_file()), None)


def qai_page_from_file(
    path: str | Path,
    *,
    input: str | Path | None = None,
    output: str | Path | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
    progress: Progress = SILENT,
) -> str:
    """The page for a `--report` JSON or for a QAI output file alone. The conversion's input and output files
    are `input` / `output` when the reader gives them, else the files the report names if they lie in the
    report's folder (`qai convert X -o Y --report R` in one folder finds both); `progress` counts the replay of
    the conversion."""
    p = Path(path)
    if not p.exists():
        raise InputFormatError(f"{p}: no such file")
    report = None
    if p.is_file() and p.suffix == ".json":
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"{p}: invalid JSON ({exc})") from None
        report = doc if is_report(doc) else None
    if report is not None:
        check_report(report, p)
    if report is None:
        outputs = open_input(p).raise_or_skip(False).records
        return build_qai_page(None, None, outputs, source=str(p), max_items=max_items)
    input_path = Path(input) if input is not None else _beside(report.get("input"), p.parent)
    output_path = Path(output) if output is not None else _beside(report.get("output"), p.parent)
    inputs = open_input(input_path).raise_or_skip(True).records if input_path else None
    outputs = open_input(output_path).raise_or_skip(False).records if output_path else None
    return build_qai_page(report, inputs, outputs, source=str(p), max_items=max_items, progress=progress)
