"""What negating one question can end in: a status, a reason (the refusal, or the rule applied) and the text."""

from __future__ import annotations

from dataclasses import dataclass

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
    "coordinated_question",
    "instruction",
    "indirect_question",
    "not_a_question",
    "no_main_verb",
    "parse_failed",
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


def refused(question: str, reason: str, status: str = UNNEGATABLE) -> NegationResult:
    """The result for a question that is not negated."""
    return NegationResult(question, None, status, reason)
