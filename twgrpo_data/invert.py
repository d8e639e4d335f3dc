"""Question-Answer Inversion (DESIGN §4): negate, invert the answer set, drop some new gold options, shuffle.

For each single-answer record a per-record random stream, seeded from (seed, record id) with a stable
hash, decides whether the record is selected (probability `ratio`). Only selected records are parsed;
a record is inverted only when its question was negated: gold := the originally wrong options, the
originally correct option stays as a distractor, a random number of new gold options is removed (at least
`min_keep` stay), and the options are shuffled and relabelled. Everything else is returned unchanged and
counted in the report. The output does not depend on record order, batch size or the negation path.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import installed_version
from .errors import InputFormatError, TwgrpoError
from .formats import LoadResult, detect_format, read_records
from .garbage_collection import gc_paused
from .negate import (
    ALREADY_NEGATIVE,
    NEGATED,
    NEGATION,
    NO_TEMPLATE,
    TEMPLATE,
    NegationResult,
    Negator,
    is_why_question,
    template_question,
)
from .record import Record, letter, letter_index

#: Interchange formats QAI reads besides the benchmarks' native layouts (`input_formats()` lists all).
INTERCHANGE_INPUTS = ("csv", "unified", "records", "parquet", "hf")
# "negated" counts every inverted record, whichever strategy rewrote its question (`strategies` splits it).
COUNT_KEYS = ("negated", "not_selected", "unnegatable", "already_negative", "already_multi", "skipped_invalid")
STRATEGIES = (NEGATION, TEMPLATE)
FALLBACKS = ("none", TEMPLATE)
WHY_MODES = ("negate", TEMPLATE)

# Options that are about the other options, or about whether the question can be answered: inverted, they
# become "correct" answers to the negated question although they are not ("Throughout the entire video"
# contains "At the beginning"; "It's not mentioned in the video" is false once the answer is known).
_SUBSUMING_OPTION = re.compile(
    r"^\W*(?:all|none|both|neither|any)\s+(?:of\s+)?(?:the\s+)?(?:above|options|choices|answers|them|these|those|both)\b"
    r"|^\W*(?:both|neither|all|none)\W*$|^\W*(?:both|neither)\s+\(?[a-f]\)?\s+(?:and|nor)\s+\(?[a-f]\)?\W*$"
    r"|\b(?:throughout|during|in|for)\s+the\s+(?:entire|whole|full)\s+(?:video|clip|time)\b|\ball\s+the\s+time\b"
    r"|^\W*not\s+sure\W*$|\b(?:can(?:no|')t|cannot|unable\s+to|impossible\s+to)\s+(?:be\s+)?(?:determine|deduce|tell|answer|know|judge)"
    r"|\bnot\s+(?:mentioned|shown|specified|stated|determinable|enough\s+information)\b",
    re.IGNORECASE | re.MULTILINE,
)
# one of these occurs in every match of _SUBSUMING_OPTION: most option sets need no regex search at all
_SUBSUMING_KEYS = (
    "all",
    "none",
    "both",
    "neither",
    "any",
    "entire",
    "whole",
    "full",
    "sure",
    "determin",
    "deduc",
    "tell",
    "answer",
    "know",
    "judge",
    "mention",
    "shown",
    "specified",
    "stated",
    "enough",
)
_NON_WORD = re.compile(r"\W+")
_DIGIT = re.compile(r"\d")
_LIST_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*", re.IGNORECASE)
_TIME = r"(\d+(?::\d{1,2}){0,2}(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?"
_SPAN = re.compile(rf"^\W*(?:from\s+|between\s+)?{_TIME}\s*(?:-|–|—|to|and|until)\s*{_TIME}\W*$", re.IGNORECASE)


def record_rng(seed: int, record_id: str) -> random.Random:
    """The record's own random stream: same (seed, id) → same draws, in any process and any order."""
    digest = hashlib.sha256(f"{seed}\x1f{record_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def invert_record(
    record: Record,
    negated_question: str,
    rng: random.Random,
    *,
    min_keep: int = 1,
    seed: int = 0,
    strategy: str = NEGATION,
) -> Record:
    """The inverted record: negated question, gold = the originally wrong options minus a random number
    of removed ones (at least `min_keep` stay), options shuffled and relabelled, `qai` provenance set."""
    correct = letter_index(record.answer[0])
    wrong = [i for i in range(len(record.options)) if i != correct]
    n_remove = rng.randint(0, max(0, len(wrong) - min_keep))
    removed = set(rng.sample(wrong, n_remove))
    kept = [i for i in range(len(record.options)) if i not in removed]
    rng.shuffle(kept)
    return record.replace(
        question=negated_question,
        options=[record.options[i] for i in kept],
        answer=sorted(letter(pos) for pos, i in enumerate(kept) if i != correct),
        qai={
            "negated": True,
            "original_question": record.question,
            "original_answer": list(record.answer),
            "removed_options": [record.options[i] for i in sorted(removed)],
            "seed": seed,
            "strategy": strategy,
        },
    )


