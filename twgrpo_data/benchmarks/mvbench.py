"""MVBench (OpenGVLab/MVBench): 20 tasks × 200 items in `json/<task>.json`, the gold answer given as the
*text* of one of the `candidates`.

Quirks handled here: answers compared after stripping (some carry a trailing space); items with a single
candidate are kept (with a validation warning: the published numbers count them); episodic_reasoning videos
are JPEG frame folders at 3 fps; five tasks sample only the `start`–`end` clip; videos live in different
folders on the dataset's `main` and `video` branches and in the Video-R1/TW-GRPO copies, and the NTU RGB+D
videos (fine_grained_pose) are not distributed at all.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InputFormatError, RecordError, TwgrpoError
from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..prompts import Prompt
from ..record import Record, letter
from .facts import HubSource, OfficialProtocol, Source, Verdict
from .loading import collect, existing, finish, letter_of_text, read_json

NAME = "mvbench"
DESCRIPTION = "MVBench: json/<task>.json (20 tasks x 200), answer text among `candidates`"
DEFAULT_PATH = "MVBench/json"
DEFAULT_SPLIT = "train"  # the card's one split (lmms-eval: test_split train)
PROMPT_STYLE = "cot"
READS_INTERCHANGE = False
SIGNATURES = (("task", "video_name"), ("ori_video", "problem_id"))
SOURCE = Source(
    name="MVBench",
    license="mit",
    license_note="MIT (OpenGVLab/MVBench card); videos belong to their creators, academic use only",
    redistribution="allowed",
    homepage="https://huggingface.co/datasets/OpenGVLab/MVBench",
    hub_id="OpenGVLab/MVBench",
    gated=True,
    videos="the `video/` archives of the gated Hub dataset `OpenGVLab/MVBench` (academic research use).",
    citation="""\
