"""Readers and writers for the interchange formats (DESIGN §2), format auto-detection and atomic writes.

Formats:
    unified   the Video-R1 / TW-GRPO JSON list (`problem` with option lines, `options` "A. text",
              `solution` "<answer>B,C</answer>", `video`/`path`, `problem_type`, `data_type`)
    records   this toolkit's own records, as a JSON list (`.json`) or one per line (`.jsonl`)
    parquet   one row per record; `meta` as a JSON string, `qai` as a struct
    hf        an HF `datasets` folder written by `save_to_disk`
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputFormatError, RecordError, TwgrpoError
from .record import LETTERS, Problem, Record, letter, validate_records

READ_FORMATS = ("auto", "unified", "records", "parquet", "hf")
WRITE_FORMATS = ("json", "unified", "jsonl", "records-json", "parquet", "hf")
QAI_KEYS = ("negated", "original_question", "original_answer", "removed_options", "seed", "strategy")
_LATER_QAI_KEYS = ("strategy",)  # added by issue 14: records written before it lack them

# Keys the unified writer adds with fixed values; the reader drops them again so that
# unified → record → unified and record → unified → record are both identities.
UNIFIED_DEFAULTS = {"problem_type": "multiple choice", "data_type": "video"}
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_OPTION_PREFIX = re.compile(r"^\(?([A-Z])[.):]\s*")
_OPTION_LINE = re.compile(r"^\(?([A-Z])[.):]?\s+(.*\S)\s*$")


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

    def raise_or_skip(self, skip_invalid: bool) -> "LoadResult":
        """Raise the first record error, or with `skip_invalid` count the invalid records as skipped."""
        if self.errors:
            if not skip_invalid:
                raise self.errors[0].to_error()
            self.skipped["invalid"] += self.n_invalid
        return self


# ----------------------------------------------------------------------------------------------------------
# atomic writes


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed over `target`.

    A crash leaves the old `target` untouched, so re-running on its own output never corrupts it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    work = tmp / target.name
    try:
        if directory:
            work.mkdir()
        yield work
        if directory and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(target: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(target, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


# ----------------------------------------------------------------------------------------------------------
# unified (Video-R1 / TW-GRPO) records


def strip_option_prefix(text: str, position: int) -> str:
    """'B. cube' → 'cube' when the prefix letter matches the option's position; otherwise unchanged."""
    m = _OPTION_PREFIX.match(text)
    if m and m.group(1) == letter(position):
        return text[m.end():]
    return text


def split_problem(problem: str, options: list[str] | None) -> tuple[str, list[str]]:
    """Separate the question stem from trailing option lines ("A. text", "(A) text", "A text").

    With `options` given, only lines that spell those options are removed; without, the option lines
    are read from `problem` (they must run A, B, C, … to the end of the text).
    """
    lines = problem.rstrip().split("\n")
    if options is not None:
        n = len(options)
        tail = lines[-n:] if n and len(lines) > n else []
        parsed = [_OPTION_LINE.match(line.strip()) for line in tail]
        stem = lines
        if tail and all(m and m.group(1) == letter(i) and m.group(2) == options[i].strip()
                        for i, m in enumerate(parsed)):
            stem = stem[:-n]
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
    m = _ANSWER_TAG.search(text)
    inner = m.group(1) if m else text
    return sorted({part.strip() for part in inner.replace(" ", "").split(",") if part.strip()})


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
        options = [strip_option_prefix(o.strip(), i) for i, o in enumerate(options)]
    stem, options = split_problem(problem, options)
    question = raw["question"] if isinstance(raw.get("question"), str) and "problem" in raw else stem
    if "problem" in raw and question.strip() != stem.strip():
        question = stem  # e.g. TempCompass captioning: `question` holds the information lines
    solution = raw.get("solution")
    if not isinstance(solution, str) or not solution.strip():
        raise fail("solution", "missing or empty (expected '<answer>B</answer>')")
    answer = parse_answer_letters(solution)
    consumed = {"id", "problem", "options", "solution", "video", "path", "source", "qai"}
    meta = {k: v for k, v in raw.items() if k not in consumed}
    if meta.get("question") == question:
        del meta["question"]
    for key, default in UNIFIED_DEFAULTS.items():
        if meta.get(key) == default:
            del meta[key]
    qai = raw.get("qai") or None
    if qai is not None:
        meta.pop("is_negated", None)  # derived from qai by the writer
    return Record(id=str(rid), question=question, options=options, answer=answer,
                  video=raw.get("video", raw.get("path")), source=raw.get("source") or source,
                  meta=meta, qai=qai)


