"""Readers and writers for the interchange formats (DESIGN §2), format auto-detection and atomic writes.

Formats:
    unified   the Video-R1 / TW-GRPO JSON list (`problem` with option lines, `options` "A. text",
              `solution` "<answer>B,C</answer>", `video`/`path`, `problem_type`, `data_type`)
    records   this toolkit's own records, as a JSON list (`.json`) or one per line (`.jsonl`)
    parquet   one row per record; `meta` as a JSON string, `qai` as a struct
    hf        an HF `datasets` folder written by `save_to_disk`
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputFormatError, RecordError, TwgrpoError, UsageError, format_location
from .garbage_collection import gc_paused
from .outputs import atomic_path, atomic_write_json, atomic_write_text  # noqa: F401  (re-exported)
from .record import LETTERS, Problem, Record, letter, validate_records

READ_FORMATS = ("auto", "unified", "records", "parquet", "hf")
WRITE_FORMATS = ("json", "unified", "jsonl", "records-json", "parquet", "hf")
RECORD_FIELDS = {"id", "question", "options", "answer", "video", "source", "meta", "qai"}
QAI_KEYS = (
    "negated",
    "original_question",
    "original_answer",
    "removed_options",
    "seed",
    "strategy",
    "meaning_check",
)
# added later (issue 14, issue 30): records written before lack them, and `meaning_check` is set only where a
# verifier found an option of the answer's meaning or an LLM judged the options
_LATER_QAI_KEYS = ("strategy", "meaning_check")

# Keys the unified writer adds with fixed values; the reader drops them again so that
# unified → record → unified and record → unified → record are both identities.
UNIFIED_DEFAULTS = {"problem_type": "multiple choice", "data_type": "video"}
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_OPTION_PREFIX = re.compile(r"^\(?([A-Z])[.):]\s*")
_OPTION_LINE = re.compile(r"^\(?([A-Z])[.):]?\s+(.*\S)\s*$")
# Unified keys a record holds in its own fields; every other key is kept in `meta`.
_UNIFIED_FIELDS = frozenset({"id", "problem", "options", "solution", "video", "path", "source", "qai"})


@dataclass
class LoadResult:
    """What a reader found: valid records, every problem, and counted skips by reason."""

    records: list[Record]
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    file: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def n_invalid(self) -> int:
        """Records left out for errors (a record with several errors counts once; loaders may read many files)."""
        return len({(p.file, p.index) for p in self.errors})

    def raise_or_skip(self, skip_invalid: bool) -> LoadResult:
        """Raise the first record error, or with `skip_invalid` count the invalid records as skipped."""
        if self.errors:
            if not skip_invalid:
                raise self.errors[0].to_error()
            self.skipped["invalid"] += self.n_invalid
        return self


# ----------------------------------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------------------------------
# unified (Video-R1 / TW-GRPO) records


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
    m = _ANSWER_TAG.search(text)
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


# ----------------------------------------------------------------------------------------------------------
# detection and reading


def guess_source(path: str | os.PathLike) -> str:
    """Benchmark name from a file name: 'eval_mmvu.json' → 'mmvu', 'nextgqa_val.json' → 'nextgqa'."""
    from .benchmarks import guess_from_name  # the registry's names; imported late (it imports this module)

    return guess_from_name(Path(path).name)


def _looks_like_records(obj: dict) -> bool:
    """Our records: the four required keys with a list answer, or only Record fields including `meta` or
    `source` (then a wrong `answer` type is reported as a record error, not as an unknown format)."""
    if not {"id", "question", "options", "answer"} <= set(obj):
        return False
    return isinstance(obj.get("answer"), list) or (set(obj) <= RECORD_FIELDS and bool({"meta", "source"} & set(obj)))


def _looks_like_unified(obj: dict) -> bool:
    return "solution" in obj and ("problem" in obj or "question" in obj)


def detect_format(path: str | os.PathLike) -> str:
    """'unified', 'records', 'parquet' or 'hf' — by extension, then by the first record's keys."""
    p = Path(path)
    if not p.exists():
        raise InputFormatError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            return "hf"
        raise InputFormatError(f"{p}: a folder that is not an HF `save_to_disk` dataset")
    if p.suffix == ".parquet":
        return "parquet"
    if p.suffix.lower() in (".csv", ".tsv"):
        raise InputFormatError(
            f"{p}: a CSV table that is not a NExT-GQA/NExT-QA file (expected columns "
            "video_id or video, question, answer, qid, a0-a4)"
        )
    first = _first_object(p)
    if first is None:
        raise InputFormatError(f"{p}: no records (an empty file or list)")
    if _looks_like_records(first):
        return "records"
    if _looks_like_unified(first):
        return "unified"
    raise InputFormatError(
        f"{p}: not a records or unified file (first record has keys {sorted(first)[:8]}); "
        "for native benchmark files use `twgrpo data load --bench NAME`"
    )