def _structural_refusal(record: Record) -> str | None:
    """Why a single-answer record cannot be inverted whatever its question says."""
    return _options_refusal(tuple(record.options), record.answer[0])


@functools.lru_cache(maxsize=1 << 16)
def _options_refusal(options: tuple[str, ...], gold: str) -> str | None:
    # datasets repeat option sets (and a selected record's check is ~20 µs): each distinct one is checked once
    if len(options) < 2:
        return "too_few_options"
    correct = options[letter_index(gold)].strip().lower()
    if sum(o.strip().lower() == correct for o in options) > 1:
        return "duplicate_options"  # the "wrong" copy would become gold: a contradiction
    if options_overlap(options):
        return "options_overlap"
    return None


def _seconds(text: str) -> float:
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value


def options_overlap(options: Sequence[str]) -> bool:
    """Whether some options are not mutually exclusive, so that inverting the answers would make a true
    option gold of the negated question: an option that subsumes the others or abstains ("All of the
    above", "None of the above", "Both A and B", "Throughout the entire video", "Not sure", "Cannot be
    determined"), an option made of two others ("running and jumping" beside "running", "jumping"), lists
    of short items that share a member ("Monday and Friday" / "Friday and Sunday", "Ted and Robin" /
    "Lily and Robin": a permutation of the same items is a different order, which is fine) and time spans
    that overlap ("0:10-0:30" / "0:20-0:40").

    Example:
        >>> options_overlap(["At the beginning of the video", "Throughout the entire video"])
        True
    """
    texts = [" ".join(o.split()) for o in options]
    joined = "\n".join(texts)
    # the pattern is per line: one search for all options, and only when one of its words occurs
    low = joined.lower()
    if any(k in low for k in _SUBSUMING_KEYS) and _SUBSUMING_OPTION.search(joined):
        return True
    combined = [i for i, t in enumerate(texts) if "," in t or ";" in t or "&" in t or " and " in t]
    if combined:  # only an option with a conjunction can be made of others or be a list
        padded = [f" {_NON_WORD.sub(' ', t.lower()).strip()} " for t in texts]  # whole-word `in`
        for i in combined:
            if sum(1 for j, o in enumerate(padded) if j != i and len(o) > 4 and o in padded[i]) >= 2:
                return True
        lists = []
        for i in combined:
            items = [x.strip() for x in _LIST_SPLIT.split(texts[i].lower().rstrip(".!")) if x.strip()]
            if len(items) >= 2 and all(len(x.split()) <= 2 for x in items):
                lists.append(set(items))
        if any(a & b and a != b for k, a in enumerate(lists) for b in lists[k + 1 :]):
            return True
    if not _DIGIT.search(joined):
        return False
    spans = [sorted((_seconds(m.group(1)), _seconds(m.group(2)))) for m in map(_SPAN.match, texts) if m]
    return any(min(a[1], b[1]) > max(a[0], b[0]) for i, a in enumerate(spans) for b in spans[i + 1 :])