def record_to_unified(record: Record) -> dict[str, Any]:
    """`Record` → unified dict that the TW-GRPO (`problem` has the options) and Video-R1 trainers read."""
    option_lines = [f"{letter(i)}. {text}" for i, text in enumerate(record.options)]
    out: dict[str, Any] = {"id": record.id}
    out.update(UNIFIED_DEFAULTS)
    out.update(record.meta)
    out.setdefault("question", record.question)
    out.update({
        "problem": record.question + "\n" + "\n".join(option_lines),
        "options": option_lines,
        "solution": f"<answer>{','.join(record.answer)}</answer>",
        "video": record.video,
        "source": record.source,
    })
    if record.qai is not None:
        out["qai"] = record.qai
        out["is_negated"] = bool(record.qai.get("negated"))
    return out


# ----------------------------------------------------------------------------------------------------------
# detection and reading


def guess_source(path: str | os.PathLike) -> str:
    """Benchmark name from a file name: 'eval_mmvu.json' → 'mmvu', 'nextgqa_val.json' → 'nextgqa'."""
    name = Path(path).name.lower()
    for key in ("mvbench", "tempcompass", "videomme", "mmvu", "nextgqa", "nextqa", "clevrer", "star"):
        if key in name:
            return key
    return ""


def _looks_like_records(obj: dict) -> bool:
    return {"id", "question", "options", "answer"} <= set(obj) and isinstance(obj.get("answer"), list)


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
    first = _first_object(p)
    if first is None:
        raise InputFormatError(f"{p}: empty file")
    if _looks_like_records(first):
        return "records"
    if _looks_like_unified(first):
        return "unified"
    raise InputFormatError(f"{p}: not a records or unified file (first record has keys {sorted(first)[:8]}); "
                           "for native benchmark files use `twgrpo data load --bench NAME`")


def _first_object(p: Path) -> dict | None:
    objs = read_json_objects(p)
    for obj in objs:
        if not isinstance(obj, dict):
            raise InputFormatError(f"{p}: record 0 is a {type(obj).__name__}, not a JSON object")
        return obj
    return None


def _json_lines(text: str, p: Path) -> list[tuple[int, Any]]:
    """(line number, value) of each non-blank line; a bad line is an error naming the file and line."""
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is data
        if not line.strip():
            continue
        try:
            out.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{p}: invalid JSON on line {lineno}: {exc.msg}") from None
    return out


def read_json_objects(p: Path) -> list[Any]:
    """A JSON list, or JSON Lines (one object per line; `.jsonl` or a list that does not parse whole)."""
    text = p.read_text(encoding="utf-8")
    if p.suffix != ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if not text.lstrip().startswith("{"):
                raise InputFormatError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        else:
            if isinstance(data, dict):
                return [data]
            if not isinstance(data, list):
                raise InputFormatError(f"{p}: expected a JSON list of records, got {type(data).__name__}")
            return data
    return [value for _, value in _json_lines(text, p)]


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file (eval logs, samples, metrics; any suffix, TW-GRPO names its
    logs *.json); errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(f"{p}: no such file")
    rows = []
    for lineno, value in _json_lines(p.read_text(encoding="utf-8"), p):
        if not isinstance(value, dict):
            raise InputFormatError(f"{p}: line {lineno}: expected a JSON object")
        rows.append(value)
    return rows


def read_dataset(path: str | os.PathLike, fmt: str = "auto", *, source: str | None = None,
                 split: str | None = None) -> LoadResult:
    """Read every record of `path`, collecting (not raising) record-level problems.

    Records that fail to convert or have schema errors are left out of `records` and listed in
    `problems`; warnings (e.g. single-option questions) keep their record.
    """
    p = Path(path)
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
                problems.append(Problem(exc.reason, file, i, exc.record_id or (None if rid is None else str(rid)),
                                        exc.field))
                continue
            except (TypeError, ValueError) as exc:
                problems.append(Problem(f"malformed record: {exc}", file, i))
                continue
            candidates.append((i, rec))
    else:
        for i, rec in enumerate(_read_arrow(p, fmt, split)):
            candidates.append((i, rec))
    bad_index: set[int] = set()
    found = validate_records([r for _, r in candidates], file)
    # validate_records numbers records 0..n-1 over `candidates`; map back to file positions
    for prob in found:
        pos = candidates[prob.index][0]
        problems.append(Problem(prob.message, file, pos, prob.record_id, prob.field, prob.severity))
        if prob.severity == "error":
            bad_index.add(pos)
    problems.sort(key=lambda pr: (pr.index if pr.index is not None else -1))
    records = [r for i, r in candidates if i not in bad_index]
    return LoadResult(records, problems, file=file)


