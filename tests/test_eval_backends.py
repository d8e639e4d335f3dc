"""Backends: the shared interface, the transformers processor inputs, the vLLM payload and the OpenAI client
against a local HTTP server (retries with backoff, timeouts, the video content part)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from eval_helpers import FakeOpenAIServer
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import VIDEOS

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.prompts import build_prompt
from twgrpo_data.record import Record
from twgrpo_data.video import VideoFrames, sample_video
from twgrpo_eval.backends import Backend, Generation, PixelBudget, Request, SamplingSettings, backend_class
from twgrpo_eval.backends.base import request_seed, video_metadata

PIXELS = PixelBudget(4 * 28 * 28, 16 * 28 * 28)


def _frames(n: int = 4, fps: float = 2.5, h: int = 56, w: int = 84) -> VideoFrames:
    rng = np.random.default_rng(n)
    frames = rng.integers(0, 255, size=(n, h, w, 3), dtype=np.uint8)
    return VideoFrames(frames, fps, [i / fps for i in range(n)], 25.0, n / fps, "synthetic.mp4")


def _request(item_id: str = "q1", video: VideoFrames | None = None) -> Request:
    record = Record(item_id, "What moves?", ["the cube", "the sphere"], ["A"], video="v.mp4" if video else None)
    return Request(item_id, build_prompt(record, "cot"), video)


# ----------------------------------------------------------------------------------------------------------
# shared interface


class _FailsOn(Backend):
    """A backend whose whole batch call fails when it contains the id `bad` (like vLLM rejecting one prompt)."""

    name = "fails-on"

    def __init__(self):
        super().__init__("m", SamplingSettings(), PIXELS)
        self.calls: list[list[str]] = []

    def _generate(self, requests):
        self.calls.append([r.id for r in requests])
        if any(r.id == "bad" for r in requests):
            raise ValueError("prompt too long\nsecond line of a long traceback")
        return [Generation(text=f"<answer>{r.id}</answer>") for r in requests]


def test_a_failing_request_fails_alone_not_its_batch():
    backend = _FailsOn()
    out = backend.generate([_request("a"), _request("bad"), _request("c")])
    assert [o.text for o in out] == ["<answer>a</answer>", None, "<answer>c</answer>"]
    assert out[1].error == "ValueError: prompt too long"
    assert backend.calls[0] == ["a", "bad", "c"] and ["a"] in backend.calls and ["c"] in backend.calls


def test_backend_registry_resolves_names_lazily():
    assert backend_class("transformers").name == "transformers"
    assert backend_class("openai").name == "openai"
    with pytest.raises(ValueError, match="unknown backend"):
        backend_class("tgi")


@given(st.text(min_size=1, max_size=20), st.integers(0, 2**31 - 1))
def test_request_seed_is_in_range(item_id, seed):
    assert 0 <= request_seed(seed, item_id) < 2**31


def test_request_seed_is_the_same_in_another_process():
    """An item's seed depends on (seed, id) only, never on the process (a resumed run re-batches its items)."""
    import subprocess
    import sys

    code = (
        "from twgrpo_eval.backends.base import request_seed; print(request_seed(7, 'vid_3'), request_seed(8, 'vid_3'))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"}
    ).stdout.split()
    assert [int(x) for x in other] == [request_seed(7, "vid_3"), request_seed(8, "vid_3")]
    assert request_seed(7, "vid_3") != request_seed(8, "vid_3")


@settings(deadline=None)  # the first example imports transformers
@given(n=st.integers(1, 32), fps=st.floats(0.05, 60))
def test_video_metadata_tells_the_processor_the_real_sampling_rate(n, fps):
    from transformers.video_utils import VideoMetadata

    meta = video_metadata(_frames(n, fps, 28, 28))
    hf = VideoMetadata(**{k: v for k, v in meta.items() if k != "do_sample_frames"})
    assert hf.sampled_fps == pytest.approx(fps)
    assert meta["do_sample_frames"] is False and meta["total_num_frames"] == n


# ----------------------------------------------------------------------------------------------------------
# transformers


@pytest.fixture(scope="module")
def hf_backend(tiny_model_dir):
    from twgrpo_eval.backends.transformers_backend import TransformersBackend

    return TransformersBackend(str(tiny_model_dir), SamplingSettings(max_new_tokens=4), PIXELS, device="cpu")


