"""One evaluation run: records → prompts → sampled videos → backend → scored `samples.jsonl` → `results.json`.

A run lives in a folder (DESIGN §6):

    config.json     every setting used (resolved prompt style and parser included, at the top level), the
                    prompt template and its hash, the video sampling arguments, the model path, seed, a content
                    fingerprint of the data and, per session (start, resume), the package versions and the
                    backend's own settings. Secrets are `"<redacted>"`; the raw argument list is not kept.
    prompts.json    the full prompt template (system message + user template) once per distinct template
    samples.jsonl   one line per answered item, appended and flushed (fsync) after every batch: id, question,
                    options, gold, prompt_hash, frame_indices, frame_timestamps, output (raw), parsed, strict,
                    soft, format, error, category, plus video, frames, fps, usage, seconds
    results.json    `twgrpo_data.metrics.summarize` of `samples.jsonl` — computed by re-scoring the file
                    itself, so `twgrpo eval rescore RUN/samples.jsonl` reproduces it exactly
    .lock           held while a run writes the folder: a second run on the same folder stops at once

Running the same command again resumes: items already answered are skipped, items that failed (missing
video, backend error) are tried again, and the last line of an id wins, so nothing is counted twice. A
kill loses at most the batch in flight; a line cut short by the kill is dropped on resume. A missing or
corrupt video fails its item only, recorded with its error and counted as wrong — but a run where nothing
could be answered (all videos missing, a dead server) stops with exit status 1 and one line saying why.
Everything that can be checked before a model loads (settings, data, the first videos, the vLLM version)
is, and a start that fails leaves no new run folder behind.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twgrpo_data import installed_version
from twgrpo_data.benchmarks.facts import Ask
from twgrpo_data.errors import InputFormatError, OutputPathError, TwgrpoError, VideoError
from twgrpo_data.io.json_text import read_jsonl
from twgrpo_data.io.jsonl_log import append_jsonl, cut_torn_tail
from twgrpo_data.names import check_model_reference
from twgrpo_data.outputs import LOCK, acquire_folder_lock, atomic_write_json, refuse_stdout
from twgrpo_data.pixels import PATCH_AREA
from twgrpo_data.progress import SILENT, Progress
from twgrpo_data.prompts import (
    PROMPT_STYLES,
    Prompt,
)
from twgrpo_data.record import Record
from twgrpo_data.scoring import PARSERS

from .backends import (
    BACKENDS,
    VLLM_DISTRIBUTIONS,
    Backend,
    PixelBudget,
    Request,
    SamplingSettings,
    backend_class,
    check_vllm_version,
    default_backend,
)
from .backends.base import Generation, one_line
from .protocol import (
    BENCHMARK_OFFICIAL,
    JUDGE_CONCURRENCY,
    OFFICIAL,
    OFFICIAL_MODEL_FPS,
    OFFICIAL_PARSER,
    OFFICIAL_SAMPLING,
    PROTOCOLS,
    Plan,
    apply_protocol,
    benchmark_protocol,
    load_options,
    make_plan,
    score_item,
)
from .rescore import rescore_log
from .secrets import redact, scrub, secrets_in_use

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
CONFIG = "config.json"
PROMPTS = "prompts.json"
# Settings that define what a run measures: resuming into a folder whose config differs in one of them
# would mix two protocols in one samples.jsonl, so it is refused. The data is compared by content
# (`data_fingerprint`), not by path; the prompt by its template's hash, so an edited template is a new
# protocol. (Batch size, workers, limit, video root, secrets and engine options only change how fast, or how
# much, is evaluated.)
PROTOCOL_KEYS = (
    "bench",
    "model",
    "backend",
    "protocol",
    "data_fingerprint",
    "prompt",
    "prompt_template_hash",
    "parser",
    "frames",
    "sample_fps",
    "model_fps",
    "min_pixels",
    "max_pixels",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
    "shard",
    "allow_text_only",
    "subtitles",
    "judge_model",
)
# What a folder written before a protocol key existed measured for it (so it still resumes).
PROTOCOL_KEY_DEFAULTS = {"subtitles": False}
# Before the model loads, this many of the first pending records' videos are looked up: if none exists, the
# run stops naming the first missing path and the --video-root it tried (a wrong root, not a few gaps).
FIRST_VIDEOS_CHECKED = 8
# Upper bounds of the frame settings (qwen-vl-utils' FPS_MAX_FRAMES and MAX_PIXELS): beyond them every item
# would fail (or exhaust memory) decoding, and the corrected re-run would be refused as "other settings".
MAX_FRAMES = 768
MAX_PIXELS = 16384 * PATCH_AREA
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
    protocol: str = field(
        default="standard",
        metadata={
            "help": "standard (16 distinct frames, real fps) | twgrpo-official (exact replica of the released "
            "scripts' inputs: 2 fps frames re-indexed to 16, fps 2.0 told, whole videos, prompts verbatim from the "
            "file) | official (the benchmark's own protocol: MVBench, Video-MME, TempCompass, MMVU)"
        },
    )
    data: str | None = field(
        default=None,
        metadata={
            "help": "unified/records/parquet/HF file, the benchmark's native files or a Hub dataset (default: its usual "
            "path if present, else its Hub repository: annotations + the selected records' videos)"
        },
    )
    video_root: str | None = field(
        default=None,
        metadata={
            "help": "folder that record video paths are relative to and must stay in (default: the data file's folder)"
        },
    )
    out: str | None = field(default=None, metadata={"help": "run folder (default runs/BENCH-MODELNAME)"})
    limit: int | None = field(default=None, metadata={"help": "evaluate only the first N records (of the shard)"})
    shard: str | None = field(
        default=None,
        metadata={
            "help": "K/N: evaluate the K-th of N deterministic parts of the records (by id; merge the N runs with "
            "`twgrpo eval merge`)"
        },
    )
    allow_text_only: bool = field(
        default=False,
        metadata={"help": "answer records without a video text-only (default: such a record fails its item)"},
    )
    allow_outside_video_root: bool = field(
        default=False,
        metadata={
            "help": "allow absolute video paths outside the video root and paths with '..' (default: refused; the "
            "root is --video-root or the data file's folder)"
        },
    )
    prompt: str = field(
        default="auto",
        metadata={"help": "cot | zeroshot | clevrer | auto (clevrer for CLEVRER and multi-answer sets, else cot)"},
    )
    frames: int = field(default=16, metadata={"help": "frames per video (uniform; the cap when --sample-fps is set)"})
    sample_fps: float | None = field(
        default=None,
        metadata={"help": "sample at this rate (4..--frames frames) instead of exactly --frames uniform frames"},
    )
    model_fps: float | None = field(
        default=None,
        metadata={
            "help": "frame rate told to the model (default: the real sampling rate; TW-GRPO's eval told none, so "
            "Qwen2.5-VL assumed 2.0)"
        },
    )
    min_pixels: int = field(default=128 * PATCH_AREA, metadata={"help": "per-frame pixel floor (128·28²)"})
    max_pixels: int = field(default=196 * PATCH_AREA, metadata={"help": "per-frame pixel budget (196·28² = 153,664)"})
    temperature: float = field(default=0.1, metadata={"help": "sampling temperature (0 = greedy)"})
    top_p: float = field(default=0.001, metadata={"help": "nucleus sampling top_p"})
    max_new_tokens: int = field(default=4096, metadata={"help": "generation budget per answer"})
    parser: str | None = field(
        default=None, metadata={"help": "twgrpo | raw | lenient (default: raw for --prompt zeroshot, else twgrpo)"}
    )
    seed: int = field(default=42, metadata={"help": "sampling seed (per item: derived from seed and id)"})
    batch_size: int = field(default=16, metadata={"help": "requests per backend call (and per flush)"})
    workers: int = field(default=4, metadata={"help": "video decoding threads running ahead of the model"})
    backend_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "backend keyword arguments (vLLM engine args, from_pretrained args, server options)"},
    )
    data_source: dict[str, Any] | None = field(
        default=None,
        metadata={"help": "where the data came from when --data was not given (local default, or Hub repo and commit)"},
    )
    subtitles: bool = field(
        default=False,
        metadata={"help": "Video-MME, --protocol official: show the subtitles of the sampled frames"},
    )
    judge_model: str | None = field(
        default=None,
        metadata={
            "help": "the LLM judge of --protocol official where the benchmark scores with one (MMVU, TempCompass)"
        },
    )
    judge_api_base: str | None = field(
        default=None,
        metadata={"help": "the judge's OpenAI-compatible server (default https://api.openai.com/v1)"},
    )
    judge_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "judge client settings: api_key (default $OPENAI_API_KEY; never written), timeout, max_retries"
        },
    )

    def check(self) -> None:
        """Raise `TwgrpoError` for values no run can use."""
        if self.backend != "auto" and self.backend not in BACKENDS:
            raise TwgrpoError(f"--backend: expected auto or one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.protocol not in PROTOCOLS:
            raise TwgrpoError(f"--protocol: expected one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.protocol != BENCHMARK_OFFICIAL:
            given = [f for f, v in (("--subtitles", self.subtitles), ("--judge-model", self.judge_model)) if v]
            if given:
                raise TwgrpoError(f"{given[0]}: only for --protocol official (a benchmark's own protocol)")
        if self.judge_api_base is not None and self.judge_model is None:
            raise TwgrpoError("--judge-api-base: give --judge-model too")
        shard_of(self.shard)
        if self.prompt != "auto" and self.prompt not in PROMPT_STYLES:
            raise TwgrpoError(f"--prompt: expected auto or one of {', '.join(PROMPT_STYLES)}, got {self.prompt!r}")
        if self.parser is not None and self.parser not in PARSERS:
            raise TwgrpoError(f"--parser: expected one of {', '.join(PARSERS)}, got {self.parser!r}")
        refuse_stdout(self.out or "", "run folder", "--out")
        for name in ("frames", "batch_size", "workers", "max_new_tokens", "min_pixels"):
            if getattr(self, name) < 1:
                raise TwgrpoError(f"--{name.replace('_', '-')} must be at least 1")
        if self.frames > MAX_FRAMES:
            raise TwgrpoError(f"--frames {self.frames}: at most {MAX_FRAMES} (qwen-vl-utils' FPS_MAX_FRAMES)")
        if self.max_pixels < self.min_pixels:
            raise TwgrpoError("--max-pixels must be at least --min-pixels")
        if self.max_pixels > MAX_PIXELS:
            raise TwgrpoError(f"--max-pixels {self.max_pixels}: at most {MAX_PIXELS:,} per frame (16384·28²)")
        if self.limit is not None and self.limit < 1:
            raise TwgrpoError("--limit must be at least 1")
        for name in ("sample_fps", "model_fps", "temperature", "top_p"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise TwgrpoError(f"--{name.replace('_', '-')} {value}: not a number")
        for name in ("sample_fps", "model_fps"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise TwgrpoError(f"--{name.replace('_', '-')} must be positive")
        if not 0 < self.top_p <= 1 or self.temperature < 0:
            raise TwgrpoError("--top-p must be in (0, 1] and --temperature at least 0")

    @property
    def told_fps(self) -> float | None:
        """The frame rate the model is told instead of the real sampling rate (None: the real one)."""
        return OFFICIAL_MODEL_FPS if self.protocol == OFFICIAL else self.model_fps


def shard_of(text: str | None) -> tuple[int, int] | None:
    """`"K/N"` → `(K, N)` with 1 <= K <= N; None stays None."""
    if text is None:
        return None
    k, sep, n = str(text).partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit() and 1 <= int(k) <= int(n)):
        raise TwgrpoError(f"--shard: expected K/N with 1 <= K <= N (e.g. 2/8), got {text!r}")
    return int(k), int(n)


def in_shard(record_id: str, k: int, n: int) -> bool:
    """Whether a record belongs to shard K of N: by a hash of its id, so every N-way run splits alike,
    whatever the order of the file or --limit."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def records_fingerprint(records: Iterable[Record]) -> str:
    """A content hash of records (questions, options, gold, videos, meta): a corrected gold answer changes it."""
    digest = hashlib.sha256()
    for r in records:
        row = [r.id, r.question, r.options, r.answer, r.video, r.source, r.meta, r.qai]
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


