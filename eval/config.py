"""`EvalConfig`: every setting of an evaluation run, the one place `twgrpo eval`'s options come from.

Each field's metadata holds its help text and, for a field that is a command-line option, the `--help` panel it
is listed in (`panel`), its fixed `choices`, its lower bound (`min`) and other spellings (`flags`): the CLI builds
its options from them, so the command, its help and the run's `config.json` cannot drift apart (TRL's config
dataclasses do the same). A field without a panel (`backend_options`, `data_source`, `judge_options`) is set by
the command from options of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.outputs import refuse_stdout
from twgrpo_data.pixels import PATCH_AREA
from twgrpo_data.prompts import PROMPT_STYLES
from twgrpo_data.scoring import PARSERS

from .backends import BACKENDS
from .protocol import BENCHMARK_OFFICIAL, OFFICIAL, OFFICIAL_MODEL_FPS, OFFICIAL_SAMPLING, PROTOCOLS, benchmark_protocol

# Upper bounds of the frame settings (qwen-vl-utils' FPS_MAX_FRAMES and MAX_PIXELS): beyond them every item
# would fail (or exhaust memory) decoding, and the corrected re-run would be refused as "other settings".
MAX_FRAMES = 768
MAX_PIXELS = 16384 * PATCH_AREA

# `twgrpo eval --help` lists its options in these panels, in this order
DATA = "Data"
MODEL = "Model and backend"
PROTOCOL = "Protocol (what is measured)"
SAMPLING = "Sampling"
OUTPUT = "Output"
PANELS = (DATA, MODEL, PROTOCOL, SAMPLING, OUTPUT)


def option(help: str, panel: str, **cli: Any) -> dict[str, Any]:
    """The metadata of a field that is a `twgrpo eval` option: its help, its panel and `cli` (`choices`, `min`,
    `flags`)."""
    return {"help": help, "panel": panel, **cli}


@dataclass
class EvalConfig:
    """Every setting of an evaluation run. Defaults are TW-GRPO's protocol (research: eval_anchors §1).

    `run_eval` evaluates one benchmark; `run_benchmarks` also takes several in `bench` (`a,b` or `all`).
    """

    bench: str = field(
        metadata=option(
            "benchmark name, a comma-separated list (one run folder each, under --out) or all (the paper's six); "
            "see `twgrpo eval list`",
            DATA,
        )
    )
    model: str = field(metadata=option("local model folder or Hub id (the served model name for openai)", MODEL))
    backend: str = field(
        default="auto",
        metadata=option("vllm | transformers | openai | auto (vllm if installed)", MODEL, choices=("auto", *BACKENDS)),
    )
    protocol: str = field(
        default="standard",
        metadata=option(
            "standard (16 distinct frames, real fps) | twgrpo-official (exact replica of the released "
            "scripts' inputs: 2 fps frames re-indexed to 16, fps 2.0 told, whole videos, prompts verbatim from the "
            "file) | official (the benchmark's own protocol: MVBench, Video-MME, TempCompass, MMVU)",
            PROTOCOL,
            choices=PROTOCOLS,
        ),
    )
    data: str | None = field(
        default=None,
        metadata=option(
            "unified/records/parquet/HF file, the benchmark's native files or a Hub dataset (default: its usual "
            "path if present, else its Hub repository: annotations + the selected records' videos)",
            DATA,
        ),
    )
    video_root: str | None = field(
        default=None,
        metadata=option(
            "folder that record video paths are relative to and must stay in (default: the data file's folder)", DATA
        ),
    )
    out: str | None = field(
        default=None,
        metadata=option(
            "run folder (default runs/BENCH-MODELNAME); with several benchmarks, the folder that holds one run "
            "folder per benchmark",
            OUTPUT,
            flags=("-o", "--out"),
        ),
    )
    limit: int | None = field(
        default=None, metadata=option("evaluate only the first N records (of the shard)", DATA, min=1)
    )
    shard: str | None = field(
        default=None,
        metadata=option(
            "K/N: evaluate the K-th of N deterministic parts of the records (by id; merge the N runs with "
            "`twgrpo eval merge`)",
            DATA,
        ),
    )
    allow_text_only: bool = field(
        default=False,
        metadata=option("answer records without a video text-only (default: such a record fails its item)", DATA),
    )
    allow_outside_video_root: bool = field(
        default=False,
        metadata=option(
            "allow absolute video paths outside the video root and paths with '..' (default: refused; the "
            "root is --video-root or the data file's folder)",
            DATA,
        ),
    )
    prompt: str = field(
        default="auto",
        metadata=option(
            "cot | zeroshot | clevrer | auto (clevrer for CLEVRER and multi-answer sets, else cot)",
            PROTOCOL,
            choices=("auto", *PROMPT_STYLES),
        ),
    )
    frames: int = field(
        default=16,
        metadata=option("frames per video (uniform; the cap when --sample-fps is set)", PROTOCOL, min=1),
    )
    sample_fps: float | None = field(
        default=None,
        metadata=option(
            "sample at this rate (4..--frames frames) instead of exactly --frames uniform frames", PROTOCOL
        ),
    )
    model_fps: float | None = field(
        default=None,
        metadata=option(
            "frame rate told to the model (default: the real sampling rate; TW-GRPO's eval told none, so "
            "Qwen2.5-VL assumed 2.0)",
            PROTOCOL,
        ),
    )
    min_pixels: int = field(default=128 * PATCH_AREA, metadata=option("per-frame pixel floor (128·28²)", PROTOCOL))
    max_pixels: int = field(
        default=196 * PATCH_AREA, metadata=option("per-frame pixel budget (196·28² = 153,664)", PROTOCOL)
    )
    temperature: float = field(default=0.1, metadata=option("sampling temperature (0 = greedy)", SAMPLING))
    top_p: float = field(default=0.001, metadata=option("nucleus sampling top_p", SAMPLING))
    max_new_tokens: int = field(default=4096, metadata=option("generation budget per answer", SAMPLING))
    parser: str | None = field(
        default=None,
        metadata=option(
            "twgrpo | raw | lenient (default: raw for --prompt zeroshot, else twgrpo)", PROTOCOL, choices=PARSERS
        ),
    )
    seed: int = field(default=42, metadata=option("sampling seed (per item: derived from seed and id)", SAMPLING))
    batch_size: int = field(default=16, metadata=option("requests per backend call (and per flush)", MODEL, min=1))
    workers: int = field(default=4, metadata=option("video decoding threads running ahead of the model", MODEL, min=1))
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
        metadata=option("Video-MME, --protocol official: show the subtitles of the sampled frames", PROTOCOL),
    )
    judge_model: str | None = field(
        default=None,
        metadata=option(
            "the LLM judge of --protocol official where the benchmark scores with one (MMVU, TempCompass)", PROTOCOL
        ),
    )
    judge_api_base: str | None = field(
        default=None,
        metadata=option("the judge's OpenAI-compatible server (default https://api.openai.com/v1)", PROTOCOL),
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
        self._check_numbers()

    def _check_numbers(self) -> None:
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


def benchmark_names(bench: str) -> list[str]:
    """`bench` as a list of registered benchmarks: one name, a comma-separated list, or `all` (the paper's six)."""
    from twgrpo_data.benchmarks import list_benchmarks
    from twgrpo_data.errors import UsageError
    from twgrpo_data.names import did_you_mean

    from .compare import PAPER_BENCHMARKS

    names = list(PAPER_BENCHMARKS) if bench.strip() == "all" else [b.strip() for b in bench.split(",") if b.strip()]
    if not names:
        raise UsageError("--bench: expected a benchmark name, a comma-separated list or all")
    unknown = [b for b in names if b not in list_benchmarks()]
    if unknown:
        raise UsageError(
            f"--bench: unknown benchmark {unknown[0]!r} (`twgrpo eval list` shows them)"
            + did_you_mean(unknown[0], list_benchmarks())
        )
    return names


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
