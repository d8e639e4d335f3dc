"""Where a separate "not" goes in an inverted question ("why did the boy | not run", "what was the man | not
on"), and the character-offset edits that put it there.

The contracted form needs no such search ("didn't" replaces "did"); the spelled-out form and auxiliaries with
no contraction ("may", "might") do: the word after the subject is found from the parse and the tags, and the
search gives up (None) rather than guess when they disagree.
"""

from __future__ import annotations

from .clause import aux_text, gerund_after_preposition, is_base_verb, known_verb, reduced_relative
from .vocabulary import BE, CLAUSE_OPENERS, DO, NOUN_PHRASE_TAGS, NOUN_TAGS, QUOTES, SUBJECT_DEPS, VERB_TAGS


class Edits:
    """Character-offset edits of the original text, applied right to left."""

    def __init__(self, text: str):
        self.text, self.items = text, []

    def replace(self, token, new: str) -> None:
        self.items.append((token.idx, token.idx + len(token.text), new))

    def insert_before(self, token, new: str) -> None:
        self.items.append((token.idx, token.idx, new))

    def insert_after(self, token, new: str) -> None:
        pos = token.idx + len(token.text)
        self.items.append((pos, pos, new))

    def apply(self) -> str:
        out = self.text
        for begin, end, new in sorted(self.items, reverse=True):
            out = out[:begin] + new + out[end:]
        return out


