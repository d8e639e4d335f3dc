"""Re-score per-sample evaluation logs: TW-GRPO's JSONL logs and this toolkit's `samples.jsonl`.

TW-GRPO logs (`*_eval.json`, really JSONL) hold one line per sample with `question` (the input record),
`ground_truth`, `model_output`, …; restarted runs append duplicates, which are removed by
`question.problem_id`, keeping the last line. Our `samples.jsonl` is de-duplicated by `id`, keeping the
last line (a resumed run may retry an item that failed before). A last line cut short by a kill is
dropped with a warning, as the runner does.

Without `--parser`, the log's own scoring is detected rather than assumed (issue 12.1: a zero-shot log
scored with the CoT parser reads ~0; issue 28.5: a CoT log with few `<answer>` tags read raw reads ~0): a
run's `samples.jsonl` uses the parser in its `config.json`; a TW-GRPO log uses the parser that reproduces
its own `extracted_answer`s (`raw` for TW-GRPO's zero-shot script, `twgrpo` for its CoT scripts); a log
without them is scored `raw` when most outputs have no `<answer>` block, else `twgrpo`. The choice and its
reason are reported, and a parser that reads nothing from most outputs is a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twgrpo_data.benchmarks import categories_of, cluster_of, guess_from_name, official_protocol
from twgrpo_data.benchmarks.facts import OfficialProtocol
from twgrpo_data.errors import InputFormatError, RecordError, UsageError
from twgrpo_data.io.json_text import parse_json, read_text
from twgrpo_data.io.jsonl_log import read_jsonl_log
from twgrpo_data.io.unified_format import strip_option_prefix, unified_to_record
from twgrpo_data.metrics import ItemScore, score_output, summarize
from twgrpo_data.scoring import parse_answer

# Record keys that name a benchmark category in TW-GRPO's eval files, in order of preference.
_CATEGORY_KEYS = ("category", "task", "type", "dim", "original_question_type", "duration")


@dataclass
class RescoredLog:
    """The scores of one log after de-duplication."""

    file: str
    kind: str  # "twgrpo" or "samples"
    parser: str
    items: list[ItemScore]
    lines: int
    duplicates_removed: int
    parser_reason: str = "given"
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = {
            "file": self.file,
            "kind": self.kind,
            "parser": self.parser,
            "parser_reason": self.parser_reason,
            "lines": self.lines,
            "duplicates_removed": self.duplicates_removed,
        }
        out.update(summarize(self.items))
        return out


def log_kind(row: dict[str, Any]) -> str:
    if {"model_output", "ground_truth"} <= set(row):
        return "twgrpo"
    if {"id", "output", "gold"} <= set(row):
        return "samples"
    raise InputFormatError(
        f"unknown log layout (keys {sorted(row)[:8]}); expected a TW-GRPO eval log or a twgrpo samples.jsonl"
    )


def _twgrpo_category(question: dict[str, Any], source: str) -> tuple[str | None, str | None]:
    """`(category, cluster)`: the benchmark's own breakdown (e.g. MMVU subject from the video folder) when the
    log's file name tells the benchmark, else the first category-like key of the logged record; and the
    group the item belongs to where its benchmark has one (Video-MME's video)."""
    try:
        record = unified_to_record(question, 0, source)
    except RecordError:
        record = None
    category = categories_of(record).get("category") if record is not None else None
    cluster = cluster_of(record) if record is not None else None
    if category:
        return str(category), cluster
    for key in _CATEGORY_KEYS:
        value = question.get(key)
        if isinstance(value, str) and value:
            return value, cluster
    return None, cluster


def _twgrpo_items(rows: list[dict[str, Any]], path: Path, parser: str) -> tuple[list[ItemScore], int]:
    latest: dict[Any, tuple[int, dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        q = row.get("question") if isinstance(row.get("question"), dict) else {}
        key = q.get("problem_id", q.get("id"))
        if key is None:
            key = (q.get("video"), q.get("problem"))
        latest[key] = (i, row)  # a later line for the same problem wins
    items = []
    source = guess_from_name(Path(path).name)
    for i, row in sorted(latest.values(), key=lambda t: t[0]):
        q = row.get("question") if isinstance(row.get("question"), dict) else {}
        for fld in ("model_output", "ground_truth"):
            if not isinstance(row.get(fld), str):
                raise RecordError(
                    "missing or not a string", file=str(path), index=i, record_id=str(q.get("problem_id")), field=fld
                )
        options = [strip_option_prefix(o, k) for k, o in enumerate(q.get("options") or [])]
        category, cluster = _twgrpo_category(q, source)
        items.append(
            score_output(
                str(q.get("problem_id", i)),
                row["model_output"],
                row["ground_truth"],
                parser=parser,
                options=options,
                category=category,
                cluster=cluster,
            )
        )
    return items, len(rows) - len(latest)


def _sample_items(
    rows: list[dict[str, Any]], path: Path, parser: str, official: OfficialProtocol | None = None
) -> tuple[list[ItemScore], int]:
    """Score a samples.jsonl: with `parser`, or — for a run of a benchmark's official protocol — with that
    benchmark's scorer on each line's `reference`, reading the judge's verdicts from the line (never asking)."""
    from .judge import Replay
    from .protocol import score_item

    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row.get("gold"), list) or (not row["gold"] and official is None):
            raise RecordError(
                "missing or empty gold letters", file=str(path), index=i, record_id=str(row.get("id")), field="gold"
            )
        if official is not None and row.get("error") is None and not isinstance(row.get("reference"), dict):
            raise RecordError(
                "no reference for the official scorer",
                file=str(path),
                index=i,
                record_id=str(row.get("id")),
                field="reference",
            )
        latest[str(row["id"])] = (i, row)
    items = [
        score_item(
            official,
            str(row["id"]),
            row.get("output"),
            row["gold"],
            parser=parser,
            options=row.get("options"),
            category=row.get("category"),
            error=row.get("error"),
            reference=row.get("reference"),
            ask=Replay(row.get("judgements")) if official is not None else None,
            kind=row.get("kind"),
            cluster=row.get("cluster"),
        )[0]
        for _, row in sorted(latest.values(), key=lambda t: t[0])
    ]
    return items, len(rows) - len(latest)


def _run_config(path: Path) -> dict[str, Any]:
    """The `config.json` beside a run's `samples.jsonl` ({} when there is none or it cannot be read)."""
    config = path.parent / "config.json"
    if not config.is_file():
        return {}
    try:
        doc = parse_json(read_text(config), config)
    except (json.JSONDecodeError, InputFormatError):
        return {}
    return doc if isinstance(doc, dict) else {}


def detect_parser(rows: list[dict[str, Any]], kind: str) -> tuple[str, str]:
    """`(parser, reason)`: how the log was scored, judged from its own lines.

    A TW-GRPO log says it itself: its `extracted_answer` is what its script read from each output, so the
    parser that reproduces those readings is the one it used (zero-shot: the raw output; CoT: the first
    `<answer>` block or "answer: X") — whatever share of outputs carries tags. Only a log without readings
    that describe its outputs falls back to counting `<answer>` blocks."""
    out_key = "model_output" if kind == "twgrpo" else "output"
    outputs = [r.get(out_key) for r in rows if isinstance(r.get(out_key), str)]
    if kind == "twgrpo":
        stored = [
            (r["extracted_answer"].strip(), r[out_key])
            for r in rows
            if isinstance(r.get("extracted_answer"), str) and isinstance(r.get(out_key), str)
        ]
        agree = {p: sum(parse_answer(out, p).strip() == ext for ext, out in stored) for p in ("raw", "twgrpo")}
        best = max(agree, key=lambda p: agree[p])
        if stored and agree[best] >= EXTRACTED_AGREEMENT * len(stored):
            how = "equals the raw output" if best == "raw" else "is the twgrpo parser's reading"
            style = " (zero-shot scoring)" if best == "raw" else ""
            return best, f"its extracted_answer {how} on {agree[best]} of {len(stored)} lines{style}"
    tagged = sum("<answer>" in o for o in outputs)
    if outputs and tagged * 2 < len(outputs):
        return "raw", f"{len(outputs) - tagged} of {len(outputs)} outputs have no <answer> block (zero-shot style)"
    return "twgrpo", f"{tagged} of {len(outputs)} outputs have an <answer> block"


# The share of a log's lines whose stored extracted_answer a parser must reproduce to be taken as the log's own.
EXTRACTED_AGREEMENT = 0.9

# A parser that reads nothing from more than this share of the answered items is probably the wrong one.
UNPARSED_WARNING_SHARE = 0.5


def rescore_log(path: str | Path, parser: str | None = None) -> RescoredLog:
    """Re-score one log. `parser=None` uses the run's own parser (samples) or the one the log's lines show
    (`detect_parser`)."""
    path = Path(path)
    rows, torn = read_jsonl_log(path)
    if not rows:
        raise InputFormatError(f"{path}: empty log")
    try:
        kind = log_kind(rows[0])
    except InputFormatError as exc:
        raise InputFormatError(f"{path}: {exc}") from None
    reason = "given"
    config = _run_config(path) if kind == "samples" else {}
    official = None
    if config.get("protocol") == "official":
        if parser is not None:
            raise UsageError(
                f"--parser: {path} is a --protocol official run, scored by {config.get('bench')}'s own rules "
                "(and its judge's recorded verdicts); drop --parser"
            )
        official = official_protocol(str(config.get("bench")))
        parser, reason = str(config.get("parser")), f"{official.name}'s official scorer (the run's config.json)"
    if parser is None and config.get("parser"):
        parser, reason = config["parser"], "the run's config.json"
    if parser is None:
        parser, reason = detect_parser(rows, kind)
    if kind == "twgrpo":
        items, dups = _twgrpo_items(rows, path, parser)
    else:
        items, dups = _sample_items(rows, path, parser, official)
    warnings = [f"{path}: dropped a last line cut short (a killed run)"] if torn else []
    answered = [i for i in items if i.error is None]
    unparsed = sum(1 for i in answered if not i.parsed)
    if answered and unparsed > UNPARSED_WARNING_SHARE * len(answered):
        if official is not None:
            warnings.append(
                f"{path}: {official.name}'s official scorer read no answer from {unparsed} of {len(answered)} outputs"
            )
        else:
            other = "raw" if parser != "raw" else "twgrpo"
            warnings.append(
                f"{path}: the {parser} parser read no answer from {unparsed} of {len(answered)} outputs; "
                f"check the log's scoring (e.g. --parser {other})"
            )
    return RescoredLog(str(path), kind, parser, items, len(rows), dups, reason, warnings)
