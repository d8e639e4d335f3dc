"""TempCompass: four task types over the same 410 short videos, from the original repo's
`questions/<type>.json` (video → dimension → questions) or the lmms-lab parquet configs.

Options live inside the question text, each task type in its own style; they are parsed out here:
multi-choice `A. text` lines (gold `"B. text"`), yes_no (options yes/no), caption_matching
`Option 1:` / `Sentence A:` / `Caption A:` lines (gold = the whole matching line), and captioning, scored
as multiple choice over its `Information A: {...}` lines the way Video-R1 converted it (gold = the letter of
`answer`; `mc_question`/`mc_answer` are kept in `meta`, and their letters can differ from `answer`'s).
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..formats import LoadResult
from ..record import LETTERS, Record, letter
from .facts import HubSource, Source
from .loading import collect, existing, finish, read_json, read_parquet

NAME = "tempcompass"
DESCRIPTION = "TempCompass: questions/<type>.json or lmms-lab <type>/test-*.parquet (4 task types)"
DEFAULT_PATH = "TempCompass/questions"
DEFAULT_SPLIT = "test"
PROMPT_STYLE = "cot"
READS_INTERCHANGE = False
SIGNATURES = (("video_id", "dim"),)
SOURCE = Source(
    name="TempCompass",
    license="cc-by-nc-4.0",
    license_note="CC BY-NC 4.0 (llyx97/TempCompass): non-commercial",
    redistribution="non-commercial",
    homepage="https://github.com/llyx97/TempCompass",
    hub_id="lmms-lab/TempCompass",
    videos="the videos of the Hub dataset `lmms-lab/TempCompass` (CC BY-NC 4.0).",
    citation="""\
