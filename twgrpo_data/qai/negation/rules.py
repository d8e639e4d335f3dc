"""`negate_doc`: negating a parsed question, in four steps a reader can follow.

1. `analyse`    find the main clause's first word, root and finite element, and refuse what has none, is
                already negative, or is a yes/no question;
2. `meaning_refusal`  refuse where a negation would change more than the truth value (neg-raising verbs,
                scope adverbials);
3. a plan       `word_order_plan` when the finite element stands right after the wh-phrase ("why did …",
                "which side of the phone did …"), else `parse_plan` from the dependency parse: the rule
                (a "not" at the auxiliary, or do-support on the verb) and whether the clause is inverted;
4. `realise`    edit the text at character offsets: contract the auxiliary or place a separate "not", or
                insert "do"/"does"/"did" and put the verb in its base form.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clause import (
    aux_text,
    base_form,
    finite_element,
    gerund_after_preposition,
    in_main_clause,
    is_main_verb,
    known_verb,
    main_clause_negative,
    phrase_head,
    reduced_relative,
    span,
    wh_index,
)
from .outcome import ALREADY_NEGATIVE, AUXILIARY, DO_SUPPORT, NEGATED, NegationResult, refused
from .placement import Edits, after_quotation, after_subject, predicate_start
from .text import all_caps, apostrophe, cased, contract, lexical_refusal
from .vocabulary import (
    APPROXIMATORS,
    BE,
    DO,
    DO_FOR_TAG,
    HAVE,
    NEG_RAISING,
    NEG_WORDS,
    NOUN_PHRASE_TAGS,
    ORDINAL_SCOPE,
    QUOTES,
    SCOPE_ADVERBS,
    SCOPE_WORDS,
    STILL_VERBS,
    SUBJECT_DEPS,
    VERB_TAGS,
    WH_WORDS,
)


@dataclass(frozen=True)
class MainClause:
    """The parts of a question's main clause that the rules read: `start` (its first word), `root`, `finite`
    (the auxiliary or verb that takes the negation), `verb` (the verb `finite` is the auxiliary of, else
    `finite`), `lead` (where adverbs before `finite` begin: "which of the following | best describes"), and
    whether word order alone identified `finite`."""

    doc: object
    question: str
    start: int
    root: object
    finite: object
    by_word_order: bool
    verb: object
    lead: int

    @property
    def aux(self) -> str | None:
        return aux_text(self.finite)


@dataclass(frozen=True)
class Plan:
    """How the main clause is negated: `rule` AUXILIARY (at `finite`; `inverted` when the subject follows it)
    or DO_SUPPORT (on `finite`, the main verb)."""

    rule: str
    inverted: bool = False


def negate_doc(doc, question: str, contractions: bool = True) -> NegationResult:
    """Negate a parsed question (`doc` = the pipeline applied to `question`)."""
    early = lexical_refusal(question)
    if early is not None:
        return early
    clause = analyse(doc, question)
    if isinstance(clause, NegationResult):
        return clause
    reason = meaning_refusal(clause)
    if reason is not None:
        return refused(question, reason)
    plan = word_order_plan(clause) if clause.by_word_order else parse_plan(clause)
    if isinstance(plan, str):
        return refused(question, plan)
    return realise(clause, plan, contractions)


def analyse(doc, question: str) -> MainClause | NegationResult:
    """The main clause, or the refusal of a question that has none to negate."""
    words = [t for t in doc if not (t.is_punct or t.is_space)]
    if not words:
        return refused(question, "no_main_verb")
    start = words[0].i
    for tok in doc:
        if tok.text in (".", "?", "!") and any(not (t.is_punct or t.is_space) for t in doc[tok.i + 1 :]):
            return refused(question, "multiple_sentences")
    root = doc[start].sent.root
    if _second_question(doc, root, start):
        return refused(question, "coordinated_question")
    finite, by_word_order = finite_element(doc, start, root)
    if main_clause_negative(doc, root, start, finite.i if finite is not None else None):
        return refused(question, "negative_main_clause", ALREADY_NEGATIVE)
    if finite is None:
        has_verb = any(t.tag_ in VERB_TAGS for t in doc[start].sent)
        return refused(question, "parse_failed" if has_verb else "no_main_verb")
    if finite.i == start:
        return refused(question, "yes_no")
    verb = finite.head if finite.dep_ in ("aux", "auxpass") else finite
    return MainClause(doc, question, start, root, finite, by_word_order, verb, _adverbs_before(doc, start, finite))


def _second_question(doc, root, start: int) -> bool:
    """Whether a verb coordinated with the main clause has a wh-word of its own ("What did the man do first and
    what happened next?"): two questions in one, which no negation of either part answers (`COORDINATED`
    catches the inverted forms without a parse)."""
    for t in doc:
        if t.dep_ != "conj" or t.tag_ not in VERB_TAGS or not in_main_clause(t, root):
            continue
        wh = [ch for ch in t.children if ch.lower_ in WH_WORDS and start < ch.i < t.i]  # not a relative "that"
        subject = next((ch for ch in t.children if ch.dep_ in SUBJECT_DEPS), None)
        # a question: the wh-word is the subject ("… and what happened next") or the auxiliary comes before the
        # subject ("… and what does this suggest"); "… and what he holds" is a noun phrase
        inverted = subject is not None and any(ch.dep_ in ("aux", "auxpass") and ch.i < subject.i for ch in t.children)
        if wh and (inverted or (subject is not None and subject in wh)):
            return True
    return False


def _adverbs_before(doc, start: int, finite) -> int:
    """Where the adverbs between the subject and `finite` begin ("which of the following | best describes"):
    the negation goes before them ("doesn't best describe"), never between them and the verb. The parser
    often reads "the following best" as a noun phrase, so the tags decide, not the attachment."""
    lead = finite.i
    while (
        lead - 1 > start
        and (doc[lead - 1].tag_ in ("RB", "RBR", "RBS") or doc[lead - 1].lower_ in ("best", "most"))
        and doc[lead - 1].lower_ not in NEG_WORDS
        and doc[lead - 1].lower_ not in WH_WORDS
    ):
        lead -= 1
    return lead


def meaning_refusal(c: MainClause) -> str | None:
    """`neg_raising` or `scope_adverbial` where a negation would say something else than "not": "what doesn't
    the coach want him to do" means "… want him not to do"; "what doesn't it most likely symbolize"."""
    verb, doc = c.verb, c.doc
    if (
        verb.tag_ in VERB_TAGS
        and base_form(verb).lower() in NEG_RAISING
        and any(ch.dep_ in ("xcomp", "ccomp") for ch in verb.children)
    ):
        return "neg_raising"
    if _scope_word(c) is not None:
        return "scope_adverbial"  # "which object doesn't appear for the first time", "what doesn't he do again"
    clause_heads = {verb.i, c.finite.i, c.root.i}
    if any(
        t.lower_ in SCOPE_ADVERBS
        and (
            t.tag_.startswith("RB")
            or (t.head.i in clause_heads and t.dep_ in ("advmod", "acomp", "oprd"))
            or (t.i >= 2 and doc[t.i - 1].lower_ in ("most", "more") and doc[t.i - 2].tag_ not in ("DT", "PRP$", "POS"))
        )
        for t in doc
    ):
        return "scope_adverbial"  # not "the most likely message", a noun phrase
    return None


