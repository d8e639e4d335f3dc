"""STAR situated reasoning (bobbyleelsl.github.io/STAR): four-choice questions on Charades clips, from
`STAR_<split>.json` (gold = the *text* of the correct choice), the STAR homepage's demo layout (a dict by
question id with per-choice "Correct"/"Wrong"), or TW-GRPO's converted `STAR.json` (read as unified).

`category` is the question type, the `question_id` prefix: Interaction, Sequence, Prediction, Feasibility.
Each question covers the `start`–`end` seconds of its Charades video (kept in `meta`, used when sampling).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError
from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..io.readers import read_interchange
from ..record import Record, letter
from .facts import Source
from .loading import collect, existing, fill_categories, finish, letter_of_text, read_json

NAME = "star"
DESCRIPTION = "STAR: STAR_<split>.json (answer text among 4 choices; start/end clip), or TW-GRPO STAR.json"
DEFAULT_PATH = "STAR/STAR_val.json"
QUESTION_TYPES = ("Interaction", "Sequence", "Prediction", "Feasibility")
DEFAULT_SPLIT = "val"
PROMPT_STYLE = "cot"
READS_INTERCHANGE = True  # TW-GRPO's converted STAR.json
SIGNATURES = (("question_id", "video_id", "start", "end"),)
SOURCE = Source(
    name="STAR",
    license="apache-2.0",
    license_note="Apache-2.0 (csbobby/STAR repositories)",
    redistribution="allowed",
    homepage="https://bobbywu.com/STAR/",
    hub_id=None,
    videos="Charades videos (480p release), trimmed per question to its `start`/`end` seconds; the videos are "
    "under the Charades terms of use.",
    citation="""\
@inproceedings{wu2021star,
  title     = {STAR: A Benchmark for Situated Reasoning in Real-World Videos},
  author    = {Wu, Bo and Yu, Shoubin and Chen, Zhenfang and Tenenbaum, Joshua B. and Gan, Chuang},
  booktitle = {Thirty-fifth Conference on Neural Information Processing Systems Datasets and Benchmarks Track},
  year      = {2021}
}""",
)
HUB = None  # distributed from the STAR site, not the Hub


def _convert(index: int, raw: dict[str, Any]) -> Record:
    qid = str(raw["question_id"])
    choices = sorted(raw["choices"], key=lambda c: c.get("choice_id", 0))
    options = [c["choice"] for c in choices]
    verdicts = [str(c.get("answer", "")).lower() for c in choices]
    if "correct" in verdicts:  # homepage layout: per-choice verdicts, `answer` holds the video id
        gold = [letter(i) for i, v in enumerate(verdicts) if v == "correct"]
    else:
        gold = [letter_of_text(options, raw.get("answer"))]
    qtype = qid.split("_", 1)[0]
    if qtype not in QUESTION_TYPES:
        raise RecordError(
            f"question type {qtype!r} (from the id) is not one of {', '.join(QUESTION_TYPES)}", field="question_id"
        )
    meta: dict[str, Any] = {"category": qtype, "question_type": qtype, "video_id": raw["video_id"]}
    for key in ("start", "end"):
        if raw.get(key) is not None:
            meta[key] = float(raw[key])
    return Record(
        id=qid,
        question=raw["question"],
        options=options,
        answer=gold,
        video=f"Charades_v1_480/{raw['video_id']}.mp4",
        source=NAME,
        meta=meta,
    )


def load(path: str | os.PathLike = DEFAULT_PATH) -> LoadResult:
    """Read STAR questions: `STAR_val.json` / `STAR_train.json` (test has no answers), the homepage demo
    dict, or TW-GRPO's unified `STAR.json`. Ids are STAR's `question_id`s (`Interaction_T1_2297`).
    """
    root = existing(path)
    file = root
    if root.is_dir():
        found = sorted(root.glob("STAR_*.json"))
        if not found:
            raise InputFormatError(f"{root}: no STAR_<split>.json here")
        file = next((f for f in found if f.stem == "STAR_val"), found[0])
    data = read_json(file)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "solution" in data[0]:
        result = read_interchange(file, source=NAME)  # TW-GRPO's converted STAR.json
        records = [fill_categories(r, categories) if r.source == NAME else r for r in result.records]
        return LoadResult(records, result.problems, result.skipped, file=result.file)
    items = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputFormatError(f"{file}: expected a JSON list of STAR questions")
    part = collect(enumerate(items), _convert, file=str(file), id_of=lambda i, raw: raw.get("question_id"))
    return finish([(*part, str(file))], root)


def categories(record: Record) -> dict[str, Any]:
    """Question type (Interaction, Sequence, Prediction, Feasibility) as `category`, when the id carries it."""
    qtype = record.meta.get("question_type") or str(record.meta.get("question_id", record.id)).split("_", 1)[0]
    return {"category": qtype} if qtype in QUESTION_TYPES else {}


def detect(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("STAR_*.json"))
    head = head_text(path, 8192) if path.suffix == ".json" else ""
    return ('"question_id"' in head and '"video_id"' in head and '"choices"' in head) or (
        path.name.upper().startswith("STAR") and '"solution"' in head
    )
