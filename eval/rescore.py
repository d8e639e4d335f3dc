"""Re-score per-sample evaluation logs: TW-GRPO's JSONL logs and this toolkit's `samples.jsonl`.

TW-GRPO logs (`*_eval.json`, really JSONL) hold one line per sample with `question` (the input record),
`ground_truth`, `model_output`, …; restarted runs append duplicates, which are removed by
`question.problem_id`, keeping the last line. Our `samples.jsonl` is de-duplicated by `id`, keeping the
last line (a resumed run may retry an item that failed before).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError, RecordError
from twgrpo_data.benchmarks import categories_of
from twgrpo_data.formats import guess_source, read_jsonl, strip_option_prefix, unified_to_record
from twgrpo_data.metrics import ItemScore, score_output, summarize

# Fields of `samples.jsonl` lines (written by the eval runner) that re-scoring reads.
SAMPLE_FIELDS = ("id", "output", "gold", "options", "category", "error")
# Record keys that name a benchmark category in TW-GRPO's eval files, in order of preference.
_CATEGORY_KEYS = ("category", "task", "type", "dim", "original_question_type", "duration")


@dataclass
class RescoredLog:
    """The scores of one log after de-duplication."""

    file: str
    kind: str                # "twgrpo" or "samples"
    parser: str
    items: list[ItemScore]
    lines: int
    duplicates_removed: int

    def summary(self, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
        out = {"file": self.file, "kind": self.kind, "parser": self.parser, "lines": self.lines,
               "duplicates_removed": self.duplicates_removed}
        out.update(summarize(self.items, n_boot=n_boot, seed=seed))
        return out


def log_kind(row: dict[str, Any]) -> str:
    if {"model_output", "ground_truth"} <= set(row):
        return "twgrpo"
    if {"id", "output", "gold"} <= set(row):
        return "samples"
    raise InputFormatError(f"unknown log layout (keys {sorted(row)[:8]}); expected a TW-GRPO eval log "
                           "or a twgrpo samples.jsonl")


def _twgrpo_category(question: dict[str, Any], source: str) -> str | None:
    """The benchmark's own breakdown (e.g. MMVU subject from the video folder) when the log's file name
    tells the benchmark, else the first category-like key of the logged record."""
    try:
        record = unified_to_record(question, 0, source)
    except RecordError:
        record = None
    category = categories_of(record).get("category") if record is not None else None
    if category:
        return str(category)
    for key in _CATEGORY_KEYS:
        value = question.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _twgrpo_items(rows: list[dict[str, Any]], path: Path, parser: str) -> tuple[list[ItemScore], int]:
    latest: dict[Any, tuple[int, dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        q = row.get("question") if isinstance(row.get("question"), dict) else {}
        key = q.get("problem_id", q.get("id"))
        if key is None:
            key = (q.get("video"), q.get("problem"))
        latest[key] = (i, row)  # a later line for the same problem wins
    items = []
    source = guess_source(path)
    for i, row in sorted(latest.values(), key=lambda t: t[0]):
        q = row.get("question") if isinstance(row.get("question"), dict) else {}
        for fld in ("model_output", "ground_truth"):
            if not isinstance(row.get(fld), str):
                raise RecordError("missing or not a string", file=str(path), index=i,
                                  record_id=str(q.get("problem_id")), field=fld)
        options = [strip_option_prefix(o, k) for k, o in enumerate(q.get("options") or [])]
        items.append(score_output(str(q.get("problem_id", i)), row["model_output"], row["ground_truth"],
                                  parser=parser, options=options, category=_twgrpo_category(q, source)))
    return items, len(rows) - len(latest)


def _sample_items(rows: list[dict[str, Any]], path: Path, parser: str) -> tuple[list[ItemScore], int]:
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row.get("gold"), list) or not row["gold"]:
            raise RecordError("missing or empty gold letters", file=str(path), index=i,
                              record_id=str(row.get("id")), field="gold")
        latest[str(row["id"])] = (i, row)
    items = [score_output(str(row["id"]), row.get("output"), row["gold"], parser=parser,
                          options=row.get("options"), category=row.get("category"), error=row.get("error"))
             for _, row in sorted(latest.values(), key=lambda t: t[0])]
    return items, len(rows) - len(latest)


def _run_parser(path: Path) -> str | None:
    """The parser an eval run used, from the `config.json` beside its `samples.jsonl`."""
    config = path.parent / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("parser")
    except (json.JSONDecodeError, AttributeError):
        return None


def rescore_log(path: str | Path, parser: str | None = None) -> RescoredLog:
    """Re-score one log. `parser=None` uses the run's own parser (samples) or TW-GRPO's (TW-GRPO logs)."""
    path = Path(path)
    rows = read_jsonl(path)
    if not rows:
        raise InputFormatError(f"{path}: empty log")
    try:
        kind = log_kind(rows[0])
    except InputFormatError as exc:
        raise InputFormatError(f"{path}: {exc}") from None
    if kind == "twgrpo":
        parser = parser or "twgrpo"
        items, dups = _twgrpo_items(rows, path, parser)
    else:
        parser = parser or _run_parser(path) or "twgrpo"
        items, dups = _sample_items(rows, path, parser)
    return RescoredLog(str(path), kind, parser, items, len(rows), dups)