@dataclass
class RunResult:
    """What `run_eval` did: the run folder, the results written and this session's throughput."""

    out: Path
    results: dict[str, Any]
    new_samples: int
    elapsed_s: float


# ----------------------------------------------------------------------------------------------------------
# inputs


def load_eval_records(bench: str, data: str | None, options: dict[str, Any] | None = None) -> tuple[list[Record], str]:
    """The records to evaluate and the data path they came from.

    `data` may be a unified / records / parquet / HF-saved file of any benchmark, or the benchmark's own
    native files; without it the benchmark's default location is read. `options` are the loader's (an
    official protocol's open-ended items, subtitles). Invalid records stop the run (a benchmark's numbers
    are over all of its items), naming the first.
    """
    from twgrpo_data.benchmarks import get_benchmark, reads_as_interchange
    from twgrpo_data.sources import open_input, resolve_source

    module = get_benchmark(bench)
    source = resolve_source(data if data is not None else module.DEFAULT_PATH, bench=bench)  # a Hub id → the cache
    path = source.path
    # a unified/records file holds its records as they are (open-ended ones included); options are for native files
    result = open_input(source, bench=bench, options={} if reads_as_interchange(bench, path) else options)
    if result.errors:
        raise TwgrpoError(
            f"{len(result.errors)} invalid record(s) in {path}, first: {result.errors[0]} "
            f"(`twgrpo data validate {path}` lists them)"
        )
    if not result.records:
        raise InputFormatError(f"{path}: no records to evaluate")
    return result.records, str(path.resolve())


