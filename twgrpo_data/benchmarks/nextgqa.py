"""NExT-GQA (doc-doc/NExT-GQA) and NExT-QA (doc-doc/NExT-QA): five-option causal/temporal questions on
VidOR videos; NExT-GQA adds the grounding spans (`gsub_<split>.json`) of each answer.

Readers:
- the native CSVs (`video[_id],frame_count,width,height,question,answer,qid,type,a0..a4`): NExT-GQA's
  `answer` is the option *text*, NExT-QA's its *index*; spans from `gsub_<split>.json` go to
  `meta["glue"]` with the video's `duration`, and `map_vid_vidorID.json` gives the video path;
- the JSON lists built from them: VideoChat-R1's `nextgqa_val.json` (`options` "(A) text", `answer`
  "(C)"), TW-GRPO's `nextgqa_val_raw/_mixed.json` (+ `problem`, `solution`, `is_negated`) and its
  `eval_nextgqa.json` (Video-R1 style `options` "A. text", `solution` only);
- lmms-lab's NExTQA `MC` parquet (NExT-QA columns).
Ids are `<video>_<qid>` everywhere, so all forms of the same question agree. `category` is the question
type: CW/CH (causal why/how), TN/TC/TP (temporal next/current/previous), and NExT-QA's DC/DL/DO.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..io.unified_format import option_texts, parse_answer_letters, split_problem
from ..record import Record, letter
from .facts import HubSource, Source
from .loading import (
    collect,
    existing,
    finish,
    letter_of_text,
    read_csv,
    read_json,
    read_parquet,
)

NAME = "nextgqa"
DESCRIPTION = "NExT-GQA: datasets/nextgqa/<split>.csv (+ gsub spans) or the VideoChat-R1/TW-GRPO JSON"
DEFAULT_PATH = "NExT-GQA/datasets/nextgqa/test.csv"  # the split the paper reports (5,553 questions)
NEXTQA_DESCRIPTION = "NExT-QA: dataset/nextqa/<split>.csv (answer = option index) or lmms-lab MC parquet"
NEXTQA_DEFAULT_PATH = "NExT-QA/dataset/nextqa/val.csv"
DEFAULT_SPLIT = "val"
PROMPT_STYLE = "cot"
READS_INTERCHANGE = True  # VideoChat-R1 / TW-GRPO JSON lists
SIGNATURES = (("glue", "type", "duration"),)
SOURCE = Source(
    name="NExT-GQA",
    license="mit",
    license_note="MIT (doc-doc/NExT-GQA annotations)",
    redistribution="allowed",
    homepage="https://github.com/doc-doc/NExT-GQA",
    hub_id=None,
    videos="NExT-QA videos (from VidOR), e.g. `videos.zip` of the Hub dataset `lmms-lab/NExTQA` or the NExT-QA "
    "release; `map_vid_vidorID.json` maps a video id to its VidOR folder.",
    citation="""\
