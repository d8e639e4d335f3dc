"""MMVU (yale-nlp/MMVU) validation: 1,000 expert-level questions over 27 subjects, `validation.json`.

By default only the 625 multiple-choice items become records; the 375 open-ended ones need an LLM judge and
are skipped and counted (`skipped["open-ended"]`), as Video-R1 and TW-GRPO do. `open_ended=True` (what MMVU's
official protocol reads) keeps them as open-ended records: no options, no gold letters, the reference answer
in `meta["answer_text"]`. Video URLs on the Hub are mapped to the dataset's relative `videos/<Subject>/<n>.mp4`.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, RecordError
from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..prompts import Prompt
from ..record import LETTERS, OPEN_ENDED, Record
from .facts import Ask, HubSource, JudgeUnreadable, OfficialProtocol, Source, Verdict
from .loading import Skip, collect, existing, find_first, finish, read_json

NAME = "mmvu"
DESCRIPTION = "MMVU: validation.json (625 multiple-choice; the 375 open-ended skipped and counted, or kept by --protocol official)"
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


def _convert(open_ended: bool, index: int, raw: dict[str, Any]) -> Record:
    qtype = raw.get("question_type")
    if qtype == OPEN_ENDED and open_ended:
        return _record(raw, [], [], {"answer_text": str(raw["answer"]).strip()})
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
    return _record(raw, options, [gold], {})


def _record(raw: dict[str, Any], options: list[str], gold: list[str], extra: dict[str, Any]) -> Record:
    video = raw.get("video")
    m = _HUB_VIDEO.search(video or "")
    meta = dict(raw.get("metadata") or {})
    meta.update(
        {"category": meta.get("subject"), "question_type": raw["question_type"], "youtube_url": raw.get("youtube_url")}
    )
    return Record(
        id=str(raw["id"]),
        question=raw["question"],
        options=options,
        answer=gold,
        video=m.group(1) if m else video,
        source=NAME,
        meta={**meta, **extra},
    )


def load(path: str | os.PathLike = DEFAULT_PATH, *, open_ended: bool = False) -> LoadResult:
    """Read MMVU's `validation.json` (or the dataset folder holding it). Open-ended items are counted in
    `skipped`, or with `open_ended=True` kept as open-ended records; ids are MMVU's (`validation_3`).

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
    convert = functools.partial(_convert, open_ended)
    part = collect(enumerate(items), convert, file=str(file), id_of=lambda i, raw: raw.get("id"))
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


# ----------------------------------------------------------------------------------------------------------
# the official protocol: yale-nlp/MMVU `utils/constant.py` (prompts, 1,024 tokens at temperature 1.0),
# `model_inference/vllm_video_inference.py` + `utils/video_process.py` (1 fps, at most 64 frames) and
# `utils/eval_utils.py` (GPT-4o judges every answer, multiple-choice and open-ended, in a structured format)

OFFICIAL_CODE = "https://github.com/yale-nlp/MMVU"
_COT_ENDING = {
    "multiple-choice": "Answer the given multiple-choice question step by step. Begin by explaining your reasoning "
    "process clearly. Conclude by stating the final answer using the following format: 'Therefore, the final "
    "answer is: $LETTER' (without quotes), where $LETTER is one of the options. Think step by\nstep before "
    "answering.",
    OPEN_ENDED: "Answer the given question step by step. Begin by explaining your reasoning process clearly. "
    "Conclude by stating the final answer using the following format: 'Therefore, the final answer is: 'Answer: "
    "$ANSWER' (without quotes), where $ANSWER is the final answer of the question. Think step by step\nbefore "
    "answering.",
}
_DIRECT_ENDING = {
    "multiple-choice": "Do not generate any intermediate reasoning process. Answer directly with the option letter "
    "from the given choices.\n",
    OPEN_ENDED: "Do not generate any intermediate reasoning process. Directly output the final short answer.\n",
}
JUDGE_INSTRUCTION = (
    "Evaluate whether the model's final answer is correct by comparing it to the ground-truth answer provided for "
    "the given question.\n\nYou should first extract the final answer from the model's response, and then compare "
    "the extracted answer with the ground-truth answer to determine its accuracy.\n"
)
JUDGE_FORMAT = {
    "multiple-choice": "Output your response in the following structured format:\n{\n"
    '    "extracted_answer": // str value "A" "B" "C" "D" "E", should be a single character\n'
    '    "correct": // boolean value, True if the answer is correct, False otherwise\n}\n',
    OPEN_ENDED: "The final answer generated by the model does not need to match the ground-truth answer "
    "word-for-word. However, it should only be considered correct if it demonstrates the exact same technique or "
    "concept explicitly and unambiguously equivalent to the ground-truth answer.\nOutput your response in the "
    "following structured format:\n{\n"
    '    "extracted_answer": // str value, the short final answer extracted from the model\'s response, do not '
    "hallucinate one that is not present in the response\n"
    '    "correct": // boolean value, True if the answer is correct, False otherwise\n}\n',
}
# `client.beta.chat.completions.parse(response_format=EvaluationOutput)` sends this schema; gpt-4o, 128 tokens.
JUDGE_PARAMS = {
    "temperature": 1.0,
    "top_p": 1.0,
    "max_tokens": 128,
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "EvaluationOutput",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"extracted_answer": {"type": "string"}, "correct": {"type": "boolean"}},
                "required": ["extracted_answer", "correct"],
                "additionalProperties": False,
            },
        },
    },
}


