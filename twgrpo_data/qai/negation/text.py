"""Steps of negation that read the text alone (no parse): casing and contractions, the frame before a question
and the items after it, the refusals a word pattern settles, and the fast path for "WH AUX rest" questions."""

from __future__ import annotations

import re

from .outcome import AUXILIARY, NEGATED, UNNEGATABLE, NegationResult
from .vocabulary import (
    APPROXIMATE_NUMBER,
    AUX_WORDS,
    CLAUSE_OPENERS,
    CONTRACTED,
    COORDINATED,
    DISGUISED_YES_NO,
    DO,
    FAST_FORM,
    FIRST_WORD,
    HOW,
    NEEDS_PARSE,
    NEGATIVE_TEXT,
    ORDINAL_ON_VERB,
    PREPOSED_WH,
    PREPOSITIONS,
    SCOPE_CANDIDATES,
    SCOPE_NOUNS,
    SCOPE_ORDER,
    SECOND_WH,
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
    if ("," in text or ";" in text or " and " in low or " or " in low) and COORDINATED.search(text):
        return NegationResult(question, None, UNNEGATABLE, "coordinated_question")
    return None


def _scope_word_in_main_clause(low: str, words: list[str]) -> bool:
    """Whether a scope word may be on the main verb, which the parse decides: one before the first word that
    opens a subordinate clause ("why did the ball drop | the first time" — not "what did he do after | he
    threw it again"), or an approximation of a number."""
    opener = next((i for i, w in enumerate(words) if i > 0 and w in CLAUSE_OPENERS), len(words))  # not the wh-word
    head = words[:opener]
    if not SCOPE_CANDIDATES.isdisjoint(head):
        return True
    return (("about " in low or "around " in low) and APPROXIMATE_NUMBER.search(low) is not None) or (
        ("first" in head or "last" in head) and ORDINAL_ON_VERB.search(" ".join(head)) is not None
    )


def fast_negation(question: str) -> NegationResult | None:
    """ "WH AUX rest" with no negative word anywhere: the contraction goes on the auxiliary."""
    m = FAST_FORM.match(question)
    low = question.lower()
    if m is None or NEGATIVE_TEXT.search(question):
        return None
    words = [w.strip(".,;:!?\"'’”“") for w in low.split()]
    if not NEEDS_PARSE.isdisjoint(words) or _scope_word_in_main_clause(low, words):
        return None
    if SECOND_WH.search(low):
        return None  # "… and when the man …": perhaps a second question, which the parse decides
    if m.group("wh").lower() in ("who", "which") and m.group("aux").lower() in DO:
        return None  # "who did the dishes": "did" may be the main verb; the parser decides
    negated = m.group("head") + contract(m.group("aux"), apostrophe(question)) + m.group("rest")
    return NegationResult(question, negated, NEGATED, AUXILIARY)
