"""`twgrpo eval …`: evaluate a model, re-score logs, compare runs."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from twgrpo_data.scoring import PARSERS

app = typer.Typer(
    help="Evaluate video language models and score their outputs.\n\n"
         "Example: twgrpo eval --bench mmvu --model Qwen/Qwen2.5-VL-7B-Instruct --data eval_mmvu.json "
         "--video-root data/",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True, highlight=False)

# Backend-specific options: which backend each explicit option belongs to (the rest go through --backend-arg).
_BACKEND_OPTIONS = {
    "tensor_parallel_size": "vllm", "data_parallel_size": "vllm", "max_model_len": "vllm",
    "gpu_memory_utilization": "vllm", "device": "transformers", "dtype": ("vllm", "transformers"),
    "api_base": "openai", "concurrency": "openai", "timeout": "openai", "max_retries": "openai",
}


def _field(name: str):
    from twgrpo_eval.runner import EvalConfig

    return next(f for f in fields(EvalConfig) if f.name == name)


def _default(name: str) -> Any:
    return _field(name).default


def _help(name: str) -> str:
    return _field(name).metadata["help"]


def _check_parser(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in PARSERS:
        raise typer.BadParameter(f"expected one of {', '.join(PARSERS)}")
    return value


def _backend_args(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; VALUE is read as JSON when it parses (numbers, booleans, objects), else a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--backend-arg")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _explicit_backend_options(backend: str, given: dict[str, Any]) -> dict[str, Any]:
    """The explicit backend options that were set, refusing those the chosen backend does not take."""
    from twgrpo_eval.backends import default_backend

    name = default_backend() if backend == "auto" else backend
    out = {}
    for key, value in given.items():
        if value is None:
            continue
        owners = _BACKEND_OPTIONS[key]
        if name not in (owners if isinstance(owners, tuple) else (owners,)):
            raise typer.BadParameter(f"only for --backend {' or '.join(owners) if isinstance(owners, tuple) else owners}"
                                     f" (the backend is {name})", param_hint=f"--{key.replace('_', '-')}")
        out[key] = value
    return out


@app.callback(invoke_without_command=True)
def evaluate(
    ctx: typer.Context,
    bench: Optional[str] = typer.Option(None, "--bench", help=_help("bench")),
    model: Optional[str] = typer.Option(None, "--model", help=_help("model")),
    backend: str = typer.Option(_default("backend"), "--backend", help=_help("backend")),
    data: Optional[str] = typer.Option(None, "--data", help=_help("data")),
    video_root: Optional[str] = typer.Option(None, "--video-root", help=_help("video_root")),
    out: Optional[str] = typer.Option(None, "--out", help=_help("out")),
    limit: Optional[int] = typer.Option(None, "--limit", help=_help("limit")),
    prompt: str = typer.Option(_default("prompt"), "--prompt", help=_help("prompt")),
    frames: int = typer.Option(_default("frames"), "--frames", help=_help("frames")),
    sample_fps: Optional[float] = typer.Option(None, "--sample-fps", help=_help("sample_fps")),
    model_fps: Optional[float] = typer.Option(None, "--model-fps", help=_help("model_fps")),
    min_pixels: int = typer.Option(_default("min_pixels"), "--min-pixels", help=_help("min_pixels")),
    max_pixels: int = typer.Option(_default("max_pixels"), "--max-pixels", help=_help("max_pixels")),
    temperature: float = typer.Option(_default("temperature"), "--temperature", help=_help("temperature")),
    top_p: float = typer.Option(_default("top_p"), "--top-p", help=_help("top_p")),
    max_new_tokens: int = typer.Option(_default("max_new_tokens"), "--max-new-tokens", help=_help("max_new_tokens")),
    parser: Optional[str] = typer.Option(None, "--parser", callback=_check_parser, help=_help("parser")),
    seed: int = typer.Option(_default("seed"), "--seed", help=_help("seed")),
    batch_size: int = typer.Option(_default("batch_size"), "--batch-size", help=_help("batch_size")),
    workers: int = typer.Option(_default("workers"), "--workers", help=_help("workers")),
    tensor_parallel_size: Optional[int] = typer.Option(None, "--tensor-parallel-size", "--tp",
                                                       help="vllm: GPUs per engine (tensor parallel)"),
    data_parallel_size: Optional[int] = typer.Option(None, "--data-parallel-size", "--dp",
                                                     help="vllm: engine replicas, each on its own GPUs"),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="vllm: context length to reserve"),
    gpu_memory_utilization: Optional[float] = typer.Option(None, "--gpu-memory-utilization",
                                                           help="vllm: share of GPU memory to use"),
    device: Optional[str] = typer.Option(None, "--device", help="transformers: cpu | cuda | cuda:N (default: auto)"),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="vllm/transformers: auto | bfloat16 | float16 | float32"),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="openai: server URL, e.g. http://127.0.0.1:8000/v1"),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="openai: requests in flight (default 8)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="openai: seconds per request attempt (default 600)"),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", help="openai: retries with backoff (default 5)"),
    backend_arg: list[str] = typer.Option([], "--backend-arg", help="extra backend keyword argument KEY=VALUE "
                                          "(JSON values), e.g. enforce_eager=true; repeatable"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
) -> None:
    """Evaluate a model on a benchmark (TW-GRPO protocol by default); re-running the command resumes.

    Example: twgrpo eval --bench mmvu --model TINY --backend transformers --data examples/eval_sample.json
    --video-root ../shared/data/videos --out runs/demo
    """
    if ctx.invoked_subcommand is not None:
        return
    if bench is None or model is None:
        raise typer.BadParameter("--bench and --model are required to run an evaluation",
                                 param_hint="--bench/--model")
    from twgrpo_eval.runner import EvalConfig, run_eval

    options = _explicit_backend_options(backend, {
        "tensor_parallel_size": tensor_parallel_size, "data_parallel_size": data_parallel_size,
        "max_model_len": max_model_len, "gpu_memory_utilization": gpu_memory_utilization, "device": device,
        "dtype": dtype, "api_base": api_base, "concurrency": concurrency, "timeout": timeout,
        "max_retries": max_retries})
    options.update(_backend_args(backend_arg))
    data_source = None
    if data is None:  # the local default if present, else the Hub: annotations + the selected records' videos
        from twgrpo_data.hub_sources import resolve_benchmark_data

        found = resolve_benchmark_data(bench, limit, videos=video_root is None,
                                       announce=lambda line: err_console.print(line, markup=False))
        data, data_source = str(found.records_path), found.provenance
        video_root = video_root or (str(found.video_root) if found.video_root else None)
    config = EvalConfig(bench=bench, model=model, backend=backend, data=data, video_root=video_root, out=out,
                        limit=limit, prompt=prompt, frames=frames, sample_fps=sample_fps, model_fps=model_fps,
                        min_pixels=min_pixels, max_pixels=max_pixels, temperature=temperature, top_p=top_p,
                        max_new_tokens=max_new_tokens, parser=parser, seed=seed, batch_size=batch_size,
                        workers=workers, backend_options=options, data_source=data_source)
    try:
        result = run_eval(config, console=err_console, progress=not no_progress)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished batches are saved; re-run the same command to resume")
        raise typer.Exit(130) from None
    _print_results(result.results, result.out)


def _print_results(results: dict[str, Any], out: Path) -> None:
    run = results.get("run", {})
    if "accuracy" not in results:
        console.print(f"no samples in {out}")
        return
    status = "complete" if run.get("complete") else "[yellow]incomplete[/]"
    _print_metrics(f"{run.get('bench')} · {Path(str(run.get('model'))).name} · prompt {run.get('prompt')} · "
                   f"parser {run.get('parser')}", results, f"{status} · run folder: [bold]{out}[/]")


def _print_metrics(title: str, results: dict[str, Any], note: str) -> None:
    """One table of a summary (overall, single/multi, per category) and a line of the rest."""
    table = Table(title=f"{title}  (×100, 95% bootstrap CI)")
    for col in ("", "n", "accuracy", "soft accuracy"):
        table.add_column(col, justify="left" if not col else "right")
    blocks = [("all", results), ("single-answer", results["single"]), ("multi-answer", results["multi"])]
    blocks += [(f"  {c}", b) for c, b in results.get("by_category", {}).items()]
    for name, block in blocks:
        if block.get("n"):
            table.add_row(name, str(block["n"]), _pct(block), _pct(block, "soft_accuracy"))
    console.print(table)
    fmt = "–" if results.get("format_rate") is None else f"{results['format_rate']:.1f}%"
    console.print(f"failed items: {results['n_failed']} · format: {fmt} · mean output: "
                  f"{results.get('mean_output_chars')} chars · {note}")


def _pct(block: dict, key: str = "accuracy") -> str:
    if not block or block.get(key) is None:
        return "–"
    lo, hi = block[f"{key}_ci95"]
    return f"{block[key]:.2f} [{lo:.1f}, {hi:.1f}]"


@app.command("rescore")
def rescore(
    logs: list[Path] = typer.Argument(..., help="TW-GRPO eval logs (JSONL) or twgrpo samples.jsonl files"),
    parser: Optional[str] = typer.Option(None, callback=_check_parser,
                                         help="twgrpo | raw | lenient (default: the run's own, else twgrpo)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Re-score existing per-sample eval logs (duplicates from restarted runs removed).

    Example: twgrpo eval rescore ../shared/data/logs/twgrpo_mmvu_eval.jsonl --parser lenient
    """
    from twgrpo_eval.rescore import rescore_log

    summaries = [rescore_log(p, parser).summary() for p in logs]
    if as_json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"logs": summaries}, indent=2))
        return
    for s in summaries:
        _print_metrics(f"{Path(s['file']).name} · parser {s['parser']}", s,
                       f"{s['lines']} lines, {s['duplicates_removed']} duplicate(s) removed")


@app.command("compare")
def compare(
    runs: list[Path] = typer.Argument(..., help="run folders (or their results.json)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="also write a bar chart PNG with 95% intervals"),
    as_json: bool = typer.Option(False, "--json", help="print the runs' metrics as JSON instead of a table"),
) -> None:
    """Compare eval runs side by side: accuracy, soft accuracy, single/multi-answer, categories, settings.

    Example: twgrpo eval compare runs/mmvu-base runs/mmvu-twgrpo --plot mmvu.png
    """
    from twgrpo_eval.compare import info_rows, load_runs, metric_rows, plot_runs

    loaded = load_runs(runs)
    if as_json:
        print(json.dumps({r.label: {k: v for k, v in r.results.items() if k != "file"} for r in loaded}, indent=2))
    else:
        table = Table(title="Eval runs: accuracy / soft accuracy ×100 [95% bootstrap CI]")
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
        (err_console if as_json else console).print(f"wrote {path}")


def _cell(value: float | None, ci: list[float] | None, n: int | None, best: bool) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "") + ("" if n is None else f" n={n}")
    return f"[bold]{text}[/]" if best else text
