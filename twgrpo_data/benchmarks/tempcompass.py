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
from ..io.load_result import LoadResult
from ..pixels import PATCH_AREA
from ..prompts import Prompt
from ..record import LETTERS, Record, letter
from .facts import Ask, HubSource, JudgeUnreadable, OfficialProtocol, Source, Verdict
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
    # the item as written (options inside the question): what TempCompass's own prompts and scorers use (a
    # question already written as the record's, a yes/no one, is not repeated: the unified reader drops it too)
    meta["answer"] = row["answer"]
    if row["question"] != question:
        meta["question"] = row["question"]
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


# ----------------------------------------------------------------------------------------------------------
# the official protocol: llyx97/TempCompass `run_qwen2_vl.py` (prompts, 1 fps, 720·720 px, 128 new tokens),
# `eval_<task type>.py` (hand-written matching rules, then the LLM judge) and `prompt_templates.py` (the
# judge's prompts). The prompt texts below are TempCompass's (CC BY-NC 4.0).

OFFICIAL_CODE = "https://github.com/llyx97/TempCompass"
ANSWER_PROMPTS = {
    "multi-choice": "\nPlease directly give the best option:",
    "yes_no": "\nPlease answer yes or no:",
    "caption_matching": "\nPlease directly give the best option:",
    "captioning": "",  # the question already ends in "Generated Caption:"
}
JUDGE_SYSTEM = "You are an AI assistant for question answering."
# The judge settings of utils/eval_utils.py (gpt-3.5-turbo-1106) and how often it re-asks an unreadable reply.
JUDGE_PARAMS = {"temperature": 1.0, "top_p": 1, "presence_penalty": 1, "max_tokens": 128}
JUDGE_ATTEMPTS = 11
_QUESTION_NAMES = {
    "multi-choice": ("multi-choice question", "Multi-Choice Question"),
    "yes_no": ("Yes/No question", "Yes/No Question"),
    "caption_matching": ("caption matching question", "Caption Matching Question"),
}


def verdict_prompt(task_type: str) -> str:
    """`prompt_templates.py`'s `<task type>_evaluation_prompt`: the judge says "Correct" or "Incorrect"."""
    what = _QUESTION_NAMES[task_type][0]
    return (
        f"\nYou will receive a {what}, the ground-truth answer and the prediction from a question answering (QA) "
        "model. Your task is to determine whether QA model prediction is correct, based on the question and "
        'ground-truth answer. If the prediction is correct, respond "Correct". If the prediction is incorrect, '
        'respond "Incorrect".\n'
    )


CAPTION_JUDGE_PROMPT = (
    "\nYou will receive a video description and a multi-choice question. Your task is to choose the correct answer "
    "and briefly explain the reason why you choose the answer. If none of the choice candidates are correct or the "
    'video description lacks enough information to answer the question, just answer "None of the choices are '
    'correct". Please organize your response in this format:\n```\nReasoning: [Your reason to obtain the '
    "answer]\nAnswer: [Your answer]\n```\n\nHere are some examples of video description, multi-choice question "
    "and the expected answer:\n```\nVideo Description: A person is palying football.\nMulti-Choice Question:\n"
    "What is the person doing in the video?\nA. cooking\nB. palying football\nC. playing basketball\nD. reading "
    "book\nReasoning: The video description mentions that the person is playing football.\nAnswer: B. palying "
    "football\n\nVideo Description: A bird is flying clockwise.\nMulti-Choice Question:\nIn which direction is "
    "the bird flying?\nA. backwark\nB. counter-clockwise\nC. clockwise\nD. downward\nReasoning: The video "
    "description mentions that the bird is flying clockwise\nAnswer: C. clockwise\n\nVideo Description: An air "
    "balloon is inflating.\nMulti-Choice Question:\nWhat is happening to the air balloon?\nA. exploding\nB. "
    "getting smaller\nC. flying\nReasoning: The video description mentions that the air balloon is inflating, "
    "while none of the coices can be explained as inflating.\nAnswer: None of the choices are correct\n```\n"
)


def official_task_type(record: Record) -> str:
    return record.meta.get("task_type") or task_type_of(record)


