"""One evaluation run: records → prompts → sampled videos → backend → scored `samples.jsonl` → `results.json`;
and `run_benchmarks`, the same for each of several benchmarks (what `twgrpo eval` calls).

The settings are `twgrpo_eval.config.EvalConfig`, the folder's files `twgrpo_eval.run_folder`, the loop over
batches `twgrpo_eval.loop`. Running the same command again resumes: items already answered are skipped, items
that failed (missing video, backend error) are tried again, and the last line of an id wins, so nothing is
counted twice. A kill loses at most the batch in flight; a line cut short by the kill is dropped on resume. A
missing or corrupt video fails its item only, recorded with its error and counted as wrong — but a run where
nothing could be answered (all videos missing, a dead server) stops with exit status 1 and one line saying why.
Everything that can be checked before a model loads (settings, data, the first videos, the vLLM version) is,
and a start that fails leaves no new run folder behind. Progress goes to a `twgrpo_data.progress.Progress`;
nothing here draws.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twgrpo_data import installed_version
from twgrpo_data.errors import TwgrpoError, UsageError
from twgrpo_data.names import check_model_reference
from twgrpo_data.outputs import atomic_write_json
from twgrpo_data.progress import SILENT, Progress
from twgrpo_data.prompts import Prompt
from twgrpo_data.record import Record

from .backends import (
    VLLM_DISTRIBUTIONS,
    Backend,
    PixelBudget,
    SamplingSettings,
    backend_class,
    check_vllm_version,
    resolve_backend,
)
from .backends.base import one_line
from .config import EvalConfig, benchmark_names, sampling_settings
from .inputs import check_first_videos, records_benchmark, records_fingerprint, select_records, video_loader
from .loop import evaluate_batches, in_batches
from .protocol import Plan, apply_protocol, make_plan
from .run_folder import (
    CONFIG,
    SAMPLES,
    RunFolder,
    append_lines,
    check_resumable,
    default_out,
    model_path,
    package_versions,
    read_samples,
    write_prompts,
    write_results,
)
from .secrets import redact, scrub, secrets_in_use

__all__ = ["EvalConfig", "RunResult", "run_benchmarks", "run_eval"]

#: Where the judge is when `--judge-api-base` is not given (the official judges are OpenAI models).
DEFAULT_JUDGE_API_BASE = "https://api.openai.com/v1"


@dataclass
class RunResult:
    """What `run_eval` did: the run folder, the results written and this session's throughput."""

    out: Path
    results: dict[str, Any]
    new_samples: int
    elapsed_s: float


def build_backend(name: str, config: EvalConfig) -> Backend:
    """Instantiate the named backend with the run's sampling and pixel settings and its own options."""
    if name != "openai":  # a served model's name is the server's; any other is a folder or a Hub id
        check_model_reference(config.model)  # at once, not after a minute of Hub retries
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
        raise TwgrpoError(f"--backend {name} could not load {config.model!r}: {one_line(exc)}") from None


def make_judge(config: EvalConfig, out: Path) -> Any:
    """The run's LLM judge, checked to be reachable (before any item), its judgements cached in the run folder."""
    from .judge import JUDGEMENTS, Judge, JudgeSettings

    try:
        settings = JudgeSettings(
            config.judge_model, config.judge_api_base or DEFAULT_JUDGE_API_BASE, **config.judge_options
        )
    except TypeError as exc:
        raise TwgrpoError(f"judge options: {exc}") from None
    return Judge(settings, out / JUDGEMENTS)


# ----------------------------------------------------------------------------------------------------------
# several benchmarks


def run_benchmarks(
    config: EvalConfig,
    *,
    max_failed: float | None = None,
    progress: Progress = SILENT,
    announce: Callable[[str], None] = lambda line: None,
    warn: Callable[[str], None] = lambda text: warnings.warn(text, stacklevel=6),
    done: Callable[[RunResult], None] = lambda result: None,
) -> list[RunResult]:
    """Evaluate `config.model` on each benchmark `config.bench` names (`mmvu`, `mmvu,clevrer`, `all`), one run
    folder each (under `config.out` when there are several), and return their results in order.

    A benchmark without `config.data` reads its default data, else its Hub repository (annotations and the
    selected records' videos; `announce` gets a line about what is downloaded). `done` gets each run's result as
    it finishes. With `max_failed`, a run in which more than that share of the items failed stops the command
    after every run was made (`TwgrpoError`; the results are written either way).

    Example:
        >>> run_benchmarks(EvalConfig(bench="mmvu,clevrer", model="runs/tiny", out="runs/both"))  # doctest: +SKIP
    """
    benches = benchmark_names(config.bench)
    if resolve_backend(config.backend) != "openai":  # before any download or model load
        check_model_reference(config.model)
    if len(benches) > 1 and config.data is not None:
        raise UsageError(
            "--data names one benchmark's file; with several benchmarks each reads its default data (run them one "
            "by one to pass files)"
        )
    results = []
    for name in benches:
        run = _benchmark_config(config, name, several=len(benches) > 1)
        run.check()  # before anything is downloaded or created
        if run.data is None:
            _default_data(run, progress, announce)
        result = run_eval(run, progress=progress, warn=warn)
        done(result)
        results.append(result)
    _refuse_too_many_failed(results, max_failed)
    return results


