"""Inverting an already-negative question by removing its negation (opt-in, issue 30).

"Which tool is not used?" has the unused tool as its answer; its wrong options are the tools that are used,
so "Which tool is used?" is the inverted question: the originally wrong options become its true answers,
exactly as negation does for an affirmative question. The template ("Which option is NOT a correct answer to
the question: which tool is not used?") would be a double negative, which QAI never writes.

Only a main clause with exactly one negation that can simply be taken out is affirmed: "not"/"NOT", "n't"
(the auxiliary is written out in full: "can't" → "can", "won't" → "will"), "nt" and "never". Do-support stays
("Which tool doesn't belong?" → "Which tool does belong?", an emphatic but grammatical question), so no verb
has to be inflected. "no", "nothing", "nobody", "none" … and two negations are left negative.
"""

from __future__ import annotations

from .clause import finite_element, main_clause_negations
from .outcome import ALREADY_NEGATIVE, NEGATED, NegationResult, refused
from .placement import Edits
from .text import cased

AFFIRM = "affirm"
ALREADY_NEGATIVE_MODES = ("refuse", AFFIRM)
NEGATION_REMOVED = "negation_removed"  # the rule (`NegationResult.reason`) of an affirmed question
_REMOVABLE = {"not", "n't", "nt", "never"}
# the auxiliary that spaCy splits off a contraction: "ca|n't", "wo|n't", "sha|n't"
_FULL_AUX = {"ca": "can", "wo": "will", "sha": "shall"}


def affirm_doc(doc, question: str) -> NegationResult:
    """`question` (parsed as `doc`) without the negation of its main clause; refused (status
    `already_negative`) when the negation cannot simply be taken out."""
    negations = _main_clause_negations(doc)
    if len(negations) != 1 or negations[0].lower_.replace("’", "'") not in _REMOVABLE:
        return refused(question, "negative_main_clause", ALREADY_NEGATIVE)
    neg = negations[0]
    edits = Edits(question)
    if neg.lower_.replace("’", "'") == "n't":
        aux = doc[neg.i - 1]
        if neg.i == 0 or aux.lower_ == "ai" or aux.whitespace_:
            return refused(question, "negative_main_clause", ALREADY_NEGATIVE)
        full = _FULL_AUX.get(aux.lower_, aux.lower_)
        edits.items.append((aux.idx, neg.idx + len(neg.text), cased(full, aux.text)))
    else:
        edits.items.append(_removal(doc, neg))
    return NegationResult(question, edits.apply(), NEGATED, NEGATION_REMOVED)


def _main_clause_negations(doc) -> list:
    words = [t for t in doc if not (t.is_punct or t.is_space)]
    if not words:
        return []
    start = words[0].i
    root = doc[start].sent.root
    finite, _ = finite_element(doc, start, root)
    return main_clause_negations(doc, root, start, finite.i if finite is not None else None)


def _removal(doc, token) -> tuple[int, int, str]:
    """The character span that removes `token` and one space beside it ("is not used" → "is used", "cannot"
    → "can")."""
    begin, end = token.idx, token.idx + len(token.text)
    if token.i > 0 and not doc[token.i - 1].whitespace_:
        return begin, end, ""  # written together with the word before: "can|not"
    if token.i > 0:
        begin -= len(doc[token.i - 1].whitespace_)
    elif token.whitespace_:
        end += len(token.whitespace_)
    return begin, end, ""