NO_VIDEO = (
    "the record has no video (video: null) in a video benchmark; fix the data or pass "
    "--allow-text-only to answer it without one"
)


def video_ref(record: Record, video_root: str | None, *, allow_outside: bool = False, bounds: bool = True) -> Any:
    """Where a record's video is and which clip of it to sample; `bounds=False` (the TW-GRPO replica) samples
    the whole video whatever `start`/`end` the record carries, as the released scripts did."""
    from twgrpo_data.benchmarks import locate_video

    ref = locate_video(record, video_root, allow_outside=allow_outside)
    return ref if bounds else dataclasses.replace(ref, start=None, end=None)


def video_loader(
    video_root: str | None,
    settings: dict[str, Any],
    *,
    allow_text_only: bool = False,
    allow_outside: bool = False,
    bounds: bool = True,
    frame_rule: Callable[..., Any] | None = None,
) -> Callable[[Record], Any]:
    """`record -> VideoFrames | None` for the prefetcher; any failure becomes a `VideoError` naming the file.
    A record without a video fails its item unless `allow_text_only` (then it is answered text-only).
    `settings` are `sampling_settings`; `frame_rule` the benchmark's own choice of frames it names."""
    settings = {k: v for k, v in settings.items() if k != "frame_rule"}
    if frame_rule is not None:
        settings["frame_rule"] = frame_rule

    def load(record: Record):
        if record.video is None:
            if allow_text_only:
                return None
            raise VideoError(NO_VIDEO)
        where = record.video
        try:
            ref = video_ref(record, video_root, allow_outside=allow_outside, bounds=bounds)
            where = ref.path
            return ref.sample(**settings)
        except VideoError:
            raise
        except Exception as exc:  # noqa: BLE001 — e.g. an unresolvable path, a frame too elongated to resize
            raise VideoError(f"{where}: {one_line(exc)}") from None

    return load


