"""`twgrpo eval …`: evaluate a model, re-score logs, compare runs.

`twgrpo eval`'s options come from `twgrpo_eval.config.EvalConfig` (each field's help, panel, choices and bound)
and from the backends (`Backend.options`); the command builds the config and calls
`twgrpo_eval.runner.run_benchmarks`, printing each run's results as it finishes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from twgrpo_data.errors import UsageError
from twgrpo_data.outputs import HTML_PAGE, PLOT_SUFFIXES, OutputSpec
from twgrpo_data.scoring import PARSERS
from twgrpo_eval.backends import backend_options
from twgrpo_eval.compare import TABLE_FORMATS
from twgrpo_eval.config import MODEL, OUTPUT, PANELS, PROTOCOL, EvalConfig

from .eval_tables import print_metrics, print_paper_table, print_results, print_run, print_side_by_side
from .options import config_options, judge_api_key_param, option_param, out_help, output_path, with_options
from .output import console, err_console, note, print_json, warning
from .progress import Reporter

# lmms-eval's spellings of `eval` options: twgrpo's option where the meaning is the same, else None (refused
# with what to write instead). Other `--snake_case` spellings of twgrpo's own options are read as them too.
LMMS_EVAL_OPTIONS = {
    "--tasks": "--bench",
    "--output_path": "--out",
    "--model_args": None,
}


class _EvalGroup(TyperGroup):
    """`twgrpo eval`, reading the spellings lmms-eval users type (`--tasks`, `--output_path`, `--max_new_tokens`)
    as twgrpo's options with a note, and refusing those whose meaning differs with what to write instead."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:  # a sub-command (rescore, compare, …) parses its own
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, lmms_eval_spellings(args, {o for p in self.params for o in p.opts}))


def lmms_eval_spellings(args: list[str], known: set[str]) -> list[str]:
    """`args` with lmms-eval's and snake_case option names replaced by twgrpo's (a note on stderr for each)."""
    out = []
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        new = LMMS_EVAL_OPTIONS.get(name, "--" + name[2:].replace("_", "-"))
        if name == "--model_args":
            given = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            pretrained = re.search(r"(?:^|,)pretrained=([^,]+)", given)
            raise UsageError(
                "--model_args is lmms-eval's (its --model names a model class); in twgrpo --model takes the "
                f"checkpoint{f' (--model {pretrained.group(1)})' if pretrained else ''} and engine options go to "
                "--backend-arg KEY=VALUE"
            )
        if not name.startswith("--") or name in known or new not in known:
            out.append(arg)  # an unknown one is click's to refuse, with its own suggestions
            continue
        note(f"{name} is read as twgrpo's {new}")
        out.append(new + eq + value)
    limits = [a.partition("=")[2] for a in out if a.startswith("--limit=")]
    limits += [b for a, b in zip(out, out[1:]) if a == "--limit"]
    if any(re.fullmatch(r"\d*\.\d*", v) for v in limits):
        raise UsageError(
            "--limit counts records (the first N); lmms-eval's fraction of a task is not read here: pass a count"
        )
    return out


app = typer.Typer(
    cls=_EvalGroup,
    help="Evaluate video language models and score their outputs.\n\n"
    "Example: twgrpo eval --bench mmvu --model Qwen/Qwen2.5-VL-7B-Instruct --data eval_mmvu.json "
    "--video-root data/",
    no_args_is_help=True,
)
ParserChoice = Literal[PARSERS]  # type: ignore[valid-type]
TableFormat = Literal[TABLE_FORMATS]  # type: ignore[valid-type]


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be > 0, got {value}")
    return value


