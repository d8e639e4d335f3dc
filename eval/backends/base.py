"""The small interface every generation backend implements, and what they share.

A backend turns a batch of `Request`s (prompt + sampled video frames) into one `Generation` per request, in
order. A request that cannot be answered becomes a `Generation` with `error` set — never an exception that
takes the rest of the batch down: when a whole batch call fails, `Backend.generate` retries its requests
one by one so only the culprit is marked failed (Video-R1's harness marks all 64 of a batch wrong).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from twgrpo_data.prompts import Prompt

if TYPE_CHECKING:
    from twgrpo_data.video import VideoFrames


# Sampling settings a checkpoint's generation_config may carry that a run does not set itself: every backend
# leaves them to the checkpoint (HF `generate` does; vLLM's offline engine must be told, its server does).
GENERATION_CONFIG_KEYS = ("repetition_penalty", "top_k", "min_p", "presence_penalty", "frequency_penalty")


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding settings shared by all backends (TW-GRPO: temperature 0.1, top_p 0.001, 4096 new tokens)."""

    temperature: float = 0.1
    top_p: float = 0.001
    max_new_tokens: int = 4096
    seed: int = 42

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PixelBudget:
    """Per-frame pixel bounds. Frames arrive already resized to them; processors are told the same bounds so
    they keep the frames as sampled instead of applying a hidden budget of their own."""

    min_pixels: int
    max_pixels: int


@dataclass
class Request:
    """One question for the model: its prompt and, when the record has one, its sampled video."""

    id: str
    prompt: Prompt
    video: VideoFrames | None = None


@dataclass
class Generation:
    """The model's answer to one request, or why there is none."""

    text: str | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendOption:
    """A keyword argument of a backend's constructor that `twgrpo eval` offers as an option of its own
    (`--tensor-parallel-size`); every other one goes through `--backend-arg KEY=VALUE`. A backend lists its
    options in `Backend.options`; one that several backends take is declared once and listed by each."""

    name: str  # the keyword; the option is --name-with-dashes
    type: type
    help: str
    flags: tuple[str, ...] = ()  # other spellings, e.g. "--tp"
    min: int | None = None
    positive: bool = False  # must be > 0


DTYPE = BackendOption("dtype", str, "auto | bfloat16 | float16 | float32")
TRUST_REMOTE_CODE = BackendOption("trust_remote_code", bool, "run code shipped with the checkpoint (off unless given)")


def one_line(exc: BaseException, limit: int = 300) -> str:
    """`TypeName: first line of the message`, short enough for a samples.jsonl field."""
    msg = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def request_seed(seed: int, item_id: str) -> int:
    """A per-request sampling seed from the run seed and the item id, so an item's sample does not depend on
    which batch it lands in (resumed runs re-batch the remaining items)."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def chat_text(processor: Any, prompt: Prompt) -> str:
    """The prompt as the model's chat template renders it, ending in the opened assistant turn — followed by
    the prompt's answer prefill (MVBench's "Best option:("), which the model then continues."""
    text = processor.apply_chat_template(prompt.messages(), tokenize=False, add_generation_prompt=True)
    return text + (prompt.prefill or "")


def video_metadata(video: VideoFrames) -> dict[str, Any]:
    """HF `VideoMetadata` fields describing the sampled clip: its frames at the real sampling rate.

    Qwen2.5-VL's processor derives `second_per_grid_ts = temporal_patch_size / sampled_fps` from this, where
    `sampled_fps = len(frames_indices) / total_num_frames * fps` = `video.fps`. Without metadata it would assume
    a rate of its own (TW-GRPO's eval never passed one, so the model was told 2 fps whatever was sampled).
    """
    n = int(video.frames.shape[0])
    return {
        "fps": float(video.fps),
        "total_num_frames": n,
        "frames_indices": list(range(n)),
        "duration": n / float(video.fps),
        "video_backend": "twgrpo",
        "do_sample_frames": False,  # the frames are already the sample; never resample them
    }


class Backend(ABC):
    """Generates answers for batches of requests. Subclasses implement `_generate` (and may ignore batching)."""

    name: ClassVar[str]
    options: ClassVar[tuple[BackendOption, ...]] = ()  # the constructor's keywords `twgrpo eval` offers as options

    def __init__(self, model: str, sampling: SamplingSettings, pixels: PixelBudget) -> None:
        self.model = model
        self.sampling = sampling
        self.pixels = pixels

    @abstractmethod
    def _generate(self, requests: Sequence[Request]) -> list[Generation]:
        """One `Generation` per request, in order; may raise for the whole batch."""

    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        """One `Generation` per request, in order. A failing batch is retried item by item."""
        if not requests:
            return []
        try:
            out = self._generate(requests)
        except Exception as exc:  # noqa: BLE001 — any backend failure becomes a per-item error
            if len(requests) == 1:
                return [Generation(error=one_line(exc))]
            return [self.generate([r])[0] for r in requests]
        if len(out) != len(requests):
            raise RuntimeError(f"{self.name} backend returned {len(out)} outputs for {len(requests)} requests")
        return out

    def describe(self) -> dict[str, Any]:
        """Settings this backend actually used (engine arguments, dtype, device, server…) for config.json."""
        return {}

    def close(self) -> None:  # noqa: B027 — optional hook: backends without resources keep this no-op
        """Release the model / engine / connections."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