def sampling_settings(config: EvalConfig) -> dict[str, Any]:
    """`sample_video` keyword arguments for the run's frame and pixel settings (a benchmark's own frame rule
    is named by `frame_rule`; `video_loader` is given the function)."""
    if config.protocol == OFFICIAL:
        frames: dict[str, Any] = {"frames": None, **OFFICIAL_SAMPLING}
    elif config.protocol == BENCHMARK_OFFICIAL:
        protocol = benchmark_protocol(config.bench)
        frames = {"frames": config.frames, "fps": None, **protocol.sampling}
        if protocol.frames_free:
            frames["frames"] = config.frames
        if protocol.frame_rule is not None:
            frames["frame_rule"] = protocol.name
    elif config.sample_fps is None:
        frames = {"frames": config.frames, "fps": None}
    else:
        frames = {
            "frames": None,
            "fps": config.sample_fps,
            "min_frames": min(4, config.frames),
            "max_frames": config.frames,
        }
    return {**frames, "min_pixels": config.min_pixels, "max_pixels": config.max_pixels}


# ----------------------------------------------------------------------------------------------------------
# the run folder


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that change numbers, for config.json."""
    return {
        "python": platform.python_version(),
        **{name: installed_version(*dists) for name, dists in VERSION_PACKAGES.items()},
    }


def read_samples(path: Path) -> dict[str, dict[str, Any]]:
    """The last line per id of a run's samples.jsonl. A final line cut short by a kill is removed first."""
    if not path.exists():
        return {}
    cut_torn_tail(path)
    return {str(row.get("id")): row for row in read_jsonl(path)}


