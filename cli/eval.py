"""`twgrpo eval …`: evaluate a model, re-score logs, compare runs."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from twgrpo_data.errors import TwgrpoError, UsageError
from twgrpo_data.outputs import HTML_PAGE, PLOT_SUFFIXES, OutputSpec
from twgrpo_data.prompts import PROMPT_STYLES
from twgrpo_data.scoring import PARSERS
from twgrpo_eval.backends import BACKENDS
from twgrpo_eval.compare import TABLE_FORMATS
from twgrpo_eval.protocol import PROTOCOLS

from .options import out_help, output_path
from .progress import Reporter

# `twgrpo eval --help` groups its options in these panels
PANELS = {
    "DATA": "Data",
    "MODEL": "Model and backend",
    "PROTOCOL": "Protocol (what is measured)",
    "SAMPLING": "Sampling",
    "OUTPUT": "Output",
}
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
        err_console.print(f"[yellow]note:[/] {name} is read as twgrpo's {new}", highlight=False)
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
console = Console()
err_console = Console(stderr=True, highlight=False)

# Backend-specific options: which backend each explicit option belongs to (the rest go through --backend-arg).
_BACKEND_OPTIONS = {
    "tensor_parallel_size": "vllm",
    "data_parallel_size": "vllm",
    "max_model_len": "vllm",
    "gpu_memory_utilization": "vllm",
    "device": "transformers",
    "dtype": ("vllm", "transformers"),
    "trust_remote_code": ("vllm", "transformers"),
    "api_base": "openai",
    "api_key": "openai",
    "concurrency": "openai",
    "timeout": "openai",
    "max_retries": "openai",
}
# Fixed choices, listed in --help and checked by the parser before any work starts.
BackendChoice = Literal[("auto", *BACKENDS)]  # type: ignore[valid-type]
PromptChoice = Literal[("auto", *PROMPT_STYLES)]  # type: ignore[valid-type]
ParserChoice = Literal[PARSERS]  # type: ignore[valid-type]
ProtocolChoice = Literal[PROTOCOLS]  # type: ignore[valid-type]
TableFormat = Literal[TABLE_FORMATS]  # type: ignore[valid-type]


def _field(name: str):
    from twgrpo_eval.runner import EvalConfig

    return next(f for f in fields(EvalConfig) if f.name == name)


def _default(name: str) -> Any:
    return _field(name).default


def _help(name: str) -> str:
    return _field(name).metadata["help"]


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


def _explicit_backend_options(backend: str, given: dict[str, Any]) -> dict[str, Any]:
    """The explicit backend options that were set, refusing those the chosen backend does not take."""
    from twgrpo_eval.backends import default_backend

    name = default_backend() if backend == "auto" else backend
    out = {}
    for key, value in given.items():
        if value is None or value is False:
            continue
        owners = _BACKEND_OPTIONS[key]
        if name not in (owners if isinstance(owners, tuple) else (owners,)):
            raise typer.BadParameter(
                f"only for --backend {' or '.join(owners) if isinstance(owners, tuple) else owners}"
                f" (the backend is {name})",
                param_hint=f"--{key.replace('_', '-')}",
            )
        out[key] = value
    return out


def _benches(bench: str) -> list[str]:
    """`--bench`: one name, a comma-separated list, or `all` (the paper's six benchmarks)."""
    from twgrpo_eval.compare import PAPER_BENCHMARKS

    names = list(PAPER_BENCHMARKS) if bench.strip() == "all" else [b.strip() for b in bench.split(",") if b.strip()]
    if not names:
        raise typer.BadParameter("expected a benchmark name, a comma-separated list or all", param_hint="--bench")
    from twgrpo_data.benchmarks import list_benchmarks
    from twgrpo_data.names import did_you_mean

    unknown = [b for b in names if b not in list_benchmarks()]
    if unknown:
        raise typer.BadParameter(
            f"unknown benchmark {unknown[0]!r} (`twgrpo eval list` shows them)"
            + did_you_mean(unknown[0], list_benchmarks()),
            param_hint="--bench",
        )
    return names


@app.callback(invoke_without_command=True)
def evaluate(
    ctx: typer.Context,
    bench: str | None = typer.Option(
        None,
        "--bench",
        rich_help_panel=PANELS["DATA"],
        help="benchmark name, a comma-separated list (one run "
        "folder each, under --out) or all (the paper's six); see `twgrpo eval list`",
    ),
    model: str | None = typer.Option(None, "--model", rich_help_panel=PANELS["MODEL"], help=_help("model")),
    backend: BackendChoice = typer.Option(
        _default("backend"), "--backend", rich_help_panel=PANELS["MODEL"], help=_help("backend")
    ),
    protocol: ProtocolChoice = typer.Option(
        _default("protocol"), "--protocol", rich_help_panel=PANELS["PROTOCOL"], help=_help("protocol")
    ),
    data: str | None = typer.Option(None, "--data", rich_help_panel=PANELS["DATA"], help=_help("data")),
    video_root: str | None = typer.Option(
        None, "--video-root", rich_help_panel=PANELS["DATA"], help=_help("video_root")
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, rich_help_panel=PANELS["DATA"], help=_help("limit")),
    shard: str | None = typer.Option(None, "--shard", rich_help_panel=PANELS["DATA"], help=_help("shard")),
    prompt: PromptChoice = typer.Option(
        _default("prompt"), "--prompt", rich_help_panel=PANELS["PROTOCOL"], help=_help("prompt")
    ),
    frames: int = typer.Option(
        _default("frames"), "--frames", min=1, rich_help_panel=PANELS["PROTOCOL"], help=_help("frames")
    ),
    sample_fps: float | None = typer.Option(
        None, "--sample-fps", rich_help_panel=PANELS["PROTOCOL"], help=_help("sample_fps")
    ),
    model_fps: float | None = typer.Option(
        None, "--model-fps", rich_help_panel=PANELS["PROTOCOL"], help=_help("model_fps")
    ),
    min_pixels: int = typer.Option(
        _default("min_pixels"), "--min-pixels", rich_help_panel=PANELS["PROTOCOL"], help=_help("min_pixels")
    ),
    max_pixels: int = typer.Option(
        _default("max_pixels"), "--max-pixels", rich_help_panel=PANELS["PROTOCOL"], help=_help("max_pixels")
    ),
    temperature: float = typer.Option(
        _default("temperature"), "--temperature", rich_help_panel=PANELS["SAMPLING"], help=_help("temperature")
    ),
    top_p: float = typer.Option(_default("top_p"), "--top-p", rich_help_panel=PANELS["SAMPLING"], help=_help("top_p")),
    max_new_tokens: int = typer.Option(
        _default("max_new_tokens"), "--max-new-tokens", rich_help_panel=PANELS["SAMPLING"], help=_help("max_new_tokens")
    ),
    parser: ParserChoice | None = typer.Option(
        None, "--parser", rich_help_panel=PANELS["PROTOCOL"], help=_help("parser")
    ),
    seed: int = typer.Option(_default("seed"), "--seed", rich_help_panel=PANELS["SAMPLING"], help=_help("seed")),
    batch_size: int = typer.Option(
        _default("batch_size"), "--batch-size", min=1, rich_help_panel=PANELS["MODEL"], help=_help("batch_size")
    ),
    workers: int = typer.Option(
        _default("workers"), "--workers", min=1, rich_help_panel=PANELS["MODEL"], help=_help("workers")
    ),
    allow_text_only: bool = typer.Option(
        False, "--allow-text-only", rich_help_panel=PANELS["DATA"], help=_help("allow_text_only")
    ),
    allow_outside_video_root: bool = typer.Option(
        False, "--allow-outside-video-root", rich_help_panel=PANELS["DATA"], help=_help("allow_outside_video_root")
    ),
    trust_remote_code: bool = typer.Option(
        False,
        "--trust-remote-code",
        rich_help_panel=PANELS["MODEL"],
        help="vllm/transformers: run code shipped with the checkpoint (off unless given)",
    ),
    tensor_parallel_size: int | None = typer.Option(
        None,
        "--tensor-parallel-size",
        "--tp",
        rich_help_panel=PANELS["MODEL"],
        help="vllm: GPUs per engine (tensor parallel)",
    ),
    data_parallel_size: int | None = typer.Option(
        None,
        "--data-parallel-size",
        "--dp",
        rich_help_panel=PANELS["MODEL"],
        help="vllm: engine replicas, each on its own GPUs",
    ),
    max_model_len: int | None = typer.Option(
        None, "--max-model-len", rich_help_panel=PANELS["MODEL"], help="vllm: context length to reserve"
    ),
    gpu_memory_utilization: float | None = typer.Option(
        None, "--gpu-memory-utilization", rich_help_panel=PANELS["MODEL"], help="vllm: share of GPU memory to use"
    ),
    device: str | None = typer.Option(
        None, "--device", rich_help_panel=PANELS["MODEL"], help="transformers: cpu | cuda | cuda:N (default: auto)"
    ),
    dtype: str | None = typer.Option(
        None, "--dtype", rich_help_panel=PANELS["MODEL"], help="vllm/transformers: auto | bfloat16 | float16 | float32"
    ),
    api_base: str | None = typer.Option(
        None, "--api-base", rich_help_panel=PANELS["MODEL"], help="openai: server URL, e.g. http://127.0.0.1:8000/v1"
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        show_default=False,
        rich_help_panel=PANELS["MODEL"],
        help="openai: API key (default: $OPENAI_API_KEY); never written or printed",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, rich_help_panel=PANELS["MODEL"], help="openai: requests in flight (default 8)"
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        callback=_positive,
        rich_help_panel=PANELS["MODEL"],
        help="openai: seconds per request attempt (default 600)",
    ),
    max_retries: int | None = typer.Option(
        None, "--max-retries", min=0, rich_help_panel=PANELS["MODEL"], help="openai: retries with backoff (default 5)"
    ),
    subtitles: bool = typer.Option(False, "--subtitles", rich_help_panel=PANELS["PROTOCOL"], help=_help("subtitles")),
    judge_model: str | None = typer.Option(
        None, "--judge-model", rich_help_panel=PANELS["PROTOCOL"], help=_help("judge_model")
    ),
    judge_api_base: str | None = typer.Option(
        None, "--judge-api-base", rich_help_panel=PANELS["PROTOCOL"], help=_help("judge_api_base")
    ),
    judge_api_key: str | None = typer.Option(
        None,
        "--judge-api-key",
        show_default=False,
        rich_help_panel=PANELS["PROTOCOL"],
        help="the judge's API key (default: $OPENAI_API_KEY); never written or printed",
    ),
    backend_arg: list[str] = typer.Option(
        [],
        "--backend-arg",
        rich_help_panel=PANELS["MODEL"],
        help="extra backend keyword argument KEY=VALUE (JSON values), e.g. enforce_eager=true; repeatable",
    ),
    out: str | None = typer.Option(
        None,
        "-o",
        "--out",
        rich_help_panel=PANELS["OUTPUT"],
        help=_help("out") + "; with several benchmarks, the folder that holds one run folder per benchmark",
    ),
    no_progress: bool = typer.Option(False, "--no-progress", rich_help_panel=PANELS["OUTPUT"], help="no progress bar"),
    max_failed: str | None = typer.Option(
        None,
        "--max-failed",
        callback=_rate,
        rich_help_panel=PANELS["OUTPUT"],
        help="exit with status 1 when more than this share of the items failed (missing videos, backend errors), "
        "e.g. 0.05 or 5%; the run and its results are kept either way",
    ),
) -> None:
    """Evaluate a model on one or more benchmarks (TW-GRPO protocol by default; `--protocol official` for the
    benchmark's own); re-running the command resumes.

    Example: twgrpo eval --bench mmvu --model TINY --backend transformers --data examples/eval_sample.json
    --video-root ../shared/data/videos --out runs/demo
    """
    if ctx.invoked_subcommand is not None:
        return
    if bench is None or model is None:
        raise typer.BadParameter("--bench and --model are required to run an evaluation", param_hint="--bench/--model")
    from twgrpo_eval.runner import EvalConfig, default_out, run_eval

    benches = _benches(bench)
    from twgrpo_data.names import check_model_reference
    from twgrpo_eval.backends import default_backend

    if (default_backend() if backend == "auto" else backend) != "openai":  # before any download or model load
        check_model_reference(model)
    if len(benches) > 1 and data is not None:
        raise typer.BadParameter(
            "--data names one benchmark's file; with several benchmarks each reads its "
            "default data (run them one by one to pass files)",
            param_hint="--data",
        )
    options = _explicit_backend_options(
        backend,
        {
            "tensor_parallel_size": tensor_parallel_size,
            "data_parallel_size": data_parallel_size,
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "device": device,
            "dtype": dtype,
            "trust_remote_code": trust_remote_code,
            "api_base": api_base,
            "api_key": api_key,
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
        },
    )
    options.update(_backend_args(backend_arg))
    over: list[str] = []  # runs above --max-failed
    for name in benches:
        run_out = out
        if len(benches) > 1:
            run_out = str(Path(out) / name) if out is not None else str(default_out(name, model))
        config = EvalConfig(
            bench=name,
            model=model,
            backend=backend,
            protocol=protocol,
            data=data,
            video_root=video_root,
            out=run_out,
            limit=limit,
            shard=shard,
            prompt=prompt,
            frames=frames,
            sample_fps=sample_fps,
            model_fps=model_fps,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            parser=parser,
            seed=seed,
            batch_size=batch_size,
            workers=workers,
            allow_text_only=allow_text_only,
            allow_outside_video_root=allow_outside_video_root,
            backend_options=options,
            subtitles=subtitles,
            judge_model=judge_model,
            judge_api_base=judge_api_base,
            judge_options={"api_key": judge_api_key} if judge_api_key else {},
        )
        config.check()  # before anything is downloaded or created
        if data is None:  # the local default if present, else the Hub: annotations + the selected records' videos
            from twgrpo_data.hub.benchmark_data import resolve_benchmark_data

            found = resolve_benchmark_data(
                name,
                limit,
                videos=video_root is None,
                announce=lambda line: err_console.print(line, markup=False),
                progress=Reporter(err_console, enabled=not no_progress),
            )
            config.data, config.data_source = str(found.records_path), found.provenance
            config.video_root = video_root or (str(found.video_root) if found.video_root else None)
        try:
            result = run_eval(
                config,
                progress=Reporter(err_console, enabled=not no_progress),
                warn=lambda text: err_console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True),
            )
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: finished batches are saved; re-run the same command to resume")
            raise typer.Exit(130) from None
        _print_results(result.results, result.out)
        _print_failures(result.results, result.out)
        failed, n = result.results.get("n_failed") or 0, result.results.get("n") or 0
        if max_failed is not None and n and failed / n > max_failed:
            over.append(f"{name}: {failed} of {n} items failed ({100 * failed / n:.1f}%)")
    if over:
        raise TwgrpoError(
            f"{'; '.join(over)} — above --max-failed {100 * max_failed:g}%; the results are written, the failed "
            "items are retried when the same command is run again"
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
        print(json.dumps(rows, indent=2))
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


def _print_failures(results: dict[str, Any], out: Path) -> None:
    """On stderr, what failed: the count, then each kind of failure with its count and first item."""
    failed = results.get("n_failed") or 0
    if not failed:
        return
    from twgrpo_data.failures import failure_groups
    from twgrpo_eval.runner import SAMPLES, read_samples

    groups = failure_groups(read_samples(out / SAMPLES).values())
    err_console.print(
        f"[yellow]warning:[/] {failed} of {results.get('n')} items failed (counted as wrong; the same command "
        "retries them):",
        soft_wrap=True,
    )
    for group in groups[:5]:
        err_console.print(
            f"  {group.count} × {escape(group.kind)} — e.g. {escape(group.example_id)!r}: {escape(group.example)}",
            soft_wrap=True,
        )
    if len(groups) > 5:
        err_console.print(f"  … and {len(groups) - 5} other kinds (see {out / SAMPLES})", soft_wrap=True)


def _print_results(results: dict[str, Any], out: Path) -> None:
    run = results.get("run", {})
    if "accuracy" not in results:
        console.print(f"no samples in {out}")
        return
    failed = results.get("n_failed") or 0
    status = "complete" if run.get("complete") else "[yellow]incomplete[/]"
    if failed:
        status = f"[yellow]{'complete' if run.get('complete') else 'incomplete'}, {failed} failed[/]"
    _print_metrics(
        f"{run.get('bench')} · {Path(str(run.get('model'))).name} · prompt {run.get('prompt')} · "
        f"parser {run.get('parser')}",
        results,
        f"{status} · run folder: [bold]{out}[/]",
    )


def _print_metrics(title: str, results: dict[str, Any], note: str) -> None:
    """One table of a summary (overall, single/multi, per category and kind) and a line of the rest."""
    table = Table(title=f"{title}  (×100, {ci_label(results)})")
    for col in ("", "n", "accuracy", "soft accuracy"):
        table.add_column(col, justify="left" if not col else "right")
    blocks = [("all", results), ("single-answer", results["single"]), ("multi-answer", results["multi"])]
    blocks += [(f"  {c}", b) for c, b in results.get("by_category", {}).items()]
    blocks += [(f"  type {k}", b) for k, b in results.get("by_kind", {}).items()]
    for name, block in blocks:
        if block.get("n"):
            table.add_row(name, str(block["n"]), _pct(block), _pct(block, "soft_accuracy"))
    console.print(table)
    fmt = "–" if results.get("format_rate") is None else f"{results['format_rate']:.1f}%"
    console.print(
        f"failed items: {results['n_failed']} · format: {fmt} · mean output: "
        f"{results.get('mean_output_chars')} chars · {note}"
    )


def ci_label(results: dict[str, Any]) -> str:
    """How a summary's intervals were made, for table headers."""
    from twgrpo_data.metrics import CLUSTERED

    if results.get("ci_method") == CLUSTERED:
        return "95% CI clustered by video (lmms-eval's clustered standard error)"
    return "95% Wilson CI"


def _pct(block: dict, key: str = "accuracy") -> str:
    if not block or block.get(key) is None:
        return "–"
    lo, hi = block[f"{key}_ci95"]
    return f"{block[key]:.2f} [{lo:.1f}, {hi:.1f}]"


def _log_of(path: Path) -> Path:
    """What `eval rescore` reads for `path`: a run folder's samples.jsonl; a run's results.json or config.json is
    refused with the file to pass instead (they hold numbers and settings, not the outputs)."""
    from twgrpo_eval.runner import CONFIG, RESULTS, SAMPLES

    if path.is_dir():
        if not (path / SAMPLES).is_file():
            raise TwgrpoError(f"{path}: a folder without {SAMPLES} (not a twgrpo eval run folder)")
        return path / SAMPLES
    if path.name in (RESULTS, CONFIG) and (path.parent / SAMPLES).is_file():
        raise TwgrpoError(
            f"{path}: holds a run's {'scores' if path.name == RESULTS else 'settings'}, not its outputs; pass "
            f"{path.parent / SAMPLES} (or the run folder {path.parent})"
        )
    if path.name in (RESULTS, CONFIG):
        raise TwgrpoError(f"{path}: a run's {path.name}, not a log of outputs; pass the run's {SAMPLES}")
    return path


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

    Example: twgrpo eval rescore ../shared/data/logs/twgrpo_mmvu_eval.jsonl --parser lenient (or a run folder: RUN)
    """
    from twgrpo_eval.rescore import rescore_log

    scored = [rescore_log(_log_of(p), parser) for p in logs]
    for log in scored:
        for warning in log.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    summaries = [log.summary() for log in scored]
    if as_json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"logs": summaries}, indent=2))
        return
    for s in summaries:
        console.print(f"{Path(s['file']).name}: parser {s['parser']} ({s['parser_reason']})", soft_wrap=True)
        _print_metrics(
            f"{Path(s['file']).name} · parser {s['parser']}",
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
    from twgrpo_eval.compare import info_rows, load_runs, metric_rows, paper_table, plot_runs

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
        print(json.dumps({r.label: {k: v for k, v in r.results.items() if k != "file"} for r in loaded}, indent=2))
    elif table_view:
        table = paper_table(loaded, label or None, max_failed)
        for warning in table.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
        _print_paper_table(table, fmt)
    else:
        table = Table(title=f"Eval runs: accuracy / soft accuracy ×100 [{ci_label(loaded[0].results)}]")
        table.add_column("items")
        for run in loaded:
            table.add_column(f"{run.label}\naccuracy", justify="right")
            table.add_column(f"{run.label}\nsoft accuracy", justify="right")
        for group, ns, cells in metric_rows(loaded):
            same_n = len(set(ns)) == 1
            best = [max((c[k][0] for c in cells if c[k][0] is not None), default=None) for k in (0, 1)]
            row = [f"{group} (n={ns[0]})" if same_n else group]
            for n, pair in zip(ns, cells):
                for k, (value, ci) in enumerate(pair):
                    row.append(_cell(value, ci, None if same_n else n, len(loaded) > 1 and value == best[k]))
            table.add_row(*row)
        table.add_section()
        for label, values in info_rows(loaded):
            table.add_row(label, *[cell for v in values for cell in (v, "")])
        console.print(table)
    if plot is not None:
        path = plot_runs(loaded, plot)
        (err_console if as_json or fmt != "rich" else console).print(f"wrote {path}")


def _print_paper_table(table, fmt: str) -> None:
    from twgrpo_eval.compare import paired_test_rows, render_table

    if fmt != "rich":
        print(render_table(table, fmt), end="")
        return
    view = Table(title="Accuracy ×100 (/ soft accuracy where multi-answer)")
    view.add_column("model")
    for bench in table.benches:
        view.add_column(bench, justify="right")
    for name, cells in table.rows:
        view.add_row(name, *cells)
    extra = paired_test_rows(table)
    if extra:
        view.add_section()
        for name, cells in extra:
            view.add_row(name, *cells)
    console.print(view)


@app.command("merge")
def merge(
    shards: list[Path] = typer.Argument(..., help="the run folders of `--shard 1/N` … `--shard N/N`"),
    out: Path = typer.Option(..., "-o", "--out", help="the merged run folder (new)"),
) -> None:
    """Merge the shard runs of one evaluation into one run (its results equal an unsharded run's).

    Example: twgrpo eval merge runs/mmvu-1of3 runs/mmvu-2of3 runs/mmvu-3of3 --out runs/mmvu
    """
    from twgrpo_eval.merge import merge_runs

    _print_results(merge_runs(shards, out), out)


def _cell(value: float | None, ci: list[float] | None, n: int | None, best: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "") + ("" if n is None else f" n={n}")
    return f"[bold]{text}[/]" if best else text


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
    console.print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