def _scope_word(c: MainClause):
    """The first scope word on the main clause's verb, or None: `SCOPE_WORDS` and "first"/"last" (as adverbs,
    "at first", "(for) the first time") attached to the verb, "still" other than "stand still", and
    approximations ("approximately", "about"/"around" a number) anywhere in the main clause."""
    doc, root = c.doc, c.root
    heads = {c.verb.i, c.finite.i, root.i} | {t.i for t in c.verb.conjuncts}
    before_verb = _adverbs_before_main_verb(c)
    for t in doc:
        low = t.lower_
        if t.i > 0 and doc[t.i - 1].text in QUOTES:
            continue  # a quoted word ("repeats 'Finally'") is no adverb of the verb
        if low in APPROXIMATORS:
            if t.i + 1 < len(doc) and doc[t.i + 1].like_num and in_main_clause(t, root):
                return t
        elif low in ("approximately", "roughly", "nearly", "almost"):
            if in_main_clause(t, root):
                return t
        elif low in SCOPE_WORDS or low in ORDINAL_SCOPE or low == "still":
            on_verb = t.i in before_verb or (
                t.head.i in heads
                if low not in ORDINAL_SCOPE or t.dep_ in ("advmod", "npadvmod")
                else _on_verb(t, heads)
            )
            if on_verb and not (low == "still" and t.i > 0 and base_form(doc[t.i - 1]).lower() in STILL_VERBS):
                return t
    return None


def _on_verb(ordinal, heads: set[int]) -> bool:
    """ "at first", "at last", "for the first time", "the first time" attached to one of `heads`."""
    head = ordinal.head
    if head.lower_ == "at" and ordinal.dep_ in ("pobj", "pcomp"):
        return head.head.i in heads
    if head.lower_ == "time":
        if head.dep_ == "npadvmod":
            return head.head.i in heads and not any(ch.dep_ in ("relcl", "acl") for ch in head.children)
        return head.dep_ == "pobj" and head.head.lower_ == "for" and head.head.head.i in heads
    return False


