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


def released_qwen25vl_positions(model, inputs):
    """transformers' mRoPE position ids for a one-video prompt, with the text after the video starting where the
    released Qwen2.5-VL code (and vLLM) starts it: one past the video's largest position. transformers ≥ 5.3
    starts it one past the video's largest *spatial* position, so it overlaps the video's later time steps."""
    keys = ("input_ids", "mm_token_type_ids", "video_grid_thw", "second_per_grid_ts", "attention_mask")
    positions, _ = model.model.get_rope_index(**{k: inputs[k] for k in keys if k in inputs})
    video = (inputs["input_ids"][0] == model.config.video_token_id).nonzero()[:, 0]
    first, last = int(video.min()), int(video.max())
    positions[:, 0, last + 1 :] += positions[:, 0, first : last + 1].max() + 1 - positions[0, 0, last + 1]
    return positions


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
            as_released = hf.hf_model(**inputs, position_ids=released_qwen25vl_positions(hf.hf_model, inputs))
            as_transformers = hf.hf_model(**inputs)
        # the same frames, metadata, vision tower and language model: equal up to fp32 rounding
        released = torch.log_softmax(as_released.logits[0, -1], dim=-1)[tokens].numpy()
        assert np.abs(vllm - released).max() < 1e-5, request.id
        # transformers' own positions for the text after the video move the numbers a little (measured: 2e-3),
        # not the greedy token on these prompts
        own = torch.log_softmax(as_transformers.logits[0, -1], dim=-1)[tokens].numpy()
        assert np.abs(vllm - own).max() < 1e-2 and int(own.argmax()) == int(vllm.argmax()), request.id