def official_prompt(record: Record, style: str = "official", video: Any = None) -> Prompt:
    """The question as TempCompass writes it (options inside) + its task type's answer prompt; no system."""
    question = written_question(record)
    return Prompt(style, question + ANSWER_PROMPTS[official_task_type(record)], None, record.video is not None)


def written_question(record: Record) -> str:
    """The question as TempCompass writes it: `meta["question"]` (the unified reader leaves it out where it
    equals the record's question, as for yes/no items). A multi-choice, caption-matching or captioning item
    without it cannot be shown as TempCompass shows it."""
    question = record.meta.get("question", record.question)
    if question == record.question and official_task_type(record) != "yes_no":
        raise RecordError("TempCompass's own question text (options inside) is missing: meta.question", field="meta")
    return question


def official_reference(record: Record) -> dict[str, Any]:
    """Task type, the question and answer as written and, for captioning, the multi-choice question the judge
    answers from the caption."""
    ref = {"task_type": official_task_type(record), "question": written_question(record)}
    ref["answer"] = record.meta.get("answer")
    if not isinstance(ref["answer"], str):
        raise RecordError("TempCompass's own answer text is missing: meta.answer", field="meta")
    if ref["task_type"] == "captioning":
        if not (isinstance(record.meta.get("mc_question"), str) and isinstance(record.meta.get("mc_answer"), str)):
            raise RecordError("captioning needs mc_question/mc_answer (the judge answers them)", field="meta")
        ref.update(mc_question=record.meta["mc_question"], mc_answer=record.meta["mc_answer"])
    return ref


def multi_choice_rule(pred: str, answer: str) -> int | None:
    """`eval_multi-choice.py`'s rules: the whole answer, a bare letter, "A." or "A)"; None: cannot tell."""
    if pred == answer:
        return 1
    if pred in ("A", "B", "C", "D"):
        return int(pred == answer[0])
    if any(pred.startswith(f"{c}.") for c in "ABCD"):
        return int(pred.split(".")[0] == answer[0])
    if any(pred.startswith(f"{c})") for c in "ABCD"):
        return int(pred.split(")")[0] == answer[0])
    return None


def yes_no_rule(pred: str, answer: str) -> int | None:
    """`eval_yes_no.py`: a reply starting with yes or no (any case)."""
    lowered = pred.lower()
    said = "yes" if lowered.startswith("yes") else "no" if lowered.startswith("no") else None
    return None if said is None else int(said == answer)


def caption_matching_rule(pred: str, question: str, answer: str) -> int | None:
    """`eval_caption_matching.py`'s `eval_rule`: the reply is a whole option line, an option's sentence (also
    after "X) "), or an option's label ("Option 1", "Caption A", "1", "A", with dots removed)."""
    lines = question.split("\n")[1:]
    sentences = [line.split(": ")[1] for line in lines]
    labels = [line.split(": ")[0] for line in lines]
    labels += [label.replace("Sentence ", "").replace("Option ", "").replace("Caption ", "") for label in labels]
    chosen = None
    for line in lines:
        if line == pred:
            chosen = line
    for sentence in sentences:
        if sentence == pred or (") " in pred and sentence == pred.split(") ")[1]):
            chosen = sentence
    for label in labels:
        if label == pred or label == pred.replace(".", ""):
            chosen = label
    if chosen is None:
        return None
    return int(
        chosen == answer
        or chosen == answer.split(":")[0]
        or chosen == answer.split(": ")[1]
        or chosen == answer.split(": ")[0].split()[1]
    )


def judge_rating(reply: str) -> int:
    """`llm_output_to_rating`: "Correct…" → 1, "Incorrect…" → 0, else whichever word alone appears."""
    reply = reply.strip()
    if "Correct" not in reply and "Incorrect" not in reply:
        raise JudgeUnreadable(f"neither Correct nor Incorrect in {reply[:80]!r}")
    if reply.startswith("Correct"):
        return 1
    if reply.startswith("Incorrect"):
        return 0
    return int("Incorrect" not in reply)