def _first_object(p: Path) -> dict | None:
    """The file's first JSON value, parsed from its head; the whole file only when the head cannot tell."""
    with p.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(1 << 16).lstrip()
    if head.startswith("["):
        head = head[1:].lstrip()
        if head.startswith("]"):
            return None
    if head.startswith("{"):
        try:
            obj, _ = json.JSONDecoder().raw_decode(head)
            return obj
        except (ValueError, RecursionError):  # JSONDecodeError, a too long number, too deep nesting
            pass  # cut by the head's end, or invalid: the full read below tells which
    for obj in read_json_objects(p):
        if not isinstance(obj, dict):
            raise InputFormatError(f"{p}: record 0 is a {type(obj).__name__}, not a JSON object")
        return obj
    return None


def _json_lines(text: str, p: Path, *, data: bool = False) -> list[tuple[int, Any]]:
    """(line number, value) of each non-blank line; a bad line is an error naming the file and line."""
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is data
        if not line.strip():
            continue
        try:
            out.append((lineno, parse_json(line, p, data=data, where=f"line {lineno}")))
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{p}: invalid JSON on line {lineno}: {exc.msg}") from None
    return out


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of `path` (a UTF-8 BOM is dropped); anything else is one `InputFormatError` naming
    the file: missing, a folder, unreadable, UTF-16/32, Latin-1 or binary."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputFormatError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputFormatError(f"{p}: is a folder, not a file") from None
    except OSError as exc:
        raise InputFormatError(f"{p}: cannot read: {exc.strerror or exc}") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputFormatError(f"{p}: {name} text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = "binary data" if b"\x00" in data[:8192] else "not UTF-8 text (Latin-1 or another encoding?)"
        line = data[: exc.start].count(b"\n") + 1
        raise InputFormatError(f"{p}: {kind}: byte 0x{data[exc.start]:02x} on line {line} is not valid UTF-8") from None


class _NonFinite(Exception):
    """Raised from inside the JSON decoder at a NaN/±Infinity token (the C scanner calls `parse_constant` only
    for those, so a file without one pays nothing)."""


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


_DATA_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json(text: str, p: Path, *, data: bool = False, where: str | None = None) -> Any:
    """`json.loads` whose failures (bad syntax, nesting too deep for Python) name the file
    (a number longer than Python reads too).

    `data=True` (a dataset, whose values are written back out): NaN, ±Infinity (Python reads them, JSON has
    none) and lone surrogates (a \\uD800-\\uDFFF escape that is no character: encoding it fails) are refused
    too, naming the record (`where`, e.g. "line 3", else its index in the list) and the field."""
    try:
        value = _DATA_DECODER.decode(text) if data else json.loads(text)
        suspect = data and "\\u" in text and ("\\ud" in text or "\\uD" in text)
    except RecursionError:
        raise InputFormatError(f"{p}: JSON nested too deeply to read") from None
    except _NonFinite:
        value, suspect = json.loads(text), True
    except json.JSONDecodeError:
        raise
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits() (a CPU-time guard)
        raise InputFormatError(f"{p}: a number with more than {sys.get_int_max_str_digits()} digits") from None
    if suspect:
        found = _unwritable(value)
        if found is not None:
            path, what = found
            if where is None and path and isinstance(path[0], int):
                index, path = path[0], path[1:]
                record = value[index]
                rid = record.get("id") if isinstance(record, dict) else None
                where = format_location(None, index, None if rid is None else str(rid), None).rstrip(": ")
            field = ".".join(str(k) for k in path)
            raise InputFormatError(
                f"{p}: {where + ', ' if where else ''}{'field ' + repr(field) + ': ' if field else ''}{what}"
            )
    return value


def _unwritable(value: Any) -> tuple[list[Any], str] | None:
    """The first NaN/±Infinity or lone surrogate in `value` (keys included): its path and what it is."""
    stack: list[tuple[list[Any], Any]] = [([], value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return path, f"{json.dumps(v)} has no JSON form (only Python reads it); write null for a missing number"
        if isinstance(v, str) and _lone_surrogate(v):
            return path, "holds a lone surrogate (a \\uD800-\\uDFFF escape that is no character); fix the text"
        if isinstance(v, dict):
            for k, item in reversed(list(v.items())):
                if isinstance(k, str) and _lone_surrogate(k):
                    return [*path, k], "a key holding a lone surrogate (no character); fix the text"
                stack.append(([*path, k], item))
        elif isinstance(v, list):
            stack.extend(([*path, i], item) for i, item in reversed(list(enumerate(v))))
    return None


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_json_objects(p: Path) -> list[Any]:
    """A JSON list, or JSON Lines (one object per line; `.jsonl` or a list that does not parse whole)."""
    text = read_text(p)
    if p.suffix != ".jsonl":
        try:
            data = parse_json(text, p, data=True)
        except json.JSONDecodeError as exc:
            if not text.lstrip().startswith("{"):
                raise InputFormatError(
                    f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ) from None
        else:
            if isinstance(data, dict):
                return [data]
            if not isinstance(data, list):
                raise InputFormatError(f"{p}: expected a JSON list of records, got {type(data).__name__}")
            return data
    return [value for _, value in _json_lines(text, p, data=True)]


def _json_objects(text: str, p: Path) -> list[dict[str, Any]]:
    rows = []
    for lineno, value in _json_lines(text, p):
        if not isinstance(value, dict):
            raise InputFormatError(f"{p}: line {lineno}: expected a JSON object")
        rows.append(value)
    return rows


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file (eval logs, samples, metrics; any suffix, TW-GRPO names its
    logs *.json); errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(f"{p}: no such file")
    return _json_objects(read_text(p), p)


def read_jsonl_log(path: str | os.PathLike) -> tuple[list[dict[str, Any]], bool]:
    """`read_jsonl` for a log another process appends to: a last line without its newline that does not parse
    (a write cut short by a kill) is dropped. Returns the objects and whether a line was dropped; any other bad
    line is an error naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(f"{p}: no such file")
    text = read_text(p)
    head, _, last = text.rpartition("\n")
    torn = False
    if last.strip():
        try:
            parse_json(last, p)
        except json.JSONDecodeError:
            text, torn = head, True
    return _json_objects(text, p), torn


@gc_paused()
def read_dataset(
    path: str | os.PathLike, fmt: str = "auto", *, source: str | None = None, split: str | None = None
) -> LoadResult:
    """Read every record of `path`, collecting (not raising) record-level problems.

    Records that fail to convert or have schema errors are left out of `records` and listed in
    `problems`; warnings (e.g. single-option questions) keep their record. `path` may also be a Hub
    reference (`OWNER/NAME`, `hf://datasets/OWNER/NAME[/path]`), downloaded to the cache first.
    """
    from .hub_sources import resolve_data_path

    p = resolve_data_path(path)
    fmt = detect_format(p) if fmt == "auto" else fmt
    if fmt not in READ_FORMATS:
        raise InputFormatError(f"unknown input format {fmt!r}; expected one of {', '.join(READ_FORMATS)}")
    file = str(p)
    src = source if source is not None else guess_source(p)
    candidates: list[tuple[int, Record]] = []
    problems: list[Problem] = []
    if fmt in ("unified", "records"):
        for i, raw in enumerate(read_json_objects(p)):
            try:
                if fmt == "unified":
                    rec = unified_to_record(raw, i, src, file)
                else:
                    if not isinstance(raw, dict):
                        raise RecordError(f"expected a JSON object, got {type(raw).__name__}")
                    rec = Record.from_dict(raw)
            except RecordError as exc:
                rid = raw.get("id") if isinstance(raw, dict) else None
                problems.append(
                    Problem(exc.reason, file, i, exc.record_id or (None if rid is None else str(rid)), exc.field)
                )
                continue
            except (TypeError, ValueError) as exc:
                problems.append(Problem(f"malformed record: {exc}", file, i))
                continue
            candidates.append((i, rec))
    else:
        try:
            arrow_records = _read_arrow(p, fmt, split)
        except RecordError as exc:
            raise RecordError(exc.reason, file=file, record_id=exc.record_id, field=exc.field) from None
        except TwgrpoError:
            raise
        except Exception as exc:  # pyarrow / datasets raise many types, none naming the file
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            what = "parquet file" if fmt == "parquet" else "HF dataset folder"
            raise InputFormatError(f"{p}: unreadable {what} ({reason})") from None
        candidates.extend(enumerate(arrow_records))
    bad_index: set[int] = set()
    found = validate_records([r for _, r in candidates], file)
    # validate_records numbers records 0..n-1 over `candidates`; map back to file positions
    for prob in found:
        pos = candidates[prob.index][0]
        problems.append(Problem(prob.message, file, pos, prob.record_id, prob.field, prob.severity))
        if prob.severity == "error":
            bad_index.add(pos)
    problems.sort(key=lambda pr: pr.index if pr.index is not None else -1)
    records = [r for i, r in candidates if i not in bad_index]
    return LoadResult(records, problems, file=file)


def read_records(
    path: str | os.PathLike,
    fmt: str = "auto",
    *,
    skip_invalid: bool = False,
    source: str | None = None,
    split: str | None = None,
) -> LoadResult:
    """Read `path`; raise the first record error unless `skip_invalid` (then invalid records are counted)."""
    return read_dataset(path, fmt, source=source, split=split).raise_or_skip(skip_invalid)


# ----------------------------------------------------------------------------------------------------------
# arrow (parquet, HF datasets)


# The Hub's Dataset Viewer filters on top-level columns only, so a published table repeats each record's
# `meta["category"]` (the benchmark's question type, task, subject, …) as a `category` column; reading a table
# back, `meta` holds that value already.
CATEGORY_COLUMN = "category"


def hf_features(meta=None, category: bool = False):
    """Typed HF features: options/answer as string lists, `qai` as a struct, `meta` as JSON text — or, given
    `meta` (a `datasets` feature from `meta_struct_feature`), as that struct; with `category`, a string
    `category` column after `source` (`CATEGORY_COLUMN`)."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "options": List(Value("string")),
            "answer": List(Value("string")),
            "video": Value("string"),
            "source": Value("string"),
            **({CATEGORY_COLUMN: Value("string")} if category else {}),
            "meta": Value("string") if meta is None else meta,
            "qai": {
                "negated": Value("bool"),
                "original_question": Value("string"),
                "original_answer": List(Value("string")),
                "removed_options": List(Value("string")),
                "seed": Value("int64"),
                "strategy": Value("string"),
                # JSON text: a struct nested in the `qai` struct changes size in an Arrow round trip (its
                # buffers of null rows), which would make the card's `num_bytes` disagree with the files
                "meaning_check": Value("string"),
            },
        }
    )


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


_FIELD_NAME = re.compile(r"[^\W][\w .\-]*")
# `json.dumps(meta, ensure_ascii=False, sort_keys=True)` with one encoder: `dumps` builds a new one per call
# when given options, a third of the cost for ~10^5 small mappings
_meta_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _struct_arrow_type(t) -> bool:
    """`t` (the type pyarrow inferred for every `meta`) is a struct that stores them: no null or empty part
    anywhere, and every field name (at any depth) plain — letters, digits, `_`, `-`, `.`, space; not empty —
    since parquet and `datasets` drop or merge other keys ("" and "\\x00")."""
    import pyarrow as pa

    def storable(t) -> bool:
        if pa.types.is_null(t) or (pa.types.is_struct(t) and t.num_fields == 0):
            return False
        if pa.types.is_struct(t):
            return all(_FIELD_NAME.fullmatch(f.name) and storable(f.type) for f in t)
        return storable(t.value_type) if pa.types.is_list(t) or pa.types.is_large_list(t) else True

    return pa.types.is_struct(t) and storable(t)


def _null_list_item(array) -> bool:
    """A list somewhere in `array` holds a null item (a None in a JSON list; a struct can not store it apart
    from a missing key, a list item it can, but `meta` stays exact only without None anywhere)."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_struct(t):
        return any(_null_list_item(child) for child in array.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        items = array.flatten()
        return items.null_count > 0 or _null_list_item(items)
    return False


def _reads_back_unchanged(array, metas: list[dict[str, Any]]) -> bool:
    """Reading the struct `array` back (None fields dropped) gives every one of `metas` unchanged: the same keys
    and values, where an int stored in a column of floats counts as unchanged, being the same number
    (NExT-GQA's `glue` spans hold `29` beside `13.8`; the struct stores 29.0).

    When every field is an int, bool or string (or a list of them), values come back as they went in, and a
    record changes only where a key holds None (a null cell, read back as a missing key): then it is a count,
    the keys present against the non-null cells. Otherwise (floats, nested structs) records are read back and
    compared, in slices, stopping at the first that differs.
    """
    import pyarrow as pa

    def exact(t) -> bool:
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return exact(t.value_type)
        return pa.types.is_int64(t) or pa.types.is_boolean(t) or pa.types.is_string(t)

    if all(exact(f.type) for f in array.type):
        present = sum(len(child) - child.null_count for child in array.flatten())
        return present == sum(map(len, metas))
    back = (_without_nulls(m) for i in range(0, len(array), 4096) for m in array.slice(i, 4096).to_pylist())
    # text first (fast, and NaN-safe), then as numbers: an int in a column of floats comes back a float of the
    # same value (pyarrow refuses an int a float cannot hold exactly, and never mixes bools with numbers)
    return all(_meta_json(a) == _meta_json(b) or a == b for a, b in zip(metas, back))


@gc_paused()
def meta_column(records: Sequence[Record]):
    """The Arrow `meta` column of `records` and its `datasets` feature: a struct the Hub's Dataset Viewer can
    filter on when one stores every record's `meta` exactly, else JSON text and None.

    The struct type is decided once for the column, by pyarrow's own type inference (`pa.array`) and checks on
    that type; the inferred array is the column. A struct stores missing keys as None, so it is used only when
    no `meta` holds a None itself, the type has no null or empty part and only plain field names (see
    `_struct_arrow_type`), and reading it back (None fields dropped) gives every `meta` unchanged: the same
    values, an int in a column of floats coming back as the same number (`_reads_back_unchanged`; the check
    stops at the first record that differs).
    """
    import pyarrow as pa

    metas = [r.meta for r in records]
    try:
        array = pa.array(metas) if metas else None
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        array = None  # e.g. one key holding an int here and a string there
    if array is not None and _struct_arrow_type(array.type) and not _null_list_item(array):
        if _reads_back_unchanged(array, metas):
            from datasets import Features

            feature = Features.from_arrow_schema(pa.schema([pa.field("meta", array.type)]))["meta"]
            return array.cast(hf_features(feature).arrow_schema.field("meta").type), feature
    return pa.array([_meta_to_arrow(m) for m in metas], pa.string()), None


def meta_struct_feature(records: Iterable[Record]):
    """The `datasets` struct feature that stores every record's `meta` exactly (`meta_column`), so the Hub's
    Dataset Viewer can filter on its fields; None when no struct does (then `meta` stays JSON text)."""
    return meta_column(list(records))[1]


def _meta_to_arrow(meta: dict[str, Any], struct: bool = False) -> str | dict[str, Any]:
    """`meta` as stored in the Arrow `meta` column: JSON text, or the mapping itself for a struct column
    (`meta_struct_feature`); the one place that representation is made."""
    return meta if struct else _meta_json(meta)


def _meta_from_arrow(value: Any) -> dict[str, Any]:
    """Inverse of `_meta_to_arrow`: JSON text, or a struct whose None fields are keys the record did not have
    (arrow gives every row every field of the struct); a null or empty cell is an empty mapping."""
    return json.loads(value) if isinstance(value, str) and value else _without_nulls(value or {})


def _qai_to_arrow(record: Record) -> dict[str, Any] | None:
    """`qai` for the struct column: exactly `QAI_KEYS` (absent ones null); an unknown key is an error."""
    if record.qai is None:
        return None
    extra = set(record.qai) - set(QAI_KEYS)
    if extra:
        raise RecordError(f"unknown qai key(s) {sorted(extra)}", record_id=record.id, field="qai")
    out = {k: record.qai.get(k) for k in QAI_KEYS}
    if out["meaning_check"] is not None:
        out["meaning_check"] = json.dumps(out["meaning_check"], ensure_ascii=False, sort_keys=True)
    return out


def _qai_from_arrow(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Inverse of `_qai_to_arrow`: the struct has every key, but a key added later (`strategy`) is absent, not
    None, in records written before it."""
    if not value:
        return None
    out = {k: v for k, v in value.items() if not (k in _LATER_QAI_KEYS and v is None)}
    if isinstance(out.get("meaning_check"), str):
        out["meaning_check"] = json.loads(out["meaning_check"])
    return out


def _arrow_columns(records: Sequence[Record], meta: Sequence[Any], category: bool = False) -> dict[str, Sequence[Any]]:
    """The Arrow columns of `records`, one list per field (pyarrow converts each in one call); `meta` is that
    column as the caller built it (`_meta_to_arrow` of each record, or `meta_column`'s array); `category`
    adds the `CATEGORY_COLUMN` (meta's category as text)."""
    columns: dict[str, Sequence[Any]] = {
        "id": [r.id for r in records],
        "question": [r.question for r in records],
        "options": [r.options for r in records],
        "answer": [r.answer for r in records],
        "video": [r.video for r in records],
        "source": [r.source for r in records],
    }
    if category:
        columns[CATEGORY_COLUMN] = [
            None if r.meta.get("category") is None else str(r.meta["category"]) for r in records
        ]
    return {**columns, "meta": meta, "qai": [_qai_to_arrow(r) for r in records]}


def record_to_row(record: Record, meta_struct: bool = False, category: bool = False) -> dict[str, Any]:
    """One record as the row `records_to_table` stores (`meta` as JSON text or a struct, `qai` with every key,
    `category` when asked)."""
    columns = _arrow_columns([record], [_meta_to_arrow(record.meta, meta_struct)], category)
    return {name: column[0] for name, column in columns.items()}


def has_categories(records: Iterable[Record]) -> bool:
    """Whether a published table of `records` gets a `category` column: some record's meta has a category."""
    return any(r.meta.get("category") is not None for r in records)


def records_to_table(records: Sequence[Record], meta=None, *, meta_array=None, category: bool = False):
    """Records → `pyarrow.Table` with the schema of `hf_features(meta, category)`, built column by column;
    `meta_array` is the `meta` column when it is already built (`meta_column` gives it with `meta`)."""
    import pyarrow as pa

    schema = hf_features(meta, category).arrow_schema
    if meta_array is None:
        meta_array = pa.array([_meta_to_arrow(r.meta, meta is not None) for r in records], schema.field("meta").type)
    columns = _arrow_columns(records, meta_array, category)
    # qai is built child by child (`_struct_array`); a struct meta has keys missing per row, which pa.array fills
    return pa.Table.from_arrays(
        [
            _struct_array(columns[f.name], f.type)
            if f.name == "qai"
            else (columns[f.name] if f.name == "meta" else pa.array(columns[f.name], f.type))
            for f in schema
        ],
        schema=schema,
    )


@gc_paused()
def hub_tables(splits: Mapping[str, Sequence[Record]]):
    """Split name → `pyarrow.Table` for the Hub, and the `meta` feature they share (`meta_column`, decided once
    over every split: a struct when one stores every split's `meta` exactly, else None for JSON text). The
    tables have a `category` column when some record has a category (`has_categories`)."""
    everything = [r for records in splits.values() for r in records]
    array, meta = meta_column(everything)
    category = has_categories(everything)
    tables, start = {}, 0
    for name, records in splits.items():
        tables[name] = records_to_table(records, meta, meta_array=array.slice(start, len(records)), category=category)
        start += len(records)
    return tables, meta


def _struct_array(rows: list[dict[str, Any] | None], struct_type):
    """A struct column built child by child; a null row is null in every child too, as a parquet reader
    builds it (so the in-memory `nbytes` the card reports equals that of the published data)."""
    import pyarrow as pa

    children = [pa.array([None if row is None else row[f.name] for row in rows], f.type) for f in struct_type]
    mask = pa.array([row is None for row in rows]) if None in rows else None
    return pa.StructArray.from_arrays(children, fields=list(struct_type), mask=mask)


@gc_paused()
def table_to_records(table, file: str | None = None) -> list[Record]:
    """`pyarrow.Table` (as `records_to_table` builds it, or a parquet file with the same columns) → records.

    Each column is converted to Python in one call; a missing column is an error naming the field. Columns the
    schema does not have (a Hub table with extra columns, e.g. lmms-lab's `domain`) are kept in `meta` rather
    than refused; `meta`'s own keys win. An empty `category` cell (the published copy of meta's category, of a
    record that has none) adds nothing.
    """
    names = [f.name for f in dataclasses.fields(Record)]
    missing = [n for n in ("id", "question", "options", "answer") if n not in table.column_names]
    if missing:
        raise RecordError("missing", file=file, field=missing[0])
    empty = [None] * table.num_rows
    cols = {n: table.column(n).to_pylist() if n in table.column_names else empty for n in names}
    unknown = [n for n in table.column_names if n not in names]
    extra = (
        [
            {k: v for k, v in zip(unknown, row) if not (k == CATEGORY_COLUMN and v is None)}
            for row in zip(*(table.column(n).to_pylist() for n in unknown))
        ]
        if unknown
        else [{}] * table.num_rows
    )
    return [
        Record(
            id=str(rid),
            question=question,
            options=options if options is not None else [],
            answer=answer if answer is not None else [],
            video=video,
            source=source or "",
            meta={**more, **_meta_from_arrow(meta)},
            qai=_qai_from_arrow(qai),
        )
        for rid, question, options, answer, video, source, meta, qai, more in zip(*(cols[n] for n in names), extra)
    ]


@gc_paused()
def to_hf_dataset(records: Sequence[Record], meta=None, *, table=None):
    """Records → `datasets.Dataset` with `hf_features(meta)` (`meta`: a struct from `meta_struct_feature`, or
    None for JSON text), from an Arrow table (no per-row encoding): `table` when already built
    (`records_to_table(records, meta)`)."""
    from datasets import Dataset, DatasetInfo, disable_progress_bars

    disable_progress_bars()  # a per-shard bar for a one-shot local write is noise
    table = records_to_table(records, meta) if table is None else table
    return Dataset(table, info=DatasetInfo(features=hf_features(meta, CATEGORY_COLUMN in table.column_names)))


def from_hf_dataset(dataset) -> list[Record]:
    """`datasets.Dataset` (as built by `to_hf_dataset`) → records, through its Arrow table."""
    return table_to_records(dataset.with_format("arrow")[:])


def _read_arrow(p: Path, fmt: str, split: str | None) -> list[Record]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return table_to_records(pq.read_table(p), str(p))
    from datasets import DatasetDict

    from .hub_sources import load_saved_dataset

    ds = load_saved_dataset(p)
    if isinstance(ds, DatasetDict):
        names = list(ds)
        if split is None and len(names) != 1:
            raise InputFormatError(f"{p}: dataset has splits {names}; choose one with --split")
        ds = ds[split or names[0]]
    return from_hf_dataset(ds)


# ----------------------------------------------------------------------------------------------------------
# YAML


class UniqueKeys:
    """Mixin for a PyYAML loader (`class Loader(UniqueKeys, yaml.SafeLoader)`): a mapping that repeats a key is
    an error naming the key and both lines, where PyYAML silently keeps the last value."""

    def construct_mapping(self, node, deep=False):
        from yaml.constructor import ConstructorError

        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges; its keys may be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the loader's own error says so
                continue
            if first != key_node.start_mark.line:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first + 1})", key_node.start_mark
                )
        return super().construct_mapping(node, deep)  # type: ignore[misc]