def check_resumable(out: Path, protocol: dict[str, Any]) -> dict[str, Any] | None:
    """The existing config.json of `out`, after checking it measured the same thing as `protocol`."""
    config_path = out / CONFIG
    if not config_path.exists():
        # A run writes config.json before anything else it keeps, so a folder without one holds someone
        # else's files: they are never mixed with (or mistaken for) a run.
        foreign = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if foreign:
            raise OutputPathError(
                f"--out {out}: holds files that are not a twgrpo run ({', '.join(foreign[:3])}"
                f"{', …' if len(foreign) > 3 else ''}); choose another --out"
            )
        return None
    try:
        old = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{config_path}: invalid JSON ({exc.msg})") from None
    diffs = [
        f"{k}: {old.get(k)!r} → {protocol[k]!r}"
        for k in PROTOCOL_KEYS
        if old.get(k, PROTOCOL_KEY_DEFAULTS.get(k)) != protocol[k]
    ]
    if diffs:
        why = ""
        if old.get("data_fingerprint") != protocol["data_fingerprint"]:
            why = " — the data's content changed (e.g. corrected gold answers); its old answers would be kept"
        elif old.get("prompt_template_hash") != protocol["prompt_template_hash"]:
            why = " — the prompt template changed; resuming would mix two prompts"
        missing = [k for k in PROTOCOL_KEYS if k not in old and k not in PROTOCOL_KEY_DEFAULTS]
        if missing:
            why += f" (the folder was written by an older twgrpo that did not record {', '.join(missing)})"
        raise TwgrpoError(
            f"{out} holds a run with other settings ({'; '.join(diffs)}){why}; resume it with the same "
            "settings or pass a new --out"
        )
    return old


def default_out(bench: str, model: str) -> Path:
    """`runs/BENCH-MODELNAME`: the same command always maps to the same folder, so re-running resumes."""
    name = Path(model.rstrip("/")).name or "model"
    return Path("runs") / f"{bench}-{name}"


def _model_path(model: str) -> str:
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else model


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


def sample_line(
    record: Record,
    prompt: Prompt,
    generation: Generation,
    plan: Plan,
    video: Any,
    seconds: float,
    template_hash: str | None = None,
    ask: Ask | None = None,
) -> dict[str, Any]:
    """The samples.jsonl line for one answered (or failed) item: what was asked (question, options, the
    prompt's hash; its template is in prompts.json under `template_hash`), which frames were shown, the raw
    output, what was parsed from it and how it scored against the gold. Under an official protocol the line
    also holds what the benchmark's scorer needs (`reference`), the breakdown `kind` and the judge's questions
    and replies (`judgements`), so `twgrpo eval rescore` re-scores it alone; a Video-MME item its `cluster`."""
    from twgrpo_data.benchmarks import cluster_of

    category = record.meta.get("category")
    category = str(category) if category is not None else None
    official = plan.official
    reference = official.reference(record) if official is not None else None
    kind = official.kind(record) if official is not None and official.kind is not None else None
    cluster = cluster_of(record)
    score, judgements = score_item(
        plan,
        record.id,
        generation.text,
        record.answer,
        parser=plan.parser,
        options=record.options,
        category=category,
        error=generation.error,
        reference=reference,
        ask=ask,
        kind=kind,
        cluster=cluster,
    )
    line = {
        "id": record.id,
        "question": record.question,
        "options": list(record.options),
        "gold": list(record.answer),
        "category": category,
        "prompt_hash": prompt.hash,
        "template_hash": template_hash,
        "frame_indices": list(getattr(video, "indices", ()) or []) if video is not None else None,
        "frame_timestamps": list(video.timestamps) if video is not None else None,
        "output": generation.text,
        "parsed": score.parsed,
        "strict": score.strict,
        "soft": score.soft,
        "format": score.format,
        "error": score.error,
        "video": getattr(video, "path", None),
        "frames": getattr(video, "num_frames", None),
        "fps": round(float(video.fps), 6) if video is not None else None,
        "usage": generation.usage,
        "seconds": round(seconds, 4),
    }
    if cluster is not None:
        line["cluster"] = cluster
    if official is not None:
        line.update(kind=kind, reference=reference, judgements=judgements)
    return line