@inproceedings{liu2024tempcompass,
  title     = {TempCompass: Do Video LLMs Really Understand Videos?},
  author    = {Liu, Yuanxin and others},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2024},
  year      = {2024}
}""",
)
# lmms-lab: one parquet config per task type; tempcompass_videos.zip unpacks to videos/<video_id>.mp4
HUB = HubSource(
    "lmms-lab/TempCompass", annotations=("*/test-*.parquet",), data_path=".", video_archives=("tempcompass_videos.zip",)
)
TASK_TYPES = ("multi-choice", "yes_no", "caption_matching", "captioning")
_MC_LINE = re.compile(r"^([A-Z])\.\s+(.*)$")
_MATCH_LINE = re.compile(r"^(Option \d+|Sentence [A-Z]|Caption [A-Z]):\s*(.*)$")
_INFO_LINE = re.compile(r"^Information ([A-Z]):\s*(.*)$")
_GENERATED = "Generated Caption:"


def _trailing(lines: list[str], pattern: re.Pattern) -> tuple[list[str], list[re.Match]]:
    """Split off the run of lines at the end of `lines` that match `pattern`."""
    cut = len(lines)
    while cut > 0 and pattern.match(lines[cut - 1].strip()):
        cut -= 1
    return lines[:cut], [pattern.match(line.strip()) for line in lines[cut:]]


def _letter_from_prefix(answer: str, options: list[str]) -> str:
    """Gold letter of an answer written `"B. text"`."""
    m = _MC_LINE.match(answer.strip())
    if not m or m.group(1) not in LETTERS[: len(options)]:
        raise RecordError(f"answer {answer!r} does not start with an option letter", field="answer")
    return m.group(1)


def parse_question(task_type: str, question: str, answer: str) -> tuple[str, list[str], str]:
    """(question stem, option texts, gold letter) of one TempCompass item."""
    lines = question.rstrip().split("\n")
    if task_type == "yes_no":
        gold = answer.strip().lower()
        if gold not in ("yes", "no"):
            raise RecordError(f"yes/no answer expected, got {answer!r}", field="answer")
        return question, ["yes", "no"], "A" if gold == "yes" else "B"
    if task_type == "multi-choice":
        stem, found = _trailing(lines, _MC_LINE)
        options = [m.group(2) for m in found]
        return "\n".join(stem), options, _letter_from_prefix(answer, options)
    if task_type == "caption_matching":
        stem, found = _trailing(lines, _MATCH_LINE)
        for i, m in enumerate(found):
            if m.group(0).strip() == answer.strip():
                return "\n".join(stem), [m.group(2) for m in found], letter(i)
        raise RecordError(f"answer {answer!r} is not one of the caption lines", field="answer")
    if task_type == "captioning":
        if lines[-1].strip() != _GENERATED:
            raise RecordError(f"captioning prompt does not end with {_GENERATED!r}", field="question")
        stem, found = _trailing(lines[:-1], _INFO_LINE)
        options = [m.group(2) for m in found]
        # Video-R1's conversion: the instruction, then the "Generated Caption:" cue, options listed apart
        return "\n".join(stem + [_GENERATED]), options, _letter_from_prefix(answer, options)
    raise TwgrpoError(f"unknown TempCompass task type {task_type!r}; expected one of {', '.join(TASK_TYPES)}")


def _record_id(task_type: str, index: int, numbered: tuple[int, dict[str, Any]]) -> str:
    ordinal, row = numbered
    return f"{row.get('video_id')}_{row.get('dim')}_{task_type}_{ordinal}"


def _convert(task_type: str, index: int, numbered: tuple[int, dict[str, Any]]) -> Record:
    """One item → record; `numbered` is (ordinal within its video and dimension, row)."""
    ordinal, row = numbered
    question, options, gold = parse_question(task_type, row["question"], row["answer"])
    if not options:
        raise RecordError("no option lines found in the question", field="question")
    video_id, dim = str(row["video_id"]), row["dim"]
    meta: dict[str, Any] = {"category": dim, "dim": dim, "task_type": task_type, "video_id": video_id}
    for key in ("mc_question", "mc_answer"):
        if row.get(key) is not None:
            meta[key] = row[key]
    return Record(
        id=_record_id(task_type, index, numbered),
        question=question,
        options=options,
        answer=[gold],
        video=f"videos/{video_id}.mp4",
        source=NAME,
        meta=meta,
    )


def _numbered(rows: list[dict[str, Any]]) -> Iterator[tuple[int, tuple[int, dict[str, Any]]]]:
    """(row index, (ordinal within the row's video and dimension, row)) — the ordinal makes the id, and is
    the same whether the rows come from the original JSON or the flattened parquet."""
    seen: Counter = Counter()
    for i, row in enumerate(rows):
        key = (str(row.get("video_id")), row.get("dim"))
        yield i, (seen[key], row)
        seen[key] += 1


def _json_rows(path: Path) -> list[dict[str, Any]]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputFormatError(f"{path}: expected a JSON object video_id -> dimension -> questions")
    rows = []
    for video_id, dims in data.items():
        for dim, items in dims.items():
            for item in items:
                rows.append({"video_id": video_id, "dim": dim, **item})
    return rows


def _add_mc_reference(rows: list[dict[str, Any]], multi_choice: Path) -> None:
    """Original-repo captioning items get `mc_question`/`mc_answer` as lmms-lab's parquet has them: the first
    multi-choice question of the same video and dimension."""
    data = read_json(multi_choice)
    for row in rows:
        first = (data.get(row["video_id"]) or {}).get(row["dim"]) or []
        if first:
            row.setdefault("mc_question", first[0]["question"])
            row.setdefault("mc_answer", first[0]["answer"])


def _sources(root: Path) -> list[tuple[str, Path]]:
    """(task type, file) pairs under `root` — original JSON or lmms-lab parquet layout."""
    if root.is_file():
        stem = root.parent.name if root.suffix == ".parquet" else root.stem
        if stem not in TASK_TYPES:
            raise InputFormatError(
                f"{root}: cannot tell the TempCompass task type from the name (expected one of {', '.join(TASK_TYPES)})"
            )
        return [(stem, root)]
    folder = root / "questions" if (root / "questions").is_dir() else root
    found = [(t, folder / f"{t}.json") for t in TASK_TYPES if (folder / f"{t}.json").is_file()]
    if not found and root.name in TASK_TYPES:  # one lmms-lab config folder
        found = [(root.name, p) for p in sorted(root.glob("*.parquet"))]
    if not found:
        for t in TASK_TYPES:
            found += [(t, p) for p in sorted((root / t).glob("*.parquet"))]
    if not found:
        raise InputFormatError(
            f"{root}: no TempCompass files (questions/<type>.json or <type>/test-*.parquet "
            f"for types {', '.join(TASK_TYPES)})"
        )
    return found


def load(path: str | os.PathLike = DEFAULT_PATH, *, types: list[str] | None = None) -> LoadResult:
    """Read TempCompass: the repo root or its `questions/` folder, one `<type>.json`, the lmms-lab dataset
    folder (`<type>/test-00000-of-00001.parquet`) or one such parquet. `types` picks task types.
    Ids are `<video_id>_<dim>_<type>_<n>`, equal for both layouts.
    """
    root = existing(path)
    if types:
        unknown = sorted(set(types) - set(TASK_TYPES))
        if unknown:
            raise TwgrpoError(f"unknown TempCompass task type(s) {unknown}; expected {', '.join(TASK_TYPES)}")
    parts = []
    for task_type, f in _sources(root):
        if types and task_type not in types:
            continue
        if f.suffix == ".parquet":
            rows = read_parquet(f)
        else:
            rows = _json_rows(f)
            if task_type == "captioning" and (f.parent / "multi-choice.json").is_file():
                _add_mc_reference(rows, f.parent / "multi-choice.json")
        parts.append(
            (
                *collect(
                    _numbered(rows),
                    functools.partial(_convert, task_type),
                    file=str(f),
                    id_of=functools.partial(_record_id, task_type),
                ),
                str(f),
            )
        )
    return finish(parts, root)


def task_type_of(record: Record) -> str:
    """The task type of a record from Video-R1's eval_tempcompass.json, recognised by its content."""
    original = record.meta.get("question", record.question)
    if "mc_question" in record.meta or _GENERATED in original:
        return "captioning"
    if [o.strip().lower() for o in record.options] == ["yes", "no"]:
        return "yes_no"
    if any(_MATCH_LINE.match(line.strip()) for line in original.split("\n")):
        return "caption_matching"
    return "multi-choice"


def categories(record: Record) -> dict[str, Any]:
    """Dimension as `category`, plus `task_type`."""
    dim = record.meta.get("dim")
    out: dict[str, Any] = {"task_type": record.meta.get("task_type") or task_type_of(record)}
    if dim:
        out["category"] = dim
    return out


def detect(path: Path) -> bool:
    if path.is_dir():
        folder = path / "questions" if (path / "questions").is_dir() else path
        return (
            (folder / "multi-choice.json").is_file()
            or any((path / t).is_dir() for t in TASK_TYPES)
            or (path.name in TASK_TYPES and any(path.glob("*.parquet")))
        )
    if path.suffix == ".parquet":
        return path.parent.name in TASK_TYPES
    return path.suffix == ".json" and path.stem in TASK_TYPES