def test_transformers_inputs_keep_frames_as_sampled_with_their_fps(hf_backend):
    video = sample_video(
        VIDEOS / "video_12176.mp4", frames=6, min_pixels=PIXELS.min_pixels, max_pixels=PIXELS.max_pixels
    )
    inputs = hf_backend.prepare([_request("v", video)])
    t, h, w = inputs["video_grid_thw"][0].tolist()
    # 14-pixel patches, 2 frames per temporal patch: the processor did not resize or resample
    assert (t, h * 14, w * 14) == (video.num_frames // 2, video.frames.shape[1], video.frames.shape[2])
    assert inputs["second_per_grid_ts"][0].item() == pytest.approx(2 / video.fps)


def test_transformers_batches_video_and_text_only_requests(hf_backend):
    out = hf_backend.generate([_request("v", _frames(4, 2.0)), _request("t")])
    assert [o.error for o in out] == [None, None]
    assert all(isinstance(o.text, str) for o in out)
    assert all(0 < o.usage["completion_tokens"] <= 4 for o in out)
    assert out[0].usage["prompt_tokens"] > out[1].usage["prompt_tokens"]  # the video tokens


def test_transformers_chat_template_renders_the_default_system_turn(hf_backend):
    text = hf_backend.processor.apply_chat_template(
        _request("v", _frames()).prompt.messages(), tokenize=False, add_generation_prompt=True
    )
    assert text.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|video_pad|><|vision_end|>What moves?Options:\nA. the cube\n"
    )
    assert text.endswith("<|im_start|>assistant\n")


# ----------------------------------------------------------------------------------------------------------
# vLLM payload (the real engine runs in tests/vllm_backend)


def test_vllm_prompt_carries_frames_and_metadata_for_one_video():
    from twgrpo_eval.backends.vllm_backend import engine_kwargs, sampling_kwargs, vllm_prompt

    video = _frames(4, 1.5)
    prompt = vllm_prompt("<chat text>", video)
    assert prompt["prompt"] == "<chat text>"
    [(frames, meta)] = prompt["multi_modal_data"]["video"]
    assert frames is video.frames and meta["fps"] == 1.5 and meta["frames_indices"] == [0, 1, 2, 3]
    assert "multi_modal_data" not in vllm_prompt("x")
    assert sampling_kwargs(SamplingSettings(0.1, 0.001, 64, 7), "v")["seed"] == request_seed(7, "v")
    args = engine_kwargs("m", PIXELS, True, seed=1, max_model_len=4096, enforce_eager=True)
    assert args["limit_mm_per_prompt"] == {"video": 1, "image": 0}
    assert args["mm_processor_kwargs"] == {"min_pixels": PIXELS.min_pixels, "max_pixels": PIXELS.max_pixels}
    assert args["enforce_eager"] is True and "limit_mm_per_prompt" not in engine_kwargs("m", PIXELS, False, seed=1)
    assert args["trust_remote_code"] is False  # remote code only when the user passes --trust-remote-code
    assert engine_kwargs("m", PIXELS, True, seed=1, trust_remote_code=True)["trust_remote_code"] is True


def test_vllm_version_is_checked_before_any_model_loads():
    from twgrpo_eval.backends import MIN_VLLM_VERSION, check_vllm_version

    check_vllm_version("0.32.0")
    check_vllm_version(MIN_VLLM_VERSION)
    with pytest.raises(TwgrpoError, match=r"vLLM 0\.8\.5 is installed.*needs vLLM >= .*pip install -U 'vllm>="):
        check_vllm_version("0.8.5")
    with pytest.raises(TwgrpoError, match="vLLM is not installed"):
        check_vllm_version(None)


def test_generation_config_fills_what_the_run_does_not_set():
    from types import SimpleNamespace

    from twgrpo_eval.backends.vllm_backend import generation_defaults, sampling_kwargs

    defaults = SimpleNamespace(
        repetition_penalty=1.05,
        top_k=1,
        min_p=0.0,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        temperature=0.7,
        top_p=0.8,
    )
    llm = SimpleNamespace(get_default_sampling_params=lambda: defaults)
    merged = {**generation_defaults(llm), **sampling_kwargs(SamplingSettings(0.1, 0.001, 64, 7), "v")}
    assert merged["repetition_penalty"] == 1.05 and merged["top_k"] == 1  # the checkpoint's
    assert merged["temperature"] == 0.1 and merged["top_p"] == 0.001  # the run's