def evaluate_batches(
    batches: Iterable[list[tuple[Record, Any]]],
    backend: Backend,
    prompt_of: Callable[[Record, Any], Prompt],
    plan: Plan,
    write: Callable[[list[dict[str, Any]]], None],
    advance: Callable[[int, int], None] = lambda n, failed: None,
    model_fps: float | None = None,
    template_hash: str | None = None,
    secrets: Iterable[str] = (),
    ask: Ask | None = None,
    answered_before: int = 0,
) -> int:
    """Answer, score and write batches of `(record, VideoFrames | VideoError | None)`; returns items written.

    A `VideoError` fails its item without reaching the backend. `prompt_of(record, video)` is the item's
    prompt; `plan` scores the answers, asking the judge through `ask` where its benchmark does (a batch's
    judge questions run `JUDGE_CONCURRENCY` at a time). `model_fps` replaces the sampling rate the model is
    told. Error texts are scrubbed of `secrets`. Stops with `TwgrpoError` when every item of the first batch
    failed and nothing at all has been answered in the run (`answered_before`: by earlier sessions) — a wrong
    --video-root, a dead server: nothing useful would follow — or when the backend has answered nothing in
    `MAX_DEAD_BATCHES` batches in a row. Once anything was answered, a batch of bad items (missing videos,
    say) is recorded and the run moves on.
    """
    from concurrent.futures import ThreadPoolExecutor

    secrets = list(secrets)
    pool = ThreadPoolExecutor(JUDGE_CONCURRENCY, thread_name_prefix="twgrpo-judge") if ask is not None else None

    def told(video: Any) -> Any:
        return video if video is None or model_fps is None else dataclasses.replace(video, fps=model_fps)

    def line_of(item: tuple[Record, Prompt, Generation, Any, float]) -> dict[str, Any]:
        record, prompt, generation, video, seconds = item
        line = sample_line(record, prompt, generation, plan, video, seconds, template_hash, ask)
        if line["error"] is not None:
            line["error"] = scrub(line["error"], secrets)
        return line

    written, dead = 0, 0
    try:
        for batch in batches:
            prompts = {r.id: prompt_of(r, None if isinstance(v, VideoError) else v) for r, v in batch}
            requests = [Request(r.id, prompts[r.id], told(v)) for r, v in batch if not isinstance(v, VideoError)]
            start = time.perf_counter()
            answers = iter(backend.generate(requests))
            per_item = (time.perf_counter() - start) / max(1, len(requests))
            items, backend_failed = [], 0
            for record, video in batch:
                if isinstance(video, VideoError):
                    generation, video, seconds = Generation(error=f"video: {video}"), None, 0.0
                else:
                    generation, seconds = next(answers), per_item
                    backend_failed += generation.error is not None
                if generation.error is not None:
                    generation = dataclasses.replace(generation, error=scrub(generation.error, secrets))
                items.append((record, prompts[record.id], generation, video, seconds))
            lines = list(pool.map(line_of, items)) if pool is not None else [line_of(i) for i in items]
            failed = sum(line["error"] is not None for line in lines)
            write(lines)
            written += len(lines)
            answered_before += len(lines) - failed
            advance(len(lines), failed)
            if not answered_before:
                raise TwgrpoError(
                    f"every item of the first batch ({len(lines)}) failed, e.g. {lines[0]['id']!r}: "
                    f"{lines[0]['error']}; stopped — fix it and re-run the same command to resume"
                )
            dead = dead + 1 if requests and backend_failed == len(requests) else 0
            if dead >= MAX_DEAD_BATCHES:
                last = next(line["error"] for line in reversed(lines) if line["error"])
                raise TwgrpoError(
                    f"the {backend.name} backend failed on every item of {dead} batches in a row "
                    f"(last: {last}); stopped — fix it and re-run the same command to resume"
                )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return written