def _rate(value: str | None) -> float | None:
    from twgrpo_data.failures import parse_rate

    try:
        return None if value is None else parse_rate(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _backend_args(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is read as JSON when it parses (numbers, booleans, objects), else a string."""
    from twgrpo_data.key_values import parse_key_values

    return parse_key_values(
        pairs,
        _json_or_text,
        # the text may be a secret: never repeat it
        lambda pair: typer.BadParameter(
            "expected KEY=VALUE (one argument has no '=' or no key)", param_hint="--backend-arg"
        ),
    )


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _backend_params() -> list:
    """An option for each backend's own options (`Backend.options`), its help naming the backends that take it."""
    params = []
    for name, (option, owners) in backend_options().items():
        flag = option.type is bool
        info = typer.Option(
            False if flag else None,
            "--" + name.replace("_", "-"),
            *option.flags,
            help=f"{'/'.join(owners)}: {option.help}",
            rich_help_panel=MODEL,
            min=option.min,
            callback=_positive if option.positive else None,
        )
        params.append(option_param(name, bool if flag else option.type | None, info))
    return params


# the options of `twgrpo eval` that are not EvalConfig fields (how the command runs, secrets, free backend options)
_COMMAND_PARAMS = [
    judge_api_key_param("the judge's API key (default: $OPENAI_API_KEY); never written or printed", PROTOCOL),
    option_param(
        "backend_arg",
        list[str],
        typer.Option(
            [],
            "--backend-arg",
            rich_help_panel=MODEL,
            help="extra backend keyword argument KEY=VALUE (JSON values), e.g. enforce_eager=true; repeatable",
        ),
    ),
    option_param(
        "no_progress", bool, typer.Option(False, "--no-progress", rich_help_panel=OUTPUT, help="no progress bar")
    ),
    option_param(
        "max_failed",
        str | None,
        typer.Option(
            None,
            "--max-failed",
            callback=_rate,
            rich_help_panel=OUTPUT,
            help="exit with status 1 when more than this share of the items failed (missing videos, backend "
            "errors), e.g. 0.05 or 5%; the run and its results are kept either way",
        ),
    ),
]


@app.callback(invoke_without_command=True)
@with_options(config_options(EvalConfig) + _backend_params() + _COMMAND_PARAMS, PANELS)
def evaluate(ctx: typer.Context, **options: Any) -> None:
    """Evaluate a model on one or more benchmarks (TW-GRPO protocol by default; `--protocol official` for the
    benchmark's own); re-running the command resumes.

    Example: twgrpo eval --bench mmvu --model TINY --backend transformers --data examples/eval_sample.json
    --video-root ../shared/data/videos --out runs/demo
    """
    if ctx.invoked_subcommand is not None:
        return
    from twgrpo_eval.runner import run_benchmarks

    config = _config(options)
    try:
        run_benchmarks(
            config,
            max_failed=options["max_failed"],
            progress=Reporter(err_console, enabled=not options["no_progress"]),
            announce=lambda line: err_console.print(line, markup=False),
            warn=warning,
            done=print_run,
        )
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished batches are saved; re-run the same command to resume")
        raise typer.Exit(130) from None


def _config(options: dict[str, Any]) -> EvalConfig:
    """The `EvalConfig` of the command's options: its own fields as given, the backend's options (refusing one
    the backend does not take) and the judge's key."""
    from dataclasses import fields

    from twgrpo_eval.backends import given_backend_options

    if options["bench"] is None or options["model"] is None:
        raise typer.BadParameter("--bench and --model are required to run an evaluation", param_hint="--bench/--model")
    backend = given_backend_options(options["backend"], {name: options[name] for name in backend_options()})
    backend.update(_backend_args(options["backend_arg"]))
    key = options["judge_api_key"]
    return EvalConfig(
        **{f.name: options[f.name] for f in fields(EvalConfig) if "panel" in f.metadata},
        backend_options=backend,
        judge_options={"api_key": key} if key else {},
    )


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="print the benchmarks as JSON")) -> None:
    """The registered benchmarks, their default data path and whether it is there.

    Example: twgrpo eval list --json
    """
    from twgrpo_data.benchmarks import BENCHMARKS
    from twgrpo_eval.compare import PAPER_BENCHMARKS

    if as_json:
        rows = [
            {
                "name": name,
                "default_data": module.DEFAULT_PATH,
                "found": Path(module.DEFAULT_PATH).exists(),
                "hub": module.HUB.repo_id if module.HUB is not None else None,
                "in_paper_table": name in PAPER_BENCHMARKS,
                "official_protocol": getattr(module, "OFFICIAL", None) is not None,
                "description": module.DESCRIPTION.splitlines()[0],
            }
            for name, module in BENCHMARKS.items()
        ]
        print_json(rows)
        return

    table = Table(title=f"Benchmarks (`--bench NAME`; `--bench all` runs the paper's: {', '.join(PAPER_BENCHMARKS)})")
    for col in ("name", "default --data", "found", "--protocol official", "description"):
        table.add_column(col)
    for name, module in BENCHMARKS.items():
        found = "yes" if Path(module.DEFAULT_PATH).exists() else "no"
        official = getattr(module, "OFFICIAL", None)
        judge = (
            {"always": " (LLM judge)", "on-failure": " (LLM judge where rules fail)"}.get(official.judge, "")
            if official
            else ""
        )
        table.add_row(
            name, module.DEFAULT_PATH, found, ("yes" + judge) if official else "–", module.DESCRIPTION.splitlines()[0]
        )
    console.print(table)