def _adverbs_before_main_verb(c: MainClause) -> set[int]:
    """The adverbs in front of the main verb by word order ("why is the man | still holding …"), which the
    parser often attaches to the subject instead."""
    at = predicate_start(c.doc, c.finite)
    if at is None or at[1]:
        return set()
    out, i = set(), at[0]
    while i < len(c.doc) and c.doc[i].tag_ in ("RB", "RBR", "RBS"):
        out.add(i)
        i += 1
    return out


def word_order_plan(c: MainClause) -> Plan | str:
    """The plan when the finite element stands right after the wh-phrase: do-support when the wh-word is the
    subject and `finite` the main verb ("who did the dishes"); else a "not" at the auxiliary, inverted
    unless the wh-word is the subject or the copula's predicate ("who is standing", "what is the
    relationship …")."""
    doc, start, finite = c.doc, c.start, c.finite
    if wh_index(doc, start) != start:
        return Plan(AUXILIARY, inverted=True)  # a prepositional wh-phrase is never the subject
    wh = doc[start].lower_
    if (wh in ("who", "which") or (wh in ("what", "whose") and finite.lower_ in HAVE)) and is_main_verb(
        finite, doc, start
    ):
        return Plan(DO_SUPPORT)
    after = doc[finite.i + 1] if finite.i + 1 < len(doc) else None
    opens_subject = after is not None and after.tag_ in NOUN_PHRASE_TAGS
    subject_wh = (
        wh in ("who", "what", "which", "whose")
        and finite.lower_ not in DO
        and (_wh_is_predicate(c) or not opens_subject)
    )
    return Plan(AUXILIARY, inverted=not subject_wh)


def _wh_is_predicate(c: MainClause) -> bool:
    """Whether the wh-word is the copula's predicate ("what is | the relationship between …"), by where a
    "not" would go, or by the parse."""
    doc, finite = c.doc, c.finite
    at = predicate_start(doc, finite)
    if at is not None and at[1]:
        if _wh_belongs_to_what_follows(doc, at[0]):
            return False  # "what is the person | not able to do", whatever the parse says
        if not (doc[at[0]].tag_.startswith("JJ") or (at[0] + 1 < len(doc) and doc[at[0] + 1].lower_ == "to")):
            return True
    # the parse agrees: a copula root with the wh-word as its predicate, the subject running to the end
    # and no participle that could be the main verb ("what's the color of the cosmos introduced by …")
    subject = next((ch for ch in finite.children if ch.dep_ in SUBJECT_DEPS), None)
    # after the subject only adverbials of the copula may follow ("… at the beginning", "… when it ends")
    trailing = {
        t.i for ch in finite.children if ch.i > finite.i and ch.dep_ in ("advcl", "npadvmod") for t in ch.subtree
    }
    return (
        finite.dep_ == "ROOT"
        and c.aux in BE
        and phrase_head(doc[c.start]).dep_ == "attr"
        and subject is not None
        and subject.i > finite.i
        and subject.left_edge.i == finite.i + 1
        and all(t.i in trailing or t.is_punct or t.is_space for t in doc[subject.right_edge.i + 1 :])
        and all(
            reduced_relative(t) or (gerund_after_preposition(t) and subject.left_edge.i <= t.i <= subject.right_edge.i)
            for t in doc[finite.i + 1 :]
            if t.tag_ in ("VBG", "VBN")
            or (t.lower_.endswith(("ing", "ed")) and known_verb(t) and not any(ch.dep_ == "det" for ch in t.children))
        )
    )


def _wh_belongs_to_what_follows(doc, i: int) -> bool:
    """ "… able | to do", "… about | to do", "… afraid | of?": the wh-word is the object of the infinitive or
    of a stranded preposition after the copula's predicate (unlike "… next | to the girl")."""
    if i + 1 >= len(doc):
        return False
    after = doc[i + 1]
    if after.lower_ == "to":
        return i + 2 < len(doc) and doc[i + 2].tag_ == "VB"
    return doc[i].tag_.startswith("JJ") and after.tag_ == "IN" and all(t.is_punct for t in doc[i + 2 :])