def caption_rating(reply: str, mc_answer: str) -> tuple[str, int]:
    """`eval_captioning.py`'s `parse_llm_output`: the judge's "Answer:" line (else its whole reply) must name
    the letter of `mc_answer`, and name exactly one "X." letter."""
    reply = reply.strip()
    if not reply:
        raise JudgeUnreadable("empty reply")
    answer = None
    for line in reply.split("\n"):
        if "Answer" in line:
            answer = line.strip().replace("Answer:", "").strip()
    answer = reply if answer is None else answer
    letters = sum(answer.count(f"{c}.") for c in "ABCD")
    return answer, int(answer.split(". ")[0] == mc_answer.split(". ")[0] and letters == 1)


def _ask_until_read(ask: Ask, prompt: str, read: Any) -> Any:
    """Ask the judge, re-asking an unreadable reply up to `JUDGE_ATTEMPTS` times (as `get_eval_result`)."""
    messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]
    last = None
    for attempt in range(JUDGE_ATTEMPTS):
        try:
            return read(ask(messages, JUDGE_PARAMS, attempt))
        except JudgeUnreadable as exc:
            last = exc
    raise JudgeUnreadable(f"{JUDGE_ATTEMPTS} replies unreadable, last: {last}")


def official_score(reference: dict[str, Any], output: str, ask: Ask | None = None) -> Verdict:
    """The task type's rules on the reply ("</s>" removed, stripped); where they cannot tell — and always for
    captioning — the judge. Without a judge such an item fails (TempCompass's `--disable_llm` counts it wrong
    without saying so)."""
    task_type, question, answer = reference["task_type"], reference["question"], reference["answer"]
    pred = output.replace("</s>", "").strip()
    if task_type == "captioning":
        if ask is None:
            return Verdict("", False, "captioning is scored by an LLM judge: pass --judge-model")
        prompt = (
            f"{CAPTION_JUDGE_PROMPT}\nVideo Description:{pred}\nMulti-Choice Question:\n{reference['mc_question']}\n"
        )
        try:
            said, rating = _ask_until_read(ask, prompt, lambda reply: caption_rating(reply, reference["mc_answer"]))
        except JudgeUnreadable as exc:
            return Verdict("", False, f"judge: {exc}")
        return Verdict(said, bool(rating))
    if task_type == "multi-choice":
        rating = multi_choice_rule(pred, answer)
    elif task_type == "yes_no":
        rating = yes_no_rule(pred, answer)
    else:
        rating = caption_matching_rule(pred, question, answer)
    if rating is not None:
        return Verdict(pred, bool(rating))
    if ask is None:
        return Verdict(pred, False, "TempCompass's rules cannot read the reply and no --judge-model was given")
    names = _QUESTION_NAMES[task_type]
    prompt = (
        f"{verdict_prompt(task_type)}\n{names[1]}:\n{question}\nGround-Truth Answer: {answer}\nModel Prediction: {pred}"
    )
    try:
        rating = _ask_until_read(ask, prompt, judge_rating)
    except JudgeUnreadable as exc:
        return Verdict(pred, False, f"judge: {exc}")
    return Verdict(pred, bool(rating))


OFFICIAL = OfficialProtocol(
    name=NAME,
    code=OFFICIAL_CODE,
    reproduces="the TempCompass leaderboard: accuracy per task type (multi-choice, yes/no, caption matching, "
    "captioning), each with its dimensions",
    differs="lmms-eval's tempcompass: the same prompts; its frame and pixel settings are the model's",
    templates={"answer_prompts": ANSWER_PROMPTS, "judge_system": JUDGE_SYSTEM},
    prompt=official_prompt,
    reference=official_reference,
    score=official_score,
    temperature=0.0,
    top_p=1.0,
    max_new_tokens=128,
    sampling={"frames": None, "fps": 1.0, "min_frames": 4, "max_frames": 768},
    frames_text="1 fps, 4 to 768 frames",
    pixels=(128 * PATCH_AREA, 720 * 720),
    judge="on-failure",
    judge_always_for=("captioning",),
    judge_settings={"system": JUDGE_SYSTEM, **JUDGE_PARAMS, "attempts": JUDGE_ATTEMPTS},
    kind=official_task_type,
)
