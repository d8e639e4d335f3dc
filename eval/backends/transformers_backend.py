"""`transformers` backend: `AutoModelForImageTextToText` + `AutoProcessor`, batched `generate`, CPU or GPU.

The default on machines without vLLM. Prompts come from the processor's chat template; frames go to the
processor with their real sampling rate (`video_metadata`), so Qwen2.5-VL's `second_per_grid_ts` matches the
frames it sees, and with the run's pixel bounds, so the processor keeps them as sampled. Text-only checkpoints
(no `vision_config`) load with `AutoModelForCausalLM` and answer text-only records. The checkpoint's
`generation_config` (repetition penalty, top_k…) applies to everything a run does not set itself (HF
`generate` semantics). Qwen2-VL / Qwen2.5-VL place the text after a video as the released models do
(`mrope.use_released_mrope`; transformers ≥ 5.3 places it differently). Code shipped with a checkpoint runs only with `trust_remote_code=True`
(`--trust-remote-code`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    request_seed,
    video_metadata,
)
from .mrope import use_released_mrope


class TransformersBackend(Backend):
    """HF `generate` over left-padded batches.

    Example:
        >>> backend = TransformersBackend("Qwen/Qwen2.5-VL-7B-Instruct", SamplingSettings(),
        ...                               PixelBudget(128 * 28 * 28, 196 * 28 * 28))   # doctest: +SKIP
    """

    name = "transformers"
    options = (BackendOption("device", str, "cpu | cuda | cuda:N (default: auto)"), DTYPE, TRUST_REMOTE_CODE)

    def __init__(
        self,
        model: str,
        sampling: SamplingSettings,
        pixels: PixelBudget,
        *,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
        **from_pretrained: Any,
    ) -> None:
        super().__init__(model, sampling, pixels)
        require("transformers", "eval")
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

        self._torch = torch
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.trust_remote_code = bool(trust_remote_code)
        remote = {"trust_remote_code": self.trust_remote_code}
        config = AutoConfig.from_pretrained(model, **remote)
        self.multimodal = getattr(config, "vision_config", None) is not None
        self.processor = AutoProcessor.from_pretrained(model, **remote)
        # A text-only checkpoint's "processor" is its tokenizer.
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"  # decoder-only batching: pad on the left so outputs line up
        model_cls = AutoModelForImageTextToText if self.multimodal else AutoModelForCausalLM
        self.from_pretrained = dict(from_pretrained)
        self.hf_model = model_cls.from_pretrained(model, dtype=getattr(torch, dtype), **remote, **from_pretrained)
        self.hf_model.to(self.device).eval()
        use_released_mrope(self.hf_model)

    def prepare(self, requests: Sequence[Request]):
        """Processor outputs (token ids, pixel values, grids, `second_per_grid_ts`) for a batch, on the device."""
        texts = [chat_text(self.processor, r.prompt) for r in requests]
        videos = [r.video for r in requests if r.video is not None]
        kwargs: dict[str, Any] = {}
        if videos:
            if not self.multimodal:
                raise ValueError(f"{self.model} is a text-only model but the request has a video")
            from transformers.video_utils import VideoMetadata

            kwargs = dict(
                videos=[v.frames for v in videos],
                video_metadata=[
                    VideoMetadata(**{k: val for k, val in video_metadata(v).items() if k != "do_sample_frames"})
                    for v in videos
                ],
                do_sample_frames=False,
                size={"shortest_edge": self.pixels.min_pixels, "longest_edge": self.pixels.max_pixels},
            )
        return self.processor(text=texts, padding=True, return_tensors="pt", **kwargs).to(self.device)

    def _generate(self, requests: Sequence[Request]) -> list[Generation]:
        torch = self._torch
        inputs = self.prepare(requests)
        s = self.sampling
        gen_kwargs: dict[str, Any] = dict(max_new_tokens=s.max_new_tokens, do_sample=s.do_sample)
        if s.do_sample:
            gen_kwargs.update(temperature=s.temperature, top_p=s.top_p)
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        # HF samples a whole batch from one generator; seed it from the batch's first item.
        torch.manual_seed(request_seed(s.seed, requests[0].id))
        with torch.inference_mode():
            out = self.hf_model.generate(**inputs, **gen_kwargs)
        prompt_len = inputs["input_ids"].shape[1]
        new_tokens = out[:, prompt_len:]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        completion_tokens = (
            (new_tokens != pad).sum(dim=1).tolist() if pad is not None else [new_tokens.shape[1]] * len(texts)
        )
        return [
            Generation(text=t, usage={"prompt_tokens": int(p), "completion_tokens": int(c)})
            for t, p, c in zip(texts, prompt_tokens, completion_tokens)
        ]

    def describe(self) -> dict[str, Any]:
        gen = self.hf_model.generation_config
        honoured = {k: getattr(gen, k, None) for k in GENERATION_CONFIG_KEYS if getattr(gen, k, None) is not None}
        return {
            "device": self.device,
            "dtype": self.dtype,
            "multimodal": self.multimodal,
            "model_class": type(self.hf_model).__name__,
            "from_pretrained": self.from_pretrained,
            "trust_remote_code": self.trust_remote_code,
            "generation_config": honoured,
        }

    def close(self) -> None:
        self.hf_model = None
