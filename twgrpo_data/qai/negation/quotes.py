"""Quoted speech and subtitles are text, not syntax (issue 30): a quotation is masked before a question is split, parsed or rewritten, and put back afterwards.

"… before she says 'Don't go. It is late'?" is read as "… before she says 'Quote'?": the "n't" inside the
quotation does not make the question already negative, and its full stop neither makes the question two
sentences nor lets the template split it there. The placeholder keeps the quotation's marks, so the parser
still sees a quoted noun phrase, and it is one word, so every character offset after it shifts by a known
amount — the negation edits the masked text and `Masked.restore` puts each quotation back in order.
Any quotation of more than one word is masked (a quoted action label, "the action 'person opens the door'",
is no clause of the question either); a one-word quotation ("the word 'farm'") is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import all_caps
from .vocabulary import NEGATIVE_TEXT

PLACEHOLDER = "Quote"
# "…" / “…” / '…' / ‘…’; a single quote opens after a non-word character and closes before one, and an
# apostrophe between letters inside ("Don't") is part of the quotation.
QUOTATION = re.compile(
    r"\"(?P<d>[^\"\n]+)\"|“(?P<c>[^”\n]+)”|(?<!\w)[‘'](?P<s>(?:[^'’\n]|(?<=\w)['’](?=\w))+?)['’](?!\w)"
)
# what makes a quotation misread as syntax: sentence or clause punctuation, a negative word
_SYNTAX_INSIDE = re.compile(r"[.,;:!?–—]")
_NEXT_SENTENCE = re.compile(r"\s+[\"“]?[A-Z]")


@dataclass(frozen=True)
class Masked:
    """A question with some quotations replaced by `PLACEHOLDER` (`quotations` holds them, in order)."""

    text: str
    quotations: tuple[str, ...] = ()
    placeholder: str = PLACEHOLDER

    def restore(self, text: str) -> str:
        """`text` (the masked question, edited outside the placeholders) with each quotation put back."""
        if not self.quotations:
            return text
        parts = text.split(self.placeholder)
        if len(parts) != len(self.quotations) + 1:
            raise AssertionError(f"a quotation placeholder was lost in {text!r}")  # edits never touch them
        return "".join(p + q for p, q in zip(parts, self.quotations)) + parts[-1]


def mask_quotations(question: str) -> Masked:
    """The question with every quotation of several words, punctuation or a negative word masked.

    Example:
        >>> mask_quotations("What does he do before she says 'Don't go. It is late'?").text
        "What does he do before she says 'Quote'?"
    """
    if not any(c in question for c in "\"“'‘") or PLACEHOLDER.lower() in question.lower():
        return Masked(question)
    placeholder = PLACEHOLDER.upper() if all_caps(question) else PLACEHOLDER
    out, kept, last = [], [], 0
    for m in QUOTATION.finditer(question):
        inner = m.group("d") or m.group("c") or m.group("s")
        if " " not in inner.strip() and not (_SYNTAX_INSIDE.search(inner) or NEGATIVE_TEXT.search(inner)):
            continue  # one word ("farm", 'why'): the parser reads it as the noun it stands for
        begin, end = m.start() + 1, m.end() - 1  # the marks stay
        # punctuation that closes the quotation belongs to the sentence ("mentions 'we can't stay here,' what
        # …", "… instruction: "Go left. Stop." What is …"): it stays visible, so that the frame before the
        # question and the setup sentences are still found
        closing = ",;:.!?" if _NEXT_SENTENCE.match(question, m.end()) else ",;:"
        end -= len(inner) - len(inner.rstrip(closing))
        out.append(question[last:begin] + placeholder)
        kept.append(question[begin:end])
        last = end
    if not kept:
        return Masked(question)
    return Masked("".join(out) + question[last:], tuple(kept), placeholder)