@inproceedings{li2024mvbench,
  title     = {MVBench: A Comprehensive Multi-modal Video Understanding Benchmark},
  author    = {Li, Kunchang and others},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}""",
)
# `main` branch: json/<task>.json and one zip per source folder (video/star.zip holds star/Charades_v1_480/…)
HUB = HubSource(
    "OpenGVLab/MVBench",
    annotations=("json/*.json",),
    data_path="json",
    video_archives=("video/*.zip",),
    archive_of=lambda video: f"video/{video.split('/', 1)[0]}.zip",
    gated=True,
)
# Native keys copied to `meta` verbatim (clip bounds, TVQA subtitle/show/fps).
_EXTRA_KEYS = ("start", "end", "accurate_start", "accurate_end", "subtitle", "show_name", "fps")


class Task(NamedTuple):
    folder: str  # video folder on the dataset's `main` branch (Ask-Anything's mvbench.ipynb)
    branch_folder: str  # the same videos on the `video` branch (what lmms-eval reads)
    data_type: str  # "video" or "frame" (a folder of 00001.jpg … frames)


_CLEVRER = Task("clevrer/video_validation", "clevrer/video_validation", "video")
_PERCEPTION = Task("perception/videos", "perception/videos", "video")
_CHARADES = Task("star/Charades_v1_480", "star/Charades_segment", "video")
TASKS: dict[str, Task] = {
    "action_sequence": _CHARADES,
    "action_prediction": _CHARADES,
    "action_antonym": Task("ssv2_video", "ssv2_video_mp4", "video"),
    "fine_grained_action": Task("Moments_in_Time_Raw/videos", "Moments_in_Time_Raw/videos", "video"),
    "unexpected_action": Task("FunQA_test/test", "FunQA_test/test", "video"),
    "object_existence": _CLEVRER,
    "object_interaction": _CHARADES,
    "object_shuffle": _PERCEPTION,
    "moving_direction": _CLEVRER,
    "action_localization": Task("sta/sta_video", "sta/sta_video_segment", "video"),
    "scene_transition": Task("scene_qa/video", "scene_qa/video", "video"),
    "action_count": _PERCEPTION,
    "moving_count": _CLEVRER,
    "moving_attribute": _CLEVRER,
    "state_change": _PERCEPTION,
    "fine_grained_pose": Task("nturgbd", "nturgbd_convert", "video"),
    "character_order": _PERCEPTION,
    "egocentric_navigation": Task("vlnqa", "vlnqa", "video"),
    "episodic_reasoning": Task("tvqa/frames_fps3_hq", "tvqa/video_fps3_hq_segment", "frame"),
    "counterfactual_inference": _CLEVRER,
}
# Video-R1's eval_mvbench.json lists the tasks in alphabetical order, 200 items each (problem_id 1-4000).
_VIDEO_R1_ORDER = sorted(TASKS)
_PER_TASK = 200

# Why a video of a task is often not where the annotation says (printed by `twgrpo data validate`).
_MISSING_HINTS = {
    "fine_grained_pose": "NTU RGB+D videos were removed from OpenGVLab/MVBench (license; list in "
    "video/MVBench_videos_ntu.txt): get them from the NTU ROSE lab, as .mp4 under nturgbd/",
    "action_antonym": "main-branch ssv2 files are .webm; the `video` branch has ssv2_video_mp4/, Video-R1 "
    "ssv2_video/<id>.mp4",
    "episodic_reasoning": "TVQA items are JPEG frame folders tvqa/frames_fps3_hq/<clip>/ (main branch) or "
    "tvqa/video_fps3_hq_segment/ (video branch) or tvqa/frames_fps3/<clip>.mp4 (Video-R1)",
}
_GENERIC_HINT = "some MVBench videos are missing from the release (see TW-GRPO README / Video-R1 issue #24)"


def _task_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    folder = root / "json" if (root / "json").is_dir() else root
    files = sorted(p for p in folder.glob("*.json") if p.stem in TASKS)
    if not files:
        raise InputFormatError(f"{root}: no MVBench task files (json/<task>.json, e.g. json/action_antonym.json)")
    return files


def _record_id(task: str, index: int, raw: Any = None) -> str:
    return f"{task}_{index}"


def _convert(task: str, index: int, raw: dict[str, Any]) -> Record:
    """One item of `json/<task>.json` → record; the gold letter is the candidate equal to `answer`."""
    info = TASKS.get(task)
    candidates = raw["candidates"]
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise RecordError("must be a list of strings", field="candidates")
    video = raw["video"]
    meta: dict[str, Any] = {
        "category": task,
        "task": task,
        "data_type": info.data_type if info else "video",
        "video_name": video,
    }
    meta.update({k: raw[k] for k in _EXTRA_KEYS if k in raw})
    return Record(
        id=_record_id(task, index),
        question=raw["question"],
        options=list(candidates),
        answer=[letter_of_text(candidates, raw["answer"])],
        video=f"{info.folder}/{video}" if info else video,
        source=NAME,
        meta=meta,
    )


def load(path: str | os.PathLike = DEFAULT_PATH, *, types: list[str] | None = None) -> LoadResult:
    """Read MVBench task files: `path` is the `json/` folder, the dataset root holding it, or one
    `<task>.json`. `types` picks tasks (default all). Ids are `<task>_<index in the task file>`.

    Example:
        >>> load("MVBench/json", types=["action_antonym"]).records[0].answer   # doctest: +SKIP
        ['C']
    """
    root = existing(path)
    files = _task_files(root)
    if types:
        unknown = sorted(set(types) - set(TASKS))
        if unknown:
            raise TwgrpoError(f"unknown MVBench task(s) {unknown}; tasks: {', '.join(sorted(TASKS))}")
        files = [f for f in files if f.stem in types]
    parts = []
    for f in files:
        items = read_json(f)
        if not isinstance(items, list):
            raise InputFormatError(f"{f}: expected a JSON list of MVBench items")
        convert = functools.partial(_convert, f.stem)
        parts.append(
            (*collect(enumerate(items), convert, file=str(f), id_of=functools.partial(_record_id, f.stem)), str(f))
        )
    return finish(parts, root)


def categories(record: Record) -> dict[str, Any]:
    """MVBench task as `category`; for Video-R1's eval_mvbench.json records, derived from `problem_id`."""
    task = record.meta.get("task")
    if task is None:
        pid = record.meta.get("problem_id")
        if isinstance(pid, int) and 1 <= pid <= _PER_TASK * len(_VIDEO_R1_ORDER):
            task = _VIDEO_R1_ORDER[(pid - 1) // _PER_TASK]
    return {"category": task, "task": task} if task else {}


def detect(path: Path) -> bool:
    if path.is_dir():
        folder = path / "json" if (path / "json").is_dir() else path
        return any((folder / f"{t}.json").is_file() for t in TASKS)
    return path.suffix == ".json" and path.stem in TASKS and '"candidates"' in head_text(path)


def video_candidates(record: Record) -> list[tuple[str, bool]]:
    """Relative paths where this item's video may be, each with whether the item's clip bounds apply
    (the `video` branch ships pre-cut segments, so bounds do not apply there)."""
    task = record.meta.get("task")
    info = TASKS.get(task)
    name = record.meta.get("video_name")
    if info is None or name is None:
        return [(record.video, True)] if record.video else []
    stem = name.rsplit(".", 1)[0] if info.data_type == "video" else name
    out = [(f"{info.folder}/{name}", True), (f"{info.branch_folder}/{name}", info.branch_folder == info.folder)]
    if info.data_type == "frame":
        out.append((f"tvqa/frames_fps3/{stem}.mp4", True))  # Video-R1 / TW-GRPO converted the frames to mp4
    out.append((f"data0613/{info.folder}/{name}", True))  # lmms-eval's fallback folder
    return out


def missing_video_hint(record: Record) -> str:
    return _MISSING_HINTS.get(record.meta.get("task"), _GENERIC_HINT)


# ----------------------------------------------------------------------------------------------------------
# the official protocol: OpenGVLab/Ask-Anything `video_chat2/mvbench.ipynb` (the authors' evaluation), in the
# form VLMEvalKit ports it to chat models (`vlmeval/dataset/mvbench.py`: system message, question, the
# "Best option:(" answer prefill)

OFFICIAL_CODE = "https://github.com/OpenGVLab/Ask-Anything/blob/main/video_chat2/mvbench.ipynb"
OFFICIAL_SYSTEM = (
    "Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement of "
    "objects, and the action and pose of persons. Based on your observations, select the best option that "
    "accurately addresses the question.\n"
)
OFFICIAL_QUESTION_PROMPT = "\nOnly give the best option."
OFFICIAL_PREFILL = "Best option:("
OFFICIAL_FRAMES = 16  # the notebook's num_frame


def official_question(record: Record) -> str:
    """The notebook's `qa_template`: "Question: q\nOptions:\n(A) c1\n(B) c2…", trailing whitespace stripped."""
    text = f"Question: {record.question}\nOptions:\n"
    text += "".join(f"({letter(i)}) {c}\n" for i, c in enumerate(record.options))
    return text.rstrip()


def official_prompt(record: Record, style: str = "official", video: Any = None) -> Prompt:
    """System message, question + "Only give the best option.", and the reply prefilled with "Best option:(".
    (The notebook also repeats the system text before the question: VideoChat2's Q-Former reads it there;
    chat models get it once, as the system message.)"""
    return Prompt(
        style,
        official_question(record) + OFFICIAL_QUESTION_PROMPT,
        OFFICIAL_SYSTEM,
        record.video is not None,
        OFFICIAL_PREFILL,
    )


def segment_indices(
    total: int, source_fps: float, start: float | None, end: float | None, folder: bool, frames: int | None
) -> list[int]:
    """The notebook's `get_index`: the middle of each of `frames` (16) equal segments of the `start`–`end`
    clip (the whole video without bounds); Python's and numpy's rounding (half to even), then `int`.

    A video file counts frames 0 … total−1; a TVQA frame folder 1 … total (`00001.jpg` is frame 1), so its
    indices are shifted to 0-based positions here."""
    n = frames or OFFICIAL_FRAMES
    max_frame, first_idx = (total, 1) if folder else (total - 1, 0)
    lo, hi = (start, end) if start is not None and end is not None else (-100000, 100000)
    start_idx = max(first_idx, round(lo * source_fps))
    end_idx = min(round(hi * source_fps), max_frame)
    segment = float(end_idx - start_idx) / n
    return [int(start_idx + segment / 2 + round(segment * k)) - first_idx for k in range(n)]


def official_reference(record: Record) -> dict[str, Any]:
    """The notebook's gold string, "(C) text"."""
    gold = record.answer[0]
    return {"answer": f"({gold}) {record.options[ord(gold) - ord('A')]}"}


def check_answer(pred: str, gold: str) -> bool:
    """The notebook's `check_ans`: the first word of the prediction against the gold's "(c)", either way a
    substring, case-insensitive, dots removed from the prediction."""
    pred_option = pred.lower().split(" ")[0]
    gold_option = gold.lower().split(" ")[0]
    return pred_option.replace(".", "") in gold_option or gold_option in pred_option


def official_score(reference: dict[str, Any], output: str, ask: Any = None) -> Verdict:
    """The reply's first line after the "(" of the prefill, checked with `check_answer`.

    One deviation: an empty reply is wrong. The notebook would score it right — "(" alone is a substring of
    every "(x)" — so a run whose model said nothing would read 100%."""
    first_line = output.strip().split("\n")[0]
    if not first_line:
        return Verdict("", False)
    pred = "(" + first_line
    return Verdict(pred.split(" ")[0], check_answer(pred, reference["answer"]))


OFFICIAL = OfficialProtocol(
    name=NAME,
    code=OFFICIAL_CODE,
    reproduces="MVBench's leaderboard (the authors' notebook; VLMEvalKit's MVBench for chat models)",
    differs="lmms-eval's mvbench: no system message or prefill, 'Question:'/'Option:' layout, 16 new tokens, "
    "pre-cut clips, and items with an empty answer left out of the denominator",
    templates={
        "system": OFFICIAL_SYSTEM,
        "question": "Question: {question}\nOptions:\n({letter}) {option}\n…",
        "question_prompt": OFFICIAL_QUESTION_PROMPT,
        "prefill": OFFICIAL_PREFILL,
    },
    prompt=official_prompt,
    reference=official_reference,
    score=official_score,
    temperature=0.0,
    top_p=1.0,
    max_new_tokens=100,
    sampling={"frames": OFFICIAL_FRAMES, "fps": None},
    frames_text="16 segment middles of the clip",
    frame_rule=segment_indices,
)
