"""Question-Answer Inversion (DESIGN §4): negate, invert the answer set, drop some new gold options, shuffle.

For each single-answer record a per-record random stream, seeded from (seed, record id) with a stable
hash, decides whether the record is selected (probability `ratio`). Only selected records are parsed;
a record is inverted only when its question was negated: gold := the originally wrong options, the
originally correct option stays as a distractor, a random number of new gold options is removed (at least
`min_keep` stay), and the options are shuffled and relabelled. Everything else is returned unchanged and
counted in the report. The output does not depend on record order, batch size or the negation path.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import TwgrpoError
from ..record import Record, letter, letter_index
from .negate import (
    ALREADY_NEGATIVE,
    NEGATED,
    NEGATION,
    NEGATION_REMOVED,
    NO_TEMPLATE,
    TEMPLATE,
    NegationResult,
    Negator,
    is_why_question,
    template_question,
)
from .options import structural_refusal
from .report import AFFIRMATION, QaiReport
from .same_meaning import SAME_MEANING_ACTIONS, LexicalVerifier, MeaningVerifier, meaning_check

LOCAL_VERIFIER = LexicalVerifier()
FALLBACKS = ("none", TEMPLATE)
WHY_MODES = ("negate", TEMPLATE)


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
    meaning: MeaningVerifier | None = LOCAL_VERIFIER,
    same_meaning: str = "drop",
) -> tuple[list[Record], QaiReport]:
    """Apply QAI to `records` (order kept). Returns the new records and the report.

    `fallback="template"` rewrites a question that negation refuses (how-questions, unparsable ones, requests;
    never yes/no questions, and never an already-negative question, which would read as a double negative) as
    "Which option is NOT a correct answer to the question: Q?"; `why="template"` rewrites why-questions that
    way instead of negating them (the paper's "why didn't …" presupposes that the event did not happen). A
    negator made with `already_negative="affirm"` inverts an already-negative question by removing its
    negation. Each inverted record's `qai.strategy` says which rewrite made it. Before inversion `meaning`
    (the local verifier by default; None for none) judges the wrong options against the answer: those that
    mean the same are dropped (`same_meaning="drop"`) or refuse the record (`"refuse"`).

    Example:
        >>> recs, report = convert([Record("q1", "why did the boy run", ["play", "cry", "hide"], ["A"])],
        ...                        ratio=1.0)
        >>> recs[0].question, report.counts["negated"]
        ("why didn't the boy run", 1)
    """
    _check_settings(ratio, min_keep, fallback, why, same_meaning)
    negator = negator or Negator()
    report = QaiReport(n_records=len(records), seed=seed, ratio=ratio, min_keep=min_keep, fallback=fallback, why=why)
    out: list[Record] = list(records)
    outcomes: list[tuple[str, str | None]] = [("", None)] * len(records)
    rngs = _select(records, ratio, seed, outcomes)
    kept = _check_meaning(records, rngs, meaning, same_meaning, outcomes)
    if progress is not None:
        progress(len(records) - len(rngs))
    todo = sorted(rngs)
    results: list[NegationResult] = negator.negate_many([records[i].question for i in todo], progress=progress)
    for i, result in zip(todo, results):
        if outcomes[i][0]:
            continue  # refused by the meaning check: the question was negated only to keep `progress` simple
        strategy, question, outcomes[i] = _rewrite(records[i].question, result, fallback, why)
        if strategy is not None:
            source = kept.get(i, (records[i], None))
            out[i] = _invert(records[i], source, question, rngs[i], min_keep, seed, strategy)
    _tally(report, outcomes, out, negator, meaning, same_meaning, kept)
    return out, report


def negate_lines(
    questions: Sequence[str],
    negator: Negator,
    *,
    fallback: str = "none",
    why: str = "negate",
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, str | None]]:
    """The `twgrpo qai negate` lines: each question negated as `convert` would rewrite it, with the same
    `fallback` and `why` choices; a line rewritten otherwise than by negation names its `strategy`
    (`template`, `affirmation`) and keeps the refusal or rule as its reason."""
    _check_settings(0.0, 1, fallback, why, "drop")
    lines = []
    for question, result in zip(questions, negator.negate_many(questions, progress=progress)):
        strategy, text, (status, reason) = _rewrite(question, result, fallback, why)
        line = result.to_dict()
        if strategy is not None and strategy != NEGATION:
            line.update(negated=text, status=NEGATED, reason=reason, strategy=strategy)
        elif strategy is None and result.status == NEGATED:  # a negative why-question under --why template
            line.update(negated=None, status=ALREADY_NEGATIVE, reason="negative_main_clause")
        lines.append(line)
    return lines


def _check_settings(ratio: float, min_keep: int, fallback: str, why: str, same_meaning: str) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise TwgrpoError(f"--ratio must be between 0 and 1, got {ratio}")
    if min_keep < 1:
        raise TwgrpoError(f"--min-keep must be at least 1, got {min_keep}")
    for option, value, allowed in (
        ("--fallback", fallback, FALLBACKS),
        ("--why", why, WHY_MODES),
        ("--same-meaning", same_meaning, SAME_MEANING_ACTIONS),
    ):
        if value not in allowed:
            raise TwgrpoError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")


def _select(
    records: Sequence[Record], ratio: float, seed: int, outcomes: list[tuple[str, str | None]]
) -> dict[int, random.Random]:
    """The records drawn for inversion (index → their random stream); the others get their outcome."""
    rngs: dict[int, random.Random] = {}
    for i, rec in enumerate(records):
        rng = record_rng(seed, rec.id)
        if rec.is_multi_answer:
            outcomes[i] = ("already_multi", None)
        elif rng.random() >= ratio:
            outcomes[i] = ("not_selected", None)
        elif (reason := structural_refusal(rec)) is not None:
            outcomes[i] = ("unnegatable", reason)
        else:
            rngs[i] = rng
    return rngs


def _check_meaning(
    records: Sequence[Record],
    rngs: dict[int, random.Random],
    meaning: MeaningVerifier | None,
    action: str,
    outcomes: list[tuple[str, str | None]],
) -> dict[int, tuple[Record, dict[str, Any]]]:
    """Judge each drawn record's wrong options against its answer. A record with an option of the same meaning
    is refused (`same_meaning`) or, when dropping, kept without those options (index → (reduced record, its
    `qai.meaning_check`)); so is every record the LLM verifier judged, for its verdicts' provenance."""
    if meaning is None or not rngs:
        return {}
    todo = sorted(rngs)
    items = []
    for i in todo:
        rec = records[i]
        correct = letter_index(rec.answer[0])
        items.append((rec.question, rec.options[correct], [o for k, o in enumerate(rec.options) if k != correct]))
    kept = {}
    for i, verdicts in zip(todo, meaning.judge(items)):
        rec = records[i]
        same = {v.option for v in verdicts if v.same}
        if same and (action == "refuse" or len(verdicts) == len(same)):
            outcomes[i] = ("unnegatable", "same_meaning")
        elif same or meaning.name != LOCAL_VERIFIER.name:
            correct = rec.options[letter_index(rec.answer[0])]
            options = [o for o in rec.options if o == correct or o not in same]
            reduced = rec.replace(options=options, answer=[letter(options.index(correct))])
            kept[i] = (reduced, meaning_check(meaning, verdicts))
    return kept


def _rewrite(question: str, result: NegationResult, fallback: str, why: str) -> tuple[str | None, str, tuple]:
    """(strategy or None, the inverted question, the outcome) for one drawn record's negation result."""
    negative = result.status == ALREADY_NEGATIVE or result.reason == NEGATION_REMOVED
    template_reason = None
    if negative:
        pass  # a template around a negative question would be a double negative
    elif why == TEMPLATE and is_why_question(question):
        template_reason = "why_question"
    elif result.status != NEGATED and fallback == TEMPLATE and result.reason not in NO_TEMPLATE:
        template_reason = result.reason
    rewritten = template_question(question) if template_reason is not None else None
    if rewritten is not None:
        return TEMPLATE, rewritten, ("negated", template_reason)
    if result.status == NEGATED and not (why == TEMPLATE and negative and is_why_question(question)):
        strategy = AFFIRMATION if result.reason == NEGATION_REMOVED else NEGATION
        return strategy, result.negated, ("negated", result.reason)
    if result.status == NEGATED or result.status == ALREADY_NEGATIVE:
        return None, question, ("already_negative", None)
    return None, question, ("unnegatable", result.reason)


def _invert(
    record: Record,
    source: tuple[Record, dict[str, Any] | None],
    question: str,
    rng: random.Random,
    min_keep: int,
    seed: int,
    strategy: str,
) -> Record:
    """The inverted record, from the record without its same-meaning options when there were any; the
    provenance names the original answer and the meaning check."""
    reduced, check = source
    inverted = invert_record(reduced, question, rng, min_keep=min_keep, seed=seed, strategy=strategy)
    if check is None:
        return inverted
    qai = dict(inverted.qai, original_answer=list(record.answer), meaning_check=check)
    return inverted.replace(qai=qai)


def _tally(
    report: QaiReport,
    outcomes: list[tuple[str, str | None]],
    out: Sequence[Record],
    negator: Negator,
    meaning: MeaningVerifier | None,
    same_meaning: str,
    kept: dict[int, tuple[Record, dict[str, Any] | None]],
) -> None:
    """Fill the report from the outcomes and the records, and check that its counts add up."""
    report.outcomes = []
    for rec, (status, reason) in zip(out, outcomes):
        if status == "unnegatable":
            report.unnegatable_reasons[reason] += 1
        elif status == "negated":
            strategy = rec.qai["strategy"]
            report.strategies[strategy] += 1
            if strategy == TEMPLATE:
                report.template_reasons[reason] += 1
                reason = None  # the outcome names the rule of a negation, not why a template was used
            else:
                report.negation_rules[reason] += 1
        report.outcomes.append((status, reason))
    report.counts.update(status for status, _ in outcomes)
    report.check_totals()
    report.parsed_questions = negator.parsed
    for rec in out:
        report.answer_count_histogram[len(rec.answer)] += 1
        report.option_count_histogram[len(rec.options)] += 1
    report.model = negator.info()
    report.extra["already_negative"] = negator.already_negative
    report.extra["meaning_check"] = _meaning_summary(meaning, same_meaning, kept, report)


def _meaning_summary(
    meaning: MeaningVerifier | None,
    action: str,
    kept: dict[int, tuple[Record, dict[str, Any] | None]],
    report: QaiReport,
) -> dict[str, Any]:
    if meaning is None:
        return {"verifier": "none"}
    dropped = sum(sum(check["same"]) for _, check in kept.values() if check is not None)
    return {
        **meaning.describe(),
        "action": action,
        "options_dropped": dropped if action == "drop" else 0,
        "records_refused": report.unnegatable_reasons.get("same_meaning", 0),
    }


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
