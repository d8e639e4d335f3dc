"""The record: one multiple-choice question, the unit every part of twgrpo passes around (DESIGN §2)."""

from __future__ import annotations

import dataclasses
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import RecordError, format_location

LETTERS = string.ascii_uppercase
#: `meta["question_type"]` of an open-ended item (MMVU's 375): no options, no gold letters; its reference
#: answer is `meta["answer_text"]` and only a benchmark's official protocol with an LLM judge can score it.
OPEN_ENDED = "open-ended"


def is_open_ended(record: Record) -> bool:
    return isinstance(record.meta, dict) and record.meta.get("question_type") == OPEN_ENDED


def letter(index: int) -> str:
    """Option letter of the option at `index` (0 → 'A')."""
    if not 0 <= index < len(LETTERS):
        raise ValueError(f"option index {index} has no letter (at most {len(LETTERS)} options)")
    return LETTERS[index]


def letter_index(letter_: str) -> int:
    """Position of an option letter ('A' → 0)."""
    return LETTERS.index(letter_)


@dataclass(frozen=True)
class Record:
    """One multiple-choice video question.

    Example:
        >>> Record(id="q1", question="what is the man doing", options=["running", "sitting"],
        ...        answer=["B"], video="v.mp4", source="nextgqa").is_multi_answer
        False
    """

    id: str
    question: str
    options: list[str]
    answer: list[str]
    video: str | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    qai: dict[str, Any] | None = None

    @property
    def is_multi_answer(self) -> bool:
        return len(self.answer) > 1

    @property
    def letters(self) -> list[str]:
        return [letter(i) for i in range(len(self.options))]

    @property
    def answer_texts(self) -> list[str]:
        return [self.options[letter_index(a)] for a in self.answer]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Build a record from a plain dict (records JSON/JSONL, parquet rows). Unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise RecordError(f"unknown field(s) {sorted(unknown)}", field=sorted(unknown)[0])
        missing = [n for n in ("id", "question", "options", "answer") if n not in data]
        if missing:
            raise RecordError("missing", field=missing[0])
        rid = data["id"]
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            raise RecordError(f"must be a string, got {type(rid).__name__}", field="id")

        def wrong(name: str, expected: str) -> RecordError:
            return RecordError(
                f"must be {expected}, got {type(data[name]).__name__} {data[name]!r:.40}",
                record_id=str(rid),
                field=name,
            )

        for name in ("options", "answer"):
            if data[name] is not None and not isinstance(data[name], list):
                raise wrong(name, "a list" + (" of letters, e.g. ['B']" if name == "answer" else " of strings"))
        for name in ("meta", "qai"):
            if data.get(name) is not None and not isinstance(data[name], dict):
                raise wrong(name, "an object (a JSON mapping)")
        return cls(
            id=str(rid),
            question=data["question"],
            options=list(data["options"]) if data["options"] is not None else [],
            answer=list(data["answer"]) if data["answer"] is not None else [],
            video=data.get("video"),
            source=data.get("source") or "",
            meta=dict(data.get("meta") or {}),
            qai=dict(data["qai"]) if data.get("qai") else None,
        )

    def replace(self, **changes: Any) -> Record:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Problem:
    """One validation finding. `severity` is 'error' or 'warning'."""

    message: str
    file: str | None = None
    index: int | None = None
    record_id: str | None = None
    field: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        return format_location(self.file, self.index, self.record_id, self.field) + self.message

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON (what every `--json` output and report lists): severity, file, index, id, field,
        message."""
        return {
            "severity": self.severity,
            "file": self.file,
            "index": self.index,
            "id": self.record_id,
            "field": self.field,
            "message": self.message,
        }

    def to_error(self) -> RecordError:
        return RecordError(self.message, file=self.file, index=self.index, record_id=self.record_id, field=self.field)


def check_record(record: Record) -> list[tuple[str, str, str]]:
    """Schema checks of one record → list of (field, message, severity). Empty when valid."""
    out: list[tuple[str, str, str]] = []
    if not isinstance(record.id, str) or not record.id.strip():
        out.append(("id", "empty id", "error"))
    if not isinstance(record.question, str) or not record.question.strip():
        out.append(("question", "empty question", "error"))
    if is_open_ended(record):
        if record.options or record.answer:
            out.append(("options", "an open-ended item has no options or gold letters", "error"))
        if not (isinstance(record.meta.get("answer_text"), str) and record.meta["answer_text"].strip()):
            out.append(("meta", "an open-ended item needs its reference answer in meta.answer_text", "error"))
        return out
    if not isinstance(record.options, list) or not record.options:
        out.append(("options", "no options", "error"))
    else:
        if len(record.options) > len(LETTERS):
            out.append(("options", f"{len(record.options)} options; at most {len(LETTERS)} have letters", "error"))
        blank = next((i for i, o in enumerate(record.options) if isinstance(o, str) and not o.strip()), None)
        if any(not isinstance(o, str) for o in record.options):
            out.append(("options", "every option must be a string", "error"))
        elif blank is not None and blank < len(LETTERS):
            # a blank gold option is an answer nobody can give; QAI would make a blank distractor gold
            gold = " (a gold answer)" if isinstance(record.answer, list) and letter(blank) in record.answer else ""
            out.append(("options", f"option {letter(blank)} is empty{gold}", "error"))
        elif len(record.options) == 1:
            # MVBench ships five one-candidate items and its published numbers count them.
            out.append(("options", "only one option", "warning"))
    if not isinstance(record.answer, list) or not record.answer:
        out.append(("answer", "no gold letter", "error"))
    else:
        bad = [a for a in record.answer if not (isinstance(a, str) and len(a) == 1 and a in LETTERS)]
        if bad:
            out.append(("answer", f"gold {bad[0]!r} is not a capital letter A-Z", "error"))
        elif isinstance(record.options, list) and record.options:
            outside = [a for a in record.answer if letter_index(a) >= len(record.options)]
            if outside:
                out.append(
                    (
                        "answer",
                        f"gold letter {outside[0]!r} is outside the {len(record.options)} options "
                        f"(A-{letter(min(len(record.options), len(LETTERS)) - 1)})",
                        "error",
                    )
                )
            if len(set(record.answer)) != len(record.answer):
                out.append(("answer", "duplicate gold letters", "error"))
            elif record.answer != sorted(record.answer):
                out.append(("answer", "gold letters must be sorted", "error"))
    if record.video is not None and not isinstance(record.video, str):
        out.append(("video", "must be a string path or URL", "error"))
    if not isinstance(record.meta, dict):
        out.append(("meta", "must be a mapping", "error"))
    return out


# the gold letters a record with n options may have
_ALLOWED_GOLD = [frozenset(LETTERS[:n]) for n in range(len(LETTERS) + 1)]


def is_clean(record: Record) -> bool:
    """True exactly when `check_record(record)` finds nothing (no error, no warning), in one cheap pass: the
    checks that every record of a good file passes, so that only the others pay for `check_record`'s
    messages (tested to agree with it on arbitrary records)."""
    options, answer = record.options, record.answer
    return (
        isinstance(record.id, str)
        and bool(record.id.strip())
        and isinstance(record.question, str)
        and bool(record.question.strip())
        and isinstance(options, list)
        and 1 < len(options) <= len(LETTERS)
        and all(isinstance(o, str) for o in options)
        and all(map(str.strip, options))
        and isinstance(answer, list)
        and bool(answer)
        and all(isinstance(a, str) for a in answer)
        and _ALLOWED_GOLD[len(options)].issuperset(answer)
        and (len(answer) == 1 or answer == sorted(set(answer)))
        and (record.video is None or isinstance(record.video, str))
        and isinstance(record.meta, dict)
    )


def validate_records(records: Iterable[Record], file: str | None = None, start_index: int = 0) -> list[Problem]:
    """Every schema problem of `records`, duplicate ids included, in record order."""
    records = list(records)
    problems: list[Problem] = []
    counts = Counter(r.id for r in records)
    duplicated = {rid for rid, n in counts.items() if n > 1}
    seen: set[str] = set()
    for i, rec in enumerate(records, start=start_index):
        if not is_clean(rec):
            for fld, msg, sev in check_record(rec):
                problems.append(Problem(msg, file, i, rec.id, fld, sev))
        if duplicated and rec.id in duplicated:
            if rec.id in seen:
                problems.append(Problem(f"duplicate id (appears {counts[rec.id]} times)", file, i, rec.id, "id"))
            seen.add(rec.id)
    return problems
