"""One evaluation run: records → prompts → sampled videos → backend → scored `samples.jsonl` → `results.json`.

A run lives in a folder (DESIGN §6):

    config.json     every setting used (resolved prompt style and parser included, at the top level), the
                    prompt template, the video sampling arguments, the model path, seed and, per session (start,
                    resume), the package versions and the backend's own settings
    samples.jsonl   one line per answered item, appended and flushed (fsync) after every batch: id, output,
                    gold, options, category, error, parsed answer, rewards, prompt hash, frames, fps, usage
    results.json    `twgrpo_data.metrics.summarize` of `samples.jsonl` — computed by re-scoring the file
                    itself, so `twgrpo eval rescore RUN/samples.jsonl` reproduces it exactly

Running the same command again resumes: items already answered are skipped, items that failed (missing
video, backend error) are tried again, and the last line of an id wins, so nothing is counted twice. A
kill loses at most the batch in flight; a line cut short by the kill is dropped on resume. A missing or
corrupt video fails its item only, recorded with its error and counted as wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from twgrpo_data.errors import InputFormatError, TwgrpoError, VideoError
from twgrpo_data.formats import atomic_write_json, read_jsonl
from twgrpo_data.metrics import score_output
from twgrpo_data.record import Record
from twgrpo_data.scoring import PARSERS

from .backends import (VLLM_DISTRIBUTIONS, Backend, PixelBudget, Request, SamplingSettings, backend_class,
                       default_backend, installed_version)
from .backends.base import Generation, one_line
from .prompts import PROMPT_STYLES, Prompt, build_prompt, default_parser, resolve_style, template_of
from .rescore import rescore_log

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
CONFIG = "config.json"
PATCH_AREA = 28 * 28
# Settings that define what a run measures: resuming into a folder whose config differs in one of them
# would mix two protocols in one samples.jsonl, so it is refused. (Batch size, workers, limit, video root and
# engine options only change how fast, or how much, is evaluated.)
PROTOCOL_KEYS = ("bench", "model", "backend", "data", "prompt", "parser", "frames", "sample_fps", "model_fps",
                 "min_pixels",
                 "max_pixels", "temperature", "top_p", "max_new_tokens", "seed")
# Stop after this many consecutive batches in which the backend answered nothing (server down, engine dead)
# instead of writing an error line for every remaining item.
MAX_DEAD_BATCHES = 3
# package → its distribution names
VERSION_PACKAGES = {name: (name,) for name in ("twgrpo", "torch", "transformers", "openai", "decord", "av", "numpy")}
VERSION_PACKAGES["vllm"] = VLLM_DISTRIBUTIONS


@dataclass
class EvalConfig:
    """Every setting of an evaluation run. Defaults are TW-GRPO's protocol (research: eval_anchors §1)."""

    bench: str = field(metadata={"help": "benchmark name (mvbench, tempcompass, videomme, mmvu, nextgqa, clevrer…)"})
    model: str = field(metadata={"help": "local model folder or Hub id (the served model name for openai)"})
    backend: str = field(default="auto", metadata={"help": "vllm | transformers | openai | auto (vllm if installed)"})
    data: str | None = field(default=None, metadata={
        "help": "unified/records/parquet/HF file, the benchmark's native files or a Hub dataset (default: its usual "
                "path if present, else its Hub repository: annotations + the selected records' videos)"})
    video_root: str | None = field(default=None, metadata={"help": "folder that record video paths are relative to"})
    out: str | None = field(default=None, metadata={"help": "run folder (default runs/BENCH-MODELNAME)"})
    limit: int | None = field(default=None, metadata={"help": "evaluate only the first N records"})
    prompt: str = field(default="auto", metadata={
        "help": "cot | zeroshot | clevrer | auto (clevrer for CLEVRER and multi-answer sets, else cot)"})
    frames: int = field(default=16, metadata={"help": "frames per video (uniform; the cap when --sample-fps is set)"})
    sample_fps: float | None = field(default=None, metadata={
        "help": "sample at this rate (4..--frames frames) instead of exactly --frames uniform frames"})
    model_fps: float | None = field(default=None, metadata={
        "help": "frame rate told to the model (default: the real sampling rate; TW-GRPO's eval told none, so "
                "Qwen2.5-VL assumed 2.0)"})
    min_pixels: int = field(default=128 * PATCH_AREA, metadata={"help": "per-frame pixel floor (128·28²)"})
    max_pixels: int = field(default=196 * PATCH_AREA, metadata={"help": "per-frame pixel budget (196·28² = 153,664)"})
    temperature: float = field(default=0.1, metadata={"help": "sampling temperature (0 = greedy)"})
    top_p: float = field(default=0.001, metadata={"help": "nucleus sampling top_p"})
    max_new_tokens: int = field(default=4096, metadata={"help": "generation budget per answer"})
    parser: str | None = field(default=None, metadata={
        "help": "twgrpo | raw | lenient (default: raw for --prompt zeroshot, else twgrpo)"})
    seed: int = field(default=42, metadata={"help": "sampling seed (per item: derived from seed and id)"})
    batch_size: int = field(default=16, metadata={"help": "requests per backend call (and per flush)"})
    workers: int = field(default=4, metadata={"help": "video decoding threads running ahead of the model"})
    backend_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "backend keyword arguments (vLLM engine args, from_pretrained args, server options)"})
    data_source: dict[str, Any] | None = field(default=None, metadata={
        "help": "where the data came from when --data was not given (local default, or Hub repo and commit)"})

    def check(self) -> None:
        """Raise `TwgrpoError` for values no run can use."""
        if self.prompt != "auto" and self.prompt not in PROMPT_STYLES:
            raise TwgrpoError(f"--prompt: expected auto or one of {', '.join(PROMPT_STYLES)}, got {self.prompt!r}")
        if self.parser is not None and self.parser not in PARSERS:
            raise TwgrpoError(f"--parser: expected one of {', '.join(PARSERS)}, got {self.parser!r}")
        for name in ("frames", "batch_size", "workers", "max_new_tokens", "min_pixels"):
            if getattr(self, name) < 1:
                raise TwgrpoError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_pixels < self.min_pixels:
            raise TwgrpoError("--max-pixels must be at least --min-pixels")
        if self.limit is not None and self.limit < 1:
            raise TwgrpoError("--limit must be at least 1")
        for name in ("sample_fps", "model_fps"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise TwgrpoError(f"--{name.replace('_', '-')} must be positive")
        if not 0 < self.top_p <= 1 or self.temperature < 0:
            raise TwgrpoError("--top-p must be in (0, 1] and --temperature at least 0")


@dataclass
class RunResult:
    """What `run_eval` did: the run folder, the results written and this session's throughput."""

    out: Path
    results: dict[str, Any]
    new_samples: int
    elapsed_s: float


# ----------------------------------------------------------------------------------------------------------
# inputs


def load_eval_records(bench: str, data: str | None) -> tuple[list[Record], str]:
    """The records to evaluate and the data path they came from.

    `data` may be a unified / records / parquet / HF-saved file of any benchmark, or the benchmark's own
    native files; without it the benchmark's default location is read. Invalid records stop the run (a
    benchmark's numbers are over all of its items), naming the first.
    """
    from twgrpo_data.benchmarks import get_benchmark, load_benchmark

    module = get_benchmark(bench)
    path = Path(data if data is not None else module.DEFAULT_PATH)
    result = load_benchmark(bench, path)
    if result.errors:
        raise TwgrpoError(f"{len(result.errors)} invalid record(s) in {path}, first: {result.errors[0]} "
                          f"(`twgrpo data validate {path}` lists them)")
    if not result.records:
        raise InputFormatError(f"{path}: no records to evaluate")
    return result.records, str(path.resolve())


def video_loader(video_root: str | None, settings: dict[str, Any]) -> Callable[[Record], Any]:
    """`record -> VideoFrames | None` for the prefetcher; any failure becomes a `VideoError` naming the file."""
    from twgrpo_data.benchmarks import locate_video

    def load(record: Record):
        if record.video is None:
            return None
        where = record.video
        try:
            ref = locate_video(record, video_root)
            where = ref.path
            return ref.sample(**settings)
        except VideoError:
            raise
        except Exception as exc:  # noqa: BLE001 — e.g. an unresolvable path, a frame too elongated to resize
            raise VideoError(f"{where}: {one_line(exc)}") from None

    return load


def sampling_settings(config: EvalConfig) -> dict[str, Any]:
    """`sample_video` keyword arguments for the run's frame and pixel settings."""
    if config.sample_fps is None:
        frames: dict[str, Any] = {"num_frames": config.frames, "fps": None}
    else:
        frames = {"num_frames": None, "fps": config.sample_fps, "min_frames": min(4, config.frames),
                  "max_frames": config.frames}
    return {**frames, "min_pixels": config.min_pixels, "max_pixels": config.max_pixels}


# ----------------------------------------------------------------------------------------------------------
# the run folder


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that change numbers, for config.json."""
    return {"python": platform.python_version(),
            **{name: installed_version(*dists) for name, dists in VERSION_PACKAGES.items()}}


def read_samples(path: Path) -> dict[str, dict[str, Any]]:
    """The last line per id of a run's samples.jsonl. A final line cut short by a kill is removed first."""
    if not path.exists():
        return {}
    with path.open("rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            fh.truncate(end)
    return {str(row.get("id")): row for row in read_jsonl(path)}


def check_resumable(out: Path, protocol: dict[str, Any]) -> dict[str, Any] | None:
    """The existing config.json of `out`, after checking it measured the same thing as `protocol`."""
    config_path = out / CONFIG
    if not config_path.exists():
        if (out / SAMPLES).exists():
            raise TwgrpoError(f"{out}: has {SAMPLES} but no {CONFIG}; not a twgrpo run folder, choose another --out")
        return None
    try:
        old = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{config_path}: invalid JSON ({exc.msg})") from None
    diffs = [f"{k}: {old.get(k)!r} → {protocol[k]!r}" for k in PROTOCOL_KEYS if old.get(k) != protocol[k]]
    if diffs:
        raise TwgrpoError(f"{out} holds a run with other settings ({'; '.join(diffs)}); resume it with the same "
                          "settings or pass a new --out")
    return old


def default_out(bench: str, model: str) -> Path:
    """`runs/BENCH-MODELNAME`: the same command always maps to the same folder, so re-running resumes."""
    name = Path(model.rstrip("/")).name or "model"
    return Path("runs") / f"{bench}-{name}"


def _model_path(model: str) -> str:
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else model


# ----------------------------------------------------------------------------------------------------------
# progress


class RateColumn(ProgressColumn):
    """Samples per second of this session (rich's windowed estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("– samples/s" if speed is None else f"{speed:.2f} samples/s", style="progress.data.speed")


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, disable=not enabled, transient=False)


# ----------------------------------------------------------------------------------------------------------
# the loop


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sample_line(record: Record, prompt: Prompt, generation: Generation, parser: str, video: Any,
                seconds: float) -> dict[str, Any]:
    """The samples.jsonl line for one answered (or failed) item."""
    category = record.meta.get("category")
    category = str(category) if category is not None else None
    score = score_output(record.id, generation.text, record.answer, parser=parser, options=record.options,
                         category=category, error=generation.error)
    return {
        "id": record.id, "output": generation.text, "gold": list(record.answer), "options": list(record.options),
        "category": category, "error": score.error, "parsed": score.parsed, "soft": score.soft,
        "strict": score.strict, "format": score.format, "prompt_hash": prompt.hash,
        "video": getattr(video, "path", None), "frames": getattr(video, "num_frames", None),
        "fps": round(float(video.fps), 6) if video is not None else None, "usage": generation.usage,
        "seconds": round(seconds, 4),
    }


def evaluate_batches(batches: Iterable[list[tuple[Record, Any]]], backend: Backend, prompts: dict[str, Prompt],
                     parser: str, write: Callable[[list[dict[str, Any]]], None],
                     advance: Callable[[int, int], None] = lambda n, failed: None,
                     model_fps: float | None = None) -> int:
    """Answer, score and write batches of `(record, VideoFrames | VideoError | None)`; returns items written.

    A `VideoError` fails its item without reaching the backend. `model_fps` replaces the sampling rate the
    model is told. Stops with `TwgrpoError` when the backend has answered nothing in `MAX_DEAD_BATCHES`
    batches in a row.
    """
    def told(video: Any) -> Any:
        return video if video is None or model_fps is None else dataclasses.replace(video, fps=model_fps)

    written, dead = 0, 0
    for batch in batches:
        requests = [Request(r.id, prompts[r.id], told(v)) for r, v in batch if not isinstance(v, VideoError)]
        start = time.perf_counter()
        answers = iter(backend.generate(requests))
        per_item = (time.perf_counter() - start) / max(1, len(requests))
        lines, failed, backend_failed = [], 0, 0
        for record, video in batch:
            if isinstance(video, VideoError):
                generation, video, seconds = Generation(error=f"video: {video}"), None, 0.0
            else:
                generation, seconds = next(answers), per_item
                backend_failed += generation.error is not None
            failed += generation.error is not None
            lines.append(sample_line(record, prompts[record.id], generation, parser, video, seconds))
        write(lines)
        written += len(lines)
        advance(len(lines), failed)
        dead = dead + 1 if requests and backend_failed == len(requests) else 0
        if dead >= MAX_DEAD_BATCHES:
            last = next(line["error"] for line in reversed(lines) if line["error"])
            raise TwgrpoError(f"the {backend.name} backend failed on every item of {dead} batches in a row "
                              f"(last: {last}); stopped — fix it and re-run the same command to resume")
    return written


def append_lines(path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """A writer that appends lines to samples.jsonl in one write and makes them durable (flush + fsync)."""
    def write(lines: list[dict[str, Any]]) -> None:
        blob = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())

    return write


def write_results(out: Path, parser: str, run_info: dict[str, Any]) -> dict[str, Any]:
    """results.json = `run_info` + the re-score of samples.jsonl (the very numbers `twgrpo eval rescore` gives)."""
    summary = rescore_log(out / SAMPLES, parser).summary()
    results = {"run": run_info, **summary}
    atomic_write_json(out / RESULTS, results)
    return results


def build_backend(name: str, config: EvalConfig) -> Backend:
    """Instantiate the named backend with the run's sampling and pixel settings and its own options."""
    sampling = SamplingSettings(config.temperature, config.top_p, config.max_new_tokens, config.seed)
    pixels = PixelBudget(config.min_pixels, config.max_pixels)
    cls = backend_class(name)
    try:
        return cls(config.model, sampling, pixels, **config.backend_options)
    except TwgrpoError:
        raise
    except TypeError as exc:  # an unknown --backend-arg
        raise TwgrpoError(f"--backend {name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 — a model that cannot be loaded is the user's to fix: one line
        raise TwgrpoError(f"--backend {name} could not load {config.model!r}: {one_line(exc)}") from exc


def run_eval(config: EvalConfig, *, console: Console | None = None, progress: bool = True,
             backend_factory: Callable[[str, EvalConfig], Backend] = build_backend) -> RunResult:
    """Evaluate `config.model` on the benchmark, resuming the run folder if it exists.

    Example:
        >>> run_eval(EvalConfig(bench="mmvu", model="runs/tiny", data="examples/eval_sample.json",
        ...                     video_root="../shared/data/videos", out="runs/demo"))   # doctest: +SKIP
    """
    config.check()
    console = console or Console(stderr=True)
    started = time.perf_counter()
    records, data_path = load_eval_records(config.bench, config.data)
    if config.limit is not None:
        records = records[: config.limit]
    style = resolve_style(config.prompt, config.bench, records)
    parser = config.parser or default_parser(style)
    backend_name = default_backend() if config.backend == "auto" else config.backend
    if backend_name != "openai" and config.model.startswith(("/", "./", "../", "~")) \
            and not Path(config.model).expanduser().exists():
        raise TwgrpoError(f"{config.model}: no such model folder")  # before any run folder is made
    out = Path(config.out) if config.out else default_out(config.bench, config.model)
    settings = {**asdict(config), "backend": backend_name, "prompt": style, "parser": parser, "data": data_path,
                "out": str(out), "model": _model_path(config.model)}
    old = check_resumable(out, settings)
    samples_path = out / SAMPLES
    previous = read_samples(samples_path)
    outside = sorted(set(previous) - {r.id for r in records})
    if outside:
        # results.json scores the whole samples.jsonl (so that rescore reproduces it): items from a larger
        # earlier selection would be counted in a smaller one
        raise TwgrpoError(f"{out}: already holds {len(outside)} answered item(s) outside this selection "
                          f"(e.g. id {outside[0]!r}); --limit or --data changed: use another --out")
    out.mkdir(parents=True, exist_ok=True)
    done = {i for i, row in previous.items() if row.get("error") is None}
    pending = [r for r in records if r.id not in done]
    prompts = {r.id: build_prompt(r, style) for r in pending}
    session = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "argv": sys.argv,
               "versions": package_versions(), "selected": len(records), "pending": len(pending)}
    # flat: `twgrpo eval rescore` reads the run's parser from the top level
    config_doc = {**settings, "prompt_template": template_of(style), "video_sampling": sampling_settings(config),
                  "sessions": (old or {}).get("sessions", []) + [session]}
    atomic_write_json(out / CONFIG, config_doc)

    new = 0
    with _progress(console, progress) as bar:
        task = bar.add_task(f"{config.bench} · {Path(config.model).name}", total=len(records),
                            completed=len(records) - len(pending), failed=0)
        if pending:
            load_start = time.perf_counter()
            backend = backend_factory(backend_name, config)
            session["backend"] = {"name": backend.name, "load_s": round(time.perf_counter() - load_start, 2),
                                  **backend.describe()}
            atomic_write_json(out / CONFIG, config_doc)
            failed_total = 0

            def advance(n: int, failed: int) -> None:
                nonlocal failed_total, new
                new += n
                failed_total += failed
                bar.update(task, advance=n, failed=failed_total)

            from twgrpo_data.video import VideoPrefetcher

            prefetch = VideoPrefetcher(pending, video_loader(config.video_root, sampling_settings(config)),
                                       workers=config.workers, queue_size=2 * config.batch_size)
            try:
                with backend, prefetch:
                    evaluate_batches(_batches(prefetch, config.batch_size), backend, prompts, parser,
                                     append_lines(samples_path), advance, config.model_fps)
            finally:
                session["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                session["written"] = new
                atomic_write_json(out / CONFIG, config_doc)
    elapsed = time.perf_counter() - started
    answered = read_samples(samples_path)
    run_info = {"bench": config.bench, "model": settings["model"], "backend": backend_name, "prompt": style,
                "parser": parser, "selected": len(records),
                "complete": all(r.id in answered for r in records),
                "session": {"new_samples": new, "elapsed_s": round(elapsed, 2),
                            "samples_per_s": round(new / elapsed, 3) if new else None}}
    results = write_results(out, parser, run_info) if answered else {"run": run_info}
    return RunResult(out, results, new, elapsed)
