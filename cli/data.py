"""`twgrpo data …`: load native benchmark files, validate datasets, summarise them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from twgrpo_data.benchmarks.nextgqa import FORMATS as NATIVE_FORMATS
from twgrpo_data.garbage_collection import gc_paused
from twgrpo_data.outputs import records_spec
from twgrpo_data.sources import input_formats, open_input

from .options import choices, out_help, output_path
from .output import console, err_console, print_json, status
from .progress import Reporter

ReadFormat = choices("ReadFormat", input_formats())
NativeFormat = choices("NativeFormat", NATIVE_FORMATS)

app = typer.Typer(help="Load, validate and summarise question datasets.", no_args_is_help=True)


# more problems of one kind than this are one line (the count and the first as the example)
GROUPED_FROM = 4


def _print_problems(problems, video_root: Path | None = None, with_video: int = 0) -> None:
    """The problems on stderr, one line each, except that problems of one kind (the message without the file it
    names, `twgrpo_data.failures.failure_kind`) that come `GROUPED_FROM` times or more are one line: `625 records'
    videos (379 files) missing under ROOT, e.g. …` (`; wrong --video-root?` when every one of the `with_video`
    records' videos is missing). `--json` lists every one. The text is escaped since messages may hold '[...]'."""
    from twgrpo_data.failures import failure_kind

    groups: dict[tuple, list] = {}
    for p in problems:
        groups.setdefault((p.severity, p.field, failure_kind(p.message)), []).append(p)
    for (severity, field, kind), items in groups.items():
        style = "red" if severity == "error" else "yellow"
        if len(items) < GROUPED_FROM:
            for p in items:
                err_console.print(f"[{style}]{severity}:[/] " + escape(str(p)), soft_wrap=True)
            continue
        files = len({p.message for p in items})  # the message names the file
        shared = "" if files == len(items) else f" ({files} file{'s' if files > 1 else ''})"
        if field == "video" and kind.endswith("no such video file"):
            head = f"{len(items)} " + ("videos" if not shared else f"records' videos{shared}")
            head += f" missing under {video_root}"
            hint = "; wrong --video-root?" if len(items) == with_video else ""
        else:
            head, hint = f"{len(items)} records{shared}: {kind}", ""
        err_console.print(f"[{style}]{severity}:[/] " + escape(f"{head}, e.g. {items[0]}{hint}"), soft_wrap=True)


@app.command("validate")
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
def validate(
    path: str = typer.Argument(
        ...,
        help="a benchmark's native files, records/unified JSON(L), parquet, HF dataset folder, or a Hub dataset "
        "(OWNER/NAME, hf://datasets/OWNER/NAME/PATH)",
    ),
    fmt: ReadFormat = typer.Option(
        "auto", "--format", help="input format or benchmark (auto: from the suffix and content)"
    ),
    video_root: Path | None = typer.Option(None, help="also check that every record's video exists and decodes"),
    as_json: bool = typer.Option(False, "--json", help="print the problems as JSON"),
) -> None:
    """Report every schema problem (file, record index and id, field); exit 1 if there is any error.

    Example: twgrpo data validate ../shared/data/eval_mmvu.json
    """
    with status(f"reading and validating {path}"):
        result = open_input(path, fmt.value)
    problems = list(result.problems)
    if video_root is not None:
        problems += _video_problems(result, video_root)
    errors = [p for p in problems if p.severity == "error"]
    total = len(result.records) + result.n_invalid
    if as_json:
        print_json(
            {
                "file": str(path),
                "records": total,
                "errors": len(errors),
                "warnings": len(problems) - len(errors),
                "problems": [p.to_dict() for p in problems],
            }
        )
    else:
        _print_problems(problems, video_root, sum(r.video is not None for r in result.records))
        console.print(
            escape(f"{path}: {total} records, {len(errors)} error(s), {len(problems) - len(errors)} warning(s)"),
            soft_wrap=True,  # one line, whatever the width: scripts grep it
        )
    if errors:
        raise typer.Exit(1)


def _video_problems(result, video_root: Path):
    """One problem per record whose video is missing or unreadable (each distinct video decoded once)."""
    from twgrpo_data.benchmarks import check_record_videos

    with Reporter(err_console).task("checking videos") as task:
        return check_record_videos(
            result.records,
            video_root,
            file=result.file,
            progress=lambda done, total: task.update(completed=done, total=total),
        )


@app.command("stats")
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
def stats(
    path: str = typer.Argument(
        ...,
        help="a benchmark's native files, records/unified JSON(L), parquet, HF dataset folder, or a Hub dataset "
        "(OWNER/NAME, hf://datasets/OWNER/NAME/PATH)",
    ),
    fmt: ReadFormat = typer.Option(
        "auto", "--format", help="input format or benchmark (auto: from the suffix and content)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
) -> None:
    """Count records, options per question, single/multi-answer items, sources and categories.

    Example: twgrpo data stats ../shared/data/nextgqa_val_mixed.official.json
    """
    from twgrpo_data.stats import summarize

    with status(f"reading {path}"):
        result = open_input(path, fmt.value)
    counts = summarize(result.records, result.file)
    summary = {"file": str(path), "records": counts.pop("records"), "invalid": result.n_invalid, **counts}
    recs = result.records
    if as_json:
        print_json(summary)
        return
    # a path is printed on a line of its own: as a table title it would be folded to the table's width
    console.print(escape(str(path)), soft_wrap=True)
    head = Table(show_header=False)
    for key in ("records", "invalid", "single_answer", "multi_answer", "qai_negated"):
        head.add_row(key.replace("_", " "), str(summary[key]))
    console.print(head)
    for key, title in (
        ("option_count_histogram", "options per question"),
        ("answer_count_histogram", "gold letters"),
        ("sources", "source"),
        ("categories", "category"),
    ):
        if not summary[key]:
            continue
        t = Table(title=title)
        t.add_column(title.split()[0])
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        for k, v in summary[key].items():
            t.add_row(escape(str(k)), str(v), f"{100 * v / max(1, len(recs)):.1f}%")  # names from the data
        console.print(t)


def _bench_help() -> str:
    from twgrpo_data.benchmarks import BENCHMARKS

    return "; ".join(f"{name} ({m.DEFAULT_PATH})" for name, m in BENCHMARKS.items())


class _BenchmarkHelp(TyperCommand):
    """A command whose help lists the benchmarks: the registry is imported when the help is shown, not
    every time `twgrpo` starts."""

    def format_help(self, ctx, formatter) -> None:
        self.help = (self.help or "").replace("{benchmarks}", _bench_help())
        super().format_help(ctx, formatter)


@app.command(
    "load",
    cls=_BenchmarkHelp,
    help="Read a benchmark's native files (as downloaded) into records; print a summary or write them.\n\n"
    "Benchmarks and default paths: {benchmarks}.\n\n"
    "Example: twgrpo data load --bench videomme hf://datasets/lmms-lab/Video-MME -o vm.jsonl",
)
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
def load(
    path: str | None = typer.Argument(
        None,
        help="native file or folder (default: the benchmark's usual path), "
        "a save_to_disk folder, or a Hub dataset (OWNER/NAME, "
        "hf://datasets/OWNER/NAME/PATH; only its annotation files are fetched)",
    ),
    bench: str = typer.Option("auto", "--bench", "-b", help="benchmark name, or auto to detect it from PATH"),
    out: str | None = typer.Option(
        None,
        "--out",
        "-o",
        help=out_help(
            "write the records: .json (unified), .jsonl (records), .parquet, or no suffix for an HF dataset folder "
            "(default name: <benchmark>.json)."
        ),
    ),
    types: str | None = typer.Option(
        None,
        "--types",
        help="comma-separated subset: MVBench tasks, TempCompass task types, CLEVRER question types (or 'all')",
    ),
    subtitles: bool = typer.Option(False, "--subtitles", help="Video-MME: attach subtitle/<videoID>.srt lines"),
    source_fmt: NativeFormat = typer.Option("auto", "--from", help="NExT-GQA/NExT-QA input format"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="drop invalid items (listed) instead of failing"),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="with -o: write an empty output when no record is left (default: exit 1)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    from twgrpo_data.benchmark_export import load_native, which_benchmark

    bench, source = which_benchmark(path, bench)
    if out is not None:
        out = output_path(out, records_spec(f"{bench}.json"), inputs=[path])
    wanted = {
        "types": types.split(",") if types else None,
        "subtitles": subtitles or None,
        "fmt": None if source_fmt.value == "auto" else source_fmt.value,
    }
    options = {k: v for k, v in wanted.items() if v is not None}
    loaded = load_native(
        bench, source, options=options, skip_invalid=skip_invalid, out=out, allow_empty=allow_empty, status=status
    )
    if as_json:
        print_json(loaded.summary())
    else:
        _print_load(loaded)


def _print_load(loaded) -> None:
    """The problems (stderr), the records per category and what was skipped, dropped and written."""
    result, summary = loaded.result, loaded.summary()
    recs, invalid, out, bench = result.records, summary["invalid"], loaded.output, loaded.bench
    _print_problems(result.problems)
    console.print(escape(summary["file"]), soft_wrap=True)  # on its own line: a caption folds to the table
    table = Table(title=bench)
    table.add_column("category")
    table.add_column("records", justify="right")
    for cat, n in summary["categories"].items():
        table.add_row(escape(cat), str(n))
    table.add_row("[bold]total[/]", f"[bold]{len(recs)}[/]")
    console.print(table)
    for reason, n in result.skipped.items():
        console.print(f"skipped {n}: {reason}")
    if invalid:
        console.print(f"dropped {invalid} invalid item(s) (listed above)")
    if out is not None:
        console.print(f"wrote {len(recs)} records to {escape(str(out))} ({loaded.output_format})")
    else:
        console.print(
            "nothing written: -o FILE writes the records (.json unified, .jsonl, .parquet, or a folder)", soft_wrap=True
        )


@app.command(
    "fetch",
    help="Download a benchmark from the Hugging Face Hub into the standard cache (HF_HOME): its "
    "annotation files and, with --videos, its videos (archives unpacked once). Resumable; HF_TOKEN for "
    "gated repositories; HF_HUB_OFFLINE=1 only reads the cache. No dataset script is ever run.\n\n"
    "Example: twgrpo data fetch --bench mmvu --videos --limit 4",
)
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
def fetch(
    bench: str = typer.Option(..., "--bench", "-b", help="benchmark name (its module names the Hub repository)"),
    videos: bool = typer.Option(False, "--videos", help="also download the videos (says how much first)"),
    split: str | None = typer.Option(None, "--split", help="annotation split (default: the benchmark's own)"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="with --videos: only the first N records' videos"),
    as_json: bool = typer.Option(False, "--json", help="print where the files are as JSON"),
) -> None:
    from twgrpo_data.benchmarks import get_benchmark, load_benchmark
    from twgrpo_data.hub.benchmark_data import fetch_annotations, fetch_videos

    data = fetch_annotations(bench, split=split)
    summary = {
        "benchmark": bench,
        "repo_id": get_benchmark(bench).HUB.repo_id,
        "annotations": str(data),
        "video_root": None,
    }
    if videos:
        records = load_benchmark(bench, data).records
        selected = records if limit is None else records[:limit]
        root = fetch_videos(
            bench,
            data,
            None if limit is None else selected,
            announce=lambda line: err_console.print(escape(line)),
            progress=Reporter(err_console),
        )
        summary.update(video_root=str(root), videos=len({r.video for r in selected if r.video}))
    if as_json:
        print_json(summary)
        return
    console.print(f"{bench}: annotations in {escape(str(data))}", soft_wrap=True)
    if videos:
        console.print(
            f"{summary['videos']} video(s) under {escape(str(summary['video_root']))} (pass it as --video-root)",
            soft_wrap=True,
        )