@dataclass
class QaiReport:
    """What a conversion did; `to_dict` gives the `--report` JSON and `load` reads one back (the dataset
    card uses it: `twgrpo_data.cards.load_report`)."""

    n_records: int = 0
    seed: int = 0
    ratio: float = 0.5
    min_keep: int = 1
    fallback: str = "none"
    why: str = "negate"
    counts: Counter = field(default_factory=Counter)
    unnegatable_reasons: Counter = field(default_factory=Counter)
    negation_rules: Counter = field(default_factory=Counter)
    strategies: Counter = field(default_factory=Counter)
    template_reasons: Counter = field(default_factory=Counter)
    answer_count_histogram: Counter = field(default_factory=Counter)
    option_count_histogram: Counter = field(default_factory=Counter)
    parsed_questions: int = 0
    model: dict[str, str] = field(default_factory=dict)
    input: str | None = None
    output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    twgrpo_version: str | None = field(default_factory=installed_version)
    file: str | None = None  # the report file's name, when read back with `load`
    # each converted record's (status, reason): a count key, and the refusal reason or the negation rule (None
    # for the others); not part of the JSON, it lets the HTML page list outcomes without converting again
    outcomes: list[tuple[str, str | None]] = field(default_factory=list, repr=False)

    @property
    def spacy_model(self) -> str | None:
        return self.model.get("spacy_model")

    @property
    def spacy_model_version(self) -> str | None:
        return self.model.get("spacy_model_version")

    @property
    def spacy_version(self) -> str | None:
        return self.model.get("spacy_version")

    @classmethod
    def load(cls, path: str | Path) -> QaiReport:
        """Read a `--report` JSON; a file that is not one raises `InputFormatError` naming the file."""
        import json

        from .formats import parse_json, read_text

        p = Path(path)
        try:
            raw = parse_json(read_text(p), p)  # one line for a missing, non-UTF-8 or too deeply nested file
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("counts"), dict)
            or not isinstance(raw.get("n_records"), int)
        ):
            raise InputFormatError(
                f"{p}: not a QAI report (expected an object with 'n_records' and 'counts', "
                "as written by `twgrpo qai convert --report`)"
            )

        def counter(key: str) -> Counter:
            return Counter({str(k): int(v) for k, v in (raw.get(key) or {}).items()})

        known = {f for f in cls.__dataclass_fields__} | {"spacy_model", "spacy_model_version", "spacy_version"}
        return cls(
            n_records=raw["n_records"],
            seed=raw.get("seed"),
            ratio=raw.get("ratio"),
            min_keep=raw.get("min_keep"),
            fallback=raw.get("fallback", "none"),
            why=raw.get("why", "negate"),
            counts=counter("counts"),
            unnegatable_reasons=Counter(dict(sorted(counter("unnegatable_reasons").items(), key=lambda kv: -kv[1]))),
            negation_rules=counter("negation_rules"),
            strategies=counter("strategies"),
            template_reasons=counter("template_reasons"),
            answer_count_histogram=counter("answer_count_histogram"),
            option_count_histogram=counter("option_count_histogram"),
            parsed_questions=raw.get("parsed_questions", 0),
            model={k: raw[k] for k in ("spacy_model", "spacy_model_version", "spacy_version") if raw.get(k)},
            input=raw.get("input"),
            output=raw.get("output"),
            twgrpo_version=raw.get("twgrpo_version"),
            extra={k: v for k, v in raw.items() if k not in known},
            file=p.name,
        )

    def to_dict(self) -> dict[str, Any]:
        def histogram(c: Counter) -> dict[str, int]:
            return {str(k): c[k] for k in sorted(c)}

        out: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "n_records": self.n_records,
            "seed": self.seed,
            "ratio": self.ratio,
            "min_keep": self.min_keep,
            "fallback": self.fallback,
            "why": self.why,
            "counts": {k: self.counts.get(k, 0) for k in COUNT_KEYS},
            "unnegatable_reasons": dict(sorted(self.unnegatable_reasons.items())),
            "negation_rules": dict(sorted(self.negation_rules.items())),
            "strategies": {k: self.strategies.get(k, 0) for k in STRATEGIES},
            "template_reasons": dict(sorted(self.template_reasons.items())),
            "answer_count_histogram": histogram(self.answer_count_histogram),
            "option_count_histogram": histogram(self.option_count_histogram),
            "parsed_questions": self.parsed_questions,
            "spacy_model": self.model.get("spacy_model"),
            "spacy_model_version": self.model.get("spacy_model_version"),
            "spacy_version": self.model.get("spacy_version"),
            "twgrpo_version": self.twgrpo_version,
        }
        out.update(self.extra)
        return out

    def check_totals(self) -> None:
        """The counts must add up: outcomes to the records, reasons to the refusals, strategies to the
        inverted records. A mismatch is a bug, never a number to print."""
        c = self.counts
        outcomes = sum(c[k] for k in COUNT_KEYS if k != "skipped_invalid")
        problems = [
            f"{name}: {got} != {want}"
            for name, got, want in (
                ("outcomes vs records", outcomes, self.n_records),
                ("unnegatable reasons vs unnegatable", sum(self.unnegatable_reasons.values()), c["unnegatable"]),
                ("strategies vs negated", sum(self.strategies.values()), c["negated"]),
                ("template reasons vs template", sum(self.template_reasons.values()), self.strategies[TEMPLATE]),
            )
            if got != want
        ]
        if problems:
            raise AssertionError("QAI report does not add up: " + "; ".join(problems))


