"""`twgrpo qai …` commands: Question-Answer Inversion and question negation."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twgrpo_data.errors import InputFormatError, TwgrpoError

app = typer.Typer(help="Question-Answer Inversion: negate questions and invert their answers.",
                  no_args_is_help=True)
console = Console(stderr=True, highlight=False)

_SUFFIX = {"json": ".json", "jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


@app.command("convert")
def convert_cmd(
    input: Path = typer.Argument(..., help="NExT-GQA/NExT-QA/STAR native file, unified JSON, records, parquet or HF folder."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output path (default: ./<input>.qai.<ext>)."),
    from_: str = typer.Option("auto", "--from", help="Input format: auto|nextgqa|star|csv|unified|records|parquet|hf."),
    to: Optional[str] = typer.Option(None, "--to", help="Output format: json (unified) | jsonl | parquet | hf; default from -o."),
    ratio: float = typer.Option(0.5, help="Probability that a single-answer record is selected for inversion."),
    seed: int = typer.Option(0, help="Seed; each record's draws come from (seed, record id)."),
    min_keep: int = typer.Option(1, "--min-keep", help="Correct options that always stay after removal."),
    report_path: Optional[Path] = typer.Option(None, "--report", help="Write the report JSON here."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Count and skip invalid records instead of stopping."),
    contractions: bool = typer.Option(True, "--contractions/--no-contractions", help="\"didn't\" or \"did … not\"."),
    fallback: str = typer.Option("none", "--fallback", help="For questions negation refuses: none (the paper's "
                                 "convention) | template (\"Which option is NOT a correct answer to the question: Q?\")."),
    why: str = typer.Option("negate", "--why", help="Why-questions: negate (\"why didn't …\", the paper's) | template."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Official TW-GRPO QAI output to check for label noise."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Invert a dataset: negate questions, invert answers, drop some new gold options, shuffle.

    Example: twgrpo qai convert ../shared/data/nextgqa_val.json -o nextgqa_val_qai.json --seed 0 --report report.json
    """
    from twgrpo_data.formats import write_records
    from twgrpo_data.invert import FALLBACKS, WHY_MODES, compare_official, convert, load_input
    from twgrpo_data.negate import Negator

    if to is not None and to not in _SUFFIX:
        raise TwgrpoError(f"unknown --to {to!r}; expected one of {', '.join(_SUFFIX)}")
    if fallback not in FALLBACKS or why not in WHY_MODES:
        bad = ("--fallback", fallback, FALLBACKS) if fallback not in FALLBACKS else ("--why", why, WHY_MODES)
        raise typer.BadParameter(f"{bad[1]!r}; expected one of {', '.join(bad[2])}", param_hint=bad[0])
    loaded = load_input(input, from_, skip_invalid=skip_invalid)
    if output is None:
        output = Path(input.name.split(".")[0] + ".qai" + _SUFFIX[to or "json"])
    negator = Negator(contractions=contractions)
    with _progress() as bar:
        task = bar.add_task("inverting", total=len(loaded.records))
        records, report = convert(loaded.records, ratio, seed, min_keep, negator=negator,
                                  progress=lambda n: bar.advance(task, n), fallback=fallback, why=why)
    report.counts["skipped_invalid"] = sum(loaded.skipped.values())
    report.input, report.output = str(input), str(output)
    if compare is not None:
        official = load_input(compare, "auto").records
        report.extra["label_noise_in_official"] = compare_official(official, loaded.records, negator)
    written = write_records(records, output, to or "auto")
    report.extra["output_format"] = written
    data = report.to_dict()
    if report_path is not None:
        from twgrpo_data.formats import atomic_write_json

        atomic_write_json(report_path, data)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _print_report(data)


def _print_report(data: dict) -> None:
    out = Console(highlight=False)
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
    out.print(table)
    out.print("answers per record: " + ", ".join(f"{k}: {v}" for k, v in data["answer_count_histogram"].items()))
    out.print("options per record: " + ", ".join(f"{k}: {v}" for k, v in data["option_count_histogram"].items()))
    out.print(f"seed {data['seed']}, ratio {data['ratio']}, min-keep {data['min_keep']}, fallback {data['fallback']}, "
              f"why {data['why']}; "
              f"spaCy {data['spacy_version']} {data['spacy_model']} {data['spacy_model_version']}")
    noise = data.get("label_noise_in_official")
    if noise:
        out.print(f"official output: {noise['label_noise']} of {noise['marked_negated']} records marked negated "
                  f"have a question that is not a negation ({noise['label_noise_unchanged_question']} unchanged); "
                  f"{sum(noise['negated_but_unsound'].values())} more are negations we refuse "
                  f"({', '.join(f'{k}: {v}' for k, v in noise['negated_but_unsound'].items())})")


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
    text = sys.stdin.read() if str(path) == "-" else _read_text(path)
    return [line for line in text.splitlines() if line.strip()]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFormatError(f"{path}: no such file") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"{path}: not a text file ({exc.__class__.__name__})") from None


@app.command("negate")
def negate_cmd(
    input: Path = typer.Argument(..., help="Text file (one question a line), .jsonl with \"question\", or '-' for stdin."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write JSON lines here instead of stdout."),
    contractions: bool = typer.Option(True, "--contractions/--no-contractions", help="\"didn't\" or \"did … not\"."),
) -> None:
    """Negate questions: one JSON line per question, in order ({question, negated, status, reason}).

    Example: printf 'who picked up the ball\\nhow did the boy react\\n' | twgrpo qai negate -
    """
    from twgrpo_data.formats import atomic_write_text
    from twgrpo_data.negate import Negator

    questions = _read_questions(input)
    with _progress() as bar:
        task = bar.add_task("negating", total=len(questions))
        results = Negator(contractions=contractions).negate_many(questions, progress=lambda n: bar.advance(task, n))
    lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in results)
    if output is None:
        sys.stdout.write(lines)
    else:
        atomic_write_text(output, lines)
    # per-status counts on stderr, so that stdout stays one JSON line per question
    counts = Counter(r.status if r.ok else f"{r.status} ({r.reason})" for r in results)
    console.print(f"{len(results)} questions → {output or 'stdout'}: "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), soft_wrap=True)