def append_lines(path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """A writer that appends lines to samples.jsonl in one write and makes them durable (`append_jsonl`)."""
    return functools.partial(append_jsonl, path)


def write_results(out: Path, parser: str, run_info: dict[str, Any]) -> dict[str, Any]:
    """results.json = `run_info` + the re-score of samples.jsonl (the very numbers `twgrpo eval rescore` gives;
    an official protocol's run is re-scored by its benchmark's scorer, named in config.json). A run with no
    samples — an empty shard — has zero items."""
    from twgrpo_data.metrics import summarize

    if not (out / SAMPLES).is_file() or not (out / SAMPLES).stat().st_size:
        summary = {"parser": parser, **summarize([])}
    else:
        summary = rescore_log(out / SAMPLES, None if parser == OFFICIAL_PARSER else parser).summary()
    # the run folder's own file, not its absolute path: a merged shard run and a single run compare equal
    results = {"run": run_info, **summary, "file": SAMPLES}
    atomic_write_json(out / RESULTS, results)
    return results


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


def select_records(config: EvalConfig) -> tuple[list[Record], list[Record], str]:
    """`(all records of the data file, the selected ones: shard then --limit, data path)`. A shard may hold
    no records (`--shard 3/3` of two): it is still a shard, and `twgrpo eval merge` needs its folder."""
    records, data_path = load_eval_records(config.bench, config.data, load_options(config))
    selected = records
    shard = shard_of(config.shard)
    if shard is not None:
        selected = [r for r in selected if in_shard(r.id, *shard)]
    if config.limit is not None:
        selected = selected[: config.limit]
    return records, selected, data_path


def records_benchmark(records: Sequence[Record], data_path: str) -> str | None:
    """The benchmark the records are, by their own fields (most of them), else by the file's name; None when
    neither says."""
    from collections import Counter

    from twgrpo_data.benchmarks import BENCHMARKS, guess_from_name

    votes: Counter = Counter()
    for record in records:
        keys = set(record.meta)
        name = next((n for n, m in BENCHMARKS.items() if any(set(sig) <= keys for sig in m.SIGNATURES)), None)
        votes[name] += 1
    named = [(n, c) for n, c in votes.most_common() if n is not None]
    if named and named[0][1] * 2 > len(records):
        return named[0][0]
    return guess_from_name(Path(data_path).name) or None


def check_first_videos(records: Sequence[Record], config: EvalConfig, video_root: str) -> None:
    """Stop before any model loads when none of the first pending records' videos exists under `video_root`
    (`--video-root`, else the data file's folder): the root is wrong, and every item would fail. (A few missing
    videos only fail their items.)"""
    from twgrpo_data.benchmarks import locate_video

    looked: list[str] = []
    for record in records:
        if record.video is None:
            continue
        try:
            path = locate_video(record, video_root, allow_outside=config.allow_outside_video_root).path
        except VideoError as exc:
            raise TwgrpoError(f"record {record.id!r}: {exc}") from None
        if os.path.exists(path):
            return
        looked.append(path)
        if len(looked) == FIRST_VIDEOS_CHECKED:
            break
    if looked:
        root = video_root if config.video_root is not None else f"not given: the data file's folder {video_root}"
        raise TwgrpoError(
            f"none of the first {len(looked)} videos exists, e.g. {looked[0]} (--video-root {root}); "
            "pass the folder the data's video paths are relative to"
        )


def run_eval(
    config: EvalConfig,
    *,
    progress: Progress = SILENT,
    backend_factory: Callable[[str, EvalConfig], Backend] = build_backend,
    warn: Callable[[str], None] = lambda text: warnings.warn(text, stacklevel=4),  # at run_eval's caller
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


#: Where the judge is when `--judge-api-base` is not given (the official judges are OpenAI models).
DEFAULT_JUDGE_API_BASE = "https://api.openai.com/v1"


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


def _run_eval(
    config: EvalConfig,
    progress: Progress,
    backend_factory: Callable[[str, EvalConfig], Backend],
    secrets: list[str],
    warn: Callable[[str], None],
) -> RunResult:
    config.check()
    config = apply_protocol(config)
    started = time.perf_counter()
    all_records, records, data_path = select_records(config)
    # protocol choices come from the whole file, never from a --limit or --shard slice
    plan = make_plan(config, all_records, data_path)
    style, parser = plan.style, plan.parser
    backend_name = default_backend() if config.backend == "auto" else config.backend
    if backend_name == "vllm":
        check_vllm_version(installed_version(*VLLM_DISTRIBUTIONS))
    template, template_hash = plan.template, plan.template_hash
    looks_like = records_benchmark(all_records, data_path)
    if looks_like is not None and looks_like != config.bench:
        warn(
            f"the records of {data_path} look like {looks_like}'s, not {config.bench}'s: "
            f"results are labelled {config.bench} (pass --bench {looks_like} if that is what they are)"
        )
    out = Path(config.out) if config.out else default_out(config.bench, config.model)
    settings = {
        **asdict(config),
        "backend": backend_name,
        "prompt": style,
        "parser": parser,
        "data": data_path,
        "data_fingerprint": records_fingerprint(all_records),
        "records_bench": looks_like,
        "prompt_template_hash": template_hash,
        "out": str(out),
        "model": _model_path(config.model),
        "backend_options": redact(config.backend_options),
        "judge_options": redact(config.judge_options),
    }
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    had_lock = (out / LOCK).exists()
    lock = acquire_folder_lock(out, "twgrpo eval", "--out")
    samples_path = out / SAMPLES
    wrote = False
    judge = None
    try:
        old = check_resumable(out, settings)
        previous = read_samples(samples_path)
        outside = sorted(set(previous) - {r.id for r in records})
        if outside:
            # results.json scores the whole samples.jsonl (so that rescore reproduces it): items from a larger
            # earlier selection would be counted in a smaller one
            raise TwgrpoError(
                f"{out}: already holds {len(outside)} answered item(s) outside this selection "
                f"(e.g. id {outside[0]!r}); --limit, --shard or --data changed: use another --out"
            )
        done = {i for i, row in previous.items() if row.get("error") is None}
        # items never tried come first and failed ones are retried last, so that a re-run after a session that
        # stopped on bad items moves on instead of stopping on them again
        pending = sorted((r for r in records if r.id not in done), key=lambda r: r.id in previous)
        # data files are untrusted: their video paths stay under --video-root, else under the data file's folder
        from twgrpo_data.benchmarks import default_video_root

        video_root = config.video_root or str(default_video_root(data_path))
        check_first_videos(pending, config, video_root)
        # every prompt (and what an official scorer needs) is built now: a bad record stops the run here
        prompts = {r.id: plan.build(r, None) for r in pending}
        if plan.official is not None:
            for record in pending:
                plan.official.reference(record)
        if pending and plan.official is not None and config.judge_model is not None:
            judge = make_judge(config, out)  # an unreachable judge stops the run before its first item

        def prompt_of(record: Record, video: Any) -> Prompt:
            return plan.build(record, video) if plan.video_dependent else prompts[record.id]

        session: dict[str, Any] = {
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": package_versions(),
            "selected": len(records),
            "pending": len(pending),
        }
        config_doc = {
            **settings,
            "prompt_template": template,
            "video_sampling": sampling_settings(config),
            "sessions": (old or {}).get("sessions", []) + [session],
        }
        if judge is not None:
            session["judge"] = judge.settings.describe()
        new = 0
        if pending:
            load_start = time.perf_counter()
            backend = backend_factory(backend_name, config)
            session["backend"] = redact(
                {"name": backend.name, "load_s": round(time.perf_counter() - load_start, 2), **backend.describe()}
            )
        # written only now that the model loaded: a start that fails leaves the folder as it was
        atomic_write_json(out / CONFIG, config_doc)
        write_prompts(out, template_hash, style, template)
        wrote = True
        if pending:
            from twgrpo_data.video_prefetch import VideoPrefetcher

            load = video_loader(
                video_root,
                sampling_settings(config),
                allow_text_only=config.allow_text_only,
                allow_outside=config.allow_outside_video_root,
                bounds=plan.uses_bounds,
                frame_rule=plan.official.frame_rule if plan.official is not None else None,
            )
            prefetch = VideoPrefetcher(pending, load, workers=config.workers, queue_size=2 * config.batch_size)
            label = f"{config.bench} · {Path(config.model.rstrip('/')).name or config.model}"
            try:
                with (
                    progress.task(label, len(records), completed=len(records) - len(pending), failures=True) as task,
                    backend,
                    prefetch,
                ):

                    def advance(n: int, failed: int) -> None:
                        nonlocal new
                        new += n
                        task.advance(n, failed=failed)

                    evaluate_batches(
                        _batches(prefetch, config.batch_size),
                        backend,
                        prompt_of,
                        plan,
                        append_lines(samples_path),
                        advance,
                        config.told_fps,
                        template_hash,
                        secrets,
                        judge.ask if judge is not None else None,
                        answered_before=len(done),
                    )
            finally:
                session["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                session["written"] = new
                if judge is not None:
                    session["judge"]["asked"] = judge.asked
                atomic_write_json(out / CONFIG, config_doc)
    except BaseException:
        if not wrote and not had_lock:  # a refused --out (someone's folder) keeps no .lock of ours; removed
            (out / LOCK).unlink(missing_ok=True)  # while still held, so no other run holds this file
        lock.release()
        if created and not wrote:
            shutil.rmtree(out, ignore_errors=True)  # nothing of this run is in it: leave no folder behind
        raise
    finally:
        if judge is not None:
            judge.close()
    try:
        elapsed = time.perf_counter() - started
        answered = read_samples(samples_path)
        run_info = {
            "bench": config.bench,
            "model": settings["model"],
            "backend": backend_name,
            "prompt": style,
            "parser": parser,
            "selected": len(records),
            "complete": all(r.id in answered for r in records),
            "session": {
                "new_samples": new,
                "elapsed_s": round(elapsed, 2),
                "samples_per_s": round(new / elapsed, 3) if new else None,
            },
        }
        if config.shard is not None:
            run_info["shard"] = config.shard
        results = write_results(out, parser, run_info) if answered or not records else {"run": run_info}
    finally:
        lock.release()
    if answered and all(answered[r.id].get("error") for r in records if r.id in answered) and run_info["complete"]:
        first = next(answered[r.id] for r in records)
        raise TwgrpoError(
            f"every one of the {len(records)} items failed (e.g. {first['id']!r}: {first['error']}); "
            f"nothing was answered — see {out / SAMPLES}"
        )
    return RunResult(out, results, new, elapsed)


def write_prompts(out: Path, template_hash: str, style: str, template: dict[str, str | None]) -> None:
    """Add the run's template to prompts.json (`template_hash → {style, system, template}`)."""
    path = out / PROMPTS
    known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if template_hash not in known:
        known[template_hash] = {"style": style, **template}
        atomic_write_json(path, known)
