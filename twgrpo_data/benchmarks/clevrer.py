"""CLEVRER (clevrer.csail.mit.edu): synthetic collision videos with descriptive, explanatory, predictive and
counterfactual questions, from the official `train.json` / `validation.json` (a list of scenes).

Multiple-choice questions judge every choice on its own (`"correct"` / `"wrong"`), so several can be
correct: the gold answer is every correct letter (multi-answer records). TW-GRPO trains and evaluates on the
counterfactual ones, the default here; questions with no correct choice are skipped (TW-GRPO removed them),
and descriptive questions (one-word open answers) cannot be multiple choice and are skipped when asked for.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..record import Record, letter
from .facts import Source
from .loading import Skip, collect, existing, find_first, finish, read_json

NAME = "clevrer"
DESCRIPTION = "CLEVRER: validation.json/train.json scenes (counterfactual by default; multi-answer)"
DEFAULT_PATH = "CLEVRER/validation.json"
DEFAULT_SPLIT = "validation"
PROMPT_STYLE = "clevrer"  # multi-answer: "letters separated by , if multiple"
READS_INTERCHANGE = False
SIGNATURES = (("scene_index", "video_filename"),)
SOURCE = Source(
    name="CLEVRER",
    license="cc0-1.0",
    license_note="CC0 (data.csail.mit.edu/clevrer README)",
    redistribution="allowed",
    homepage="http://clevrer.csail.mit.edu/",
    hub_id=None,
    videos="CLEVRER videos: `video_train.zip` / `video_validation.zip` from http://data.csail.mit.edu/clevrer/ "
    "(5 s, 128 frames, 480x320).",
    citation="""\
@inproceedings{yi2020clevrer,
  title     = {CLEVRER: Collision Events for Video Representation and Reasoning},
  author    = {Yi, Kexin and Gan, Chuang and Li, Yunzhu and Kohli, Pushmeet and Wu, Jiajun and Torralba, Antonio
               and Tenenbaum, Joshua B.},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2020}
}""",
)
HUB = None  # distributed from data.csail.mit.edu, not the Hub
QUESTION_TYPES = ("descriptive", "explanatory", "predictive", "counterfactual")
DEFAULT_TYPES = ("counterfactual",)
_SPLITS = ("validation", "train", "test")
_NUMBER = re.compile(r"video_(\d+)")


def _split_of(file: Path) -> str:
    return next((s for s in _SPLITS if s in file.stem), "validation")


def _questions(scenes: list[Any], file: Path):
    """(running question index, (scene, question)) over all scenes."""
    n = 0
    for scene in scenes:
        if not isinstance(scene, dict) or not isinstance(scene.get("questions"), list):
            raise InputFormatError(f"{file}: expected a list of scenes with 'questions' (official CLEVRER layout)")
        for question in scene["questions"]:
            yield n, (scene, question)
            n += 1


def _convert(types: tuple[str, ...], split: str, index: int, pair: tuple[dict, dict]) -> Record:
    scene, q = pair
    qtype = q.get("question_type")
    if qtype not in types:
        raise Skip(f"{qtype} (not selected)")
    choices = q.get("choices")
    if choices is None:
        raise Skip(f"{qtype} (open answer, not multiple choice)")
    choices = sorted(choices, key=lambda c: c["choice_id"])
    verdicts = [str(c.get("answer", "")).lower() for c in choices]
    bad = [v for v in verdicts if v not in ("correct", "wrong")]
    if bad:
        raise RecordError(f"choice verdict {bad[0]!r} is not 'correct' or 'wrong'", field="choices")
    gold = [letter(i) for i, v in enumerate(verdicts) if v == "correct"]
    if not gold:
        raise Skip("no correct choice")
    video_file = scene["video_filename"]
    meta: dict[str, Any] = {
        "category": qtype,
        "question_type": qtype,
        "scene_index": scene["scene_index"],
        "question_id": q["question_id"],
        "video_filename": video_file,
        "split": split,
    }
    if "question_subtype" in q:
        meta["question_subtype"] = q["question_subtype"]
    if q.get("program"):
        meta["program"] = q["program"]
    return Record(
        id=f"{scene['scene_index']}_{q['question_id']}",
        question=q["question"],
        options=[c["choice"] for c in choices],
        answer=gold,
        video=f"video_{split}/{video_file}",
        source=NAME,
        meta=meta,
    )


def load(path: str | os.PathLike = DEFAULT_PATH, *, types: list[str] | None = None) -> LoadResult:
    """Read CLEVRER questions (`validation.json`, `train.json`, or the folder holding them). `types` picks
    question types (default counterfactual; `["all"]` for every multiple-choice type). Ids are
    `<scene_index>_<question_id>`; every correct choice is a gold letter.
    """
    chosen = tuple(QUESTION_TYPES if types and "all" in types else (types or DEFAULT_TYPES))
    unknown = sorted(set(chosen) - set(QUESTION_TYPES))
    if unknown:
        raise TwgrpoError(f"unknown CLEVRER question type(s) {unknown}; expected {', '.join(QUESTION_TYPES)} or all")
    root = existing(path)
    file = find_first(
        root,
        ["validation.json", "questions/validation.json", "train.json", "questions/train.json"],
        "CLEVRER question file",
    )
    scenes = read_json(file)
    if not isinstance(scenes, list):
        raise InputFormatError(f"{file}: expected a JSON list of scenes")
    convert = functools.partial(_convert, chosen, _split_of(file))
    part = collect(
        _questions(scenes, file),
        convert,
        file=str(file),
        id_of=lambda i, pair: f"{pair[0].get('scene_index')}_{pair[1].get('question_id')}",
    )
    return finish([(*part, str(file))], root)


def categories(record: Record) -> dict[str, Any]:
    """Question type (counterfactual, explanatory, …) as `category`."""
    qtype = record.meta.get("question_type")
    return {"category": qtype} if qtype else {}


def detect(path: Path) -> bool:
    if path.is_dir():
        return any(
            detect(path / rel)
            for rel in ("validation.json", "questions/validation.json", "train.json", "questions/train.json")
            if (path / rel).is_file()
        )
    head = head_text(path, 4096) if path.suffix == ".json" else ""
    return '"scene_index"' in head and '"video_filename"' in head


def video_candidates(record: Record) -> list[tuple[str, bool]]:
    """Official zips keep 1,000 videos per folder; MVBench's copy is flat; TW-GRPO uses `<split>_video/`."""
    name, split = record.meta.get("video_filename"), record.meta.get("split", "validation")
    if not name:
        return [(record.video, True)] if record.video else []
    out = [(f"video_{split}/{name}", True), (f"{split}_video/{name}", True)]
    m = _NUMBER.search(name)
    if m:
        low = int(m.group(1)) // 1000 * 1000
        bucket = f"video_{low:05d}-{low + 1000:05d}"
        out += [(f"video_{split}/{bucket}/{name}", True), (f"{bucket}/{name}", True)]
    return out