def after_subject(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes by the parse alone: before the verb whose inverted auxiliary `finite` is, when the
    verb's one subject spans exactly the words between them ("does the action 'person sitting' | occur")."""
    if finite.dep_ == "ROOT" and aux_text(finite) in BE:
        # a copula: "not" after the subject, before its predicate ("why is Amy | so upset when …")
        subjects = [c for c in finite.children if c.dep_ in SUBJECT_DEPS]
        if len(subjects) != 1 or subjects[0].left_edge.i != finite.i + 1:
            return None
        after = subjects[0].right_edge.i + 1
        clauses = {t.i for c in finite.children if c.dep_ == "advcl" for t in c.subtree}
        if after >= len(doc) or doc[after].is_punct or after in clauses or doc[after - 1].tag_ == "IN":
            # nothing to negate after the subject ("where is Sheldon | when …"), or a subject the parse ended
            # on a preposition ("what is the atmosphere like | at …")
            return None
        return after, True
    verb = finite.head
    if finite.dep_ not in ("aux", "auxpass") or verb.i <= finite.i or verb.tag_ not in VERB_TAGS:
        return None
    if (finite.lower_ in DO or finite.tag_ == "MD") and (
        verb.tag_ == "VBG" or (verb.tag_ == "VBN" and not is_base_verb(verb))
    ):
        return None  # "does the boy | wearing blue struggle": a participle in the subject, misread as the verb
    subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    if len(subjects) != 1 or subjects[0].left_edge.i != finite.i + 1:
        return None
    i = verb.i
    while i - 1 > subjects[0].right_edge.i and doc[i - 1].tag_ in ("RB", "RBR", "RBS"):
        i -= 1
    return (i, False) if i - 1 == subjects[0].right_edge.i else None


def after_quotation(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes after a subject that holds a quotation, which the parser cannot read ("does the
    action 'person sitting on a couch' | occur"): before a base verb right after the closing quote, when
    `finite` is "do" or a modal and the quotation opens within the subject's first three words."""
    if not (finite.lower_ in DO or finite.tag_ == "MD"):
        return None
    quotes = [t.i for t in doc[finite.i + 1 :] if t.text in QUOTES]
    if len(quotes) != 2 or quotes[0] > finite.i + 3 or quotes[1] + 1 >= len(doc):
        return None
    after = doc[quotes[1] + 1]
    return (after.i, False) if is_base_verb(after) else None


def predicate_start(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes in an inverted question without contractions: before the main verb after the
    subject ("why did the boy | run"), ahead of adverbs that modify it ("… the boy | suddenly run"),
    or after the subject of a copula ("why was the man | on the floor"). Returns (token index, whether
    it is a copula) or None when unsure.

    Only the words before the first subordinate clause are searched (`_window`), and the tagger often calls
    a lower-case verb a noun, so the parse's head of the auxiliary and the verb "do" count as well.
    """
    window = _window(doc, finite)
    first_noun = next((t.i for t in window if t.tag_ in NOUN_TAGS), None)
    if first_noun is None:
        return None
    readings = _main_verb_readings(doc, finite, window, first_noun)
    if len(readings) > 1:
        return None  # the parse and the tags disagree on the main verb
    if readings:
        return _before_verb(doc, finite, window, first_noun, readings[0]) or _after_participle_phrase(
            doc, finite, window, readings[0]
        )
    if finite.lower_ in DO or finite.tag_ == "MD":
        return _missed_base_verb(window, first_noun)
    return _after_copula_subject(doc, window)


def _window(doc, finite) -> list:
    """The words after `finite` up to the first subordinate clause or punctuation."""
    window = []
    for tok in doc[finite.i + 1 :]:
        if tok.lower_ in CLAUSE_OPENERS or tok.is_punct:
            break
        window.append(tok)
    return window


def _main_verb_readings(doc, finite, window, first_noun: int) -> list:
    """The main verb after the subject by two readings, without repeats: the parse's head of the auxiliary,
    and the first word after the subject that the tagger calls a verb ("do" after "did" always is one)."""
    by_parse = (
        finite.head
        if finite.dep_ in ("aux", "auxpass")
        and finite.head.i > first_noun
        and any(t.i == finite.head.i for t in window)
        else None
    )
    # after a form of "be" only a participle is the main verb ("is the person able to | do" is a copula)
    verb_tags = ("VBG", "VBN") if aux_text(finite) in BE else VERB_TAGS
    by_tag = next(
        (
            t
            for t in window
            if t.i > first_noun
            and (
                # not a participle the parse uses as an adjective ("the | following | components") or one inside
                # a prepositional phrase ("the first step in | preparing the dish")
                (
                    t.tag_ in verb_tags
                    and t.dep_ not in ("amod", "compound")
                    and not gerund_after_preposition(t)
                    and doc[t.i - 1].lower_ != "to"  # an infinitive ("attempt to | hug") is never the main verb
                )
                or (t.lower_ == "do" and finite.lower_ in DO)
            )
        ),
        None,
    )
    if (
        by_tag is not None
        and by_parse is None
        and finite.dep_ == "ROOT"
        and aux_text(finite) in BE
        and reduced_relative(by_tag)
    ):
        by_tag = None  # a reduced relative ("what is the color of the cosmos introduced by …"): a copula
    if (
        by_parse is not None
        and by_parse.tag_ not in verb_tags
        and not (by_parse.lower_ == "do" and finite.lower_ in DO)
    ):
        by_parse = None
    readings = [v for v in (by_parse, by_tag) if v is not None]
    return readings[:1] if len(readings) == 2 and readings[0].i == readings[1].i else readings


def _before_verb(doc, finite, window, first_noun: int, verb) -> tuple[int, bool] | None:
    """Before `verb` and the adverbs in front of it, unless a participle inside the subject ("why did the man
    sitting … turn") or a word that is no verb at all makes the reading doubtful."""
    participles = [t for t in window if t.tag_ in ("VBG", "VBN")]
    if aux_text(finite) in BE and any(t.tag_ == "VB" and doc[t.i - 1].lower_ != "to" for t in window if t.i > verb.i):
        return None  # a base verb after the participle: the source is garbled ("what is the man sitting down feel")
    if (
        not known_verb(verb)
        or any(t.i < verb.i for t in participles)
        or len(participles) > 1
        or (finite.lower_ in DO and verb.tag_ in ("VBG", "VBN"))
    ):
        return None
    i = verb.i
    while i - 1 > first_noun and _adverb_of_verb(doc[i - 1]):
        i -= 1
    return i, False


def _adverb_of_verb(token) -> bool:
    """An adverb before a verb that "not" goes in front of ("suddenly run"), not a noun the tagger calls an
    adverb ("at the | back")."""
    return token.tag_ in ("RB", "RBR", "RBS") and token.dep_ != "pobj" and token.doc[token.i - 1].tag_ != "DT"


def _after_participle_phrase(doc, finite, window, participle) -> tuple[int, bool] | None:
    """After "do" or a modal a participle right after the subject's noun is part of the subject ("why does the
    man | wearing a red cap | bend down"): the main verb is the first base form the tagger sees after it ("do"
    after "did" always is one). None when there is none ("the boy wearing blue struggle": a noun to the
    tagger, or an infinitive), so that no "not" lands inside the subject."""
    if not (finite.lower_ in DO or finite.tag_ == "MD") or participle.tag_ not in ("VBG", "VBN"):
        return None
    if doc[participle.i - 1].tag_ not in NOUN_TAGS:
        return None
    verb = next(
        (t for t in window if t.i > participle.i and (t.tag_ == "VB" or (t.lower_ == "do" and finite.lower_ in DO))),
        None,
    )
    # nothing between that could be the verb the tagger misread ("the lady sitting … stretch(VBP) her hand out
    # to touch"), a coordination ("… accelerate and stop") or an infinitive; adverbs before the verb may belong
    # to the participle ("wearing cap backwards | do"), so "not" goes right before the verb
    if (
        verb is None
        or not is_base_verb(verb)
        or any(t.tag_ in ("VBP", "VBZ", "VBD", "MD", "CC", "TO") for t in doc[participle.i + 1 : verb.i])
    ):
        return None
    return verb.i, False


def _missed_base_verb(window, first_noun: int) -> tuple[int, bool] | None:
    """After "do" or a modal a base verb must follow and the tagger missed it. The small model reads "the dog
    bark", "the person close" as one noun phrase: its last word is the verb when it has a base-verb reading
    and a noun precedes it; otherwise give up."""
    run = []
    for tok in window:
        if tok.tag_ not in NOUN_PHRASE_TAGS or (run and tok.tag_ in ("DT", "PDT", "PRP$")):
            break
        run.append(tok)
    if len(run) >= 2 and run[-2].tag_ in NOUN_TAGS and is_base_verb(run[-1]) and run[-1].i > first_noun:
        return run[-1].i, False
    return None


def _after_copula_subject(doc, window) -> tuple[int, bool] | None:
    """After the subject noun phrase of a copula ("why is the man | on the floor"), when no verb is left
    that the rules above could not place."""
    if any(t.lower_.endswith(("ing", "ed")) for t in window):
        return None  # probably a participle the tagger called a noun: "why is the man in orange pointing"
    if any(t.tag_ in VERB_TAGS and doc[t.i - 1].lower_ != "to" for t in window):
        return None  # a verb the rules above could not place ("what is the boy in yellow do")
    end = None
    for tok in window:
        if tok.tag_ == "EX":
            end = tok.i
            break  # "why is there | not a flash of light", "why is there | not words and numbers …"
        if tok.tag_ in NOUN_TAGS:
            end = tok.i
        elif end is not None or tok.tag_ not in NOUN_PHRASE_TAGS:
            break
    # something must follow the subject: "why is the man | on the floor", not "where is this place |"; and a
    # coordinated subject goes on past "and" ("where were Leslie and Leonard |"), never "Leslie | not and"
    if end is None or end >= window[-1].i or doc[end + 1].tag_ == "CC":
        return None
    return end + 1, True
