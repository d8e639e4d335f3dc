"""The requests our backends build, checked against vLLM's own input types and parsers (no engine needed)."""

from __future__ import annotations

import numpy as np
import pytest

from twgrpo_data.prompts import build_prompt
from twgrpo_data.record import Record
from twgrpo_data.video import VideoFrames
from twgrpo_eval.backends import PixelBudget, Request, SamplingSettings
from twgrpo_eval.backends.base import video_metadata
from twgrpo_eval.backends.openai_backend import OpenAIBackend
from twgrpo_eval.backends.vllm_backend import sampling_kwargs, vllm_prompt

PIXELS = PixelBudget(4 * 28 * 28, 16 * 28 * 28)


def _video(n: int = 6, fps: float = 1.75) -> VideoFrames:
    # smooth gradients that move from frame to frame (JPEG keeps them close; noise it would not)
    y, x = np.mgrid[0:56, 0:84]
    frames = np.stack(
        [np.stack([(x * 3 + 20 * t) % 256, (y * 4) % 256, np.full_like(x, 40 * t % 256)], -1) for t in range(n)]
    ).astype(np.uint8)
    return VideoFrames(frames, fps, [i / fps for i in range(n)], 30.0, n / fps, "v.mp4")


def _request(video: VideoFrames | None) -> Request:
    record = Record("q1", "What happens?", ["a collision", "nothing"], ["A"], video="v.mp4" if video else None)
    return Request("q1", build_prompt(record, "cot"), video)


def test_vllm_prompt_is_a_text_prompt():
    from vllm.inputs import TextPrompt

    prompt = vllm_prompt("<|im_start|>user ...", _video())
    assert set(prompt) <= TextPrompt.__required_keys__ | TextPrompt.__optional_keys__
    assert TextPrompt.__required_keys__ <= set(prompt)


def test_qwen2_5_vl_parser_takes_our_video_with_its_metadata():
    from transformers.video_utils import VideoMetadata
    from vllm.model_executor.models.qwen2_vl import Qwen2VLMultiModalDataParser
    from vllm.multimodal.parse import VideoProcessorItems

    video = _video()
    mm_data = vllm_prompt("x", video)["multi_modal_data"]
    # as Qwen2.5-VL's processing info builds its parser (`get_data_parser`)
    items = Qwen2VLMultiModalDataParser(2, video_needs_metadata=True).parse_mm_data(mm_data)
    videos = items["video"]
    assert isinstance(videos, VideoProcessorItems) and videos.get_count() == 1
    frames, metadata = videos.get(0)
    assert frames.shape == video.frames.shape
    # what Qwen2_5_VLMultiModalProcessor hands to the HF processor
    hf = VideoMetadata(**{k: v for k, v in metadata.items() if k != "do_sample_frames"})
    assert hf.sampled_fps == pytest.approx(1.75) and metadata["do_sample_frames"] is False


def test_sampling_kwargs_make_valid_sampling_params():
    from vllm import SamplingParams

    params = SamplingParams(**sampling_kwargs(SamplingSettings(0.1, 0.001, 4096, 42), "q1"))
    assert (params.temperature, params.top_p, params.max_tokens) == (0.1, 0.001, 4096)
    assert params.seed is not None


def test_openai_request_is_a_valid_vllm_chat_request_and_decodes_to_our_frames(monkeypatch):
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.multimodal.media.image import ImageMediaIO
    from vllm.multimodal.media.video import VideoMediaIO

    video = _video()
    # only the request body is under test here (no server); the server check has its own tests
    monkeypatch.setattr(OpenAIBackend, "check_server", lambda self: None)
    backend = OpenAIBackend("m", SamplingSettings(), PIXELS, api_base="http://127.0.0.1:9/v1")
    body = backend.request_body(_request(video))
    backend.close()
    flat = {k: v for k, v in body.items() if k != "extra_body"} | body["extra_body"]
    request = ChatCompletionRequest.model_validate(flat)
    assert request.media_io_kwargs["video"]["num_frames"] == 6
    assert request.mm_processor_kwargs == {"min_pixels": PIXELS.min_pixels, "max_pixels": PIXELS.max_pixels}
    url = body["messages"][-1]["content"][0]["video_url"]["url"]
    media_type, data = url[len("data:") :].split(";base64,", 1)
    decoded = VideoMediaIO(ImageMediaIO(), **body["extra_body"]["media_io_kwargs"]["video"]).load_base64(
        media_type, data
    )
    frames, metadata = decoded.media
    assert frames.shape == video.frames.shape  # one video of all our frames, not separate images
    assert np.abs(frames.astype(int) - video.frames.astype(int)).mean() < 3  # JPEG at quality 95
    # the server's (frames, metadata) item carries what the offline engine's does
    offline = {k: v for k, v in video_metadata(video).items() if k != "video_backend"}
    assert {k: metadata[k] for k in offline} == offline
