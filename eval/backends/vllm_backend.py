"""`vllm` backend: offline `vllm.LLM`, one batched `generate` call per batch of requests.

Each request is a `vllm.inputs.TextPrompt`: the prompt rendered by the model's own chat template, and
`multi_modal_data={"video": [(frames, metadata)]}` — decoded uint8 frames (T, H, W, 3) plus HF
`VideoMetadata` fields carrying the real sampling rate, which vLLM ≥ 0.11 requires for Qwen2.5-VL and turns
into `second_per_grid_ts` (`do_sample_frames=False`: the frames are the sample). The run's pixel bounds go
to the engine as `mm_processor_kwargs`, so vLLM's memory profiling and its processor use them too.
`limit_mm_per_prompt={"video": 1, "image": 0}`: one video per prompt, never frames as separate images.

Sampling: the run's temperature, top_p, max tokens and per-item seed, on top of the checkpoint's
`generation_config` (repetition penalty, top_k…, from `LLM.get_default_sampling_params`) — explicit
`SamplingParams` alone would drop those. Remote code from a checkpoint runs only with
`trust_remote_code=True` (`--trust-remote-code`).

Data parallelism: `LLM(data_parallel_size>1)` is not supported in one process, so `data_parallel_size=N`
starts N engine processes (each on its own `tensor_parallel_size` GPUs) and splits every batch among them.
vLLM is imported only when this backend is built.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twgrpo_data.errors import require

from .base import (
    DTYPE,
    GENERATION_CONFIG_KEYS,
    TRUST_REMOTE_CODE,
    Backend,
    BackendOption,
    Generation,
    PixelBudget,
    Request,
    SamplingSettings,
    chat_text,
    one_line,
    request_seed,
    video_metadata,
)

if TYPE_CHECKING:
    from twgrpo_data.video import VideoFrames


def vllm_prompt(chat_text: str, video: VideoFrames | None = None) -> dict[str, Any]:
    """The `vllm.inputs.TextPrompt` dict for a prompt rendered by the model's chat template and its video.

    The frames are the ones twgrpo decoded (never decoded again by vLLM), sent with their HF video metadata
    (`video_metadata`: the real sampling rate, `do_sample_frames=False`). The one place where an engine
    request is built: evaluation uses it, and so can anything else that drives vLLM with video (rollouts).
    """
    prompt: dict[str, Any] = {"prompt": chat_text}
    if video is not None:
        prompt["multi_modal_data"] = {"video": [(video.frames, video_metadata(video))]}
    return prompt


def sampling_kwargs(sampling: SamplingSettings, item_id: str) -> dict[str, Any]:
    """`vllm.SamplingParams` arguments for one item (its own seed, so batching does not change its sample)."""
    return {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_new_tokens,
        "seed": request_seed(sampling.seed, item_id),
    }


def engine_kwargs(
    model: str,
    pixels: PixelBudget,
    multimodal: bool,
    *,
    seed: int,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Arguments for `vllm.LLM`; `extra` (from `--backend-arg`) overrides the rest."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "seed": seed,
        "trust_remote_code": bool(trust_remote_code),
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    if gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    if multimodal:
        kwargs.update(video_engine_kwargs(pixels))
    kwargs.update(extra)
    return kwargs


def video_engine_kwargs(pixels: PixelBudget) -> dict[str, Any]:
    """`vllm.LLM` arguments for video prompts: one video per prompt (never frames as separate images), and the
    pixel bounds the frames were sampled with, so vLLM's processor keeps them and its memory profiling uses them.
    Evaluation's engine and training's rollout engine both take them."""
    return {
        "limit_mm_per_prompt": {"video": 1, "image": 0},
        "mm_processor_kwargs": {"min_pixels": pixels.min_pixels, "max_pixels": pixels.max_pixels},
    }


def generation_defaults(llm) -> dict[str, Any]:
    """The checkpoint's generation_config settings (repetition penalty, top_k…) as vLLM reads them."""
    get = getattr(llm, "get_default_sampling_params", None)
    if get is None:
        return {}
    defaults = get()
    return {k: getattr(defaults, k) for k in GENERATION_CONFIG_KEYS if hasattr(defaults, k)}


def _run_engine(llm, prompts: list[dict[str, Any]], params: list[dict[str, Any]]) -> list[tuple[str, dict[str, int]]]:
    from vllm import SamplingParams

    defaults = generation_defaults(llm)
    outputs = llm.generate(prompts, [SamplingParams(**{**defaults, **p}) for p in params], use_tqdm=False)
    return [
        (
            o.outputs[0].text,
            {"prompt_tokens": len(o.prompt_token_ids or []), "completion_tokens": len(o.outputs[0].token_ids)},
        )
        for o in outputs
    ]


