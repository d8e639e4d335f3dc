"""`twgrpo qai …` commands: Question-Answer Inversion and question negation."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from twgrpo_data.errors import InputFormatError
from twgrpo_data.invert import input_formats
from twgrpo_data.outputs import HTML_PAGE, REPORT, OutputSpec, default_output_name, default_output_path, records_spec

from .options import choices, deprecated_output, out_help, output_path
from .output import console, err_console, print_json, status
from .progress import Reporter

app = typer.Typer(help="Question-Answer Inversion: negate questions and invert their answers.", no_args_is_help=True)

_SUFFIX = {"json": ".json", "jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}
FromFormat = choices("FromFormat", input_formats())
ToFormat = choices("ToFormat", _SUFFIX)


@app.command("convert")
def convert_cmd(
    input: Path = typer.Argument(
        ...,
        help="NExT-GQA/NExT-QA/STAR native file, unified JSON, records, parquet, HF "
        "folder, or a Hub dataset (OWNER/NAME, hf://datasets/OWNER/NAME/PATH).",
    ),
    output: str | None = typer.Option(
        None,
        "-o",
        "--out",
        help=out_help(
            "Output: .json (unified), .jsonl (records), .parquet, or no suffix for an HF dataset folder "
            "(default: <input name>.qai.json beside the input; the input itself is never overwritten)."
        ),
    ),
    old_output: str | None = typer.Option(None, "--output", hidden=True),
    from_: FromFormat = typer.Option("auto", "--from", help="Input format."),
    to: ToFormat | None = typer.Option(
        None, "--to", help="Output format: json (unified), jsonl, parquet, hf; default from -o."
    ),
    ratio: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Probability that a single-answer record is selected for inversion."
    ),
    seed: int = typer.Option(0, help="Seed; each record's draws come from (seed, record id)."),
    min_keep: int = typer.Option(1, "--min-keep", min=0, help="Correct options that always stay after removal."),
    report_path: str | None = typer.Option(
        None, "--report", help=out_help("Write the report JSON (.json) here; checked before anything is written.")
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip invalid records (listed in the report) instead of stopping."
    ),
    contractions: bool = typer.Option(True, "--contractions/--no-contractions", help='"didn\'t" or "did … not".'),
    fallback: str = typer.Option(
        "none",
        "--fallback",
        help="For questions negation refuses: none (the paper's "
        'convention) | template ("Which option is NOT a correct answer to the question: Q?").',
    ),
    why: str = typer.Option(
        "negate", "--why", help="Why-questions: negate (\"why didn't …\", the paper's) | template."
    ),
    already_negative: str = typer.Option(
        "refuse",
        "--already-negative",
        help='Already-negative questions: refuse | affirm (invert by removing the negation: "which tool is not '
        'used" → "which tool is used").',
    ),
    meaning_check: str = typer.Option(
        "local",
        "--meaning-check",
        help="Wrong options that mean the same as the answer, judged before inversion: local (same text, "
        "inflection, misspelling) | llm (also paraphrases, via an OpenAI-compatible server) | none.",
    ),
    same_meaning: str = typer.Option(
        "drop", "--same-meaning", help="An option of the answer's meaning: drop it | refuse the record."
    ),
    judge_model: str | None = typer.Option(None, "--judge-model", help="--meaning-check llm: the served model."),
    judge_api_base: str = typer.Option(
        "http://127.0.0.1:8000/v1", "--judge-api-base", help="--meaning-check llm: the server URL."
    ),
    judge_api_key: str | None = typer.Option(
        None,
        "--judge-api-key",
        show_default=False,
        help="--meaning-check llm: API key (default: $OPENAI_API_KEY); never written or printed",
    ),
    compare: Path | None = typer.Option(
        None, "--compare", help="Official TW-GRPO QAI output to check for label noise."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    html: str | None = typer.Option(
        None, "--html", help=out_help("Also write an HTML page (.html) to audit the conversion.")
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Write an empty output when the input has no records (default: exit 1)."
    ),
) -> None:
    """Invert a dataset: negate questions, invert answers, drop some new gold options, shuffle.

    Example: twgrpo qai convert ../shared/data/nextgqa_val.json -o nextgqa_val_qai.json --seed 0 --report report.json
    """
    from twgrpo_data.formats import output_format, write_records
    from twgrpo_data.invert import FALLBACKS, WHY_MODES, compare_official, convert, load_input
    from twgrpo_data.negate import ALREADY_NEGATIVE_MODES, Negator
    from twgrpo_data.same_meaning import SAME_MEANING_ACTIONS

    to_fmt = to.value if to is not None else None
    suffix = _SUFFIX[to_fmt or "json"]
    default_name = default_output_name(input, "qai", suffix)
    output = output_path(
        deprecated_output(output, old_output) or default_output_path(input, "qai", suffix),
        records_spec(default_name),
        inputs=[input, compare],
        folder=True if to_fmt == "hf" else None,
    )
    output_format(output, to_fmt or "auto")  # `--to parquet -o x.json` is refused before any work
    if report_path is not None:
        report_path = output_path(report_path, REPORT, inputs=[input, compare, output], option="--report")
    if html is not None:
        html = output_path(html, HTML_PAGE, inputs=[input, compare, output, report_path], option="--html")
    _check_choices(
        ("--fallback", fallback, FALLBACKS),
        ("--why", why, WHY_MODES),
        ("--already-negative", already_negative, ALREADY_NEGATIVE_MODES),
        ("--meaning-check", meaning_check, MEANING_CHECKS),
        ("--same-meaning", same_meaning, SAME_MEANING_ACTIONS),
    )
    if meaning_check == "llm" and not judge_model:
        raise typer.BadParameter("--meaning-check llm needs --judge-model", param_hint="--judge-model")
    with status(f"reading and validating {input}"):
        loaded = load_input(input, from_.value, skip_invalid=skip_invalid)
        official = load_input(compare, "auto").records if compare is not None else None  # every input read first
    if not loaded.records and not allow_empty:
        skipped = sum(loaded.skipped.values())
        raise InputFormatError(
            f"{input}: no records to convert"
            + (f" ({skipped} skipped as invalid)" if skipped else "")
            + "; pass --allow-empty to write an empty output"
        )
    negator = Negator(contractions=contractions, already_negative=already_negative)
    verifier = _verifier(meaning_check, judge_model, judge_api_base, judge_api_key)
    try:
        with Reporter(err_console).task("inverting", total=len(loaded.records)) as task:
            records, report = convert(
                loaded.records,
                ratio,
                seed,
                min_keep,
                negator=negator,
                progress=task.advance,
                fallback=fallback,
                why=why,
                meaning=verifier,
                same_meaning=same_meaning,
            )
    finally:
        if hasattr(verifier, "close"):
            verifier.close()
    report.counts["skipped_invalid"] = sum(loaded.skipped.values())
    if skip_invalid:
        report.extra["skipped_records"] = [p.to_dict() for p in loaded.errors]
    report.input, report.output = str(input), str(output)
    if official is not None:
        with status(f"checking the official output {compare}"):
            report.extra["label_noise_in_official"] = compare_official(official, loaded.records, negator)
    with status(f"writing {output}"):
        written = write_records(records, output, to_fmt or "auto")
    report.extra["output_format"] = written
    data = report.to_dict()
    if report_path is not None:
        from twgrpo_data.outputs import atomic_write_json

        with status(f"writing {report_path}"):
            atomic_write_json(report_path, data)
    if as_json:
        print_json(data)
    else:
        _print_report(data)
    if html is not None:
        from twgrpo_data.html_page import write_page
        from twgrpo_data.qai_report_html import build_qai_page, outcomes_by_id

        with status(f"writing {html}"):
            page = build_qai_page(
                data, loaded.records, records, outcomes=outcomes_by_id(records, report), source=str(input)
            )
            written_page = write_page(html, page)
        err_console.print(f"wrote {written_page}")


@app.command("report")
def report_cmd(
    report_or_output: Path = typer.Argument(
        ...,
        help="A `qai convert --report` JSON (its input and output files are read when they lie in its folder) or a QAI "
        "output file.",
    ),
    out: str | None = typer.Option(
        None, "-o", "--out", help=out_help("HTML file to write (default: beside the input, NAME.html).")
    ),
    max_items: int = typer.Option(2000, "--max-items", help="Rewritten records and refusals listed on the page."),
    input: Path | None = typer.Option(
        None, "--input", help="The conversion's input file (default: the one the report names, in its folder)."
    ),
    converted: Path | None = typer.Option(
        None, "--converted", help="The conversion's output file (default: the one the report names, in its folder)."
    ),
) -> None:
    """Write one self-contained HTML page to audit a conversion: counts, original → rewritten, refusals.

    Only files in the report's folder, or given here, are read (a report file is often someone else's).

    Example: twgrpo qai report report.json -o qai.html --input ../data/val.json
    """
    from twgrpo_data.html_page import write_page
    from twgrpo_data.qai_report_html import qai_page_from_file

    target = output_path(
        out if out is not None else report_or_output.with_suffix(".html"), HTML_PAGE, inputs=[report_or_output]
    )
    path = write_page(
        target,
        qai_page_from_file(
            report_or_output, input=input, output=converted, max_items=max_items, progress=Reporter(err_console)
        ),
    )
    err_console.print(f"wrote {path}")


MEANING_CHECKS = ("local", "llm", "none")


def _check_choices(*checks: tuple[str, str, tuple[str, ...]]) -> None:
    for option, value, allowed in checks:
        if value not in allowed:
            raise typer.BadParameter(f"{value!r}; expected one of {', '.join(allowed)}", param_hint=option)


def _verifier(kind: str, model: str | None, api_base: str, api_key: str | None):
    """The meaning verifier `--meaning-check` names (the LLM one checks its server before anything is read)."""
    if kind == "none":
        return None
    if kind == "local":
        from twgrpo_data.invert import LOCAL_VERIFIER

        return LOCAL_VERIFIER
    from twgrpo_eval.meaning_judge import LLMVerifier

    return LLMVerifier(model, api_base=api_base, api_key=api_key)


def _print_report(data: dict) -> None:
    table = Table(title=f"QAI: {data['input']} → {data['output']}", show_header=True)
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for key, n in data["counts"].items():
        table.add_row(key.replace("_", " "), str(n))
    for strategy, n in data["strategies"].items():
        table.add_row(f"  negated by {strategy}", str(n))
    for reason, n in data["template_reasons"].items():
        table.add_row(f"    template for: {reason}", str(n))
    for reason, n in data["unnegatable_reasons"].items():
        table.add_row(f"  unnegatable: {reason}", str(n))
    table.add_row("total", str(data["n_records"]), end_section=True)
    console.print(table)
    console.print("answers per record: " + ", ".join(f"{k}: {v}" for k, v in data["answer_count_histogram"].items()))
    console.print("options per record: " + ", ".join(f"{k}: {v}" for k, v in data["option_count_histogram"].items()))
    console.print(
        f"seed {data['seed']}, ratio {data['ratio']}, min-keep {data['min_keep']}, fallback {data['fallback']}, "
        f"why {data['why']}; "
        f"spaCy {data['spacy_version']} {data['spacy_model']} {data['spacy_model_version']}"
    )
    noise = data.get("label_noise_in_official")
    if noise:
        console.print(
            f"official output: {noise['label_noise']} of {noise['marked_negated']} records marked negated "
            f"have a question that is not a negation ({noise['label_noise_unchanged_question']} unchanged); "
            f"{sum(noise['negated_but_unsound'].values())} more are negations we refuse "
            f"({', '.join(f'{k}: {v}' for k, v in noise['negated_but_unsound'].items())})"
        )


def _read_questions(path: Path) -> list[str]:
    """A .jsonl file with a "question" per line, or plain text with one question a line ('-' = stdin)."""
    if path.suffix == ".jsonl":
        from twgrpo_data.formats import read_json_objects

        if not path.is_file():
            raise InputFormatError(f"{path}: no such file")
        questions = []
        for index, obj in enumerate(read_json_objects(path)):
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise InputFormatError(f"{path}: record {index}, field 'question': missing or not a string")
            questions.append(obj["question"])
        return questions
    from twgrpo_data.formats import read_text

    text = sys.stdin.read() if str(path) == "-" else read_text(path)
    lines = [line for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # stdin decoded with surrogateescape: bytes that are not UTF-8
            raise InputFormatError(f"stdin: question {number} is not UTF-8 text; save it as UTF-8") from None
    return lines


@app.command("negate")
def negate_cmd(
    input: Path = typer.Argument(
        ..., help="Text file (one question a line), .jsonl with \"question\", or '-' for stdin."
    ),
    output: str | None = typer.Option(
        None,
        "-o",
        "--out",
        help=out_help(
            "Write JSON lines (.jsonl) here instead of stdout ('-'; default name: <input name>.negated.jsonl)."
        ),
    ),
    old_output: str | None = typer.Option(None, "--output", hidden=True),
    contractions: bool = typer.Option(True, "--contractions/--no-contractions", help='"didn\'t" or "did … not".'),
    fallback: str = typer.Option(
        "none", "--fallback", help="For questions negation refuses: none | template (as `qai convert`)."
    ),
    why: str = typer.Option("negate", "--why", help="Why-questions: negate | template (as `qai convert`)."),
    already_negative: str = typer.Option(
        "refuse", "--already-negative", help="Already-negative questions: refuse | affirm (remove the negation)."
    ),
) -> None:
    """Negate questions: one JSON line per question, in order ({question, negated, status, reason}; a rewrite
    other than negation also names its strategy).

    Example: printf 'who picked up the ball\\nhow did the boy react\\n' | twgrpo qai negate -
    """
    from twgrpo_data.invert import FALLBACKS, WHY_MODES, negate_lines
    from twgrpo_data.negate import ALREADY_NEGATIVE_MODES, Negator
    from twgrpo_data.outputs import atomic_write_text

    output = deprecated_output(output, old_output)
    if output == "-":
        output = None  # standard output, as without -o
    if output is not None:
        default_name = default_output_name("questions" if str(input) == "-" else input, "negated", ".jsonl")
        output = output_path(
            output,
            OutputSpec("negations", (".jsonl",), default_name=default_name),
            inputs=[] if str(input) == "-" else [input],
        )
    _check_choices(
        ("--fallback", fallback, FALLBACKS),
        ("--why", why, WHY_MODES),
        ("--already-negative", already_negative, ALREADY_NEGATIVE_MODES),
    )
    questions = _read_questions(input)
    if not questions:
        raise InputFormatError(f"{'stdin' if str(input) == '-' else input}: no questions")
    negator = Negator(contractions=contractions, already_negative=already_negative)
    with Reporter(err_console).task("negating", total=len(questions)) as task:
        results = negate_lines(questions, negator, fallback=fallback, why=why, progress=task.advance)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if output is None:
        sys.stdout.write(lines)
    else:
        atomic_write_text(output, lines)
    # per-status counts on stderr, so that stdout stays one JSON line per question
    counts = Counter(
        (r.get("strategy") or r["status"]) if r["status"] == "negated" else f"{r['status']} ({r['reason']})"
        for r in results
    )
    err_console.print(
        f"{len(results)} questions → {output or 'stdout'}: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
        soft_wrap=True,
    )