def parse_plan(c: MainClause) -> Plan | str:
    """The plan from the parse, for "which side of the phone did …", "who picked up …", "what happened after
    …", "why the cup toppled": the wh-phrase, the subject and `finite` must tile the words before the
    verb, else the question is refused as `parse_failed`."""
    doc, start, finite, lead = c.doc, c.start, c.finite, c.lead
    wh_tokens = [t for t in doc[start : finite.i] if t.lower_ in WH_WORDS]
    if not wh_tokens:
        return "not_a_question"
    subjects = [
        ch
        for ch in list(c.verb.children) + (list(finite.children) if finite.i != c.verb.i else [])
        if ch.dep_ in SUBJECT_DEPS
    ]
    if len(subjects) > 1:
        return "parse_failed"
    subject = subjects[0] if subjects else None
    wh_begin, wh_end = span(phrase_head(wh_tokens[0]))
    if lead < finite.i and subject is not None and subject.right_edge.i == finite.i - 1 and wh_end == finite.i - 1:
        wh_end = lead - 1  # the parser took the adverbs into the subject ("which of the following best")
    if wh_begin != start or wh_end >= lead:
        if not (subject is not None and span(subject)[0] == start and span(subject)[1] in (lead - 1, finite.i - 1)):
            return "parse_failed"
        wh_end = lead - 1
    if subject is not None and subject.i > finite.i:  # inverted
        if wh_end != finite.i - 1 or c.aux is None:
            return "parse_failed"
        return Plan(AUXILIARY, inverted=True)
    if subject is not None and not (subject.left_edge.i <= wh_tokens[0].i <= subject.right_edge.i):
        s_begin, s_end = span(subject)  # not inverted: "why the cup toppled"
        if s_begin != wh_end + 1 or s_end not in (lead - 1, finite.i - 1):
            return "parse_failed"
    elif wh_end != lead - 1:
        return "parse_failed"
    if c.aux is not None and not is_main_verb(finite, doc, start):
        if lead < finite.i:
            return "parse_failed"  # "who also is …": rare, and "who also isn't" misreads
        return Plan(AUXILIARY)
    if finite.i != c.verb.i:
        return "parse_failed"
    return Plan(DO_SUPPORT)


def realise(c: MainClause, plan: Plan, contractions: bool) -> NegationResult:
    """The negated text, edited at character offsets of the question (casing, spacing and apostrophes kept)."""
    edits = Edits(c.question)
    style = _Style(apostrophe(c.question), "NOT" if all_caps(c.question) else "not", contractions)
    ok = (
        _negate_at_auxiliary(c, plan.inverted, edits, style) if plan.rule == AUXILIARY else _do_support(c, edits, style)
    )
    if not ok:
        return refused(c.question, "parse_failed")
    return NegationResult(c.question, edits.apply(), NEGATED, plan.rule)


@dataclass(frozen=True)
class _Style:
    apostrophe: str
    not_word: str
    contractions: bool


def _negate_at_auxiliary(c: MainClause, inverted: bool, edits: Edits, style: _Style) -> bool:
    """ "didn't" for "did"; without a contraction "not" after a non-inverted auxiliary ("who is not …",
    "cannot") or after the subject of an inverted one ("why did the boy not run"). False when unsure where."""
    finite, aux, doc = c.finite, c.aux, c.doc
    short = contract(aux, style.apostrophe) if style.contractions else None
    if short is not None:
        edits.replace(finite, cased(short, finite.text) if finite.lower_ == aux else " " + short)
    elif not inverted and finite.lower_ == "can":
        edits.replace(finite, cased("cannot", finite.text))  # "can not" reads as "can (choose) not to"
    elif not inverted:
        edits.insert_after(finite, " " + style.not_word)
    else:
        # a quotation in the subject misleads the tagger: its words are never the main verb
        at = after_quotation(doc, finite) or predicate_start(doc, finite) or after_subject(doc, finite)
        if at is None:
            return False
        edits.insert_before(doc[at[0]], style.not_word + " ")
    return True


def _do_support(c: MainClause, edits: Edits, style: _Style) -> bool:
    """ "who didn't pick up …" for "who picked up …": do-support before the verb (and before adverbs in front of
    it), the verb and its coordinated verbs in their base form. False for a verb form with no "do"."""
    verb, doc = c.finite, c.doc
    do = DO_FOR_TAG.get(verb.tag_)
    if do is None:
        return False
    negative = contract(do, style.apostrophe) if style.contractions else f"{do} {style.not_word}"
    if c.lead < verb.i:
        edits.insert_before(doc[c.lead], negative + " ")
        edits.replace(verb, base_form(verb))
    else:
        edits.replace(verb, cased(negative, verb.text) + " " + base_form(verb))
    for conj in verb.conjuncts:
        if conj.i > verb.i and conj.tag_ == verb.tag_ and not any(ch.dep_ in SUBJECT_DEPS for ch in conj.children):
            edits.replace(conj, base_form(conj))
    return True
