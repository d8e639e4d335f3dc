"""Qwen2.5-VL's multimodal positions as the released model computes them (`twgrpo_eval.backends.mrope`).

The reference below is the released rule written from its description (transformers 4.50's `get_rope_index`,
vLLM's `get_mrope_input_positions`): text counts on from one past the largest position so far; a video's
(time, height, width) grid starts at that point, time stepping by `tokens_per_second · second_per_grid_t`.
The differential test against vLLM itself (the engine's log-probabilities) is in tests/vllm_backend.
"""

from __future__ import annotations

import pytest
import torch
from paths import VIDEOS

from twgrpo_data.prompts import build_prompt
from twgrpo_data.record import Record
from twgrpo_data.video import sample_video
from twgrpo_eval.backends import PixelBudget, Request, SamplingSettings
from twgrpo_eval.backends.mrope import released_text_positions, use_released_mrope

pytestmark = pytest.mark.slow

PIXELS = PixelBudget(4 * 28 * 28, 16 * 28 * 28)


def released_positions(input_ids, grids, seconds, config) -> torch.Tensor:
    """(3, S) positions of one unpadded prompt by the released rule."""
    merge, per_second = config.vision_config.spatial_merge_size, config.vision_config.tokens_per_second
    ids, out, nxt, i, v = input_ids.tolist(), [], 0, 0, 0
    while i < len(ids):
        if ids[i] in (config.video_token_id, config.image_token_id):
            t, h, w = grids[v].tolist()
            for a in range(t):
                out += [
                    (nxt + int(a * float(seconds[v]) * per_second), nxt + b, nxt + c)
                    for b in range(h // merge)
                    for c in range(w // merge)
                ]
            i, v = i + t * (h // merge) * (w // merge), v + 1
            nxt = max(max(p) for p in out) + 1
        else:
            out.append((nxt, nxt, nxt))
            nxt, i = nxt + 1, i + 1
    return torch.tensor(out).T


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from twgrpo_eval.backends.transformers_backend import TransformersBackend

    return TransformersBackend(str(tiny_model_dir), SamplingSettings(0.0, 1.0, 4), PIXELS, device="cpu")


def video_request(name: str, frames: int = 16) -> Request:
    record = Record("q", "What happens after the cube moves?", ["a collision", "nothing"], ["A"], video="v.mp4")
    clip = sample_video(VIDEOS / name, frames=frames, min_pixels=PIXELS.min_pixels, max_pixels=PIXELS.max_pixels)
    return Request(name, build_prompt(record, "cot"), clip)


def positions_of(model, inputs):
    keys = ("input_ids", "mm_token_type_ids", "video_grid_thw", "second_per_grid_ts", "attention_mask")
    return model.model.get_rope_index(**{k: inputs[k] for k in keys if k in inputs})


def test_the_transformers_backend_places_the_text_after_a_video_as_released(backend):
    model = backend.hf_model
    assert model.model.get_rope_index.released_mrope  # installed when the backend loads the model
    inputs = backend.prepare([video_request("clevrer_8.mp4")])
    positions, deltas = positions_of(model, inputs)
    expected = released_positions(
        inputs["input_ids"][0], inputs["video_grid_thw"], inputs["second_per_grid_ts"], model.config
    )
    assert torch.equal(positions[:, 0], expected)
    assert deltas.tolist() == [[int(expected.max()) + 1 - expected.size(1)]]
    # what transformers itself computes differs: the text after the video starts inside the video's time span
    original = type(model.model).get_rope_index(
        model.model,
        **{k: inputs[k] for k in ("input_ids", "mm_token_type_ids", "video_grid_thw", "second_per_grid_ts")},
    )[0]
    video = (inputs["input_ids"][0] == model.config.video_token_id).nonzero()[:, 0]
    after = int(video.max()) + 1
    assert original[0, 0, after] <= original[0, 0, video].max() < positions[0, 0, after]


def test_padded_batches_get_each_rows_own_positions(backend):
    model = backend.hf_model
    short, long = video_request("clevrer_8.mp4", frames=8), video_request("video1.mp4")
    inputs = backend.prepare([short, long])  # left-padded to the longer prompt
    positions, _ = positions_of(model, inputs)
    grids, seconds = inputs["video_grid_thw"], inputs["second_per_grid_ts"]
    for row in range(2):
        keep = inputs["attention_mask"][row].bool()
        expected = released_positions(
            inputs["input_ids"][row][keep], grids[row : row + 1], seconds[row : row + 1], model.config
        )
        assert torch.equal(positions[:, row, keep], expected)


def test_forward_and_generate_use_the_released_positions(backend, tiny_model_dir):
    from transformers import AutoModelForImageTextToText

    model = backend.hf_model
    inputs = backend.prepare([video_request("video1.mp4")])
    expected = released_positions(
        inputs["input_ids"][0], inputs["video_grid_thw"], inputs["second_per_grid_ts"], model.config
    ).unsqueeze(1)
    plain = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    with torch.inference_mode():
        fixed = model(**inputs).logits
        explicit = plain(**inputs, position_ids=expected).logits
        own = plain(**inputs).logits
        model.generate(**inputs, max_new_tokens=2, do_sample=False)
    torch.testing.assert_close(fixed, explicit, rtol=0, atol=1e-6)
    assert (fixed - own).abs().max() > 1e-4  # transformers' own positions give other numbers
    # generate keeps the deltas for the tokens it decodes: one past the released maximum
    assert model.model.rope_deltas.tolist() == [[int(expected.max()) + 1 - expected.size(-1)]]


def test_images_and_text_are_unchanged():
    # an image (one time step) ends at its largest spatial position: transformers and the release agree
    pos = torch.tensor([[0, 1, 2, 2, 2, 2, 4], [0, 1, 2, 2, 3, 3, 4], [0, 1, 2, 3, 2, 3, 4]]).unsqueeze(1)
    vision = torch.tensor([[0, 0, 1, 1, 1, 1, 0]], dtype=torch.bool)
    fixed, deltas = released_text_positions(pos, vision)
    assert torch.equal(fixed, pos) and deltas.tolist() == [[5 - 7]]
    text = torch.arange(5).expand(3, 1, 5)
    assert torch.equal(released_text_positions(text, torch.zeros(1, 5, dtype=torch.bool))[0], text)


def test_other_models_are_left_alone():
    class Plain(torch.nn.Module):
        config = type("C", (), {"model_type": "llava"})()

        def get_rope_index(self, *args):
            return "untouched"

    assert not use_released_mrope(Plain())
    assert Plain().get_rope_index() == "untouched"