def _benchmark_config(config: EvalConfig, bench: str, *, several: bool) -> EvalConfig:
    """The settings of one benchmark's run: with several, each in its own folder under `--out`."""
    out = config.out
    if several:
        out = str(Path(config.out) / bench) if config.out is not None else str(default_out(bench, config.model))
    return dataclasses.replace(config, bench=bench, out=out)


def _default_data(config: EvalConfig, progress: Progress, announce: Callable[[str], None]) -> None:
    """Fill in the data (and the video root, unless given) of a run without `--data`: the benchmark's local
    default if present, else the Hub (annotations + the selected records' videos)."""
    from twgrpo_data.hub.benchmark_data import resolve_benchmark_data

    found = resolve_benchmark_data(
        config.bench, config.limit, videos=config.video_root is None, announce=announce, progress=progress
    )
    config.data, config.data_source = str(found.records_path), found.provenance
    config.video_root = config.video_root or (str(found.video_root) if found.video_root else None)


def _refuse_too_many_failed(results: list[RunResult], max_failed: float | None) -> None:
    if max_failed is None:
        return
    over = []
    for result in results:
        failed, n = result.results.get("n_failed") or 0, result.results.get("n") or 0
        if n and failed / n > max_failed:
            over.append(
                f"{result.results.get('run', {}).get('bench')}: {failed} of {n} items failed ({100 * failed / n:.1f}%)"
            )
    if over:
        raise TwgrpoError(
            f"{'; '.join(over)} — above --max-failed {100 * max_failed:g}%; the results are written, the failed "
            "items are retried when the same command is run again"
        )


# ----------------------------------------------------------------------------------------------------------
# one benchmark


def run_eval(
    config: EvalConfig,
    *,
    progress: Progress = SILENT,
    backend_factory: Callable[[str, EvalConfig], Backend] = build_backend,
    warn: Callable[[str], None] = lambda text: warnings.warn(text, stacklevel=5),
) -> RunResult:
    """Evaluate `config.model` on the benchmark, resuming the run folder if it exists.

    Secret settings never reach the run folder or a message; the error raised says why a run stopped. Once the
    model is loaded, the items answered (and failed) are counted on a `progress` task; `warn` gets a line for
    what may be wrong but does not stop the run (records that look like another benchmark's).

    Example:
        >>> run_eval(EvalConfig(bench="mmvu", model="runs/tiny", data="examples/eval_sample.json",
        ...                     video_root="../shared/data/videos", out="runs/demo"))   # doctest: +SKIP
    """
    # flags, config and the environment's (OPENAI_API_KEY…), the judge's key included
    secrets = secrets_in_use(config.backend_options, config.judge_options)
    try:
        return _run_eval(config, progress, backend_factory, secrets, warn)
    except TwgrpoError as exc:
        text = scrub(str(exc), secrets)
        if text == str(exc):
            raise
        raise TwgrpoError(text) from None


@dataclass
class _Run:
    """What a run knows before it touches its folder: its settings after the protocol, its records and plan."""

    config: EvalConfig
    all_records: list[Record]  # the whole data file: protocol choices and the fingerprint come from it
    records: list[Record]  # the selection (--shard, --limit)
    data_path: str
    plan: Plan
    backend: str
    looks_like: str | None  # the benchmark the records look like
    out: Path

    def settings(self) -> dict[str, Any]:
        """config.json's settings: the config as resolved (backend, prompt, parser, data), secrets redacted."""
        config = self.config
        return {
            **asdict(config),
            "backend": self.backend,
            "prompt": self.plan.style,
            "parser": self.plan.parser,
            "data": self.data_path,
            "data_fingerprint": records_fingerprint(self.all_records),
            "records_bench": self.looks_like,
            "prompt_template_hash": self.plan.template_hash,
            "out": str(self.out),
            "model": model_path(config.model),
            "backend_options": redact(config.backend_options),
            "judge_options": redact(config.judge_options),
        }