@inproceedings{xiao2024nextgqa,
  title     = {Can I Trust Your Answer? Visually Grounded Video Question Answering},
  author    = {Xiao, Junbin and Yao, Angela and Li, Yicong and Chua, Tat-Seng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {13204--13214},
  year      = {2024}
}""",
)
HUB = None  # the annotations are on GitHub (doc-doc/NExT-GQA); the videos are NExT-QA's (see NEXTQA_HUB)
NEXTQA_SOURCE = Source(
    name="NExT-QA",
    license="mit",
    license_note="MIT (doc-doc/NExT-QA annotations)",
    redistribution="allowed",
    homepage="https://github.com/doc-doc/NExT-QA",
    hub_id="lmms-lab/NExTQA",
    videos="NExT-QA videos (from VidOR), e.g. `videos.zip` of the Hub dataset `lmms-lab/NExTQA`.",
    citation="""\
@inproceedings{xiao2021nextqa,
  title     = {NExT-QA: Next Phase of Question-Answering to Explaining Temporal Actions},
  author    = {Xiao, Junbin and Shang, Xindi and Yao, Angela and Chua, Tat-Seng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {9777--9786},
  year      = {2021}
}""",
)
# lmms-lab/NExTQA: the MC config (MC/test-00000-of-00001.parquet) and videos.zip (flat <video>.mp4)
NEXTQA_HUB = HubSource("lmms-lab/NExTQA", annotations=("MC/*.parquet",), data_path=".", video_archives=("videos.zip",))
QUESTION_TYPES = {
    "CW": "causal why",
    "CH": "causal how",
    "TN": "temporal next",
    "TC": "temporal current",
    "TP": "temporal previous",
    "DC": "descriptive count",
    "DL": "descriptive location",
    "DO": "descriptive other",
}
CATEGORY_NAMES = QUESTION_TYPES  # what the category codes mean (a report's legend)
FORMATS = ("auto", "json", "csv", "parquet")
_OPTION_COLUMNS = ("a0", "a1", "a2", "a3", "a4")
_PAREN_LETTER = re.compile(r"\(([A-Z])\)")
# keys a JSON item's fields are read from; everything else is kept in `meta` verbatim
_JSON_CONSUMED = {"id", "video", "question", "options", "answer", "problem", "solution"}


# ----------------------------------------------------------------------------------------------------------
# JSON (VideoChat-R1 / TW-GRPO)


@functools.lru_cache(maxsize=1 << 12)
def _gold_letters(answer: str) -> tuple[str, ...]:
    return tuple(sorted(set(_PAREN_LETTER.findall(answer))))


def _paren_letters(answer: str) -> list[str]:
    """'(C)' → ['C'], '(C),(A)' → ['A', 'C']; each distinct answer string is parsed once."""
    return list(_gold_letters(answer))


def _json_item(source: str, index: int, raw: dict[str, Any]) -> Record:
    raw_options = raw["options"]
    if not isinstance(raw_options, list) or not all(isinstance(o, str) for o in raw_options):
        raise RecordError("must be a list of strings", field="options")
    options = option_texts(raw_options)
    if isinstance(raw.get("answer"), str):
        gold = _paren_letters(raw["answer"])
        if not gold:
            raise RecordError(f"answer {raw['answer']!r} is not '(C)' or '(B),(C)'", field="answer")
    elif isinstance(raw.get("solution"), str):
        gold = parse_answer_letters(raw["solution"])
    else:
        raise RecordError("neither 'answer' (\"(C)\") nor 'solution' (\"<answer>C</answer>\")", field="answer")
    question = raw.get("question")
    if not isinstance(question, str):
        if not isinstance(raw.get("problem"), str):
            raise RecordError("missing or not a string", field="question")
        question, _ = split_problem(raw["problem"], options)
    meta = dict(raw)  # popping the consumed keys keeps the others' order, and is faster than filtering
    for key in _JSON_CONSUMED:
        meta.pop(key, None)
    if raw.get("type"):
        meta["category"] = raw["type"]
    rid = raw.get("id")
    if rid is None:
        raise RecordError("missing", field="id")
    return Record(
        id=str(rid), question=question, options=options, answer=gold, video=raw.get("video"), source=source, meta=meta
    )


# ----------------------------------------------------------------------------------------------------------
# CSV / parquet (native)


def _table_item(
    source: str, index_answers: bool, spans: dict[str, Any], paths: dict[str, str], index: int, row: dict[str, Any]
) -> Record:
    video = str(row.get("video_id", row.get("video")))
    qid = str(row["qid"])
    options = [str(row[c]) for c in _OPTION_COLUMNS if row.get(c) not in (None, "")]
    if index_answers:
        try:
            gold = letter(int(row["answer"]))
        except (TypeError, ValueError):
            raise RecordError(f"answer {row['answer']!r} is not an option index 0-4", field="answer") from None
        if int(row["answer"]) >= len(options):
            raise RecordError(f"answer index {row['answer']} is outside the {len(options)} options", field="answer")
    else:
        gold = letter_of_text(options, row["answer"])
    meta: dict[str, Any] = {"category": row.get("type"), "type": row.get("type"), "video_id": video, "qid": qid}
    for key in ("frame_count", "width", "height"):
        if row.get(key) not in (None, ""):
            meta[key] = int(row[key])
    grounding = spans.get(video)
    if grounding is not None:
        meta["duration"] = grounding.get("duration")
        meta["video_fps"] = grounding.get("fps")
        if qid in grounding.get("location", {}):
            meta["glue"] = grounding["location"][qid]
    return Record(
        id=f"{video}_{qid}",
        question=row["question"],
        options=options,
        answer=[gold],
        video=f"{paths.get(video, video)}.mp4",
        source=source,
        meta=meta,
    )


def _sidecar(file: Path, name: str) -> dict[str, Any]:
    side = file.parent / name
    return read_json(side) if side.is_file() else {}


# ----------------------------------------------------------------------------------------------------------


def _folders(root: Path) -> list[Path]:
    """Where the annotation files sit in a download: the folder itself or the repos' `data(set)s/<name>/`."""
    return [root, root / "datasets" / "nextgqa", root / "dataset" / "nextqa", root / "MC"]


def _resolve_input(root: Path, fmt: str, split: str) -> tuple[Path, str]:
    if fmt not in FORMATS:
        raise TwgrpoError(f"unknown NExT-QA/GQA input format {fmt!r}; expected one of {', '.join(FORMATS)}")
    file = root
    if root.is_dir():
        hits = [f for d in _folders(root) for f in [d / f"{split}.csv", *sorted(d.glob("*.parquet"))] if f.is_file()]
        if not hits:
            raise InputFormatError(
                f"{root}: no {split}.csv (or datasets/nextgqa/{split}.csv, "
                f"dataset/nextqa/{split}.csv, MC/*.parquet) here"
            )
        file = hits[0]
    if fmt == "auto":
        fmt = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}.get(file.suffix, "")
        if not fmt:
            raise InputFormatError(f"{file}: unknown file type; pass fmt='json', 'csv' or 'parquet'")
    return file, fmt


def _load(path: str | os.PathLike, *, source: str, fmt: str = "auto", split: str = "val") -> LoadResult:
    root = existing(path)
    file, fmt = _resolve_input(root, fmt, split)
    if fmt == "json":
        items = read_json(file)
        if not isinstance(items, list):
            raise InputFormatError(f"{file}: expected a JSON list of questions")
        part = collect(
            enumerate(items), functools.partial(_json_item, source), file=str(file), id_of=lambda i, raw: raw.get("id")
        )
        return finish([(*part, str(file))], root)
    rows = read_csv(file) if fmt == "csv" else read_parquet(file)
    if rows and not {"question", "answer", "qid", "a0"} <= set(rows[0]):
        raise InputFormatError(f"{file}: not a NExT-QA/NExT-GQA table (columns {sorted(rows[0])[:10]})")
    absent = [c for c in _OPTION_COLUMNS if rows and c not in rows[0]]
    if absent:
        raise InputFormatError(
            f"{file}: option column(s) {', '.join(absent)} missing; NExT-QA/NExT-GQA tables "
            f"have {', '.join(_OPTION_COLUMNS)}"
        )
    # NExT-GQA names the column video_id and gives the answer text; NExT-QA (and lmms-lab) an index
    index_answers = bool(rows) and "video_id" not in rows[0]
    stem = file.stem if fmt == "csv" else split
    convert = functools.partial(
        _table_item, source, index_answers, _sidecar(file, f"gsub_{stem}.json"), _sidecar(file, "map_vid_vidorID.json")
    )
    part = collect(
        enumerate(rows),
        convert,
        file=str(file),
        id_of=lambda i, row: f"{row.get('video_id', row.get('video'))}_{row.get('qid')}",
    )
    return finish([(*part, str(file))], root)


def load(path: str | os.PathLike = DEFAULT_PATH, *, fmt: str = "auto", split: str = "val") -> LoadResult:
    """Read NExT-GQA: a `<split>.csv` (grounding from `gsub_<split>.json` beside it), the folder holding it,
    or a VideoChat-R1 / TW-GRPO JSON list. `fmt` forces `json`, `csv` or `parquet`.

    Example:
        >>> r = load("nextgqa_val.json")                  # doctest: +SKIP
        >>> r.records[0].id, r.records[0].answer, r.records[0].meta["glue"]   # doctest: +SKIP
        ('4882821564_1', ['C'], [[13.8, 29.8]])
    """
    return _load(path, source=NAME, fmt=fmt, split=split)


def load_nextqa(path: str | os.PathLike = NEXTQA_DEFAULT_PATH, *, fmt: str = "auto", split: str = "val") -> LoadResult:
    """Read NExT-QA multiple choice: `dataset/nextqa/<split>.csv` (answer = option index) or the lmms-lab
    `MC/test-00000-of-00001.parquet`; same record layout as NExT-GQA with `source="nextqa"`."""
    return _load(path, source="nextqa", fmt=fmt, split=split)


def categories(record: Record) -> dict[str, Any]:
    """Question type (CW, CH, TN, TC, TP, DC, DL, DO) as `category`."""
    qtype = record.meta.get("type")
    return {"category": qtype} if qtype else {}


def _sniff(path: Path) -> str | None:
    """'nextgqa', 'nextqa' or None for a file or folder."""
    if path.is_dir():
        for folder in _folders(path):
            if any(folder.glob("gsub_*.json")):
                return "nextgqa"
            tables = [folder / n for n in ("val.csv", "test.csv") if (folder / n).is_file()]
            for table in tables + sorted(folder.glob("*.parquet"))[:1]:
                found = _sniff(table)
                if found:
                    return found
        return None
    if path.suffix == ".csv":
        header = head_text(path, 1024).split("\n", 1)[0].split(",")
        if {"question", "answer", "qid", "a0"} <= set(header):
            return "nextgqa" if "video_id" in header else "nextqa"
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        return "nextqa" if {"question", "answer", "qid", "a0"} <= names else None
    if path.suffix == ".json":
        head = head_text(path, 8192)
        if '"glue"' in head or (re.search(r'"answer":\s*"\([A-Z]\)', head) and '"options"' in head):
            return "nextgqa"
    return None


def detect(path: Path) -> bool:
    return _sniff(path) == NAME


def detect_nextqa(path: Path) -> bool:
    return _sniff(path) == "nextqa"


# NExT-QA shares this module's readers; the registry lists it under its own name.
NEXTQA = SimpleNamespace(
    NAME="nextqa",
    DESCRIPTION=NEXTQA_DESCRIPTION,
    DEFAULT_PATH=NEXTQA_DEFAULT_PATH,
    DEFAULT_SPLIT="test",
    PROMPT_STYLE=PROMPT_STYLE,
    READS_INTERCHANGE=True,
    SIGNATURES=(),
    SOURCE=NEXTQA_SOURCE,
    HUB=NEXTQA_HUB,
    load=load_nextqa,
    categories=categories,
    CATEGORY_NAMES=CATEGORY_NAMES,
    detect=detect_nextqa,
)
