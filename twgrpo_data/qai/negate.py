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

The steps live in `twgrpo_data.negation` (one module each: vocabulary, text, clause, placement, rules,
template, pipeline); this module is the public entry point and keeps every name it always exported.

Speed: the lexical refusals and the common "WH AUX rest" form ("why did …", "what is …") are handled
without parsing. That fast path is *verified*: on every question it accepts it gives exactly the parse
path's answer (checked on all NExT-GQA val questions and one development question per opening by the tests
and `benchmarks/bench_qai.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .negation.affirm import AFFIRM, ALREADY_NEGATIVE_MODES, NEGATION_REMOVED, affirm_doc
from .negation.clause import finite_element, main_clause_negative
from .negation.outcome import (
    ALREADY_NEGATIVE,
    AUXILIARY,
    DO_SUPPORT,
    NEGATED,
    REFUSALS,
    STATUSES,
    UNNEGATABLE,
    NegationResult,
)
from .negation.parts import QuestionParts, split_frame, split_items, split_question
from .negation.pipeline import (
    EMPTY_TOKENIZER,
    PREFERRED_MODELS,
    UNUSED_COMPONENTS,
    import_spacy,
    load_pipeline,
    model_info,
    resolve_model,
)
from .negation.rules import negate_doc
from .negation.template import NEGATION, NO_TEMPLATE, TEMPLATE, is_why_question, template_question
from .negation.text import contract, fast_negation, lexical_refusal
from .negation.vocabulary import AUX_WORDS, BE, DO, HAVE, MODALS, NEG_RAISING, NEG_WORDS, SCOPE_ADVERBS, WH_WORDS

__all__ = [
    "AFFIRM",
    "ALREADY_NEGATIVE",
    "ALREADY_NEGATIVE_MODES",
    "NEGATION_REMOVED",
    "affirm_doc",
    "split_question",
    "AUXILIARY",
    "AUX_WORDS",
    "BE",
    "DO",
    "DO_SUPPORT",
    "EMPTY_TOKENIZER",
    "HAVE",
    "MODALS",
    "NEGATED",
    "NEGATION",
    "NEG_RAISING",
    "NEG_WORDS",
    "NO_TEMPLATE",
    "PREFERRED_MODELS",
    "REFUSALS",
    "SCOPE_ADVERBS",
    "STATUSES",
    "TEMPLATE",
    "UNNEGATABLE",
    "UNUSED_COMPONENTS",
    "WH_WORDS",
    "NegationResult",
    "Negator",
    "contract",
    "import_spacy",
    "is_why_question",
    "load_pipeline",
    "model_info",
    "negate_doc",
    "resolve_model",
    "split_frame",
    "split_items",
    "template_question",
]


class Negator:
    """Negates questions; parses (batched, with `nlp.pipe`) only those the fast path cannot settle.

    Example:
        >>> Negator().negate("who picked up the ball").negated
        "who didn't pick up the ball"
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        contractions: bool = True,
        fast: bool = True,
        batch_size: int = 256,
        already_negative: str = "refuse",
    ):
        if already_negative not in ALREADY_NEGATIVE_MODES:
            raise ValueError(f"already_negative must be one of {ALREADY_NEGATIVE_MODES}, got {already_negative!r}")
        self.model, self.contractions, self.fast, self.batch_size = model, contractions, fast, batch_size
        self.already_negative = already_negative
        self.parsed = 0  # questions that needed the parser (for reports and the benchmark)

    @property
    def nlp(self):
        return load_pipeline(self.model)

    def info(self) -> dict[str, str]:
        return model_info(self.model)

    def _without_parse(self, parts: QuestionParts) -> NegationResult | None:
        if parts.refusal is not None:
            return NegationResult(parts.core, None, UNNEGATABLE, parts.refusal)
        if not self.fast:
            return None
        refused = lexical_refusal(parts.parsed_core)
        if refused is not None:
            return refused
        return fast_negation(parts.parsed_core) if self.contractions else None

    def negate(self, question: str) -> NegationResult:
        return self.negate_many([question])[0]

    def negate_many(
        self, questions: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[NegationResult]:
        """Results in input order. `progress(n)` is called as questions are settled."""
        parts = [split_question(q) for q in questions]
        results: list[NegationResult | None] = [self._without_parse(p) for p in parts]
        if progress is not None:
            progress(sum(r is not None for r in results))
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            self.parsed += len(todo)
            # datasets repeat questions (templates, copies): each distinct text is parsed once
            by_text: dict[str, list[int]] = {}
            for i in todo:
                by_text.setdefault(parts[i].parsed_core, []).append(i)
            docs = self.nlp.pipe(by_text, batch_size=self.batch_size)
            for (core, same), doc in zip(by_text.items(), docs):
                result = negate_doc(doc, core, self.contractions)
                if result.status == ALREADY_NEGATIVE and self.already_negative == AFFIRM:
                    result = affirm_doc(doc, core)
                for i in same:
                    results[i] = result
                if progress is not None:
                    progress(len(same))
        return [
            NegationResult(p.question, p.assemble(r.negated) if r.ok else None, r.status, r.reason)
            for p, r in zip(parts, results)
        ]

    def is_negative(self, questions: Iterable[str]) -> list[bool]:
        """Whether each question's main clause is negated ("why didn't …", "which is not …")."""
        out = []
        for doc in self.nlp.pipe((split_question(q).parsed_core for q in questions), batch_size=self.batch_size):
            words = [t for t in doc if not (t.is_punct or t.is_space)]
            if not words:
                out.append(False)
                continue
            root = words[0].sent.root
            finite, _ = finite_element(doc, words[0].i, root)
            out.append(main_clause_negative(doc, root, words[0].i, finite.i if finite is not None else None))
        return out