@dataclass
class _Session:
    """One session of a run in its claimed folder: what is left to answer and what config.json says."""

    run: _Run
    folder: RunFolder
    pending: list[Record]  # never tried first, then the failed ones
    answered_before: int  # by earlier sessions
    video_root: str
    prompts: dict[str, Prompt]  # id → prompt, built before any model loads
    doc: dict[str, Any]  # config.json
    entry: dict[str, Any]  # this session's entry in doc["sessions"]
    judge: Any = None
    written: int = 0  # lines this session appended to samples.jsonl


def _run_eval(
    config: EvalConfig,
    progress: Progress,
    backend_factory: Callable[[str, EvalConfig], Backend],
    secrets: list[str],
    warn: Callable[[str], None],
) -> RunResult:
    started = time.perf_counter()
    run = _prepare(config, warn)
    with RunFolder.claim(run.out) as folder:
        session = _open_session(run, folder)
        try:
            new = _answer(session, backend_factory, progress, secrets)
        finally:
            if session.judge is not None:
                session.judge.close()
    try:
        elapsed = time.perf_counter() - started
        answered = read_samples(folder.samples)
        run_info = _run_info(run, answered, new, elapsed)
        results = (
            write_results(run.out, run.plan.parser, run_info) if answered or not run.records else {"run": run_info}
        )
    finally:
        folder.release()
    _refuse_all_failed(run, answered)
    return RunResult(run.out, results, new, elapsed)


def _prepare(config: EvalConfig, warn: Callable[[str], None]) -> _Run:
    """Check the settings, apply the protocol, read and select the records and make the plan: everything that
    can fail before a folder is touched."""
    config.check()
    config = apply_protocol(config)
    all_records, records, data_path = select_records(config)
    # protocol choices come from the whole file, never from a --limit or --shard slice
    plan = make_plan(config, all_records, data_path)
    backend = resolve_backend(config.backend)
    if backend == "vllm":
        check_vllm_version(installed_version(*VLLM_DISTRIBUTIONS))
    looks_like = records_benchmark(all_records, data_path)
    if looks_like is not None and looks_like != config.bench:
        warn(
            f"the records of {data_path} look like {looks_like}'s, not {config.bench}'s: "
            f"results are labelled {config.bench} (pass --bench {looks_like} if that is what they are)"
        )
    out = Path(config.out) if config.out else default_out(config.bench, config.model)
    return _Run(config, all_records, records, data_path, plan, backend, looks_like, out)


def _open_session(run: _Run, folder: RunFolder) -> _Session:
    """Check the folder may be resumed with these settings, find what is left to answer, check its first videos,
    build its prompts and open the judge: the last checks before a model loads."""
    config, plan = run.config, run.plan
    settings = run.settings()
    old = check_resumable(folder.path, settings)
    previous = read_samples(folder.samples)
    outside = sorted(set(previous) - {r.id for r in run.records})
    if outside:
        # results.json scores the whole samples.jsonl (so that rescore reproduces it): items from a larger
        # earlier selection would be counted in a smaller one
        raise TwgrpoError(
            f"{folder.path}: already holds {len(outside)} answered item(s) outside this selection "
            f"(e.g. id {outside[0]!r}); --limit, --shard or --data changed: use another --out"
        )
    done = {i for i, row in previous.items() if row.get("error") is None}
    # items never tried come first and failed ones are retried last, so that a re-run after a session that
    # stopped on bad items moves on instead of stopping on them again
    pending = sorted((r for r in run.records if r.id not in done), key=lambda r: r.id in previous)
    # data files are untrusted: their video paths stay under --video-root, else under the data file's folder
    from twgrpo_data.benchmarks import default_video_root

    video_root = config.video_root or str(default_video_root(run.data_path))
    check_first_videos(pending, config, video_root)
    # every prompt (and what an official scorer needs) is built now: a bad record stops the run here
    prompts = {r.id: plan.build(r, None) for r in pending}
    if plan.official is not None:
        for record in pending:
            plan.official.reference(record)
    entry: dict[str, Any] = {
        "started_at": _now(),
        "versions": package_versions(),
        "selected": len(run.records),
        "pending": len(pending),
    }
    doc = {
        **settings,
        "prompt_template": plan.template,
        "video_sampling": sampling_settings(config),
        "sessions": (old or {}).get("sessions", []) + [entry],
    }
    session = _Session(run, folder, pending, len(done), video_root, prompts, doc, entry)
    if pending and plan.official is not None and config.judge_model is not None:
        session.judge = make_judge(config, folder.path)  # an unreachable judge stops the run before its first item
        entry["judge"] = session.judge.settings.describe()
    return session