@app.command("rescore")
def rescore(
    logs: list[Path] = typer.Argument(
        ..., help="TW-GRPO eval logs (JSONL), twgrpo samples.jsonl files or run folders (their samples.jsonl)"
    ),
    parser: ParserChoice | None = typer.Option(
        None,
        "--parser",
        help="default: the run's own, else detected from the log's lines "
        "(raw for zero-shot logs, twgrpo for <answer> tags)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Re-score existing per-sample eval logs (duplicates from restarted runs removed).

    A run folder stands for its samples.jsonl.

    Example: twgrpo eval rescore ../shared/data/logs/twgrpo_mmvu_eval.jsonl --parser lenient
    """
    from twgrpo_eval.rescore import rescore_log
    from twgrpo_eval.run_folder import samples_of

    scored = [rescore_log(samples_of(p), parser) for p in logs]
    for log in scored:
        for text in log.warnings:
            warning(text)
    summaries = [log.summary() for log in scored]
    if as_json:
        print_json(summaries[0] if len(summaries) == 1 else {"logs": summaries})
        return
    for s in summaries:
        name = escape(Path(s["file"]).name)  # a file name is text, never rich markup
        console.print(f"{name}: parser {s['parser']} ({s['parser_reason']})", soft_wrap=True)
        print_metrics(
            f"{name} · parser {s['parser']}",
            s,
            f"{s['lines']} lines, {s['duplicates_removed']} duplicate(s) removed",
        )


@app.command("compare")
def compare(
    runs: list[Path] = typer.Argument(..., help="run folders (or their results.json)"),
    table_view: bool = typer.Option(
        False,
        "--table",
        help="the paper's table: one row per model, one column per "
        "benchmark (accuracy; / soft accuracy where multi-answer), with an exact "
        "McNemar test per benchmark when two models are compared",
    ),
    fmt: TableFormat = typer.Option("rich", "--format", help="--table output format"),
    label: list[str] = typer.Option(
        [],
        "--label",
        help="a name for each run, in order (e.g. --label base --label trained): the table's row names, so two "
        "runs of one model (base vs trained, zero-shot vs CoT prompt) are told apart",
    ),
    max_failed: float = typer.Option(
        0.05, "--max-failed", min=0.0, max=1.0, help="--table: refuse a run that failed on more than this share"
    ),
    plot: str | None = typer.Option(
        None,
        "--plot",
        help=out_help("also write a bar chart with 95% intervals; the suffix picks the format (.png, .pdf, .svg)."),
    ),
    as_json: bool = typer.Option(False, "--json", help="print the runs' metrics as JSON instead of a table"),
) -> None:
    """Compare eval runs: side by side (metrics, single/multi-answer, categories, settings) or as the paper's
    model × benchmark table (n and failed items per cell, McNemar tests of every row against the first).

    Example: twgrpo eval compare runs/mmvu-base runs/mmvu-trained --table --label base --label trained
    """
    from twgrpo_eval.compare import load_runs, paper_table, plot_runs

    if plot is not None:
        plot = output_path(
            plot, OutputSpec("plot", PLOT_SUFFIXES, default_name="compare.png"), inputs=runs, option="--plot"
        )
    if label and len(label) != len(runs):
        raise typer.BadParameter(f"give one per run ({len(runs)}), got {len(label)}", param_hint="--label")
    loaded = load_runs(runs)
    for run, name in zip(loaded, label):
        run.label = name
    if as_json:
        print_json({r.label: {k: v for k, v in r.results.items() if k != "file"} for r in loaded})
    elif table_view:
        table = paper_table(loaded, label or None, max_failed)
        for text in table.warnings:
            warning(text)
        print_paper_table(table, fmt)
    else:
        print_side_by_side(loaded)
    if plot is not None:
        path = plot_runs(loaded, plot)
        (err_console if as_json or fmt != "rich" else console).print(f"wrote {escape(str(path))}")


@app.command("merge")
def merge(
    shards: list[Path] = typer.Argument(..., help="the run folders of `--shard 1/N` … `--shard N/N`"),
    out: Path = typer.Option(..., "-o", "--out", help="the merged run folder (new)"),
) -> None:
    """Merge the shard runs of one evaluation into one run (its results equal an unsharded run's).

    Example: twgrpo eval merge runs/mmvu-1of3 runs/mmvu-2of3 runs/mmvu-3of3 --out runs/mmvu
    """
    from twgrpo_eval.merge import merge_runs

    print_results(merge_runs(shards, out), out)


@app.command("report")
def report(
    runs: list[Path] = typer.Argument(..., help="run folders (or their results.json)"),
    out: str | None = typer.Option(
        None, "-o", "--out", help=out_help("HTML file to write (default: FIRST_RUN/report.html).")
    ),
    max_samples: int = typer.Option(
        500, "--max-samples", help="samples per run in the browser (failed, then wrong, then right)"
    ),
    max_strips: int = typer.Option(
        50, "--max-strips", help="samples per run with a frame strip (thumbnails keep the file small enough to mail)"
    ),
    video_root: Path | None = typer.Option(
        None,
        "--video-root",
        help="folder of the runs' videos: frame strips are made only from videos under it (a report opens no path "
        "a run folder names)",
    ),
    data: str | None = typer.Option(
        None, "--data", help="the runs' data file, for runs whose samples.jsonl did not record the question"
    ),
) -> None:
    """Write one self-contained HTML page of eval runs: results, chart, protocol and a sample browser.

    Example: twgrpo eval report runs/mmvu-base runs/mmvu-twgrpo -o mmvu.html --video-root data/videos
    """
    from twgrpo_eval.compare import load_run
    from twgrpo_eval.report import write_report

    # the page may live inside a run folder (the default): only .html is written, so no run file is at risk
    target = output_path(out if out is not None else load_run(runs[0]).path / "report.html", HTML_PAGE)
    with Reporter(err_console).task("frame strips") as task:
        path = write_report(
            runs,
            target,
            max_samples=max_samples,
            max_strips=max_strips,
            video_root=video_root,
            data=data,
            progress=lambda done, total: task.update(completed=done, total=total),
        )
    console.print(f"wrote {escape(str(path))} ({path.stat().st_size / 1024:.0f} KiB)")
