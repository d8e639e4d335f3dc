"""Video-MME (lmms-lab/Video-MME): 2,700 four-option questions over 900 videos, 300 each short (< 2 min),
medium (4-15 min) and long (30-60 min), from `videomme/test-00000-of-00001.parquet`.

Also reads the authors' `output_test_template.json` (questions grouped per video; not valid JSON: it has
trailing commas, tolerated here; it names no video file). Subtitles (`subtitle/<videoID>.srt`, tags
stripped) are attached to `meta["subtitles"]` on request.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError
from ..io.json_text import head_text, parse_json, read_text
from ..io.load_result import LoadResult
from ..io.saved_dataset import is_saved_dataset, read_saved_rows, saved_dataset_columns
from ..io.unified_format import strip_option_prefix
from ..prompts import Prompt
from ..record import LETTERS, Record, letter
from .facts import HubSource, OfficialProtocol, Source, Verdict
from .loading import collect, existing, finish, read_parquet

NAME = "videomme"
DESCRIPTION = "Video-MME: videomme/test-*.parquet (2,700 questions; short/medium/long), optional subtitles"
DEFAULT_PATH = "Video-MME"
DEFAULT_SPLIT = "test"
PROMPT_STYLE = "cot"
READS_INTERCHANGE = False
SIGNATURES = (("videoID", "duration", "domain"),)
SOURCE = Source(
    name="Video-MME",
    license="other",
    license_name="video-mme-terms",
    license_link="https://github.com/BradyFU/Video-MME",
    license_note="academic research only; no redistribution or modification without the authors' approval",
    redistribution="forbidden",
    homepage="https://github.com/BradyFU/Video-MME",
    hub_id="lmms-lab/Video-MME",
    videos="the Video-MME release (on request from the authors, academic use only).",
    citation="""\
@inproceedings{fu2025videomme,
  title     = {Video-MME: The First-Ever Comprehensive Evaluation Benchmark of Multi-modal LLMs in Video Analysis},
  author    = {Fu, Chaoyou and others},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2025}
}""",
)
# videomme/test-00000-of-00001.parquet; videos_chunked_NN.zip each unpack to data/<videoID>.mp4
HUB = HubSource(
    "lmms-lab/Video-MME", annotations=("videomme/*.parquet",), data_path=".", video_archives=("videos_chunked_*.zip",)
)
_META_KEYS = ("duration", "domain", "sub_category", "task_type", "video_id", "videoID", "url")
# Fields read into the record itself, and the template's example `response`s (not data); any other column
# (a later card revision's `language`, `Subtitle`, …) is kept in `meta`.
_NOT_META = ("question_id", "question", "options", "answer", "response")
# a JSON string, or a comma that only precedes a closing bracket (the template's trailing commas)
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|,(\s*[\]}])')
_SRT_TIME = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{3})")
_TAG = re.compile(r"<[^>]+>")


def loads_lenient(text: str, path: Path) -> Any:
    """`parse_json` of `path`'s `text` that also accepts trailing commas before `]` / `}` (outside strings)."""
    return parse_json(_STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), text), path)