# ----------------------------------------------------------------------------------------------------------
# writing


_FORMAT_SUFFIX = {
    "json": ".json",
    "unified": ".json",
    "records-json": ".json",
    "jsonl": ".jsonl",
    "parquet": ".parquet",
}


def output_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write format for `path`: '.json' → unified, '.jsonl' → records, '.parquet', no suffix → hf. An explicit
    `fmt` must agree with a records suffix of `path` (`--to parquet -o x.json` would put parquet bytes in a
    file every reader takes for JSON)."""
    suffix = Path(path).suffix.lower()
    if fmt != "auto":
        if fmt not in WRITE_FORMATS:
            raise UsageError(f"unknown output format {fmt!r}; expected one of {', '.join(WRITE_FORMATS)}")
        wanted = _FORMAT_SUFFIX.get(fmt, "")
        if suffix in _FORMAT_SUFFIX.values() and suffix != wanted:
            raise UsageError(
                f"{path}: a {suffix} name for {fmt} output; name it "
                + (f"*{wanted}" if wanted else "without a records suffix (an HF dataset folder)")
                + " or drop the format option"
            )
        return "unified" if fmt == "json" else fmt
    if suffix and suffix not in (".json", ".jsonl", ".parquet"):
        raise UsageError(
            f"{path}: unknown output suffix {suffix!r}; expected .json, .jsonl, .parquet or no "
            "suffix (an HF dataset folder)"
        )
    return {".json": "unified", ".jsonl": "jsonl", ".parquet": "parquet"}.get(suffix, "hf")


_JSON_SCALARS = frozenset({str, int, bool, type(None)})


def msgspec_writes_alike(value: Any) -> bool:
    """Whether msgspec writes `value` as compact JSON exactly as `json.dumps(value, ensure_ascii=False)` does:
    true for nested dicts (str keys), lists and tuples of strings, ints, bools, None and floats that are 0 or
    1e-4 ≤ |x| < 1e16. Outside that range Python's repr and msgspec spell a float differently ("1e+16" /
    "1e16"), msgspec writes NaN and ±Infinity as null, and other keys or types are not written alike."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            if any(type(k) is not str for k in v):
                return False
            stack.extend(x for x in v.values() if type(x) not in _JSON_SCALARS)
        elif t is list or t is tuple:
            stack.extend(x for x in v if type(x) not in _JSON_SCALARS)
        elif t is float:
            if not (v == 0.0 or 1e-4 <= abs(v) < 1e16):  # NaN fails both comparisons
                return False
        elif t not in _JSON_SCALARS:
            return False
    return True