@gc_paused()
def convert(
    records: Sequence[Record],
    ratio: float = 0.5,
    seed: int = 0,
    min_keep: int = 1,
    *,
    negator: Negator | None = None,
    progress: Callable[[int], None] | None = None,
    fallback: str = "none",
    why: str = "negate",
) -> tuple[list[Record], QaiReport]:
    """Apply QAI to `records` (order kept). Returns the new records and the report.

    `fallback="template"` rewrites a question that negation refuses (how-questions, unparsable or already
    negative ones; never yes/no questions or instructions) as "Which option is NOT a correct answer to the
    question: Q?"; `why="template"` rewrites why-questions that way instead of negating them (the paper's
    "why didn't …" presupposes that the event did not happen). Each inverted record's `qai.strategy`
    says which rewrite made it. The default is the paper's convention: negation only.

    Example:
        >>> recs, report = convert([Record("q1", "why did the boy run", ["play", "cry", "hide"], ["A"])],
        ...                        ratio=1.0)
        >>> recs[0].question, report.counts["negated"]
        ("why didn't the boy run", 1)
    """
    if not 0.0 <= ratio <= 1.0:
        raise TwgrpoError(f"--ratio must be between 0 and 1, got {ratio}")
    if min_keep < 1:
        raise TwgrpoError(f"--min-keep must be at least 1, got {min_keep}")
    if fallback not in FALLBACKS:
        raise TwgrpoError(f"--fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    if why not in WHY_MODES:
        raise TwgrpoError(f"--why must be one of {', '.join(WHY_MODES)}, got {why!r}")
    negator = negator or Negator()
    report = QaiReport(n_records=len(records), seed=seed, ratio=ratio, min_keep=min_keep, fallback=fallback, why=why)
    out: list[Record] = list(records)
    outcomes: list[tuple[str, str | None]] = [("", None)] * len(records)
    rngs: dict[int, random.Random] = {}
    for i, rec in enumerate(records):
        rng = record_rng(seed, rec.id)
        if rec.is_multi_answer:
            outcomes[i] = ("already_multi", None)
        elif rng.random() >= ratio:
            outcomes[i] = ("not_selected", None)
        elif (reason := _structural_refusal(rec)) is not None:
            outcomes[i] = ("unnegatable", reason)
            report.unnegatable_reasons[reason] += 1
        else:
            rngs[i] = rng
    if progress is not None:
        progress(len(records) - len(rngs))
    todo = sorted(rngs)
    results: list[NegationResult] = negator.negate_many([records[i].question for i in todo], progress=progress)
    for i, result in zip(todo, results):
        question = records[i].question
        template_reason = None
        if why == TEMPLATE and is_why_question(question):
            template_reason = "why_question"
        elif result.status != NEGATED and fallback == TEMPLATE and result.reason not in NO_TEMPLATE:
            template_reason = result.reason
        rewritten = template_question(question) if template_reason is not None else None
        if rewritten is not None:
            out[i] = invert_record(records[i], rewritten, rngs[i], min_keep=min_keep, seed=seed, strategy=TEMPLATE)
            outcomes[i] = ("negated", None)
            report.strategies[TEMPLATE] += 1
            report.template_reasons[template_reason] += 1
        elif result.status == NEGATED:
            out[i] = invert_record(records[i], result.negated, rngs[i], min_keep=min_keep, seed=seed)
            outcomes[i] = ("negated", result.reason)
            report.strategies[NEGATION] += 1
            report.negation_rules[result.reason] += 1
        elif result.status == ALREADY_NEGATIVE:
            outcomes[i] = ("already_negative", None)
        else:
            outcomes[i] = ("unnegatable", result.reason)
            report.unnegatable_reasons[result.reason] += 1
    report.outcomes = outcomes
    report.counts.update(status for status, _ in outcomes)
    report.check_totals()
    report.parsed_questions = negator.parsed
    for rec in out:
        report.answer_count_histogram[len(rec.answer)] += 1
        report.option_count_histogram[len(rec.options)] += 1
    report.model = negator.info()
    return out, report


# ----------------------------------------------------------------------------------------------------------
# input


def input_formats() -> tuple[str, ...]:
    """`--from` values: auto, every registered benchmark's native layout, and the interchange formats."""
    from .benchmarks import native_benchmarks

    return ("auto", *native_benchmarks(), *INTERCHANGE_INPUTS)


def load_input(path: str | Path, fmt: str = "auto", *, skip_invalid: bool = False) -> LoadResult:
    """Read QAI input: the interchange formats through `twgrpo_data.formats`, a benchmark's native files
    (NExT-GQA / NExT-QA / STAR CSV and JSON, …) through the benchmark loaders (`twgrpo_data.benchmarks`)."""
    from .hub_sources import resolve_data_path

    allowed = input_formats()
    if fmt not in allowed:
        raise InputFormatError(f"unknown input format {fmt!r}; expected one of {', '.join(allowed)}")
    path = resolve_data_path(path)  # a Hub dataset (OWNER/NAME, hf://datasets/…) → its files in the cache
    if fmt == "auto":
        try:
            fmt = detect_format(path)
        except InputFormatError as not_interchange:
            bench = _detect_benchmark(path)
            if bench is None:
                raise not_interchange
            return _load_benchmark(bench, path, skip_invalid)
    if fmt not in ("unified", "records", "parquet", "hf"):  # a benchmark name, or csv (NExT-GQA / NExT-QA)
        bench = fmt if fmt != "csv" else (_detect_benchmark(path) or "nextqa")
        return _load_benchmark(bench, path, skip_invalid)
    return read_records(path, fmt, skip_invalid=skip_invalid)


def _detect_benchmark(path: str | Path) -> str | None:
    from .benchmarks import detect_benchmark

    return detect_benchmark(path)


def _load_benchmark(name: str, path: str | Path, skip_invalid: bool) -> LoadResult:
    from .benchmarks import load_benchmark

    return load_benchmark(name, path).raise_or_skip(skip_invalid)


# ----------------------------------------------------------------------------------------------------------
# comparison with the official TW-GRPO output


def compare_official(
    official: Iterable[Record], originals: Iterable[Record], negator: Negator | None = None
) -> dict[str, Any]:
    """Label noise in an official QAI file (e.g. `nextgqa_val_mixed.json`): records marked `is_negated`
    whose question did not become a negation, though their answers were inverted.

    `originals` are the unconverted records (matched by id) used to tell unchanged questions apart
    and to group the noise by question opening ("what happens", "which direction", …).
    """
    negator = negator or Negator()
    by_id = {r.id: r for r in originals}
    official = list(official)
    marked = [r for r in official if r.meta.get("is_negated") is True]
    negative = negator.is_negative([r.question for r in marked])
    noise = [r for r, neg in zip(marked, negative) if not neg]

    def opening(rec: Record) -> str:
        source = by_id.get(rec.id, rec).question
        return " ".join(source.lower().split()[:2])

    unchanged = sum(
        1 for r in noise if r.id in by_id and r.question.strip().lower() == by_id[r.id].question.strip().lower()
    )
    # negations the paper's script made that ours refuses (e.g. "how didn't …")
    sound = [r for r, neg in zip(marked, negative) if neg and r.id in by_id]
    ours = negator.negate_many([by_id[r.id].question for r in sound])
    refused = Counter(res.reason for res in ours if res.status != NEGATED)
    agree = sum(1 for r, res in zip(sound, ours) if res.status == NEGATED and res.negated.lower() == r.question.lower())
    return {
        "n_records": len(official),
        "marked_negated": len(marked),
        "label_noise": len(noise),
        "label_noise_unchanged_question": unchanged,
        "label_noise_by_opening": dict(Counter(opening(r) for r in noise).most_common()),
        "negated_but_unsound": dict(sorted(refused.items())),
        "same_negation_as_ours": agree,
    }
