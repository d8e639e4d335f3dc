"""Steps of negation that read the text alone (no parse): casing and contractions, the frame before a question
and the items after it, the refusals a word pattern settles, and the fast path for "WH AUX rest" questions."""

from __future__ import annotations

import re

from .outcome import AUXILIARY, NEGATED, UNNEGATABLE, NegationResult
from .vocabulary import (
    AUX_WORDS,
    CONTRACTED,
    DISGUISED_YES_NO,
    DO,
    FAST_FORM,
    FIRST_WORD,
    HOW,
    NEEDS_PARSE,
    NEGATIVE_TEXT,
    OPTION_LINE,
    PREPOSED_WH,
    PREPOSITIONS,
    RELATIVE_WORDS,
    SCOPE_NOUNS,
    SCOPE_ORDER,
    SENTENCE_BREAK,
    WH_WORDS,
)


def apostrophe(text: str) -> str:
    return "’" if "’" in text else "'"


def all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)


def cased(word: str, model: str) -> str:
    """`word` in the casing of `model` (ALL CAPS, Capitalised or lower)."""
    if len(model) > 1 and model.isupper():
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def contract(aux: str, apostrophe: str = "'") -> str | None:
    """'did' → "didn't", 'Will' → "Won't"; None for auxiliaries without a current contraction (may, am)."""
    out = CONTRACTED.get(aux.lower())
    if out is None:
        return None
    return cased(out, aux).replace("'", apostrophe)


def first_word(text: str) -> str:
    m = FIRST_WORD.match(text)
    return m.group(1).lower().replace("’", "'") if m else ""


def first_words(text: str, n: int) -> list[str]:
    """The first `n` words of `text`, lower case, without surrounding punctuation."""
    return [w.strip(".,;:!?\"“”'’()").lower().replace("’", "'") for w in text.split(None, n)[:n]]


def opens_question(text: str) -> bool:
    """Whether `text` starts like a question ("what …", "did …", "when did …", "in which …"), as opposed to a
    phrase or subordinate clause that can stand before one ("According to the video", "When the man left")."""
    words = first_words(text, 2) + ["", ""]
    first, second = words[0], words[1]
    stem = first[:-3] if first.endswith("n't") else first
    return (
        first in WH_WORDS - {"when", "where"}
        or stem in AUX_WORDS
        or (first in ("when", "where") and second in AUX_WORDS)
        or (first in PREPOSITIONS and second in PREPOSED_WH)
    )


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
    for sep in re.finditer(r"[,:;]\s*", core):
        rest = core[sep.end() :]
        first, second = (first_words(rest, 2) + ["", ""])[:2]
        if first in RELATIVE_WORDS and re.search(r"[,;]", rest):
            continue  # "…, who is chatting with X, what is …": a relative clause closed by a comma
        if first in WH_WORDS or first in AUX_WORDS or (first in PREPOSITIONS and second in PREPOSED_WH):
            start += sep.end()
            break
    return question[:start], question[start:]


def lexical_refusal(question: str) -> NegationResult | None:
    """Refusals that need no parse; shared by the fast and the parse path so both answer alike."""
    text = question.strip()
    if not text:
        return NegationResult(question, None, UNNEGATABLE, "empty")
    if "\n" in text:
        return NegationResult(question, None, UNNEGATABLE, "multiple_sentences")
    how = HOW.match(text)
    if how is not None:
        return NegationResult(question, None, UNNEGATABLE, "how_many" if how.group(1) else "how_question")
    first = first_word(text)
    stem = first[:-3] if first.endswith("n't") else first
    if stem in AUX_WORDS or stem in ("ca", "wo") or first in ("cannot", "ain't"):
        return NegationResult(question, None, UNNEGATABLE, "yes_no")
    disguised = DISGUISED_YES_NO.search(text) if any(c in text for c in ":-–—") else None
    if (
        disguised is not None
        and not re.search(r"\bor\b", disguised.group("alt"), re.IGNORECASE)
        and not opens_question(disguised.group("alt"))
    ):
        return NegationResult(question, None, UNNEGATABLE, "disguised_yes_no")
    low = text.lower()
    if any(k in low for k in SCOPE_NOUNS) and SCOPE_ORDER.search(text):
        return NegationResult(question, None, UNNEGATABLE, "scope_adverbial")
    return None


def fast_negation(question: str) -> NegationResult | None:
    """ "WH AUX rest" with no negative word anywhere: the contraction goes on the auxiliary."""
    m = FAST_FORM.match(question)
    if (
        m is None
        or NEGATIVE_TEXT.search(question)
        or not NEEDS_PARSE.isdisjoint(w.strip(".,;:!?\"'’”“") for w in question.lower().split())
    ):
        return None
    if m.group("wh").lower() in ("who", "which") and m.group("aux").lower() in DO:
        return None  # "who did the dishes": "did" may be the main verb; the parser decides
    negated = m.group("head") + contract(m.group("aux"), apostrophe(question)) + m.group("rest")
    return NegationResult(question, negated, NEGATED, AUXILIARY)
