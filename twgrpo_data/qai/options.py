"""Whether a record's options can be inverted (DESIGN §4): two options that are not mutually exclusive would
make a true statement gold of the negated question, and the record is refused as `options_overlap`.

Found both ways (issue 30): an option that subsumes or abstains ("All of the above", "Throughout the entire
video" as a whole option, "Not sure"), an option that is part of another ("the coach alone" / "the coach and
two players", "running" / "running and jumping"), lists that share a member, overlapping time spans, and an
option that quotes the same line as the answer ("He says 'Don't go'" / "'Don't go. It is late'"). An
ordinary option that merely begins "Throughout the video, …" is no time span.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from ..record import Record, letter_index
from .negation.quotes import QUOTATION

# Options that are about the other options, or about whether the question can be answered: inverted, they
# become "correct" answers to the negated question although they are not ("Throughout the entire video"
# contains "At the beginning"; "It's not mentioned in the video" is false once the answer is known).
_SUBSUMING_OPTION = re.compile(
    r"^\W*(?:all|none|both|neither|any)\s+(?:of\s+)?(?:the\s+)?(?:above|options|choices|answers|them|these|those|both)\b"
    r"|^\W*(?:both|neither|all|none)\W*$|^\W*(?:both|neither)\s+\(?[a-f]\)?\s+(?:and|nor)\s+\(?[a-f]\)?\W*$"
    r"|^\W*(?:(?:throughout|during|in|for)\s+the\s+(?:entire|whole|full)\s+(?:video|clip|time)|throughout\s+the\s+(?:video|clip)|all\s+the\s+time)\W*$"
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


def structural_refusal(record: Record) -> str | None:
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
    if options_overlap(options) or shares_quotation(options, letter_index(gold)):
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
    "Lily and Robin": a permutation of the same items is a different order, which is fine), an option that
    is one member of another ("the coach alone" / "the coach and two players") and time spans that overlap
    ("0:10-0:30" / "0:20-0:40").

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
        if _part_of_another(texts, combined):
            return True
    if not _DIGIT.search(joined):
        return False
    spans = [sorted((_seconds(m.group(1)), _seconds(m.group(2)))) for m in map(_SPAN.match, texts) if m]
    return any(min(a[1], b[1]) > max(a[0], b[0]) for i, a in enumerate(spans) for b in spans[i + 1 :])


# words that make a member stand alone ("the coach alone", "only the coach") or open a list ("both A and B"):
# they do not change which people or things the member names
_MEMBER_NOISE = re.compile(
    r"\b(?:the|a|an|both|only|just|alone|solely|by\s+(?:him|her|them|it)sel(?:f|ves)|on\s+(?:his|her|their|its)\s+own)\b",
    re.IGNORECASE,
)
_LIST_WORDS = re.compile(r"\s*(?:,|;|&|\band\b|\bplus\b|\bas well as\b|\balong with\b|\btogether with\b)\s*", re.I)


def _member(text: str) -> str:
    return " ".join(_MEMBER_NOISE.sub(" ", _NON_WORD.sub(" ", text.lower())).split())


def _part_of_another(texts: list[str], combined: list[int]) -> bool:
    """Whether an option names exactly one member of a list option ("the coach alone" / "the coach and two
    players", "A Great Big World" / "Both A Great Big World and Christina Aguilera"): both can be true."""
    members = {}
    for i in combined:
        items = [_member(x) for x in _LIST_WORDS.split(texts[i]) if x.strip()]
        if len(items) >= 2 and all(0 < len(x.split()) <= 4 for x in items):
            members[i] = set(items)
    if not members:
        return False
    singles = {i: _member(t) for i, t in enumerate(texts) if i not in members and 0 < len(t.split()) <= 5}
    return any(s and s in items for i, s in singles.items() for items in members.values())


def _lines(text: str) -> list[str]:
    """The quoted lines of an option, normalised; the whole option when it is one quotation."""
    return [_member(m.group("d") or m.group("c") or m.group("s")) for m in QUOTATION.finditer(text)]


def shares_quotation(options: Sequence[str], answer: int) -> bool:
    """Whether another option quotes the same line as the answer, or a line the answer's contains ("He says
    'Don't go'" beside the answer "'Don't go. It is late'"): the two are not mutually exclusive."""
    if not any(c in o for o in options for c in "\"“'‘"):
        return False
    mine = [line for line in _lines(options[answer]) if line]
    if not mine:
        return False
    for i, option in enumerate(options):
        if i == answer:
            continue
        for line in _lines(option):
            if line and any(line == m or f" {line} " in f" {m} " or f" {m} " in f" {line} " for m in mine):
                return True
    return False