def read_records(path: str | os.PathLike, fmt: str = "auto", *, skip_invalid: bool = False,
                 source: str | None = None, split: str | None = None) -> LoadResult:
    """Read `path`; raise the first record error unless `skip_invalid` (then invalid records are counted)."""
    return read_dataset(path, fmt, source=source, split=split).raise_or_skip(skip_invalid)


# ----------------------------------------------------------------------------------------------------------
# arrow (parquet, HF datasets)


def hf_features():
    """Typed HF features: options/answer as string lists, `qai` as a struct, `meta` as JSON text."""
    from datasets import Features, List, Value

    return Features({
        "id": Value("string"),
        "question": Value("string"),
        "options": List(Value("string")),
        "answer": List(Value("string")),
        "video": Value("string"),
        "source": Value("string"),
        "meta": Value("string"),
        "qai": {
            "negated": Value("bool"),
            "original_question": Value("string"),
            "original_answer": List(Value("string")),
            "removed_options": List(Value("string")),
            "seed": Value("int64"),
            "strategy": Value("string"),
        },
    })


def record_to_row(record: Record) -> dict[str, Any]:
    row = record.to_dict()
    row["meta"] = json.dumps(record.meta, ensure_ascii=False, sort_keys=True)
    if record.qai is not None:
        extra = set(record.qai) - set(QAI_KEYS)
        if extra:
            raise RecordError(f"unknown qai key(s) {sorted(extra)}", record_id=record.id, field="qai")
        row["qai"] = {k: record.qai.get(k) for k in QAI_KEYS}
    return row


def row_to_record(row: dict[str, Any]) -> Record:
    meta = row.get("meta")
    row = dict(row)
    row["meta"] = json.loads(meta) if isinstance(meta, str) and meta else (meta or {})
    if isinstance(row.get("qai"), dict):
        # the struct has every key; a key added later (`strategy`) is absent, not None, in older records
        row["qai"] = {k: v for k, v in row["qai"].items() if not (k in _LATER_QAI_KEYS and v is None)}
    return Record.from_dict(row)


def to_hf_dataset(records: Iterable[Record]):
    """Records → `datasets.Dataset` with `hf_features()`."""
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()  # a per-shard bar for a one-shot local write is noise
    rows = [record_to_row(r) for r in records]
    columns = {name: [row[name] for row in rows] for name in hf_features()}
    return Dataset.from_dict(columns, features=hf_features())


def from_hf_dataset(dataset) -> list[Record]:
    """`datasets.Dataset` (as built by `to_hf_dataset`) → records."""
    return [row_to_record(row) for row in dataset]


def _read_arrow(p: Path, fmt: str, split: str | None) -> list[Record]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(p).to_pylist()
        return [row_to_record(row) for row in rows]
    from datasets import DatasetDict, load_from_disk

    ds = load_from_disk(str(p))
    if isinstance(ds, DatasetDict):
        names = list(ds)
        if split is None and len(names) != 1:
            raise InputFormatError(f"{p}: dataset has splits {names}; choose one with --split")
        ds = ds[split or names[0]]
    return from_hf_dataset(ds)


# ----------------------------------------------------------------------------------------------------------
# writing


def output_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write format for `path`: '.json' → unified, '.jsonl' → records, '.parquet', no suffix → hf."""
    if fmt != "auto":
        if fmt not in WRITE_FORMATS:
            raise TwgrpoError(f"unknown output format {fmt!r}; expected one of {', '.join(WRITE_FORMATS)}")
        return "unified" if fmt == "json" else fmt
    suffix = Path(path).suffix
    return {".json": "unified", ".jsonl": "jsonl", ".parquet": "parquet"}.get(suffix, "hf")


def write_records(records: Iterable[Record], path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write `records` atomically; return the format used."""
    records = list(records)
    fmt = output_format(path, fmt)
    if fmt == "unified":
        atomic_write_json(path, [record_to_unified(r) for r in records])
    elif fmt == "records-json":
        atomic_write_json(path, [r.to_dict() for r in records])
    elif fmt == "jsonl":
        atomic_write_text(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        table = to_hf_dataset(records).data.table
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:  # hf
        ds = to_hf_dataset(records)
        with atomic_path(path, directory=True) as tmp:
            ds.save_to_disk(str(tmp))
    return fmt