def _options_text(record_options: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}: {text}" for i, text in enumerate(record_options))


def official_prompt(record: Record, style: str = "official-cot", video: Any = None) -> Prompt:
    """`COT_PROMPT` (default) or, for `official-direct`, `DO_PROMPT` of the item's question type: a leading
    newline, "Question: …", the choices as "A: text" lines, the instruction; no system message."""
    qtype = record.meta.get("question_type", "multiple-choice")
    body = f"\nQuestion: {record.question}\n"
    if qtype != OPEN_ENDED:
        body += _options_text(record.options) + "\n"
    ending = (_DIRECT_ENDING if style == "official-direct" else _COT_ENDING)[qtype]
    return Prompt(style, f"{body}\n{ending}", None, record.video is not None)


def official_reference(record: Record) -> dict[str, Any]:
    """What the judge is shown: question type, question, choices and the ground-truth answer."""
    qtype = record.meta.get("question_type", "multiple-choice")
    answer = record.meta.get("answer_text") if qtype == OPEN_ENDED else record.answer[0]
    return {
        "question_type": qtype,
        "question": record.question,
        "choices": None if qtype == OPEN_ENDED else _options_text(record.options),
        "answer": answer,
    }


def judge_messages(reference: dict[str, Any], response: str) -> list[dict[str, str]]:
    """`prepare_evaluation_message`: the instruction as the system message; question (and options), ground
    truth and the model's response as the user's."""
    context = f"Question: {reference['question']}"
    if reference["question_type"] != OPEN_ENDED:
        context += f"\n\nOptions:\n{reference['choices']}"
    user = f"{context}\n\nGround Truth Answer: {reference['answer']}\n\nModel Response to the Question: {response}"
    system = (
        JUDGE_INSTRUCTION + JUDGE_FORMAT[OPEN_ENDED if reference["question_type"] == OPEN_ENDED else "multiple-choice"]
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def read_judgement(reply: str) -> tuple[str, bool]:
    """`(extracted_answer, correct)` from the judge's structured reply."""
    import json

    try:
        data = json.loads(reply)
    except json.JSONDecodeError:
        raise JudgeUnreadable(f"not JSON: {reply[:80]!r}") from None
    if not (isinstance(data, dict) and isinstance(data.get("correct"), bool)):
        raise JudgeUnreadable(f"no boolean 'correct' in {reply[:80]!r}")
    return str(data.get("extracted_answer", "")), data["correct"]


def official_score(reference: dict[str, Any], output: str, ask: Ask | None = None) -> Verdict:
    """The judge's verdict on every item (MMVU's own scoring has no rules)."""
    if ask is None:
        return Verdict("", False, "MMVU is scored by an LLM judge: pass --judge-model")
    try:
        extracted, correct = read_judgement(ask(judge_messages(reference, output), JUDGE_PARAMS, 0))
    except JudgeUnreadable as exc:
        return Verdict("", False, f"judge: {exc}")
    return Verdict(extracted, correct)


def one_fps_indices(
    total: int, source_fps: float, start: float | None, end: float | None, folder: bool, frames: int | None
) -> list[int]:
    """`video_to_ndarrays_fps(fps=1, max_frames=64)`: `int(min(whole seconds, 64))` frames by
    `np.linspace(0, total - 1, n, dtype=int)` (at least one: the original picks none from a clip under 1 s)."""
    import numpy as np

    n = max(1, min(int(min(1 * int(total / source_fps), 64)), total))
    return np.linspace(0, total - 1, n, dtype=int).tolist()


OFFICIAL = OfficialProtocol(
    name=NAME,
    code=OFFICIAL_CODE,
    reproduces="the MMVU validation leaderboard (CoT, or --prompt zeroshot for its direct-answer prompt) over all "
    "1,000 items: 625 multiple-choice and 375 open-ended, every answer judged by an LLM (GPT-4o in the paper)",
    differs="lmms-eval's mmvu_val: 'Question:{q}\\nA: …\\nVisual Information: processed video' prompts, "
    "multiple-choice scored by rules (a gold letter anywhere in the reply counts), temperature 0.7",
    templates={
        "cot": _COT_ENDING,
        "direct": _DIRECT_ENDING,
        "judge_instruction": JUDGE_INSTRUCTION,
        "judge_format": JUDGE_FORMAT,
    },
    prompt=official_prompt,
    reference=official_reference,
    score=official_score,
    temperature=1.0,
    top_p=1.0,
    max_new_tokens=1024,
    sampling={"frames": None, "fps": 1.0},
    frames_text="1 fps, at most 64 frames",
    frame_rule=one_fps_indices,
    judge="always",
    judge_settings={k: v for k, v in JUDGE_PARAMS.items() if k != "response_format"}
    | {"response_format": "json_schema"},
    load_options={"open_ended": True},
    styles=("official-cot", "official-direct"),
    kind=lambda record: record.meta.get("question_type"),
)
