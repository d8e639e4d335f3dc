"""The template rewrite of a question that negation refuses: "Which option is NOT a correct answer to the
question: Q?" (`qai convert --fallback template`, `--why template`)."""

from __future__ import annotations

from .text import all_caps, first_words, setup_end, split_frame
from .vocabulary import AUX_WORDS, PREPOSITIONS, WH_WORDS

# How an inverted question was made (`qai.strategy`): the paper's negation of the question itself, or the
# "Which option is NOT a correct answer …" template around it.
NEGATION, TEMPLATE = "negation", "template"
# Refusals whose question has no sound template either: a yes/no question's options are not its answers'
# complements ("yes"/"no" inverted is the same pair), and an empty text has nothing to wrap.
NO_TEMPLATE = {"empty", "yes_no", "disguised_yes_no"}
_TEMPLATE = "Which option is NOT a correct answer to the question: {question}?"
_TEMPLATE_BLOCK = "Which option is NOT a correct answer to the following question?\n{question}"


def template_question(question: str) -> str | None:
    """The template rewrite of a question: "Which option is NOT a correct answer to the question: Q?" (setup
    sentences and a leading phrase stay in front; a question followed by a list of items goes below the
    template line). None for what is not a question: an instruction ("Describe the video.", "Pick the choice
    that …") has no answer that options can fail to be.

    Example:
        >>> template_question("How did the boy pick up the ball?")
        'Which option is NOT a correct answer to the question: how did the boy pick up the ball?'
    """
    text = question.strip()
    if not text:
        return None
    if "\n" in text:
        first_line = text.splitlines()[0]
        return _TEMPLATE_BLOCK.format(question=text) if _is_question(first_line) else None
    start = setup_end(question)
    frame, core = question[:start], question[start:]  # a leading phrase stays inside the quoted question
    if not _is_question(split_frame(core)[1]):
        return None
    core = core.strip().rstrip("?.! ").strip()
    first = core.split(None, 1)[0]
    if first.lower() in WH_WORDS | AUX_WORDS | PREPOSITIONS and not all_caps(core):
        core = first.lower() + core[len(first) :]
    return frame + _TEMPLATE.format(question=core)


def _is_question(text: str) -> bool:
    """A question rather than an instruction: it ends with "?" or opens with a wh-word."""
    return text.rstrip().endswith("?") or (first_words(text, 1) or [""])[0] in WH_WORDS | {"whom"}


def is_why_question(question: str) -> bool:
    """Whether the question proper (after any frame) asks why ("Why did …", "According to the video, why …")."""
    return first_words(split_frame(question)[1], 1) == ["why"]
