"""`openai` backend: any OpenAI-compatible chat server (`vllm serve MODEL`, …) through the `openai` client.

The sampled frames travel as one video content part — a `video_url` with a `data:video/jpeg;base64,` URL
holding the JPEG frames separated by commas, which vLLM's server decodes into a single video — with
`media_io_kwargs.video` telling it the frame count (so none are dropped) and the metadata the offline engine
gets (the real sampling rate, `do_sample_frames=False`), and `mm_processor_kwargs` the run's pixel bounds, so the
server's processor keeps the frames as sampled (vLLM's server takes per-request `mm_processor_kwargs` only when
started with `--trust-request-mm-kwargs`; otherwise it answers 400 saying so, and the run stops on its first
batch). JPEG is lossy: at quality 95 a frame moves by 1–2 grey levels per pixel on average (README: what that
does to answers). (lmms-eval's chat path sends frames as separate images, so
Qwen2.5-VL loses its video processing.) Requests run `concurrency` at a time; the client retries connection
errors, 408/409/429 and 5xx answers with exponential backoff (`max_retries`) and gives up after `timeout`
seconds per attempt; a request that still fails becomes that item's error.

Before any video is decoded the server is checked (`GET /v1/models`): no server, or one that does not serve
the model, stops the run with one line instead of failing every item. The API key comes from `api_key` or
`OPENAI_API_KEY`; it is never recorded (`describe`) or printed.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from twgrpo_data.errors import TwgrpoError, require

from .base import (
    Backend,
    BackendOption,
    Generation,
    PixelBudget,
    Request,
    SamplingSettings,
    one_line,
    request_seed,
    video_metadata,
)

if TYPE_CHECKING:
    from twgrpo_data.video import VideoFrames


def video_url_part(frames, quality: int = 95) -> dict[str, Any]:
    """A `video_url` content part whose data URL holds the frames (uint8 T×H×W×3) as base64 JPEGs."""
    from PIL import Image

    encoded = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
        encoded.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return {"type": "video_url", "video_url": {"url": "data:video/jpeg;base64," + ",".join(encoded)}}


def openai_client(api_base: str, api_key: str | None, timeout: float, max_retries: int):
    """An `openai.OpenAI` client for `api_base`; the key is `api_key`, else `OPENAI_API_KEY`, else "EMPTY" (what
    vLLM's server accepts when it was started without --api-key). The client retries connection errors,
    408/409/429 and 5xx answers with exponential backoff."""
    openai = require("openai", "eval")
    key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
    return openai.OpenAI(base_url=api_base, api_key=key, timeout=timeout, max_retries=max_retries)


def check_served(
    client, api_base: str, model: str, *, what: str, model_option: str, base_option: str, timeout: float
) -> None:
    """Stop with one line when no server answers at `api_base` (`GET /models`) or it does not serve `model`;
    `what` starts the message, `model_option`/`base_option` name the flags to fix (`--model`/`--api-base`,
    `--judge-model`/`--judge-api-base`)."""
    try:
        served = [m.id for m in client.with_options(max_retries=1, timeout=min(timeout, 30.0)).models.list()]
    except Exception as exc:  # noqa: BLE001 — connection refused, 401, a non-OpenAI server…
        client.close()
        raise TwgrpoError(
            f"{what}: no usable OpenAI-compatible server at {api_base} "
            f"(GET /models: {one_line(exc)}); start it (e.g. `vllm serve MODEL`) or fix {base_option}"
        ) from None
    if model not in served:
        client.close()
        raise TwgrpoError(
            f"{what}: the server at {api_base} serves {served or 'no model'}, not "
            f"{model!r}; pass the served name as {model_option}"
        )


def served_video_metadata(video: VideoFrames) -> dict[str, Any]:
    """`media_io_kwargs.video` for vLLM's server: every frame (`num_frames`) and the metadata the offline engine
    gets (`video_metadata`), which its `video/jpeg` loader turns into the same `(frames, metadata)` item.
    (`video_backend` would name vLLM's own decoder there, so it is left out.)"""
    meta = {k: v for k, v in video_metadata(video).items() if k != "video_backend"}
    return {"num_frames": video.num_frames, **meta}


class OpenAIBackend(Backend):
    """Chat completions against an OpenAI-compatible server.

    Example:
        >>> backend = OpenAIBackend("Qwen/Qwen2.5-VL-7B-Instruct", SamplingSettings(),
        ...                         PixelBudget(128 * 28 * 28, 196 * 28 * 28),
        ...                         api_base="http://127.0.0.1:8000/v1")   # doctest: +SKIP
    """

    name = "openai"
    options = (
        BackendOption("api_base", str, "server URL, e.g. http://127.0.0.1:8000/v1"),
        BackendOption("api_key", str, "API key (default: $OPENAI_API_KEY); never written or printed"),
        BackendOption("concurrency", int, "requests in flight (default 8)", min=1),
        BackendOption("timeout", float, "seconds per request attempt (default 600)", positive=True),
        BackendOption("max_retries", int, "retries with backoff (default 5)", min=0),
    )

    def __init__(
        self,
        model: str,
        sampling: SamplingSettings,
        pixels: PixelBudget,
        *,
        api_base: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 600.0,
        max_retries: int = 5,
        jpeg_quality: int = 95,
        **extra_body: Any,
    ) -> None:
        super().__init__(model, sampling, pixels)
        self.api_base = api_base
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_retries = max_retries
        self.jpeg_quality = jpeg_quality
        self.extra_body = extra_body
        self.client = openai_client(api_base, api_key, timeout, max_retries)
        self.check_server()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="twgrpo-openai")

    def check_server(self) -> None:
        """Stop with one line when no server answers at `api_base` or it does not serve `model`."""
        check_served(
            self.client,
            self.api_base,
            self.model,
            what="--backend openai",
            model_option="--model",
            base_option="--api-base",
            timeout=self.timeout,
        )

    def request_body(self, request: Request) -> dict[str, Any]:
        """The keyword arguments of `client.chat.completions.create` for one request."""
        s = self.sampling
        extra: dict[str, Any] = {}
        video_part = None
        if request.video is not None:
            video_part = video_url_part(request.video.frames, self.jpeg_quality)
            extra["media_io_kwargs"] = {"video": served_video_metadata(request.video)}
            extra["mm_processor_kwargs"] = {"min_pixels": self.pixels.min_pixels, "max_pixels": self.pixels.max_pixels}
        messages = request.prompt.messages(video_part)
        if request.prompt.prefill is not None:  # the reply starts with it: vLLM's server continues that turn
            messages.append({"role": "assistant", "content": request.prompt.prefill})
            extra.update(continue_final_message=True, add_generation_prompt=False)
        extra.update(self.extra_body)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_new_tokens,
            "seed": request_seed(s.seed, request.id),
        }
        if extra:
            body["extra_body"] = extra
        return body

    def _one(self, request: Request) -> Generation:
        try:
            resp = self.client.chat.completions.create(**self.request_body(request))
        except Exception as exc:  # noqa: BLE001 — after the client's own retries: this item's error
            return Generation(error=one_line(exc))
        text = resp.choices[0].message.content if resp.choices else None
        if text is None:
            return Generation(error="server returned no message content")
        usage = (
            {"prompt_tokens": resp.usage.prompt_tokens, "completion_tokens": resp.usage.completion_tokens}
            if resp.usage
            else {}
        )
        return Generation(text=text, usage=usage)

    def _generate(self, requests: Sequence[Request]) -> list[Generation]:
        return list(self._pool.map(self._one, requests))

    def describe(self) -> dict[str, Any]:
        return {
            "api_base": self.api_base,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "jpeg_quality": self.jpeg_quality,
            "extra_body": self.extra_body,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
