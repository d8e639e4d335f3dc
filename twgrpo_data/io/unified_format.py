"""The Video-R1 / TW-GRPO unified layout (DESIGN §2) ↔ records: `problem` with option lines, `options` "A. text",
`solution` "<answer>B,C</answer>", `video`/`path`, `problem_type`, `data_type`; native extra keys kept in `meta`."""

from __future__ import annotations

import functools
import re
from typing import Any

from ..errors import RecordError
from ..record import LETTERS, Record, letter
from ..scoring import ANSWER_TAG

# Keys the unified writer adds with fixed values; the reader drops them again so that
# unified → record → unified and record → unified → record are both identities.
UNIFIED_DEFAULTS = {"problem_type": "multiple choice", "data_type": "video"}
_OPTION_PREFIX = re.compile(r"^\(?([A-Z])[.):]\s*")
_OPTION_LINE = re.compile(r"^\(?([A-Z])[.):]?\s+(.*\S)\s*$")
# Unified keys a record holds in its own fields; every other key is kept in `meta`.
_UNIFIED_FIELDS = frozenset({"id", "problem", "options", "solution", "video", "path", "source", "qai"})


def strip_option_prefix(text: str, position: int) -> str:
    """'B. cube' → 'cube' when the prefix letter matches the option's position; otherwise unchanged."""
    m = _OPTION_PREFIX.match(text)
    if m and m.group(1) == letter(position):
        return text[m.end() :]
    return text


@functools.lru_cache(maxsize=1 << 16)
def _option_texts(options: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(strip_option_prefix(o.strip(), i) for i, o in enumerate(options))


def option_texts(options: list[str]) -> list[str]:
    """Each option stripped of spaces and of its letter prefix (`strip_option_prefix`): ["(A) ball",
    " (B) cube"] → ["ball", "cube"]. Benchmarks repeat their option lists (every "yes"/"no" item, the same
    choices for many videos), so each distinct list is parsed once per process."""
    return list(_option_texts(tuple(options)))


def _spells_options(lines: list[str], options: list[str]) -> bool:
    """Whether `lines` are the option lines of `options`, in order ("A. text", "(B) text", "C text")."""
    for i, (line, option) in enumerate(zip(lines, options)):
        text = option.strip()
        if text and i < len(LETTERS) and line == f"{LETTERS[i]}. {text}":
            continue  # the line as twgrpo writes it, which `_OPTION_LINE` reads back as (letter, text)
        m = _OPTION_LINE.match(line.strip())
        if not (m and m.group(1) == letter(i) and m.group(2) == option.strip()):
            return False
    return True


def split_problem(problem: str, options: list[str] | None) -> tuple[str, list[str]]:
    """Separate the question stem from trailing option lines ("A. text", "(A) text", "A text").

    With `options` given, only lines that spell those options are removed; without, the option lines
    are read from `problem` (they must run A, B, C, … to the end of the text).
    """
    lines = problem.rstrip().split("\n")
    if options is not None:
        n = len(options)
        tail = lines[-n:] if n and len(lines) > n else []
        stem = lines[:-n] if tail and _spells_options(tail, options) else lines
        if stem and stem[-1].strip().rstrip(":").lower() == "options":
            stem = stem[:-1]
        return ("\n".join(stem).rstrip() if len(stem) < len(lines) else problem), options
    found: list[str] = []
    cut = len(lines)
    for i in range(len(lines) - 1, 0, -1):
        m = _OPTION_LINE.match(lines[i].strip())
        if not m:
            break
        found.insert(0, (m.group(1), m.group(2)))
        cut = i
    # keep only a run that starts at A and is consecutive
    while found and [f[0] for f in found] != list(LETTERS[: len(found)]):
        found.pop(0)
        cut += 1
    if not found:
        return problem, []
    stem = lines[:cut]
    if stem and stem[-1].strip().rstrip(":").lower() == "options":
        stem = stem[:-1]
    return "\n".join(stem).rstrip(), [f[1] for f in found]


def parse_answer_letters(text: str) -> list[str]:
    """'<answer>C,A</answer>' or 'C, A' → ['A', 'C']."""
    return list(_answer_letters(text))


@functools.lru_cache(maxsize=1 << 12)
def _answer_letters(text: str) -> tuple[str, ...]:
    # a dataset has few distinct solutions ('<answer>B</answer>', …): each is parsed once per process
    m = ANSWER_TAG.search(text)
    inner = m.group(1) if m else text
    return tuple(sorted({part.strip() for part in inner.replace(" ", "").split(",") if part.strip()}))


def unified_to_record(raw: dict[str, Any], index: int, source: str = "", file: str | None = None) -> Record:
    """One unified-format dict → `Record`. Native extra keys are kept verbatim in `meta`."""

    def fail(fld: str, msg: str) -> RecordError:
        rid = raw.get("id", raw.get("problem_id")) if isinstance(raw, dict) else None
        return RecordError(msg, file=file, index=index, record_id=None if rid is None else str(rid), field=fld)

    if not isinstance(raw, dict):
        raise fail(None, f"expected a JSON object, got {type(raw).__name__}")
    rid = raw.get("id", raw.get("problem_id", index))
    problem = raw.get("problem", raw.get("question"))
    if not isinstance(problem, str) or not problem.strip():
        raise fail("problem", "missing or empty")
    options = raw.get("options")
    if options is not None:
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise fail("options", "must be a list of strings")
        options = option_texts(options)
    stem, options = split_problem(problem, options)
    question = raw["question"] if isinstance(raw.get("question"), str) and "problem" in raw else stem
    if "problem" in raw and question.strip() != stem.strip():
        question = stem  # e.g. TempCompass captioning: `question` holds the information lines
    solution = raw.get("solution")
    if not isinstance(solution, str) or not solution.strip():
        raise fail("solution", "missing or empty (expected '<answer>B</answer>')")
    answer = parse_answer_letters(solution)
    meta = {k: v for k, v in raw.items() if k not in _UNIFIED_FIELDS}
    if meta.get("question") == question:
        del meta["question"]
    for key, default in UNIFIED_DEFAULTS.items():
        if meta.get(key) == default:
            del meta[key]
    qai = raw.get("qai") or None
    if qai is not None and not isinstance(qai, dict):
        raise fail("qai", f"must be an object of QAI provenance, got {type(qai).__name__}")
    if qai is not None:
        meta.pop("is_negated", None)  # derived from qai by the writer
    return Record(
        id=str(rid),
        question=question,
        options=options,
        answer=answer,
        video=raw.get("video", raw.get("path")),
        source=raw.get("source") or source,
        meta=meta,
        qai=qai,
    )


def record_to_unified(record: Record) -> dict[str, Any]:
    """`Record` → unified dict that the TW-GRPO (`problem` has the options) and Video-R1 trainers read."""
    if len(record.options) > len(LETTERS):
        letter(len(LETTERS))  # raises, naming the first option without a letter
    option_lines = [f"{mark}. {text}" for mark, text in zip(LETTERS, record.options)]
    # key order: id, the defaults, meta, question, then the fields below (a key meta already has keeps its place)
    out: dict[str, Any] = {"id": record.id, **UNIFIED_DEFAULTS, **record.meta}
    out.setdefault("question", record.question)
    out["problem"] = record.question + "\n" + "\n".join(option_lines)
    out["options"] = option_lines
    out["solution"] = f"<answer>{','.join(record.answer)}</answer>"
    out["video"] = record.video
    out["source"] = record.source
    if record.qai is not None:
        out["qai"] = record.qai
        out["is_negated"] = bool(record.qai.get("negated"))
    return out
