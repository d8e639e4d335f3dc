"""`twgrpo qai …` commands: Question-Answer Inversion and question negation."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from twgrpo_data.errors import InputFormatError
from twgrpo_data.garbage_collection import gc_paused
from twgrpo_data.outputs import HTML_PAGE, REPORT, OutputSpec, default_output_name, default_output_path, records_spec
from twgrpo_data.qai.convert_file import ConvertSettings
from twgrpo_data.qai.invert import FALLBACKS, WHY_MODES
from twgrpo_data.qai.negate import ALREADY_NEGATIVE_MODES
from twgrpo_data.sources import input_formats

from .options import (
    choices,
    config_options,
    deprecated_output,
    judge_api_key_param,
    option_param,
    out_help,
    output_path,
    with_options,
)
from .output import console, err_console, print_json, status
from .progress import Reporter

app = typer.Typer(help="Question-Answer Inversion: negate questions and invert their answers.", no_args_is_help=True)

_SUFFIX = {"json": ".json", "jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}
FromFormat = choices("FromFormat", input_formats())
ToFormat = choices("ToFormat", _SUFFIX)
FallbackChoice = Literal[FALLBACKS]  # type: ignore[valid-type]
WhyChoice = Literal[WHY_MODES]  # type: ignore[valid-type]
AlreadyNegativeChoice = Literal[ALREADY_NEGATIVE_MODES]  # type: ignore[valid-type]


# `qai convert`'s options besides the conversion's settings (`ConvertSettings`): its files and formats, …
_CONVERT_FILES = [
    option_param(
        "input",
        Path,
        typer.Argument(
            ...,
            help="NExT-GQA/NExT-QA/STAR native file, unified JSON, records, parquet, HF "
            "folder, or a Hub dataset (OWNER/NAME, hf://datasets/OWNER/NAME/PATH).",
        ),
    ),
    option_param(
        "output",
        str | None,
        typer.Option(
            None,
            "-o",
            "--out",
            help=out_help(
                "Output: .json (unified), .jsonl (records), .parquet, or no suffix for an HF dataset folder "
                "(default: <input name>.qai.json beside the input; the input itself is never overwritten)."
            ),
        ),
    ),
    option_param("old_output", str | None, typer.Option(None, "--output", hidden=True)),
    option_param("from_", FromFormat, typer.Option("auto", "--from", help="Input format.")),
    option_param(
        "to",
        ToFormat | None,
        typer.Option(None, "--to", help="Output format: json (unified), jsonl, parquet, hf; default from -o."),
    ),
]
# what is checked and written besides the records, …
_CONVERT_CHECKS = [
    option_param(
        "report_path",
        str | None,
        typer.Option(
            None,
            "--report",
            help=out_help("Write the report JSON (.json) here; checked before anything is written."),
        ),
    ),
    option_param(
        "skip_invalid",
        bool,
        typer.Option(False, "--skip-invalid", help="Skip invalid records (listed in the report) instead of stopping."),
    ),
]
# the judge of `--meaning-check llm`, …
_CONVERT_JUDGE = [
    option_param(
        "judge_model",
        str | None,
        typer.Option(None, "--judge-model", help="--meaning-check llm: the served model."),
    ),
    option_param(
        "judge_api_base",
        str,
        typer.Option("http://127.0.0.1:8000/v1", "--judge-api-base", help="--meaning-check llm: the server URL."),
    ),
    judge_api_key_param("--meaning-check llm: API key (default: $OPENAI_API_KEY); never written or printed"),
]
# and what to compare and print
_CONVERT_OUTPUTS = [
    option_param(
        "compare",
        Path | None,
        typer.Option(None, "--compare", help="Official TW-GRPO QAI output to check for label noise."),
    ),
    option_param("as_json", bool, typer.Option(False, "--json", help="Print the report as JSON on stdout.")),
    option_param(
        "html",
        str | None,
        typer.Option(None, "--html", help=out_help("Also write an HTML page (.html) to audit the conversion.")),
    ),
    option_param(
        "allow_empty",
        bool,
        typer.Option(
            False, "--allow-empty", help="Write an empty output when the input has no records (default: exit 1)."
        ),
    ),
]


def _convert_params() -> list:
    """`qai convert`'s options in the order `--help` lists them: files and formats, the first settings, the checks,
    the other settings, the judge of `--meaning-check llm`, what to print."""
    settings = {p.name: p for p in config_options(ConvertSettings)}
    first = [settings.pop(name) for name in ("ratio", "seed", "min_keep")]
    return _CONVERT_FILES + first + _CONVERT_CHECKS + list(settings.values()) + _CONVERT_JUDGE + _CONVERT_OUTPUTS


@app.command("convert")
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
@with_options(_convert_params())
def convert_cmd(ctx: typer.Context, **options: Any) -> None:
    """Invert a dataset: negate questions, invert answers, drop some new gold options, shuffle.

    Example: twgrpo qai convert ../shared/data/nextgqa_val.json -o nextgqa_val_qai.json --seed 0 --report report.json
    """
    from dataclasses import fields

    from twgrpo_data.qai.convert_file import convert_file

    settings = ConvertSettings(**{f.name: options[f.name] for f in fields(ConvertSettings)})
    if settings.meaning_check == "llm" and not options["judge_model"]:
        raise typer.BadParameter("--meaning-check llm needs --judge-model", param_hint="--judge-model")
    output, report_path, html = _convert_outputs(options)
    verifier = _llm_verifier(options) if settings.meaning_check == "llm" else None
    try:
        done = convert_file(
            options["input"],
            output,
            settings,
            fmt=options["from_"].value,
            to=options["to"].value if options["to"] is not None else "auto",
            skip_invalid=options["skip_invalid"],
            allow_empty=options["allow_empty"],
            compare=options["compare"],
            meaning=verifier,
            report_path=report_path,
            html=html,
            progress=Reporter(err_console),
            status=status,
        )
    finally:
        if verifier is not None:
            verifier.close()
    if options["as_json"]:
        print_json(done.report)
    else:
        _print_report(done.report)
    if done.html is not None:
        err_console.print(f"wrote {escape(str(done.html))}")


def _convert_outputs(options: dict[str, Any]) -> tuple[Path, Path | None, Path | None]:
    """`-o`, `--report` and `--html` under the output-path policy, and `--to` checked against `-o`'s suffix: all
    before anything is read."""
    from twgrpo_data.io.writers import output_format

    source, compare = options["input"], options["compare"]
    to_fmt = options["to"].value if options["to"] is not None else None
    suffix = _SUFFIX[to_fmt or "json"]
    output = output_path(
        deprecated_output(options["output"], options["old_output"]) or default_output_path(source, "qai", suffix),
        records_spec(default_output_name(source, "qai", suffix)),
        inputs=[source, compare],
        folder=True if to_fmt == "hf" else None,
    )
    output_format(output, to_fmt or "auto")  # `--to parquet -o x.json` is refused before any work
    report_path, html = options["report_path"], options["html"]
    if report_path is not None:
        report_path = output_path(report_path, REPORT, inputs=[source, compare, output], option="--report")
    if html is not None:
        html = output_path(html, HTML_PAGE, inputs=[source, compare, output, report_path], option="--html")
    return output, report_path, html


@app.command("report")
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
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
    from twgrpo_data.qai.report_html import qai_page_from_file

    target = output_path(
        out if out is not None else report_or_output.with_suffix(".html"), HTML_PAGE, inputs=[report_or_output]
    )
    path = write_page(
        target,
        qai_page_from_file(
            report_or_output, input=input, output=converted, max_items=max_items, progress=Reporter(err_console)
        ),
    )
    err_console.print(f"wrote {escape(str(path))}")


def _llm_verifier(options: dict[str, Any]):
    """The verifier of `--meaning-check llm` (it checks its server before anything is read)."""
    from twgrpo_eval.meaning_judge import LLMVerifier

    return LLMVerifier(options["judge_model"], api_base=options["judge_api_base"], api_key=options["judge_api_key"])


def _print_report(data: dict) -> None:
    # the paths on a line of their own: as the table's title they would be folded to its width
    console.print(escape(f"QAI: {data['input']} → {data['output']}"), soft_wrap=True)
    table = Table(show_header=True)
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
        from twgrpo_data.io.json_text import read_json_objects

        if not path.is_file():
            raise InputFormatError(f"{path}: no such file")
        questions = []
        for index, obj in enumerate(read_json_objects(path)):
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise InputFormatError(f"{path}: record {index}, field 'question': missing or not a string")
            questions.append(obj["question"])
        return questions
    from twgrpo_data.io.json_text import read_text

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
    fallback: FallbackChoice = typer.Option(
        "none", "--fallback", help="For questions negation refuses: none | template (as `qai convert`)."
    ),
    why: WhyChoice = typer.Option("negate", "--why", help="Why-questions: negate | template (as `qai convert`)."),
    already_negative: AlreadyNegativeChoice = typer.Option(
        "refuse", "--already-negative", help="Already-negative questions: refuse | affirm (remove the negation)."
    ),
) -> None:
    """Negate questions: one JSON line per question, in order ({question, negated, status, reason}; a rewrite
    other than negation also names its strategy).

    Example: printf 'who picked up the ball\\nhow did the boy react\\n' | twgrpo qai negate -
    """
    from twgrpo_data.outputs import atomic_write_text
    from twgrpo_data.qai.invert import negate_lines
    from twgrpo_data.qai.negate import Negator

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