def dumps_indented(obj: Any, *, checked: bool = False) -> str:
    """`json.dumps(obj, ensure_ascii=False, indent=2)`, byte for byte, in a fraction of its time.

    The stdlib writes indented JSON with its pure-Python encoder (about 2.5 s for 67,160 unified records);
    its C encoder writes compact JSON in well under half of that, and msgspec re-indents it, copying every
    number and string token as it is, so the bytes are the stdlib's. NaN and Infinity, which the stdlib
    writes but JSON does not have, leave msgspec unable to read the text: then the stdlib's own indented
    writer is used. `checked=True` says the caller knows `msgspec_writes_alike(obj)`: msgspec then writes the
    compact text too, five times faster than the C encoder.
    """
    import msgspec

    if checked:
        return msgspec.json.format(msgspec.json.encode(obj), indent=2).decode()
    compact = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return msgspec.json.format(compact, indent=2)
    except msgspec.DecodeError:
        return json.dumps(obj, ensure_ascii=False, indent=2)


def _check_json_values(records: Sequence[Record]) -> None:
    """Refuse a NaN/±Infinity (a float column of a parquet or HF input) or a lone surrogate in a record's `meta`
    or `qai` before writing JSON: Python would write text that is not JSON, or fail half-way."""
    for record in records:
        for name in ("meta", "qai"):
            found = _unwritable(getattr(record, name))
            if found is not None:
                path, what = found
                field = ".".join(str(k) for k in [name, *path])
                raise RecordError(
                    f"{what} (or write --to parquet)",
                    record_id=record.id,
                    field=field,
                )


@gc_paused()
def write_records(records: Iterable[Record], path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write `records` atomically; return the format used."""
    records = list(records)
    fmt = output_format(path, fmt)
    if fmt in ("unified", "records-json", "jsonl"):
        # a row is strings twgrpo builds plus the record's own fields: only those need the check
        checked = all(
            type(r.id) is str
            and type(r.source) is str
            and (r.video is None or type(r.video) is str)
            and msgspec_writes_alike(r.meta)
            and msgspec_writes_alike(r.qai)
            for r in records
        )
        if not checked:
            _check_json_values(records)
    if fmt == "unified":
        rows = [record_to_unified(r) for r in records]
        atomic_write_text(path, dumps_indented(rows, checked=checked) + "\n")
    elif fmt == "records-json":
        atomic_write_text(path, dumps_indented([r.to_dict() for r in records]) + "\n")
    elif fmt == "jsonl":
        atomic_write_text(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        table = records_to_table(records)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:  # hf
        ds = to_hf_dataset(records)
        with atomic_path(path, directory=True) as tmp:
            ds.save_to_disk(str(tmp))
    return fmt
