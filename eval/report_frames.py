"""Frame strips of an eval report page: thumbnails of the frames the model saw, decoded only from videos under
the reader's `--video-root` (a path a run folder names is never opened on its own)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.html_page import jpeg_data_uri
from twgrpo_data.pixels import PATCH_AREA
from twgrpo_data.record import Record

MAX_STRIP_FRAMES = 16
THUMB_HEIGHT = 72
# pixel budget for re-sampled thumbnails: a few 28×28 patches, far below the model's
_THUMB_MIN_PIXELS, _THUMB_MAX_PIXELS = 4 * PATCH_AREA, 24 * PATCH_AREA


def _resolve_video(row: dict[str, Any], record: Record | None, video_root: str | Path | None) -> str | None:
    """The video file or frame folder the item used, found under the reader's `video_root` only: the recorded
    path (kept if it lies under the root, else mapped under it as TW-GRPO's rooted paths are), else the data
    record located under the root. None without a root: a path a run folder names is never opened."""
    if video_root is None:
        return None
    from twgrpo_data.benchmarks import locate_video
    from twgrpo_data.video import resolve_video

    recorded = row.get("video")
    try:
        if isinstance(recorded, str) and recorded:
            path = resolve_video(recorded, video_root)
            if Path(path).exists():
                return path
        if record is not None and record.video:
            path = locate_video(record, video_root).path
            return path if Path(path).exists() else None
    except TwgrpoError:  # a path that leads outside the root, or a URL
        return None
    return None


def _frames_at(path: str, indices: Sequence[int]) -> np.ndarray:
    """Decode the frames at `indices` (a video file, or a folder of frame images) as (T, H, W, 3)."""
    from twgrpo_data.errors import require
    from twgrpo_data.video import FRAME_EXTENSIONS

    if Path(path).is_dir():
        image = require("PIL.Image", "video")
        files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in FRAME_EXTENSIONS)
        frames = []
        for i in indices:
            with image.open(files[i]) as img:
                img.draft("RGB", (4 * THUMB_HEIGHT, 2 * THUMB_HEIGHT))
                frames.append(
                    np.asarray(
                        img.convert("RGB").resize((max(1, round(img.width * THUMB_HEIGHT / img.height)), THUMB_HEIGHT))
                    )
                )
        return np.stack(frames)
    decord = require("decord", "video")
    reader = decord.VideoReader(path, num_threads=1)
    unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
    return reader.get_batch(unique.tolist()).asnumpy()[inverse]


def frame_strip(
    row: dict[str, Any], record: Record | None, settings: dict[str, Any], video_root: str | Path | None
) -> tuple[list[dict[str, str]], str | None]:
    """Thumbnails of the frames the model saw, and a note (reconstructed, or why there is no strip).

    The recorded `frame_indices` are decoded when the sample has them; otherwise the video is sampled again
    with the run's `video_sampling` settings (same indices, a thumbnail pixel budget). Videos are read only
    under the reader's `video_root`.
    """
    if str(row.get("error") or "").startswith("video:"):
        return [], "no frames: the video could not be read during the run"
    if video_root is None:
        return [], "no frames: pass --video-root (the folder of the videos) to show them"
    path = _resolve_video(row, record, video_root)
    if path is None:
        return [], f"no frames: the video is not under --video-root {video_root}"
    indices, times = row.get("frame_indices"), row.get("frame_timestamps")
    note = None
    try:
        if indices:
            shown = _spread(len(indices))  # only the frames the strip shows are decoded
            frames = _frames_at(path, [indices[k] for k in shown])
            labels = [f"frame {indices[k]}" + (f" · {float(times[k]):.2f}s" if times else "") for k in shown]
        else:
            from twgrpo_data.benchmarks import locate_video

            if record is None:
                return [], "no frames: the sample has no frame_indices and its data record is not available"
            sampling = {
                **(settings.get("video_sampling") or {}),
                "min_pixels": _THUMB_MIN_PIXELS,
                "max_pixels": _THUMB_MAX_PIXELS,
            }
            if "num_frames" in sampling:  # runs written before the setting was named `frames`
                sampling["frames"] = sampling.pop("num_frames")
            sampled = locate_video(record, video_root).sample(**sampling)
            shown = _spread(sampled.num_frames)
            frames = sampled.frames[shown]
            labels = [f"frame {k + 1}/{sampled.num_frames} · {sampled.timestamps[k]:.2f}s" for k in shown]
            note = "frames reconstructed: re-sampled with the run's settings (the sample has no frame_indices)"
    except Exception as exc:  # noqa: BLE001 — a thumbnail that cannot be made must not stop the report
        return [], f"no frames: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return [{"src": jpeg_data_uri(f, height=THUMB_HEIGHT), "label": label} for f, label in zip(frames, labels)], note


def _spread(n: int) -> list[int]:
    """At most `MAX_STRIP_FRAMES` positions spread evenly over `n` frames."""
    return sorted(set(np.linspace(0, n - 1, min(n, MAX_STRIP_FRAMES)).round().astype(int).tolist()))
