"""The template rewrite of a question that negation refuses: "Which option is NOT a correct answer to the
question: Q?" (`qai convert --fallback template`, `--why template`)."""

from __future__ import annotations

from .parts import INSTRUCTION, setup_end, split_frame, split_question, split_wrapper
from .quotes import mask_quotations
from .text import all_caps, first_words
from .vocabulary import AUX_WORDS, CLAUSE_OPENERS, PREPOSITIONS, WH_WORDS

# How an inverted question was made (`qai.strategy`): the paper's negation of the question itself, or the
# "Which option is NOT a correct answer …" template around it.
NEGATION, TEMPLATE = "negation", "template"
# Refusals whose question has no sound template either: a yes/no question's options are not its answers'
# complements ("yes"/"no" inverted is the same pair), and an empty text has nothing to wrap.
NO_TEMPLATE = {"empty", "yes_no", "disguised_yes_no"}
_TEMPLATE = "Which option is NOT a correct answer to the question: {question}?"
# sentence openers that are no names: lower case inside the template ("… to the question: overall, how …")
_OPENING_WORDS = {"overall", "based", "according", "given", "considering", "in", "throughout", "then", "now"}
_INSTRUCTION_TEMPLATE = "Which option is NOT a correct answer to the instruction: {question}?"
_TEMPLATE_BLOCK = "Which option is NOT a correct answer to the following question?\n{question}"


def template_question(question: str) -> str | None:
    """The template rewrite of a question: "Which option is NOT a correct answer to the question: Q?" (setup
    sentences and a leading phrase stay in front; a question followed by a list of items goes below the
    template line), and of a request: "Which option is NOT a correct answer to the instruction: describe the
    video?". Quotations are text: a full stop inside one never splits the question. None for what is neither.

    Example:
        >>> template_question("How did the boy pick up the ball?")
        'Which option is NOT a correct answer to the question: how did the boy pick up the ball?'
    """
    masked = mask_quotations(question)
    out = _template(masked.text)
    return None if out is None else masked.restore(out)


def _template(question: str) -> str | None:
    text = question.strip()
    if not text:
        return None
    if "\n" in text:
        first_line = text.splitlines()[0]
        return _TEMPLATE_BLOCK.format(question=text) if _is_question(first_line) else None
    start = setup_end(question)
    frame, core = question[:start], question[start:]  # a leading phrase stays inside the quoted question
    proper = split_frame(core)[1]
    wrapper, _, refusal = split_wrapper(proper)
    if refusal == INSTRUCTION or (wrapper and not _is_question(proper)):
        template = _INSTRUCTION_TEMPLATE  # "Describe the video.", "Pick the option that …"
    elif _is_question(proper):
        template = _TEMPLATE
    else:
        return None
    core = core.strip().rstrip("?.! ").strip()
    first = core.split(None, 1)[0]
    if (
        first.lower().rstrip(",;:") in _OPENING_WORDS
        or first.lower() in WH_WORDS | AUX_WORDS | PREPOSITIONS | CLAUSE_OPENERS
        or template is _INSTRUCTION_TEMPLATE
    ) and not all_caps(core):
        core = first.lower() + core[len(first) :]
    return frame + template.format(question=core)


def _is_question(text: str) -> bool:
    """A question rather than an instruction: it ends with "?" or opens with a wh-word."""
    return text.rstrip().endswith("?") or (first_words(text, 1) or [""])[0] in WH_WORDS | {"whom"}


def is_why_question(question: str) -> bool:
    """Whether the question proper (after any frame or wrapper) asks why ("Why did …", "According to the video,
    why …", "Could you say why …")."""
    return first_words(split_question(question).core, 1) == ["why"]
