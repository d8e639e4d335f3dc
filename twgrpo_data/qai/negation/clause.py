"""What the dependency parse says about a question's main clause: its finite element (the auxiliary or verb
that takes the negation), the wh-phrase, subject spans, verb forms and whether the clause is already negative."""

from __future__ import annotations

import itertools

from .. import verb_lemmas
from .text import cased
from .vocabulary import (
    AUX_WORDS,
    CLAUSE_OPENERS,
    CLITICS,
    DO,
    FINITE_TAGS,
    HAVE,
    MAX_WH_NOUN_PHRASE,
    NEG_WORDS,
    NOUN_TAGS,
    PREPOSED_WH,
    SUBJECT_DEPS,
    SUBORDINATE_DEPS,
    VERB_TAGS,
    WH_NOUN_PHRASE_TAGS,
    WH_PHRASE_DEPS,
    WH_WORDS,
)


def base_form(token) -> str:
    lemmas = verb_lemmas.verb_lemma(token.lower_)
    return cased(lemmas[0] if lemmas else token.lower_, token.text)


def known_verb(token) -> bool:
    return bool(verb_lemmas.dictionary_lemmas(token.lower_))


def is_base_verb(token) -> bool:
    """Whether the word can be a verb in its base form ("hug", not "dishes")."""
    return token.lower_ in verb_lemmas.dictionary_lemmas(token.lower_)


def in_main_clause(token, root) -> bool:
    node = token
    while node.i != root.i:
        if node.dep_ in SUBORDINATE_DEPS or node.head.i == node.i:
            return False
        node = node.head
    return True


def main_clause_negative(doc, root, start: int, finite_i: int | None) -> bool:
    return bool(main_clause_negations(doc, root, start, finite_i))


def main_clause_negations(doc, root, start: int, finite_i: int | None) -> list:
    """The negative words of the main clause. A negative word before or right after the finite element
    ("nobody …", "why didn't …", "why did nt …") is the main clause's whatever the parse says; so is one right
    before a verb before any subordinate clause ("why is the man | not holding …", which the parse often
    reads as a clause of the subject)."""
    return [
        tok
        for tok in doc
        if (tok.lower_ in NEG_WORDS or tok.dep_ == "neg")
        and (
            (finite_i is not None and start <= tok.i <= finite_i + 1)
            or (finite_i is not None and tok.i == finite_i + 2 and doc[finite_i + 1].tag_ == "EX")  # "is there not"
            or in_main_clause(tok, root)
            or (finite_i is not None and _negates_main_verb(doc, tok, finite_i))
        )
    ]


def _negates_main_verb(doc, neg, finite_i: int) -> bool:
    if neg.i + 1 >= len(doc) or doc[neg.i + 1].tag_ not in ("VB", "VBG", "VBN"):
        return False
    if doc[neg.i - 1].tag_ in ("IN", "TO"):
        return False  # "despite | not being a foul", "to | not go": a phrase of its own
    # nothing between the finite element and the negation may open a clause or be a verb: in "what does the man
    # think of the woman | not knowing …" the main verb came first
    return neg.i > finite_i and not any(
        t.lower_ in CLAUSE_OPENERS or t.is_punct or t.tag_ in VERB_TAGS for t in doc[finite_i + 1 : neg.i]
    )


def phrase_head(wh):
    """The head of the phrase a wh-word opens: "which" → "side" in "which side of the phone", "which" →
    "During" in "During which part of the video"; a stranded preposition ("what … look at") is not climbed."""
    head = wh
    while head.dep_ in WH_PHRASE_DEPS and head.head.i != head.i:
        parent = head.head
        if parent.tag_ in VERB_TAGS or (head.dep_ == "pobj" and parent.i > head.i):
            break
        head = parent
    return head


def span(token) -> tuple[int, int]:
    return token.left_edge.i, token.right_edge.i


def aux_text(token) -> str | None:
    """The auxiliary a token spells: itself, or the full form of a clitic ("'s" → "is")."""
    low = token.lower_.replace("’", "'")
    if low in AUX_WORDS:
        return low
    if low in CLITICS:
        return CLITICS[low]
    if low == "'s":
        if token.tag_ == "POS":
            return None  # possessive: "which man's hat"
        return "has" if token.head.tag_ == "VBN" and token.head.i != token.i else "is"
    if low == "'d":
        return "would" if token.tag_ == "MD" else ("had" if token.head.tag_ == "VBN" else "did")
    return None


