"""Every prompt twgrpo shows a model — evaluation and training — and how a record becomes one (DESIGN §6).

This is the single home of the prompt strings: `twgrpo eval` (`twgrpo_eval`) and the trainer
(`twgrpo_train.data`) both import from here, so a changed character shows in both and in every run's
`config.json` / `prompts.json`. The strings are facts about the released TW-GRPO scripts
(`src/eval/eval_general_videor1.py`, `eval_general_zeroshot.py`, `eval_clevrer.py`, `src/open_r1/grpo.py`);
changing one changes the numbers. Evaluation styles:

    cot        general benchmarks: the "pondering deeply" reasoning template + the multiple-choice suffix;
               no system message (the chat template adds its default one).
    zeroshot   "Answer with the option's letter from the given choices directly." + the same suffix;
               TW-GRPO scored it on the raw output, so its default parser is `raw`.
    clevrer    multi-answer: an R1-style system message and "letters separated by , if multiple".
    clevrer-zeroshot  `eval_clevrer_zeroshot.py`: the same system message, "Output the final answer … in
               <answer> </answer> tags directly." (The paper's zero-shot CLEVRER row was run, per
               `scripts/evaluate_qwen2_5vl.sh`, with `eval_clevrer.py`, i.e. `clevrer`: `auto` keeps that.)

`auto` picks `clevrer` for the CLEVRER benchmark and for any set that holds a multi-answer record (the
general template asks for "only the single option letter"), else `cot`. Training uses `TRAIN_TEMPLATE`
on `problem_text` (options as "A text" lines, as in TW-GRPO's QAI training files).

Prompts are rendered from the record's question and options. `SourceText` carries a data file's own
`problem` and option strings for the official replica, which feeds them verbatim (e.g. CLEVRER's "A text"
option lines inside `problem`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .record import Record, letter

PROMPT_STYLES = ("cot", "zeroshot", "clevrer", "clevrer-zeroshot")

COT_TEMPLATE = (
    "{Question} Please think about this question as if you were a human pondering deeply. Engage in an "
    "internal dialogue using expressions such as 'let me think', 'wait', 'Hmm', 'oh, I see', 'let's break it "
    "down', etc, or other natural language thought expressions. It's encouraged to include self-reflection or "
    "verification in the reasoning process. Provide your detailed reasoning between the <think> and </think> "
    "tags, and then give your final answer between the <answer> and </answer> tags."
)
ZEROSHOT_TEMPLATE = "{Question} Answer with the option's letter from the given choices directly."
# TYPE_TEMPLATE["multiple choice"], appended to both general templates.
MULTIPLE_CHOICE_SUFFIX = (
    " Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer> </answer> tags."
)
CLEVRER_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think><answer> answer here </answer>"
)
# The trailing space is in the original.
CLEVRER_TEMPLATE = (
    "{Question} Output the thinking process in <think> </think> and final answer (letters separated by , if "
    "multiple) in <answer> </answer> tags. "
)
# eval_clevrer_zeroshot.py's template, trailing space included.
CLEVRER_ZEROSHOT_TEMPLATE = (
    "{Question} Output the final answer (letters separated by , if multiple) in <answer> </answer> tags directly. "
)
# Verbatim from the released training script (`--question_type mixed`), two spaces included.
TRAIN_TEMPLATE = (
    "{Question}  Output the thinking process in <think> </think> and final answer "
    "(letters separated by , if multiple) in <answer> </answer> tags."
)

#: The placeholder content part HF processors' chat templates expand into the video tokens.
HF_VIDEO_PART: dict[str, Any] = {"type": "video"}


@dataclass(frozen=True)
class SourceText:
    """A data file's own `problem` text and option strings, fed verbatim by the official replica."""

    problem: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Prompt:
    """The text a model sees for one record: an optional system message, the user's text after the video and
    an optional answer prefill — text the assistant's reply starts with, which the model continues (MVBench's
    official "Best option:("); the generated text does not repeat it."""

    style: str
    text: str
    system: str | None = None
    has_video: bool = True
    prefill: str | None = None

    def messages(self, video_part: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Chat messages. The user turn is `[video_part, text]` when the record has a video, else plain text.

        `video_part` defaults to the HF placeholder `{"type": "video"}`; the OpenAI backend passes a
        `video_url` part that carries the frames.
        """
        messages: list[dict[str, Any]] = []
        if self.system is not None:
            messages.append({"role": "system", "content": self.system})
        if self.has_video:
            content: Any = [video_part or HF_VIDEO_PART, {"type": "text", "text": self.text}]
        else:
            content = self.text  # text-only chat templates (e.g. Qwen2's) only render string content
        messages.append({"role": "user", "content": content})
        return messages

    @property
    def hash(self) -> str:
        """A short stable hash of what the model is asked (system, text, video or not, prefill)."""
        asked = [self.system, self.text, self.has_video]
        return short_hash(asked + [self.prefill] if self.prefill is not None else asked)


def short_hash(value: Any) -> str:
    """16 hex digits of the SHA-256 of `value`'s JSON: stable across runs and machines."""
    blob = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def option_lines(record: Record, separator: str = ". ") -> list[str]:
    """`["A. red", "B. green", …]` (or with another separator between letter and text)."""
    return [f"{letter(i)}{separator}{text}" for i, text in enumerate(record.options)]


def general_question(record: Record, source: SourceText | None = None) -> str:
    """TW-GRPO's general question: `problem + "Options:\\n" + "A. text\\n"…` (no separator before "Options")."""
    problem, options = (source.problem, list(source.options)) if source else (record.question, option_lines(record))
    return problem + "Options:\n" + "".join(line + "\n" for line in options)


def clevrer_question(record: Record, source: SourceText | None = None) -> str:
    """The `problem` text as CLEVRER files hold it: the question, then one option line per option.

    A `source` problem is used verbatim when it shows every option (TW-GRPO's CLEVRER script fed `problem`
    alone); one without its options would leave the model nothing to choose from, so it is rebuilt instead."""
    if source is not None and all(option in source.problem for option in record.options):
        return source.problem
    return "\n".join([record.question, *option_lines(record)])


def problem_text(record: Record) -> str:
    """Question plus one "A text" line per option — the layout of TW-GRPO's QAI training `problem`s."""
    return "\n".join([record.question, *option_lines(record, " ")])


def training_text(record: Record, template: str = TRAIN_TEMPLATE) -> str:
    """The user text of a training prompt: `template` with `{Question}` = `problem_text(record)`."""
    return template.format(Question=problem_text(record))


def template_of(style: str) -> dict[str, str | None]:
    """The system message and user template of a style, as recorded in a run's config.json."""
    templates = {
        "cot": (None, COT_TEMPLATE + MULTIPLE_CHOICE_SUFFIX),
        "zeroshot": (None, ZEROSHOT_TEMPLATE + MULTIPLE_CHOICE_SUFFIX),
        "clevrer": (CLEVRER_SYSTEM, CLEVRER_TEMPLATE),
        "clevrer-zeroshot": (CLEVRER_SYSTEM, CLEVRER_ZEROSHOT_TEMPLATE),
    }
    if style not in templates:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {', '.join(PROMPT_STYLES)}")
    system, template = templates[style]
    return {"system": system, "template": template}


def build_prompt(record: Record, style: str, source: SourceText | None = None) -> Prompt:
    """The prompt for `record` in one of `PROMPT_STYLES`; `source` feeds the file's own text verbatim."""
    template = template_of(style)
    question = clevrer_question(record, source) if style.startswith("clevrer") else general_question(record, source)
    return Prompt(style, template["template"].format(Question=question), template["system"], record.video is not None)


def default_parser(style: str) -> str:
    """TW-GRPO's scorer for the style: the zero-shot script compared the raw output, the others parse tags."""
    return "raw" if style == "zeroshot" else "twgrpo"