def parse_srt(text: str) -> list[list[Any]]:
    """SRT subtitles → `[[start_s, end_s, text], …]` with markup such as `<font …>` removed."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        for i, line in enumerate(lines):
            m = _SRT_TIME.search(line)
            if m:
                h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in m.groups())
                words = " ".join(_TAG.sub("", ln).strip() for ln in lines[i + 1 :]).strip()
                if words:
                    out.append([h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000, words])
                break
    return out


def _rows(root: Path) -> tuple[Path, list[dict[str, Any]]]:
    if is_saved_dataset(root):
        return root, read_saved_rows(root)
    if root.is_dir():
        files = sorted((root / "videomme").glob("*.parquet")) or sorted(root.glob("*.parquet"))
        if not files:
            raise InputFormatError(f"{root}: no Video-MME parquet (videomme/test-00000-of-00001.parquet)")
        return files[0], [row for f in files for row in read_parquet(f)]
    if root.suffix == ".parquet":
        return root, read_parquet(root)
    try:
        data = loads_lenient(read_text(root), root)
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{root}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, list):
        raise InputFormatError(f"{root}: expected a JSON list")
    rows = []
    for video in data:  # template layout: one entry per video with its questions
        questions = video.get("questions") if isinstance(video, dict) else None
        if questions is None:
            rows.append(video)
            continue
        shared = {k: v for k, v in video.items() if k != "questions"}
        rows += [{**shared, **q} for q in questions]
    return root, rows


def _convert(subtitles: dict[str, Path] | None, index: int, row: dict[str, Any]) -> Record:
    options = row["options"]
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise RecordError("must be a list of strings", field="options")
    options = [strip_option_prefix(o.strip(), i) for i, o in enumerate(options)]
    gold = str(row["answer"]).strip()
    if len(gold) != 1 or gold not in LETTERS[: len(options)]:
        raise RecordError(f"answer {row['answer']!r} is not one of the option letters", field="answer")
    meta = {k: row[k] for k in _META_KEYS if row.get(k) is not None}
    meta.update({k: v for k, v in row.items() if k not in _NOT_META and k not in meta and v is not None})
    meta["category"] = row.get("duration")
    video_file = row.get("videoID")
    if subtitles is not None and video_file:
        srt = subtitles.get(video_file)
        meta["subtitles"] = parse_srt(srt.read_text(encoding="utf-8", errors="replace")) if srt else []
    return Record(
        id=str(row["question_id"]),
        question=row["question"],
        options=options,
        answer=[gold],
        video=f"data/{video_file}.mp4" if video_file else None,
        source=NAME,
        meta=meta,
    )


def load(
    path: str | os.PathLike = DEFAULT_PATH, *, subtitles: bool = False, subtitle_dir: str | os.PathLike | None = None
) -> LoadResult:
    """Read Video-MME: the dataset folder (with `videomme/*.parquet`), a parquet file, or the official
    `output_test_template.json`. `subtitles=True` attaches `subtitle_dir/<videoID>.srt` (default: the
    dataset folder's `subtitle/`) as `meta["subtitles"]` (`[start, end, text]` lines; `[]` when a video has
    none). Ids are the `question_id`s.
    """
    root = existing(path)
    file, rows = _rows(root)
    found = None
    if subtitles:
        base = root if root.is_dir() else (file.parent.parent if file.parent.name == "videomme" else file.parent)
        folder = Path(subtitle_dir) if subtitle_dir is not None else base / "subtitle"
        if not folder.is_dir():
            raise InputFormatError(f"{folder}: no subtitle folder (unzip subtitle.zip there or pass subtitle_dir)")
        found = {p.stem: p for p in folder.glob("*.srt")}
    part = collect(
        enumerate(rows), functools.partial(_convert, found), file=str(file), id_of=lambda i, row: row.get("question_id")
    )
    return finish([(*part, str(file))], root)


def categories(record: Record) -> dict[str, Any]:
    """Duration (short/medium/long) as `category`; domain, sub_category and task_type are kept in `meta`."""
    duration = record.meta.get("duration")
    return {"category": duration} if duration else {}


def cluster(record: Record) -> str | None:
    """The video: Video-MME's three questions about one video are not independent (lmms-eval's cluster_key)."""
    return record.meta.get("videoID")


def detect(path: Path) -> bool:
    if is_saved_dataset(path):
        return {"videoID", "duration", "task_type"} <= saved_dataset_columns(path)
    if path.is_dir():
        return any((path / "videomme").glob("*.parquet")) or (path.name == "videomme" and any(path.glob("*.parquet")))
    if path.suffix == ".parquet":
        return path.parent.name == "videomme"
    head = head_text(path, 4096) if path.suffix == ".json" else ""
    return '"duration"' in head and '"task_type"' in head and '"solution"' not in head


# ----------------------------------------------------------------------------------------------------------
# the official protocol: the prompt of the Video-MME README ("Prompt"), subtitles of the sampled frames
# ("Extract Frames and Subtitles"), and the authors' scorer `eval_your_results.py`
# (github.com/thanku-all/parse_answer, linked from the README)

OFFICIAL_CODE = "https://github.com/MME-Benchmarks/Video-MME#-evaluation-pipeline"
OFFICIAL_INSTRUCTION = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter (A, B, C, or D) of the correct option."
)
OFFICIAL_SUBTITLES_HEADER = "This video's subtitles are listed below:"
OFFICIAL_ANSWER_CUE = "The best answer is:"
# lmms-eval's `videomme_w_subtitle` text for a video that has no subtitle file
NO_SUBTITLES = "No subtitles available"
# eval_your_results.py's prefixes, in its order. Two pairs miss a comma between them, so Python joins them
# into one string each ("The best option isThe correct option is", "Best answer:Best option:"): kept as is.
ANSWER_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option isThe correct option is",  # noqa: ISC001 — the original's missing comma
    "Best answer:Best option:",  # noqa: ISC001 — likewise
    "Answer:",
    "Option:",
    "The correct answer",
    "The correct option",
)


def frame_subtitles(subtitles: list[list[Any]], video: Any) -> str:
    """The subtitle lines shown at the sampled frames, once each, in time order, one per line: a line
    `[start, end)` is shown at frame `i` when `int(start·fps) <= i < int(end·fps)` (lmms-eval's rule)."""
    shown = []
    for start, end, text in subtitles:
        first, stop = int(start * video.source_fps), int(end * video.source_fps)
        if any(first <= i < stop for i in video.indices):
            shown.append(text)
    return "\n".join(shown)


def official_prompt(record: Record, style: str = "official", video: Any = None) -> Prompt:
    """The README's prompt; with `style` "official-subtitles" headed by the subtitles of the frames `video`
    shows ("No subtitles available" for a video without a subtitle file)."""
    options = "\n".join(f"{letter(i)}. {o}" for i, o in enumerate(record.options))
    text = f"{OFFICIAL_INSTRUCTION}\n{record.question}\n{options}\n{OFFICIAL_ANSWER_CUE}"
    if style == "official-subtitles":
        lines = record.meta.get("subtitles")
        if not isinstance(lines, list):
            raise RecordError("no subtitles: load the native Video-MME files with their subtitle/ folder", field="meta")
        shown = NO_SUBTITLES if not lines else (frame_subtitles(lines, video) if video is not None else "")
        text = f"{OFFICIAL_SUBTITLES_HEADER}\n{shown}\n{text}"
    return Prompt(style, text, None, record.video is not None)


def extract_letter(response: str) -> str:
    """`eval_your_results.py`'s `extract_characters_regex`: answer prefixes removed, then the first of A-D;
    '' when there is none, or when a reply of more than 10 words has none."""
    s = response.strip()
    for prefix in ANSWER_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    m = re.search(r"[ABCD]", s)
    return m[0] if m else ""


def official_score(reference: dict[str, Any], output: str, ask: Any = None) -> Verdict:
    """The extracted letter against the gold one. A reply with no letter counts as wrong here; the authors'
    script leaves it out of the denominator (an "unanswered" item), which would raise the accuracy."""
    found = extract_letter(output)
    return Verdict(found, found == reference["answer"])


OFFICIAL = OfficialProtocol(
    name=NAME,
    code=OFFICIAL_CODE,
    reproduces="the Video-MME leaderboard, without subtitles and (--subtitles) with them",
    differs="lmms-eval's videomme: '…based on the video and the subtitles…' for both settings, 'Answer with the "
    "option's letter…' ending without subtitles, subtitles of 32 frames of its own; VLMEvalKit: 'These are the "
    "frames of a video.' and 'Question: …\\nAnswer: '",
    templates={
        "instruction": OFFICIAL_INSTRUCTION,
        "subtitles": OFFICIAL_SUBTITLES_HEADER,
        "answer_cue": OFFICIAL_ANSWER_CUE,
        "no_subtitles": NO_SUBTITLES,
    },
    prompt=official_prompt,
    reference=lambda record: {"answer": record.answer[0]},
    score=official_score,
    temperature=0.0,
    top_p=1.0,
    max_new_tokens=16,
    frames_free=True,
    frames_text="--frames uniform frames, truncating linspace",
    frame_rule=lambda total, fps, start, end, folder, frames: linspace_int(total, frames or 16),
    styles=("official", "official-subtitles"),
    kind=lambda record: record.meta.get("task_type"),
)


def linspace_int(total: int, n: int) -> list[int]:
    """`np.linspace(0, total - 1, n, dtype=int)` (truncating): lmms-eval's Video-MME frames."""
    import numpy as np

    return np.linspace(0, total - 1, n, dtype=int).tolist()