def wh_index(doc, start: int) -> int:
    """Where the wh-word is: `start`, or the next word after a preposition ("during which part …")."""
    if doc[start].tag_ in ("IN", "TO") and start + 1 < len(doc) and doc[start + 1].lower_ in PREPOSED_WH:
        return start + 1
    return start


def finite_element(doc, start: int, root):
    """The main clause's finite auxiliary or verb, and whether word order alone identified it.

    An auxiliary right after the wh-phrase is the main clause's: a bare wh-word ("why is …", "what did …"),
    what/which/whose with a short noun phrase ("which side of the phone did …"), "what else", or any of
    these after a preposition ("during which part of the video did …"). The small model
    often misattaches such an auxiliary, so word order wins. Otherwise the parse: the root's leftmost
    finite auxiliary, else a finite root.
    """
    wh = wh_index(doc, start)
    if doc[wh].lower_ in WH_WORDS:
        if wh + 1 < len(doc) and aux_text(doc[wh + 1]) is not None:
            return doc[wh + 1], True
        if wh + 1 < len(doc) and (
            (
                doc[wh].lower_ in ("what", "which", "whose", "who")
                and (
                    doc[wh + 1].lower_ in ("of", "else")
                    or (doc[wh].lower_ != "who" and doc[wh + 1].tag_ in NOUN_TAGS | {"JJ", "JJR", "JJS", "CD"})
                )
            )
            # "when in the video (sequence) do we …"
            or (doc[wh].lower_ in ("when", "where") and doc[wh + 1].lower_ in ("in", "during", "at", "on"))
        ):
            for tok in doc[wh + 2 : wh + 2 + MAX_WH_NOUN_PHRASE]:
                if aux_text(tok) is not None:
                    return tok, True
                if tok.tag_ not in WH_NOUN_PHRASE_TAGS:
                    break
    auxes = [c for c in root.lefts if c.dep_ in ("aux", "auxpass") and c.tag_ in FINITE_TAGS]
    if auxes:
        return auxes[0], False
    if root.tag_ in FINITE_TAGS:
        return root, False
    return None, False


def reduced_relative(participle) -> bool:
    """A participle that modifies a noun inside a prepositional phrase and has its own complement ("the color
    of the cosmos | introduced by the video"), not the main verb ("what is the man in black | doing")."""
    return (
        participle.dep_ in ("acl", "relcl", "prep")
        and (
            participle.head.dep_ in ("pobj", "ROOT")
            or (participle.tag_ == "VBN" and participle.head.dep_ in SUBJECT_DEPS)
        )
        and any(
            c.dep_ == "dobj" or (c.dep_ in ("agent", "prep") and any(True for _ in c.children))
            for c in participle.children
        )
    )


def is_main_verb(finite, doc, start: int) -> bool:
    """'did'/'has' as the main verb ("who did the dishes", "which girl has long hair", "why the girl has a
    towel"): negated with do-support, never "hasn't long hair".

    'has'/'have'/'had' is the main verb wherever it stands when no verb follows in its clause (an
    infinitive's "to leave" aside: "who has to leave"); as an inverted auxiliary before a bare noun phrase
    ("what has the man in his hand") it is not current English. 'did' only right after a bare wh-word:
    after a wh-phrase ("which object did the person open") it is the inverted auxiliary however the parse
    attaches it; and not when a noun is followed by a base-form verb that the small model mis-tagged
    ("who did the man hug": "man hug" is subject + verb).
    """
    if finite.lower_ not in (DO | HAVE) or finite.dep_ != "ROOT":
        return False
    rest = doc[finite.i + 1 :]
    if finite.lower_ in HAVE:
        clause = itertools.takewhile(lambda t: t.lower_ not in CLAUSE_OPENERS and not t.is_punct, rest)
        return not any(t.tag_ in VERB_TAGS and doc[t.i - 1].lower_ != "to" for t in clause)
    if finite.i != start + 1 or any(t.tag_ == "VB" for t in rest):
        return False
    return not any(prev.tag_ in NOUN_TAGS and is_base_verb(tok) for prev, tok in zip(rest, rest[1:]))


def gerund_after_preposition(token) -> bool:
    """A gerund right after its preposition ("the first step in | preparing the dish"): inside a prepositional
    phrase, never the main verb (unlike "the lady in pink | standing", where the parser may say the same)."""
    return token.tag_ == "VBG" and token.i > 0 and token.doc[token.i - 1].tag_ == "IN" and token.head.i == token.i - 1