# ----------------------------------------------------------------------------------------------------------
# OpenAI-compatible server


@pytest.fixture
def server(request):
    srv = FakeOpenAIServer(**getattr(request, "param", {}))
    yield srv
    srv.close()


def _openai(server, **kw):
    from twgrpo_eval.backends.openai_backend import OpenAIBackend

    return OpenAIBackend("served-model", SamplingSettings(0.1, 0.001, 32, 42), PIXELS, api_base=server.url, **kw)


@pytest.mark.parametrize("server", [{"fail": 2}], indirect=True)
def test_openai_backend_retries_with_backoff_until_the_server_answers(server):
    backend = _openai(server, max_retries=3, concurrency=1)
    [out] = backend.generate([_request("q1")])
    backend.close()
    assert out.text == "<answer>A</answer>" and out.error is None
    assert out.usage == {"prompt_tokens": 11, "completion_tokens": 3}
    assert len(server.bodies) == 3


@pytest.mark.parametrize("server", [{"fail": 100}], indirect=True)
def test_openai_backend_records_the_error_after_its_retries(server):
    backend = _openai(server, max_retries=1)
    [out] = backend.generate([_request("q1")])
    backend.close()
    assert out.text is None and out.error == "InternalServerError: Error code: 503 - overloaded"
    assert len(server.bodies) == 2


@pytest.mark.parametrize("server", [{"delay": 3.0}], indirect=True)
def test_openai_backend_times_out_per_request(server):
    backend = _openai(server, max_retries=0, timeout=0.3)
    [out] = backend.generate([_request("q1")])
    backend.close()
    assert out.text is None and "Timeout" in out.error


def test_openai_backend_sends_frames_as_one_video_part(server):
    from PIL import Image

    video = _frames(4, 2.5)
    backend = _openai(server, concurrency=2)
    out = backend.generate([_request("v", video), _request("t")])
    backend.close()
    assert [o.error for o in out] == [None, None]
    body = next(b for b in server.bodies if isinstance(b["messages"][-1]["content"], list))
    part = body["messages"][-1]["content"][0]
    assert part["type"] == "video_url" and body["messages"][-1]["content"][1]["type"] == "text"
    header, data = part["video_url"]["url"].split(",", 1)
    assert header == "data:video/jpeg;base64"
    jpegs = [Image.open(io.BytesIO(base64.b64decode(chunk))) for chunk in data.split(",")]
    assert len(jpegs) == 4 and all(j.size == (84, 56) for j in jpegs)
    assert body["media_io_kwargs"]["video"] == {
        "num_frames": 4,
        "fps": 2.5,
        "total_num_frames": 4,
        "frames_indices": [0, 1, 2, 3],
        "duration": 1.6,
        "do_sample_frames": False,
    }
    assert body["mm_processor_kwargs"] == {"min_pixels": PIXELS.min_pixels, "max_pixels": PIXELS.max_pixels}
    assert body["seed"] == request_seed(42, "v") and body["max_tokens"] == 32 and body["model"] == "served-model"
    text_only = next(b for b in server.bodies if isinstance(b["messages"][-1]["content"], str))
    assert "media_io_kwargs" not in text_only and len(server.bodies) == 2


def test_openai_backend_checks_the_server_and_the_served_model_first(server):
    from twgrpo_eval.backends.openai_backend import OpenAIBackend

    with pytest.raises(TwgrpoError, match=r"serves \['served-model'\], not 'other'; pass the served name"):
        OpenAIBackend("other", SamplingSettings(), PIXELS, api_base=server.url)
    server.close()
    with pytest.raises(TwgrpoError, match=r"no usable OpenAI-compatible server at http://127\.0\.0\.1:\d+/v1"):
        OpenAIBackend("served-model", SamplingSettings(), PIXELS, api_base=server.url, max_retries=0)