def _engine_process(conn, engine_args: dict[str, Any], devices: str | None) -> None:
    """One data-parallel rank: its own engine on its own devices, serving batches over a pipe."""
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices
    from vllm import LLM

    try:
        llm = LLM(**engine_args)
    except Exception as exc:  # noqa: BLE001 — reported to the parent, which fails the run
        conn.send(("error", one_line(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:  # the parent died without saying goodbye
            msg = None
        if msg is None:
            break
        try:
            conn.send(("ok", _run_engine(llm, *msg)))
        except Exception as exc:  # noqa: BLE001 — the parent retries the chunk item by item
            conn.send(("error", one_line(exc)))
    # Dropping the engine runs vLLM's finalizers, which stop its engine-core process; otherwise this process
    # would wait for that child at exit.
    del llm
    gc.collect()


class VLLMBackend(Backend):
    """Offline vLLM generation.

    Example:
        >>> backend = VLLMBackend("Qwen/Qwen2.5-VL-7B-Instruct", SamplingSettings(),
        ...                       PixelBudget(128 * 28 * 28, 196 * 28 * 28), max_model_len=8192)  # doctest: +SKIP
    """

    name = "vllm"
    options = (
        TRUST_REMOTE_CODE,
        BackendOption("tensor_parallel_size", int, "GPUs per engine (tensor parallel)", ("--tp",)),
        BackendOption("data_parallel_size", int, "engine replicas, each on its own GPUs", ("--dp",)),
        BackendOption("max_model_len", int, "context length to reserve"),
        BackendOption("gpu_memory_utilization", float, "share of GPU memory to use"),
        DTYPE,
    )

    def __init__(
        self,
        model: str,
        sampling: SamplingSettings,
        pixels: PixelBudget,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(model, sampling, pixels)
        vllm = require("vllm", "vllm")
        from transformers import AutoConfig, AutoProcessor

        self.vllm_version = vllm.__version__
        remote = {"trust_remote_code": bool(trust_remote_code)}
        self.multimodal = getattr(AutoConfig.from_pretrained(model, **remote), "vision_config", None) is not None
        # The model's own processor renders the chat template (for a text-only model it is the tokenizer).
        self.processor = AutoProcessor.from_pretrained(model, **remote)
        self.engine_args = engine_kwargs(
            model,
            pixels,
            self.multimodal,
            seed=sampling.seed,
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            **remote,
            **extra,
        )
        self.data_parallel_size = data_parallel_size
        self._llm = None
        self._ranks: list[tuple[Any, Any]] = []
        if data_parallel_size <= 1:
            self._llm = vllm.LLM(**self.engine_args)
        else:
            self._start_ranks(data_parallel_size, tensor_parallel_size)

    def _start_ranks(self, dp: int, tp: int) -> None:
        ctx = mp.get_context("spawn")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        gpus = visible.split(",") if visible else None
        for rank in range(dp):
            devices = (
                ",".join(gpus[rank * tp : (rank + 1) * tp])
                if gpus
                else (",".join(str(i) for i in range(rank * tp, (rank + 1) * tp)) if _has_cuda() else None)
            )
            parent, child = ctx.Pipe()
            # not a daemon: vLLM starts processes of its own; a rank exits when its pipe closes
            proc = ctx.Process(target=_engine_process, args=(child, self.engine_args, devices))
            proc.start()
            self._ranks.append((parent, proc))
        for rank, (conn, _) in enumerate(self._ranks):
            status, detail = conn.recv()
            if status != "ready":
                self.close()
                raise RuntimeError(f"vLLM data-parallel rank {rank} failed to start: {detail}")

    def render(self, request: Request) -> str:
        """The request's prompt text from the model's chat template."""
        return chat_text(self.processor, request.prompt)

    def engine_inputs(self, requests: Sequence[Request]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The prompts (`vllm_prompt`) and per-item `SamplingParams` arguments `generate` hands the engine."""
        prompts = [vllm_prompt(self.render(r), r.video) for r in requests]
        return prompts, [sampling_kwargs(self.sampling, r.id) for r in requests]

    def _generate(self, requests: Sequence[Request]) -> list[Generation]:
        prompts, params = self.engine_inputs(requests)
        if self._llm is not None:
            results = _run_engine(self._llm, prompts, params)
        else:
            results = self._generate_parallel(prompts, params)
        return [Generation(text=text, usage=usage) for text, usage in results]

    def _generate_parallel(self, prompts: list[dict[str, Any]], params: list[dict[str, Any]]):
        n = len(self._ranks)
        bounds = [len(prompts) * k // n for k in range(n + 1)]
        busy = []
        for k, (conn, _) in enumerate(self._ranks):
            if bounds[k] < bounds[k + 1]:
                conn.send((prompts[bounds[k] : bounds[k + 1]], params[bounds[k] : bounds[k + 1]]))
                busy.append(conn)
        results, failure = [], None
        for conn in busy:  # collect every reply, even after a failure, so the pipes stay in step
            status, payload = conn.recv()
            if status == "ok":
                results.extend(payload)
            else:
                failure = payload
        if failure is not None:
            raise RuntimeError(failure)
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "vllm": self.vllm_version,
            "engine_args": {k: v for k, v in self.engine_args.items() if k != "model"},
            "data_parallel_size": self.data_parallel_size,
            "multimodal": self.multimodal,
            "generation_config": generation_defaults(self._llm) if self._llm is not None else None,
        }

    def close(self) -> None:
        for conn, proc in self._ranks:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
        self._ranks = []
        self._llm = None


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