def _answer(
    session: _Session,
    backend_factory: Callable[[str, EvalConfig], Backend],
    progress: Progress,
    secrets: list[str],
) -> int:
    """Load the model, write config.json and prompts.json, then answer the pending items; returns how many
    lines were written."""
    run, folder = session.run, session.folder
    backend = None
    if session.pending:
        load_start = time.perf_counter()
        backend = backend_factory(run.backend, run.config)
        session.entry["backend"] = redact(
            {"name": backend.name, "load_s": round(time.perf_counter() - load_start, 2), **backend.describe()}
        )
    # written only now that the model loaded: a start that fails leaves the folder as it was
    atomic_write_json(folder.path / CONFIG, session.doc)
    write_prompts(folder.path, run.plan.template_hash, run.plan.style, run.plan.template)
    folder.written = True
    if backend is None:
        return 0
    try:
        _answer_pending(session, backend, progress, secrets)
    finally:
        session.entry["finished_at"] = _now()
        session.entry["written"] = session.written
        if session.judge is not None:
            session.entry["judge"]["asked"] = session.judge.asked
        atomic_write_json(folder.path / CONFIG, session.doc)
    return session.written


def _answer_pending(session: _Session, backend: Backend, progress: Progress, secrets: list[str]) -> None:
    """The pending items through the prefetcher (videos sampled ahead), the backend and the scorer, counted on a
    `progress` task and in `session.written`."""
    from twgrpo_data.video_prefetch import VideoPrefetcher

    run, config, plan = session.run, session.run.config, session.run.plan
    load = video_loader(
        session.video_root,
        sampling_settings(config),
        allow_text_only=config.allow_text_only,
        allow_outside=config.allow_outside_video_root,
        bounds=plan.uses_bounds,
        frame_rule=plan.official.frame_rule if plan.official is not None else None,
    )
    prefetch = VideoPrefetcher(session.pending, load, workers=config.workers, queue_size=2 * config.batch_size)
    label = f"{config.bench} · {Path(config.model.rstrip('/')).name or config.model}"
    total, left = len(run.records), len(session.pending)

    def prompt_of(record: Record, video: Any) -> Prompt:
        return plan.build(record, video) if plan.video_dependent else session.prompts[record.id]

    with progress.task(label, total, completed=total - left, failures=True) as task, backend, prefetch:

        def advance(n: int, failed: int) -> None:
            session.written += n
            task.advance(n, failed=failed)

        evaluate_batches(
            in_batches(prefetch, config.batch_size),
            backend,
            prompt_of,
            plan,
            append_lines(session.folder.samples),
            advance,
            config.told_fps,
            plan.template_hash,
            secrets,
            session.judge.ask if session.judge is not None else None,
            answered_before=session.answered_before,
        )


def _run_info(run: _Run, answered: dict[str, dict[str, Any]], new: int, elapsed: float) -> dict[str, Any]:
    """results.json's `run`: what was evaluated, how, whether every selected item is answered, and this
    session's throughput."""
    config = run.config
    info: dict[str, Any] = {
        "bench": config.bench,
        "model": model_path(config.model),
        "backend": run.backend,
        "prompt": run.plan.style,
        "parser": run.plan.parser,
        "selected": len(run.records),
        "complete": all(r.id in answered for r in run.records),
        "session": {
            "new_samples": new,
            "elapsed_s": round(elapsed, 2),
            "samples_per_s": round(new / elapsed, 3) if new else None,
        },
    }
    if config.shard is not None:
        info["shard"] = config.shard
    return info


def _refuse_all_failed(run: _Run, answered: dict[str, dict[str, Any]]) -> None:
    """Stop with one line when the run is complete and not one of its items was answered."""
    mine = [answered[r.id] for r in run.records if r.id in answered]
    if mine and all(row.get("error") for row in mine) and len(mine) == len(run.records):
        first = mine[0]
        raise TwgrpoError(
            f"every one of the {len(run.records)} items failed (e.g. {first['id']!r}: {first['error']}); "
            f"nothing was answered — see {run.out / SAMPLES}"
        )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
