"""The report of one QAI conversion (`qai convert --report`): what happened to each record, counted, and read back
for dataset cards (`twgrpo_data.hub.cards.load_report`) and the audit page (`twgrpo_data.qai.report_html`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import twgrpo_version
from ..errors import InputFormatError
from ..io.json_text import parse_json, read_text
from .negate import NEGATION, TEMPLATE

# "negated" counts every inverted record, whichever strategy rewrote its question (`strategies` splits it).
COUNT_KEYS = ("negated", "not_selected", "unnegatable", "already_negative", "already_multi", "skipped_invalid")
# an already-negative question inverted by removing its negation (`Negator(already_negative="affirm")`)
AFFIRMATION = "affirmation"
STRATEGIES = (NEGATION, TEMPLATE, AFFIRMATION)


@dataclass
class QaiReport:
    """What a conversion did; `to_dict` gives the `--report` JSON and `load` reads one back (the dataset
    card uses it: `twgrpo_data.hub.cards.load_report`)."""

    n_records: int = 0
    seed: int = 0
    ratio: float = 0.5
    min_keep: int = 1
    fallback: str = "none"
    why: str = "negate"
    counts: Counter = field(default_factory=Counter)
    unnegatable_reasons: Counter = field(default_factory=Counter)
    negation_rules: Counter = field(default_factory=Counter)
    strategies: Counter = field(default_factory=Counter)
    template_reasons: Counter = field(default_factory=Counter)
    answer_count_histogram: Counter = field(default_factory=Counter)
    option_count_histogram: Counter = field(default_factory=Counter)
    parsed_questions: int = 0
    model: dict[str, str] = field(default_factory=dict)
    input: str | None = None
    output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    twgrpo_version: str | None = field(default_factory=twgrpo_version)
    file: str | None = None  # the report file's name, when read back with `load`
    # each converted record's (status, reason): a count key, and the refusal reason or the negation rule (None
    # for the others); not part of the JSON, it lets the HTML page list outcomes without converting again
    outcomes: list[tuple[str, str | None]] = field(default_factory=list, repr=False)

    @property
    def spacy_model(self) -> str | None:
        return self.model.get("spacy_model")

    @property
    def spacy_model_version(self) -> str | None:
        return self.model.get("spacy_model_version")

    @property
    def spacy_version(self) -> str | None:
        return self.model.get("spacy_version")

    @classmethod
    def load(cls, path: str | Path) -> QaiReport:
        """Read a `--report` JSON; a file that is not one raises `InputFormatError` naming the file."""
        import json

        p = Path(path)
        try:
            raw = parse_json(read_text(p), p)  # one line for a missing, non-UTF-8 or too deeply nested file
        except json.JSONDecodeError as exc:
            raise InputFormatError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("counts"), dict)
            or not isinstance(raw.get("n_records"), int)
        ):
            raise InputFormatError(
                f"{p}: not a QAI report (expected an object with 'n_records' and 'counts', "
                "as written by `twgrpo qai convert --report`)"
            )

        def counter(key: str) -> Counter:
            return Counter({str(k): int(v) for k, v in (raw.get(key) or {}).items()})

        known = {f for f in cls.__dataclass_fields__} | {"spacy_model", "spacy_model_version", "spacy_version"}
        return cls(
            n_records=raw["n_records"],
            seed=raw.get("seed"),
            ratio=raw.get("ratio"),
            min_keep=raw.get("min_keep"),
            fallback=raw.get("fallback", "none"),
            why=raw.get("why", "negate"),
            counts=counter("counts"),
            unnegatable_reasons=Counter(dict(sorted(counter("unnegatable_reasons").items(), key=lambda kv: -kv[1]))),
            negation_rules=counter("negation_rules"),
            strategies=counter("strategies"),
            template_reasons=counter("template_reasons"),
            answer_count_histogram=counter("answer_count_histogram"),
            option_count_histogram=counter("option_count_histogram"),
            parsed_questions=raw.get("parsed_questions", 0),
            model={k: raw[k] for k in ("spacy_model", "spacy_model_version", "spacy_version") if raw.get(k)},
            input=raw.get("input"),
            output=raw.get("output"),
            twgrpo_version=raw.get("twgrpo_version"),
            extra={k: v for k, v in raw.items() if k not in known},
            file=p.name,
        )

    def to_dict(self) -> dict[str, Any]:
        def histogram(c: Counter) -> dict[str, int]:
            return {str(k): c[k] for k in sorted(c)}

        out: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "n_records": self.n_records,
            "seed": self.seed,
            "ratio": self.ratio,
            "min_keep": self.min_keep,
            "fallback": self.fallback,
            "why": self.why,
            "counts": {k: self.counts.get(k, 0) for k in COUNT_KEYS},
            "unnegatable_reasons": dict(sorted(self.unnegatable_reasons.items())),
            "negation_rules": dict(sorted(self.negation_rules.items())),
            "strategies": {k: self.strategies.get(k, 0) for k in STRATEGIES},
            "template_reasons": dict(sorted(self.template_reasons.items())),
            "answer_count_histogram": histogram(self.answer_count_histogram),
            "option_count_histogram": histogram(self.option_count_histogram),
            "parsed_questions": self.parsed_questions,
            "spacy_model": self.model.get("spacy_model"),
            "spacy_model_version": self.model.get("spacy_model_version"),
            "spacy_version": self.model.get("spacy_version"),
            "twgrpo_version": self.twgrpo_version,
        }
        out.update(self.extra)
        return out

    def check_totals(self) -> None:
        """The counts must add up: outcomes to the records, reasons to the refusals, strategies to the
        inverted records. A mismatch is a bug, never a number to print."""
        c = self.counts
        outcomes = sum(c[k] for k in COUNT_KEYS if k != "skipped_invalid")
        problems = [
            f"{name}: {got} != {want}"
            for name, got, want in (
                ("outcomes vs records", outcomes, self.n_records),
                ("unnegatable reasons vs unnegatable", sum(self.unnegatable_reasons.values()), c["unnegatable"]),
                ("strategies vs negated", sum(self.strategies.values()), c["negated"]),
                ("template reasons vs template", sum(self.template_reasons.values()), self.strategies[TEMPLATE]),
            )
            if got != want
        ]
        if problems:
            raise AssertionError("QAI report does not add up: " + "; ".join(problems))
