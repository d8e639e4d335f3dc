"""Qwen2.5-VL's pixel budget per frame: 14-pixel patches merged 2×2, so frame sides are multiples of 28 and a
budget is counted in 28×28 patches (`PATCH_AREA`: the default evaluation budget is 128·28² to 196·28²). Plain
arithmetic, no imports: the benchmark registry, evaluation and video sampling share it."""

from __future__ import annotations

import math

PATCH = 28  # Qwen2.5-VL: 14-pixel patches merged 2x2 → sides must be multiples of 28
PATCH_AREA = PATCH * PATCH
DEFAULT_MIN_PIXELS = 128 * PATCH_AREA
DEFAULT_MAX_PIXELS = 256 * PATCH_AREA
MAX_ASPECT_RATIO = 200  # Qwen's processor rejects frames more elongated than this


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int = PATCH,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """Target (H, W) for a frame: both sides multiples of `factor`, about `min_pixels <= H*W <= max_pixels`.

    Qwen2.5-VL's rule: round each side to the nearest multiple of `factor`; if the area is then above
    `max_pixels`, scale both sides down by `sqrt(h*w/max_pixels)` and floor to multiples; if below
    `min_pixels`, scale up by `sqrt(min_pixels/(h*w))` and ceil. The aspect ratio is kept up to rounding.
    `max_pixels` always holds (it is the visual-token budget); when the `[min_pixels, max_pixels]` window is
    too narrow for the 28-pixel steps, the frame lands just under `min_pixels`, as in Qwen.

    Example:
        >>> smart_resize(360, 640)                  # 364x644 would exceed 256*28*28 pixels
        (336, 588)
        >>> smart_resize(100, 100)                  # scaled up to reach 128*28*28 pixels
        (336, 336)
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size {height}x{width} is empty")
    if not factor * factor <= min_pixels <= max_pixels:
        raise ValueError(f"need {factor * factor} <= min_pixels ({min_pixels}) <= max_pixels ({max_pixels})")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"frame {height}x{width} has an aspect ratio above {MAX_ASPECT_RATIO}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / scale / factor) * factor)
        w = max(factor, math.floor(width / scale / factor) * factor)
    elif h * w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * scale / factor) * factor
        w = math.ceil(width * scale / factor) * factor
    # ceiling (or the one-step floor on a very thin side) can overshoot a narrow window: the budget must hold
    while h * w > max_pixels and max(h, w) > factor:
        if h >= w:
            h -= factor
        else:
            w -= factor
    return h, w
