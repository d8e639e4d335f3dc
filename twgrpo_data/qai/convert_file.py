"""`twgrpo qai convert` as one call: read a dataset, invert it (`twgrpo_data.qai.invert.convert`), write the records,
the report and the audit page.

`ConvertSettings` holds what a conversion is asked to do; its fields' metadata carry the help, choices and bounds
of `qai convert`'s options, which the CLI builds from them (as `twgrpo eval`'s come from `EvalConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFormatError
from ..io.writers import write_records
from ..outputs import atomic_write_json
from ..progress import SILENT, Progress, Status, no_status
from ..record import Record
from ..sources import open_input
from .invert import FALLBACKS, LOCAL_VERIFIER, WHY_MODES, compare_official, convert
from .negate import ALREADY_NEGATIVE_MODES, Negator
from .same_meaning import SAME_MEANING_ACTIONS, MeaningVerifier

MEANING_CHECKS = ("local", "llm", "none")


def _option(help: str, **cli: Any) -> dict[str, Any]:
    """The metadata of a field that is a `qai convert` option (listed in its one panel)."""
    return {"help": help, "panel": None, **cli}


@dataclass
class ConvertSettings:
    """What a QAI conversion does (the paper's convention by default: negation only, why-questions negated)."""

    ratio: float = field(
        default=0.5,
        metadata=_option("Probability that a single-answer record is selected for inversion.", min=0.0, max=1.0),
    )
    seed: int = field(default=0, metadata=_option("Seed; each record's draws come from (seed, record id)."))
    min_keep: int = field(default=1, metadata=_option("Correct options that always stay after removal.", min=0))
    contractions: bool = field(
        default=True,
        metadata=_option('"didn\'t" or "did … not".', flags=("--contractions/--no-contractions",)),
    )
    fallback: str = field(
        default="none",
        metadata=_option(
            "For questions negation refuses: none (the paper's convention) | template (\"Which option is NOT a "
            'correct answer to the question: Q?").',
            choices=FALLBACKS,
        ),
    )
    why: str = field(
        default="negate",
        metadata=_option("Why-questions: negate (\"why didn't …\", the paper's) | template.", choices=WHY_MODES),
    )
    already_negative: str = field(
        default="refuse",
        metadata=_option(
            'Already-negative questions: refuse | affirm (invert by removing the negation: "which tool is not '
            'used" → "which tool is used").',
            choices=ALREADY_NEGATIVE_MODES,
        ),
    )
    meaning_check: str = field(
        default="local",
        metadata=_option(
            "Wrong options that mean the same as the answer, judged before inversion: local (same text, "
            "inflection, misspelling) | llm (also paraphrases, via an OpenAI-compatible server) | none.",
            choices=MEANING_CHECKS,
        ),
    )
    same_meaning: str = field(
        default="drop",
        metadata=_option(
            "An option of the answer's meaning: drop it | refuse the record.", choices=SAME_MEANING_ACTIONS
        ),
    )

    def negator(self) -> Negator:
        return Negator(contractions=self.contractions, already_negative=self.already_negative)


@dataclass
class ConvertedFile:
    """What `convert_file` did: the report (its `--report` JSON), the records read and the records written."""

    report: dict[str, Any]
    originals: list[Record]
    records: list[Record]
    html: Path | None = None


def convert_file(
    input: str | Path,
    output: str | Path,
    settings: ConvertSettings,
    *,
    fmt: str = "auto",
    to: str = "auto",
    skip_invalid: bool = False,
    allow_empty: bool = False,
    compare: str | Path | None = None,
    meaning: MeaningVerifier | None = None,
    report_path: str | Path | None = None,
    html: str | Path | None = None,
    progress: Progress = SILENT,
    status: Status = no_status,
) -> ConvertedFile:
    """Invert the dataset `input` (any input QAI reads, `fmt`) into `output` (format `to`, else by its suffix);
    write the report to `report_path` and the audit page to `html` when given. Every input (`compare`, an
    official QAI file to check for label noise, too) is read before anything is written; an input without
    records stops unless `allow_empty`. `meaning` is the verifier for `settings.meaning_check == "llm"` (the
    caller's: it needs `twgrpo_eval`); `status(message)` wraps each slow step.

    Example:
        >>> convert_file("nextgqa_val.json", "qai.json", ConvertSettings(seed=0))   # doctest: +SKIP
    """
    with status(f"reading and validating {input}"):
        loaded = open_input(input, fmt).raise_or_skip(skip_invalid)
        official = open_input(compare).raise_or_skip(False).records if compare is not None else None  # inputs first
    if not loaded.records and not allow_empty:
        skipped = sum(loaded.skipped.values())
        raise InputFormatError(
            f"{input}: no records to convert"
            + (f" ({skipped} skipped as invalid)" if skipped else "")
            + "; pass --allow-empty to write an empty output"
        )
    negator = settings.negator()
    with progress.task("inverting", total=len(loaded.records)) as task:
        records, report = convert(
            loaded.records,
            settings.ratio,
            settings.seed,
            settings.min_keep,
            negator=negator,
            progress=task.advance,
            fallback=settings.fallback,
            why=settings.why,
            meaning={"local": LOCAL_VERIFIER, "none": None}.get(settings.meaning_check, meaning),
            same_meaning=settings.same_meaning,
        )
    report.counts["skipped_invalid"] = sum(loaded.skipped.values())
    if skip_invalid:
        report.extra["skipped_records"] = [p.to_dict() for p in loaded.errors]
    report.input, report.output = str(input), str(output)
    if official is not None:
        with status(f"checking the official output {compare}"):
            report.extra["label_noise_in_official"] = compare_official(official, loaded.records, negator)
    with status(f"writing {output}"):
        report.extra["output_format"] = write_records(records, output, to)
    data = report.to_dict()
    if report_path is not None:
        with status(f"writing {report_path}"):
            atomic_write_json(report_path, data)
    done = ConvertedFile(data, loaded.records, records)
    if html is not None:
        from ..html_page import write_page
        from .report_html import build_qai_page, outcomes_by_id

        with status(f"writing {html}"):
            page = build_qai_page(
                data, loaded.records, records, outcomes=outcomes_by_id(records, report), source=str(input)
            )
            done.html = write_page(html, page)
    return done
