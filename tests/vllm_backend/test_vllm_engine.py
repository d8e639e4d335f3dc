"""The `vllm` backend's engine in this process: the frames twgrpo sends reach the model, and its first-token
log-probabilities equal the transformers model's on the same prompt and frames (a differential test).

Both go through `VLLMBackend.engine_inputs`, the requests `generate` sends: a request that dropped the video or
replaced its frames would give the same log-probabilities for every video."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from vllm_helpers import ENGINE, VIDEOS

from twgrpo_data.prompts import build_prompt
from twgrpo_data.record import Record
from twgrpo_data.video import sample_video
from twgrpo_eval.backends import PixelBudget, Request, SamplingSettings

pytestmark = pytest.mark.slow

PIXELS = PixelBudget(4 * 28 * 28, 16 * 28 * 28)
GREEDY = SamplingSettings(temperature=0.0, top_p=1.0, max_new_tokens=8, seed=42)
TOP = 20  # log-probabilities compared per prompt


@pytest.fixture(scope="module")
def engine(tiny_vl_model):
    from twgrpo_eval.backends.vllm_backend import VLLMBackend

    backend = VLLMBackend(str(tiny_vl_model), GREEDY, PIXELS, **ENGINE)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def requests_by_video() -> dict[str, Request]:
    """One question on two real videos whose frames come out the same size, and on all-zero frames of that size."""
    record = Record("q", "What happens after the cube moves?", ["a collision", "nothing"], ["A"], video="v.mp4")
    prompt = build_prompt(record, "cot")
    videos = {
        name: sample_video(VIDEOS / name, frames=16, min_pixels=PIXELS.min_pixels, max_pixels=PIXELS.max_pixels)
        for name in ("clevrer_8.mp4", "video1.mp4")
    }
    first = videos["clevrer_8.mp4"]
    assert first.frames.shape == videos["video1.mp4"].frames.shape  # the same tokens, different pixels
    videos["zeros"] = dataclasses.replace(first, frames=np.zeros_like(first.frames))
    return {name: Request(name, prompt, video) for name, video in videos.items()}


def _first_token_logprobs(engine, requests: list[Request]) -> list[dict[int, float]]:
    from vllm import SamplingParams

    prompts, _ = engine.engine_inputs(requests)
    outputs = engine._llm.generate(prompts, SamplingParams(temperature=0, max_tokens=1, logprobs=TOP), use_tqdm=False)
    return [{t: lp.logprob for t, lp in out.outputs[0].logprobs[0].items()} for out in outputs]


def test_the_frames_reach_the_model(engine, requests_by_video):
    by_video = dict(zip(requests_by_video, _first_token_logprobs(engine, list(requests_by_video.values()))))

    def differ(a: dict[int, float], b: dict[int, float]) -> float:
        return max(abs(a[t] - b[t]) for t in a.keys() & b.keys())

    assert differ(by_video["clevrer_8.mp4"], by_video["video1.mp4"]) > 1e-3
    assert differ(by_video["clevrer_8.mp4"], by_video["zeros"]) > 1e-3


def test_first_token_logprobs_equal_the_transformers_models(engine, requests_by_video, tiny_vl_model):
    import torch

    from twgrpo_eval.backends.transformers_backend import TransformersBackend

    requests = list(requests_by_video.values())
    hf = TransformersBackend(str(tiny_vl_model), GREEDY, PIXELS, device="cpu", dtype="float32")
    for request, vllm_logprobs in zip(requests, _first_token_logprobs(engine, requests)):
        inputs = hf.prepare([request])
        tokens = list(vllm_logprobs)
        vllm = np.array([vllm_logprobs[t] for t in tokens])
        with torch.inference_mode():
            logits = hf.hf_model(**inputs).logits
        # the same frames, metadata, vision tower and language model, and the released mRoPE positions (which the
        # transformers backend restores, `mrope.use_released_mrope`): equal up to fp32 rounding
        own = torch.log_softmax(logits[0, -1], dim=-1)[tokens].numpy()
        assert np.abs(vllm - own).max() < 1e-5, request.id
