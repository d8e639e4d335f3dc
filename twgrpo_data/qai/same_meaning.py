"""Options that mean the same as the answer (issue 30): inverted, they would become gold although they are true.

QAI makes every originally wrong option gold of the negated question. A wrong option that says what the answer
says ("cooking dinner" / "making food", "happy" / "joyful", a misspelt copy of the answer) is a true answer,
so it must not become gold: before inversion a *meaning verifier* judges each wrong option against the answer,
and `qai convert` drops those it calls the same (or refuses the record, `--same-meaning refuse`).

Two verifiers, one interface (`MeaningVerifier`):

- `LexicalVerifier` (``local``, on by default): the same text once case, punctuation, articles and spacing are
  set aside ("She seems happy and relaxed" / "she seems happy and relaxed."); the same words up to verb
  inflection, in the same order ("cooks dinner" / "cooking dinner" — never "dog chases cat" / "cat chases
  dog"); a copy cut short or opened by a stray fragment (five words or more, at least 60 % of the other); a
  misspelt copy: one word differs in one character (two in words of six letters or more, by
  difflib's alignment) and one of the two is no word of lemminflect's dictionary ("bycicle" / "bicycle"; "women" / "woman" and "walking" /
  "talking" are words, numbers and capitalised names are never misspellings). It cannot see synonyms.
- an LLM verifier (``llm``, `twgrpo_eval.meaning_judge.LLMVerifier`): any OpenAI-compatible server is asked,
  for each wrong option, whether it means the same as the answer to the question; it catches paraphrases
  and synonyms ("making food", "joyful"). Its verdicts are stored in the record's `qai.meaning_check`.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import verb_lemmas

SAME_MEANING_ACTIONS = ("drop", "refuse")
_ARTICLES = {"a", "an", "the"}
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one wrong option against the answer."""

    option: str
    same: bool
    why: str


class MeaningVerifier(Protocol):
    """Judges whether options mean the same as a question's answer; `name` goes into `qai.meaning_check`."""

    name: str

    def judge(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[Verdict]]:
        """For each (question, answer, wrong options): one `Verdict` per wrong option, in order."""
        ...

    def describe(self) -> dict[str, Any]:
        """The verifier's settings, for the conversion report."""
        ...


class LexicalVerifier:
    """The local verifier: equal normalised text, equal words up to verb inflection, a misspelt copy.

    Example:
        >>> LexicalVerifier().judge([("What is she?", "She seems happy", ["She seems happy.", "She is sad"])])
        [[Verdict(option='She seems happy.', same=True, why='same text'), Verdict(option='She is sad', same=False, why='')]]
    """

    name = "local"

    def judge(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[Verdict]]:
        return [list(_judge_options(answer, tuple(options))) for _, answer, options in items]

    def describe(self) -> dict[str, Any]:
        return {"verifier": self.name, "checks": ["same text", "same words", "misspelling"]}


@functools.lru_cache(maxsize=1 << 16)
def _judge_options(answer: str, options: tuple[str, ...]) -> tuple[Verdict, ...]:
    # datasets repeat option sets (as `qai_options` notes): each distinct one is judged once
    return tuple(Verdict(o, *_lexical(answer, o)) for o in options)


def _lexical(answer: str, option: str) -> tuple[bool, str]:
    a, b = _words(answer), _words(option)
    if not a or not b:
        return False, ""
    low_a, low_b = [w.lower() for w in a], [w.lower() for w in b]
    if low_a == low_b:
        return True, "same text"
    if len(a) > 1 and len(b) > 1 and set(low_a).isdisjoint(low_b):
        return False, ""  # no word in common: none of the checks below can hold
    if len(a) != len(b):
        return _cut_copy(a, b)
    differing = [(x, y) for x, y in zip(a, b) if x.lower() != y.lower()]
    if all(_lemma(x) == _lemma(y) for x, y in differing):
        return True, "same words: " + ", ".join(f"{x}/{y}" for x, y in differing)
    if len(differing) == 1 and _misspelt(*differing[0]):
        x, y = differing[0]
        return True, f"misspelling: {x}/{y}"
    return False, ""


def _cut_copy(a: list[str], b: list[str]) -> tuple[bool, str]:
    """A copy of the other option cut short or with a stray fragment ("She tosses the keys … because she can
    tell by" beside the whole sentence): the shorter one's words, five or more and at least 60 % of the
    longer's, run on inside the longer one."""
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(short) < 5 or len(short) < 0.6 * len(long):
        return False, ""
    short_l = [w.lower() for w in short]
    long_l = [w.lower() for w in long]
    inner = short_l[1:] if len(short_l) > 5 else short_l  # a fragment of a cut word may open it ("d woman …")
    for start in range(len(long_l) - len(inner) + 1):
        if long_l[start : start + len(inner)] == inner:
            return True, "a cut copy"
    return False, ""


@functools.lru_cache(maxsize=1 << 16)
def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in _ARTICLES]


def _lemma(word: str) -> str:
    low = word.lower()
    if any(c.isdigit() for c in low):
        return low
    lemmas = verb_lemmas.dictionary_lemmas(low)
    return lemmas[0] if lemmas else low


def _misspelt(x: str, y: str) -> bool:
    """Whether two different words are one word misspelt: close in spelling, and not both real words."""
    if any(c.isdigit() for c in x + y) or x[:1].isupper() or y[:1].isupper():
        return False
    x, y = x.lower(), y.lower()
    shorter = min(len(x), len(y))
    if shorter < 4:
        return False
    if _edits(x, y) > (2 if shorter >= 6 else 1):
        return False
    known = verb_lemmas.known_words()
    return not (x in known and y in known)


def _edits(x: str, y: str) -> int:
    """How many characters differ between two spellings, from difflib's alignment (a substitution is one)."""
    return sum(
        max(i2 - i1, j2 - j1)
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, x, y).get_opcodes()
        if op != "equal"
    )


def meaning_check(verifier: MeaningVerifier, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """The `qai.meaning_check` provenance of one record: the verifier and its verdict on each wrong option."""
    return {
        "verifier": verifier.name,
        "options": [v.option for v in verdicts],
        "same": [v.same for v in verdicts],
        "why": [v.why for v in verdicts],
    }
