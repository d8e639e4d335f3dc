"""MMVU (yale-nlp/MMVU) validation: 1,000 expert-level questions over 27 subjects, `validation.json`.

Only the 625 multiple-choice items become records; the 375 open-ended ones need an LLM judge and are
skipped and counted (`skipped["open-ended"]`), as Video-R1 and TW-GRPO do. Video URLs on the Hub are mapped
to the dataset's relative `videos/<Subject>/<n>.mp4`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError
from ..formats import LoadResult
from ..record import LETTERS, Record
from .facts import HubSource, Source
from .loading import Skip, collect, existing, find_first, finish, head_text, read_json

NAME = "mmvu"
DESCRIPTION = "MMVU: validation.json (625 multiple-choice kept, 375 open-ended skipped and counted)"
DEFAULT_PATH = "MMVU/validation.json"
DEFAULT_SPLIT = "validation"
PROMPT_STYLE = "cot"
READS_INTERCHANGE = False
SIGNATURES = (("youtube_url", "question_type"),)
SOURCE = Source(
    name="MMVU",
    license="unknown",
    license_note="not stated in the yale-nlp/MMVU repository",
    redistribution="unknown",
    homepage="https://github.com/yale-nlp/MMVU",
    hub_id="yale-nlp/MMVU",
    videos="the videos of the Hub dataset `yale-nlp/MMVU`.",
    citation="""\
@inproceedings{zhao2025mmvu,
  title     = {MMVU: Measuring Expert-Level Multi-Discipline Video Understanding},
  author    = {Zhao, Yilun and others},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2025}
}""",
)
# validation.json + plain videos/<Subject>/<n>.mp4 (a record's `video` is that repository path)
HUB = HubSource("yale-nlp/MMVU", annotations=("validation.json",), data_path="validation.json", video_files="videos/**")
_HUB_VIDEO = re.compile(r"/resolve/[^/]+/(videos/.+)$")
_VIDEO_DIR = re.compile(r"(?:^|/)videos/([^/]+)/[^/]+$")


def _convert(index: int, raw: dict[str, Any]) -> Record:
    qtype = raw.get("question_type")
    if qtype != "multiple-choice":
        raise Skip(str(qtype or "no question_type"))
    choices = raw["choices"]
    if not isinstance(choices, dict):
        raise RecordError("must be an object {letter: text}", field="choices")
    letters = sorted(k for k, v in choices.items() if isinstance(v, str) and v.strip())
    if letters != list(LETTERS[: len(letters)]):
        raise RecordError(f"non-empty choices must run A, B, …; got {letters}", field="choices")
    options = [choices[k] for k in letters]
    gold = str(raw["answer"]).strip()
    if gold not in letters:
        raise RecordError(f"answer {raw['answer']!r} is not one of the choice letters {letters}", field="answer")
    video = raw.get("video")
    m = _HUB_VIDEO.search(video or "")
    meta = dict(raw.get("metadata") or {})
    meta.update({"category": meta.get("subject"), "question_type": qtype, "youtube_url": raw.get("youtube_url")})
    return Record(
        id=str(raw["id"]),
        question=raw["question"],
        options=options,
        answer=[gold],
        video=m.group(1) if m else video,
        source=NAME,
        meta=meta,
    )


def load(path: str | os.PathLike = DEFAULT_PATH) -> LoadResult:
    """Read MMVU's `validation.json` (or the dataset folder holding it). Open-ended items are counted in
    `skipped`; ids are MMVU's (`validation_3`).

    Example:
        >>> r = load("MMVU/validation.json")             # doctest: +SKIP
        >>> len(r.records), r.skipped["open-ended"]       # doctest: +SKIP
        (625, 375)
    """
    root = existing(path)
    file = find_first(root, ["validation.json", "data/validation.json"], "MMVU validation.json")
    items = read_json(file)
    if not isinstance(items, list):
        raise InputFormatError(f"{file}: expected a JSON list of MMVU items")
    part = collect(enumerate(items), _convert, file=str(file), id_of=lambda i, raw: raw.get("id"))
    return finish([(*part, str(file))], root)


def categories(record: Record) -> dict[str, Any]:
    """Subject as `category`; for Video-R1's eval_mmvu.json, read from the `videos/<Subject>/` folder."""
    subject = record.meta.get("subject")
    if subject is None:
        m = _VIDEO_DIR.search(record.video or "")
        subject = m.group(1).replace("_", " ") if m else None
    return {"category": subject, "subject": subject} if subject else {}


def detect(path: Path) -> bool:
    if path.is_dir():
        return (path / "validation.json").is_file() and detect(path / "validation.json")
    head = head_text(path, 8192) if path.suffix == ".json" else ""
    return '"question_type"' in head and '"choices"' in head and '"youtube_url"' in head
