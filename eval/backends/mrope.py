"""Qwen2-VL / Qwen2.5-VL multimodal RoPE positions as the released models compute them.

Qwen2.5-VL gives every token three positions (time, height, width). Text tokens have the same number in all three;
a video's tokens count from where the text before them stopped, with time stepping by
`tokens_per_second · second_per_grid_t` per temporal patch. The released code (transformers 4.50's
`get_rope_index`, Qwen's own repository) and vLLM start the text *after* a vision block one past the block's
largest position over all three axes. transformers ≥ 5.3 starts it one past the block's largest *spatial*
position (`current_pos += max(h, w) // merge`), so for a video whose time axis reaches further than its height
and width (any real clip: 8 temporal patches at 2 fps reach 175 in time against ~16 in space), the question
after the video overlaps the video's later frames in position (transformers issue #45381 shows 31 where 5.2.0
gave 348). The model was trained on the released positions; transformers' ones move the tiny model's
first-token log-probabilities by ~2e-3 and a real model's much more, and they make the policy disagree with
vLLM rollouts.

`use_released_mrope(model)` wraps the model's own `get_rope_index` so that every forward and `generate` (which
keeps the returned `rope_deltas` for decoding) uses the released text positions; the vision positions are
transformers' own, untouched. Where transformers already agrees (images, text-only prompts, a fixed version)
the correction is zero.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

# model_type → whose released code starts the text after a vision block at the block's maximum position + 1
RELEASED_MROPE_MODELS = ("qwen2_vl", "qwen2_5_vl")


def released_text_positions(position_ids, vision, attention_mask=None):
    """Shift every token after a vision block so that it continues one past the block's largest position.

    Args:
        position_ids: (3, B, S) mRoPE positions as transformers computed them (padding positions arbitrary).
        vision: (B, S) bool, True for image/video placeholder tokens.
        attention_mask: (B, S) or None; only attended tokens count (left or right padding).

    Returns:
        (positions, deltas): the corrected (3, B, S) positions (a new tensor) and the (B, 1) `rope_deltas`
        (largest position + 1 − number of tokens, which `generate` adds to the positions of decoded tokens).

    Example:
        >>> import torch
        >>> # text, text, a video of 2 time steps (25 apart) x 1 x 2 patches, text, text — as transformers 5.x has it
        >>> pos = torch.tensor([[0, 1, 2, 2, 27, 27, 4, 5], [0, 1, 2, 2, 2, 2, 4, 5], [0, 1, 2, 3, 2, 3, 4, 5]])
        >>> pos = pos.unsqueeze(1)
        >>> vision = torch.tensor([[0, 0, 1, 1, 1, 1, 0, 0]], dtype=torch.bool)
        >>> released_text_positions(pos, vision)[0][0, 0].tolist()
        [0, 1, 2, 2, 27, 27, 28, 29]
    """
    import torch

    positions = position_ids.clone()
    deltas = []
    for b in range(positions.size(1)):
        keep = attention_mask[b].bool() if attention_mask is not None else torch.ones_like(vision[b])
        index = keep.nonzero().squeeze(1)
        row, is_vision = positions[:, b, index], vision[b, index]
        # a vision block ends where the next token is text (Qwen's templates close every block with a text token)
        ends = (is_vision[:-1] & ~is_vision[1:]).nonzero().squeeze(1).tolist()
        for end in ends:
            shift = int(row[:, : end + 1].max()) + 1 - int(row[0, end + 1])
            if shift:
                row[:, end + 1 :] += shift
        positions[:, b, index] = row
        deltas.append(int(row.max()) + 1 - len(index) if len(index) else 0)
    return positions, torch.tensor(deltas, device=position_ids.device).unsqueeze(1)


def _rope_module(model) -> Any | None:
    """The submodule whose `get_rope_index` the model's forward and `generate` call (Qwen2.5-VL: `model.model`)."""
    for module in (getattr(model, "model", None), model):
        if module is not None and callable(getattr(module, "get_rope_index", None)):
            return module
    return None


def use_released_mrope(model) -> bool:
    """Make a Qwen2-VL / Qwen2.5-VL model place the text after each video (or image) as the released code does.

    Wraps the instance's `get_rope_index` (the class and other instances stay as they are); safe to call twice.
    Returns whether the model is one whose positions are corrected (other models are left alone).

    Example:
        >>> from transformers import AutoModelForImageTextToText                   # doctest: +SKIP
        >>> model = AutoModelForImageTextToText.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")  # doctest: +SKIP
        >>> use_released_mrope(model)                                               # doctest: +SKIP
        True
    """
    config = getattr(model, "config", None)
    module = _rope_module(model)
    if getattr(config, "model_type", None) not in RELEASED_MROPE_MODELS or module is None:
        return False
    original = module.get_rope_index
    if getattr(original, "released_mrope", False):
        return True
    signature = inspect.signature(original)
    vision_ids = [i for i in (config.image_token_id, config.video_token_id) if i is not None]

    @functools.wraps(original)
    def get_rope_index(*args, **kwargs):
        positions, deltas = original(*args, **kwargs)
        bound = signature.bind_partial(*args, **kwargs).arguments
        input_ids = bound.get("input_ids")
        if input_ids is None or positions.dim() != 3:
            return positions, deltas
        vision = sum((input_ids == i) for i in vision_ids).bool()
        if not vision.any():
            return positions, deltas
        return released_text_positions(positions, vision, bound.get("attention_mask"))

    get_rope_index.released_mrope = True
    module.get_rope_index = get_rope_index
    return True
