"""A question's parts: what is negated and what is kept as it is.

    setup sentences and a leading phrase   "The man enters. | …", "According to the video, | …"   (`split_frame`)
    a wrapper around the question proper   "Could you say | why …", "Pick the option | that …"   (`split_wrapper`)
    the question proper                    "why the woman turns around", "what explains why …"
    lines of items after it                "…?\n(a) Camel pose."                                  (`split_items`)

Quotations that look like syntax are masked first (`quotes`). Only the question proper is negated;
`QuestionParts.assemble` puts the negated question proper back between the kept parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .quotes import Masked, mask_quotations
from .text import first_words, opens_question
from .vocabulary import (
    AUX_WORDS,
    OPTION_LINE,
    PREPOSED_WH,
    PREPOSITIONS,
    RELATIVE_WORDS,
    SENTENCE_BREAK,
    WH_WORDS,
)

# Refusals found while splitting: a request with no clause to negate ("Describe the video."), and a wrapper
# around a noun phrase or a yes/no clause ("Can you identify the direction …?", "Could you tell whether …").
INSTRUCTION, INDIRECT_QUESTION = "instruction", "indirect_question"

_WH = r"(?:what|why|where|when|who|whom|whose|which|how)"
_TELL = (
    r"(?:tell(?:\s+(?:me|us))?|say|explain|describe|identify|determine|indicate|specify|state|name|point\s+out"
    r"|figure\s+out|work\s+out|find\s+out|infer|guess|show(?:\s+(?:me|us))?)"
)
# "Could you say | why …", "Do you know | what …", "I was wondering | why …": a wrapper before an embedded question
_INDIRECT = re.compile(
    rf"^(?:please\s*,?\s*)?(?:(?:could|can|would|will)\s+you\s+(?:please\s+)?{_TELL}|do\s+you\s+know"
    rf"|i\s+(?:was\s+|am\s+)?wonder(?:ing)?|i(?:['’]d|\s+would)\s+like\s+to\s+know)\s+",
    re.IGNORECASE,
)
# "Describe …", "Please pick …": a request
_IMPERATIVE = re.compile(
    r"^(?:please\s*,?\s*)?(?:describe|explain|identify|determine|arrange|order|sort|rank|pick|choose|select|name"
    r"|list|give|state|tell|find|indicate|specify|summari[sz]e|classify|match|count|mark|provide|infer|predict"
    r"|estimate|analy[sz]e|evaluate|locate|recall|point\s+out|compare|decide|guess|judge|label|outline|consider)"
    r"\b(?:\s+(?:me|us)\b)?\s*",
    re.IGNORECASE,
)
# "… the option | that explains …", "… the person | who opens …": the relative clause a request asks about
_RELATIVE = re.compile(r"^(?:the|an?|one|any)\s+(?:[\w'’-]+\s+){0,3}?(?P<rel>that|which|who)\s+(?=\w)", re.IGNORECASE)


def setup_end(question: str) -> int:
    """Where the final question starts after setup sentences ("The person … a game. | Where is …?"); 0 when
    there are none, or when an earlier sentence is a question too."""
    breaks = [m.end() for m in SENTENCE_BREAK.finditer(question)]
    if breaks and question.rstrip().endswith("?") and "?" not in question[: breaks[-1]]:
        return breaks[-1]
    return 0


def split_items(question: str) -> tuple[str, str]:
    """(question, items): a question on its first line followed by lines of items ("In which order …?\n(a)
    Camel pose.\n(b) …") is negated on its own and the items are kept as they are; otherwise the items are
    empty."""
    first, sep, rest = question.partition("\n")
    if (
        sep
        and rest.strip()
        and first.rstrip().endswith("?")
        and "?" not in first.rstrip()[:-1]
        and not OPTION_LINE.search(rest)
    ):
        return first, sep + rest
    return question, ""  # no items, or lettered option lines that inversion reshuffles ("A. Eating")


def split_frame(question: str) -> tuple[str, str]:
    """(frame, question proper): the setup sentences before a final question ("The person uses objects to
    play a game. Where is the hidden object …?") and a phrase or clause before a comma or colon ("According
    to the video, what …", "If the cube is removed, which event …") are the frame, kept as they are; only
    the question proper is negated. Without such a frame the frame is empty.

    Example:
        >>> split_frame("Without the cube, which event will happen?")
        ('Without the cube, ', 'which event will happen?')
    """
    if not any(c in question for c in ",:;.!?"):
        return "", question  # the common case, without a regex
    if "\n" in question.strip():
        return "", question  # a list of items after the question: refused as multiple sentences
    start = setup_end(question)
    core = question[start:]
    if opens_question(core):
        return question[:start], core
    for sep in re.finditer(r"[,:;][\"”’']?\s*", core):  # a comma inside closing quotes too ("here,' what")
        rest = core[sep.end() :]
        first, second = (first_words(rest, 2) + ["", ""])[:2]
        if first in RELATIVE_WORDS and re.search(r"[,;]", rest):
            continue  # "…, who is chatting with X, what is …": a relative clause closed by a comma
        if first in WH_WORDS or first in AUX_WORDS or (first in PREPOSITIONS and second in PREPOSED_WH):
            start += sep.end()
            break
    return question[:start], question[start:]


def split_wrapper(core: str) -> tuple[str, str, str | None]:
    """(wrapper, question proper, refusal): the wrapper of an indirect question or a request and the clause
    to negate ("Could you say | why the woman turns around?", "Pick the option | that explains …"), or the
    refusal for a request or wrapper with nothing to negate (`INSTRUCTION`, `INDIRECT_QUESTION`). Without a
    wrapper: ("", core, None).

    Example:
        >>> split_wrapper("Could you say why the woman turns around?")
        ('Could you say ', 'why the woman turns around?', None)
    """
    first = (first_words(core, 1) or [""])[0]
    if first in WH_WORDS or first not in _WRAPPER_OPENERS:
        return "", core, None  # the common case, without a regex
    m = _INDIRECT.match(core)
    if m is not None:
        return _embedded(core, m.end(), INDIRECT_QUESTION)
    m = _IMPERATIVE.match(core)
    if m is None:
        return "", core, None
    rest = core[m.end() :]
    if re.match(rf"{_WH}\b", rest, re.IGNORECASE):
        return _embedded(core, m.end(), INSTRUCTION)
    rel = _RELATIVE.match(rest)
    if rel is not None:
        at = m.end() + rel.start("rel")
        return core[:at], core[at:], None
    return "", core, INSTRUCTION


# first words of a wrapper: any other question needs no regex
_WRAPPER_OPENERS = {
    "please", "could", "can", "would", "will", "do", "i", "i'd", "describe", "explain", "identify", "determine",
    "arrange", "order", "sort", "rank", "pick", "choose", "select", "name", "list", "give", "state", "tell", "find",
    "indicate", "specify", "summarize", "summarise", "classify", "match", "count", "mark", "provide", "infer",
    "predict", "estimate", "analyze", "analyse", "evaluate", "locate", "recall", "point", "compare", "decide",
    "guess", "judge", "label", "outline", "consider",
}  # fmt: skip


def _embedded(core: str, at: int, refusal: str) -> tuple[str, str, str | None]:
    """A wrapper before an embedded question: negate the embedded wh-clause, refuse a yes/no one ("whether",
    "if") or a noun phrase ("Can you identify the direction of …?")."""
    rest = core[at:]
    if re.match(rf"{_WH}\b", rest, re.IGNORECASE):
        return core[:at], rest, None
    return "", core, refusal


@dataclass(frozen=True)
class QuestionParts:
    """A question split for negation; `core` is what is negated (masked, "that" of a relative read as "what")."""

    question: str
    masked: Masked
    frame: str
    wrapper: str
    core: str
    items: str
    refusal: str | None = None

    @property
    def relative_that(self) -> bool:
        return self.core[:4].lower() == "that" and self.wrapper != ""

    @property
    def parsed_core(self) -> str:
        """The core as the negator reads it: a relative "that" becomes "what" (same length, so offsets hold)."""
        if self.relative_that:
            return ("WHAT" if self.core[:4].isupper() else "what") + self.core[4:]
        return self.core

    def assemble(self, negated_core: str) -> str:
        """The whole question around a negated core, quotations restored."""
        if self.relative_that:
            negated_core = self.core[:4] + negated_core[4:]
        return self.masked.restore(self.frame + self.wrapper + negated_core + self.items)


def split_question(question: str) -> QuestionParts:
    """Mask quotations, then split off items, frame and wrapper."""
    masked = mask_quotations(question)
    head, items = split_items(masked.text)
    frame, rest = split_frame(head)
    wrapper, core, refusal = split_wrapper(rest)
    return QuestionParts(question, masked, frame, wrapper, core, items, refusal)
