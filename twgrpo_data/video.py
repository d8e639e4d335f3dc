"""Video frame sampling for video-QA models: decord reads, every setting is an argument.

The TW-GRPO / Video-R1 reference scripts hide the frame count and pixel budget in environment variables
read at import time (research: eval_anchors §1.4). Here they are plain keyword arguments:

- frame selection: `frames` uniform frames (indices `round(linspace(first, last, n))`, the reference's
  rule; short clips repeat frames so the count is always the one asked for), or `fps`-based with
  `min_frames`/`max_frames` (count floored to an even number, as Qwen2.5-VL's processor wants);
- an optional `start`/`end` clip in seconds (MVBench bound tasks, STAR), and JPEG frame folders
  (MVBench episodic_reasoning / TVQA) read at `frame_fps`;
- Qwen's per-frame pixel budget (`twgrpo_data.pixels.smart_resize`): sides rounded to multiples of 28 with
  `min_pixels <= H*W <= max_pixels`, resized bicubic with antialiasing (Pillow);
- only the needed frames are decoded (`VideoReader.get_batch`), and the real sampling rate of the
  returned frames is reported, because vLLM and the HF processor turn it into temporal positions.

Nothing here imports torch. decord, Pillow and PyAV (for error diagnosis) are imported on first use
(`pip install 'twgrpo[video]'`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VideoError, VideoOutsideRootError, require
from .pixels import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, PATCH, smart_resize

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
VIDEO_EXTENSIONS = (".mp4", ".MP4", ".webm", ".mkv", ".avi", ".mov")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HF_RESOLVE = re.compile(r"/resolve/[^/]+/(.+)$")
_DECORD_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")
_AVERROR_INVALIDDATA = "1094995529"  # ffmpeg's AVERROR_INVALIDDATA, as decord prints it


@dataclass(frozen=True)
class VideoFrames:
    """Frames sampled from one video, ready for a Qwen-VL style processor.

    `frames` is (T, H, W, 3) uint8 with H, W multiples of 28 inside the pixel budget; `fps` is the rate of
    the returned frames (T divided by the sampled clip's duration); `timestamps` are the source times (s).
    """

    frames: np.ndarray
    fps: float
    timestamps: list[float]
    source_fps: float
    duration: float
    path: str
    indices: tuple[int, ...] = ()  # the source frame index of each returned frame (repeats included)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class VideoRef:
    """Where one record's video is and which part of it to sample (see `twgrpo_data.benchmarks.locate_video`)."""

    path: str
    start: float | None = None
    end: float | None = None
    frame_fps: float | None = None

    def sample(self, **kwargs: Any) -> VideoFrames:
        """`sample_video` on this path and clip; `kwargs` are the frame/pixel settings."""
        return sample_video(self.path, start=self.start, end=self.end, frame_fps=self.frame_fps, **kwargs)


# ----------------------------------------------------------------------------------------------------------
# frame count and indices


def frame_count(
    clip_frames: int, source_fps: float, *, frames: int | None, fps: float | None, min_frames: int, max_frames: int
) -> int:
    """How many frames to sample from a clip of `clip_frames` frames.

    Uniform mode (`fps is None`): exactly `frames`. FPS mode: `clip duration × fps`, clamped to
    `[min_frames, min(max_frames, clip_frames)]` and floored to an even count (Qwen merges frame pairs).
    """
    if fps is None:
        if frames is None or frames < 1:
            raise ValueError("give frames >= 1 or fps")
        return frames
    if fps <= 0 or min_frames < 1 or max_frames < min_frames:
        raise ValueError(f"bad fps sampling settings: fps={fps}, min_frames={min_frames}, max_frames={max_frames}")
    wanted = clip_frames / source_fps * fps
    n = min(max(wanted, min_frames), max_frames, clip_frames)
    return max(1, int(n // 2 * 2) or int(n))


def frame_indices(first: int, last: int, n: int) -> np.ndarray:
    """`n` indices spread uniformly over `[first, last]`: `round(linspace(first, last, n))`."""
    return np.linspace(first, last, n).round().astype(np.int64)


def torch_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """`torch.linspace(start, end, steps)` (float32) bit for bit, without torch: the step is float32, the first
    half counts up from `start` and the second half down from `end`, each value rounded once (a fused
    multiply-add). The official replica needs it because `.round()`/`.long()` of these values picks frames."""
    if steps == 1:
        return np.array([start], dtype=np.float32)
    s, e = np.float32(start), np.float32(end)
    step = np.float64(np.float32((e - s) / np.float32(steps - 1)))
    i = np.arange(steps, dtype=np.float64)
    half = steps // 2
    return np.concatenate([np.float64(s) + step * i[:half], np.float64(e) - step * (steps - 1 - i[half:])]).astype(
        np.float32
    )


def twgrpo_official_indices(first: int, last: int, n: int, resample_to: int) -> np.ndarray:
    """The frames TW-GRPO's released evaluation really fed the model (research: eval_anchors §1.4).

    Its vendored qwen-vl-utils picks `n` frames with `torch.linspace(first, last, n).round()` (n from the
    2 fps rule), then — its `SAMPLE_MODE` never became "true" — re-indexes them to `resample_to` (16) with
    `torch.linspace(0, n - 1, 16).long()`, which truncates, so frames repeat.

    Example:
        >>> twgrpo_official_indices(0, 127, 10, 16).tolist()    # CLEVRER's 128-frame video_12176.mp4
        [0, 0, 14, 14, 28, 42, 42, 56, 56, 71, 85, 85, 99, 99, 113, 127]
    """
    picked = np.round(torch_linspace(first, last, n)).astype(np.int64)
    return picked[torch_linspace(0, n - 1, resample_to).astype(np.int64)]


def clip_range(total: int, source_fps: float, start: float | None, end: float | None) -> tuple[int, int]:
    """First and last frame index of the `[start, end]` seconds clip, clamped to the video."""
    first = 0 if start is None else int(round(max(0.0, start) * source_fps))
    last = total - 1 if end is None else int(round(end * source_fps))
    first = min(first, total - 1)
    last = max(first, min(last, total - 1))
    return first, last


# ----------------------------------------------------------------------------------------------------------
# reading


@functools.cache
def _decord():
    decord = require("decord", "video")
    # ffmpeg otherwise prints its own lines for every broken file; our VideoError says it in one line
    decord.logging.set_level(decord.logging.QUIET)
    return decord


def _resize(frames: Iterable[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Bicubic, antialiased resize of each (H, W, 3) frame to `size` = (H, W)."""
    image = require("PIL.Image", "video")
    h, w = size
    out = []
    for frame in frames:
        if frame.shape[:2] == (h, w):
            out.append(np.ascontiguousarray(frame))
        else:
            out.append(np.asarray(image.fromarray(frame).resize((w, h), image.Resampling.BICUBIC)))
    return np.stack(out)


def _probe(path: str) -> None:
    """Open the container with PyAV first (about 2 ms): it names what is wrong with a broken file, and
    decord is never handed a file that makes it print its own multi-line error log."""
    av = require("av", "video")
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: unreadable video (no video stream)")
    except av.FFmpegError as exc:
        reason = re.sub(r"^\[Errno -?\d+\]\s*|:\s*'[^']*'$", "", str(exc)).strip() or type(exc).__name__
        raise VideoError(f"{path}: unreadable video ({reason})") from None


def _decord_reason(exc: Exception) -> str:
    """decord's first error line without its `[time] file.cc:line:` prefixes."""
    first = _DECORD_PREFIX.sub("", (str(exc).splitlines() or [""])[0]).strip()
    if _AVERROR_INVALIDDATA in first:
        return "invalid data found in the stream"
    return first or type(exc).__name__


def _open(path: str, threads: int):
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such video file")
    _probe(path)
    decord = _decord()
    try:
        reader = decord.VideoReader(path, num_threads=threads)
    except Exception as exc:  # decord raises DECORDError/RuntimeError for every ffmpeg failure
        raise VideoError(f"{path}: unreadable video ({_decord_reason(exc)})") from None
    if len(reader) == 0 or not reader.get_avg_fps() > 0:
        raise VideoError(f"{path}: unreadable video (no frames or no frame rate)")
    return reader


def _frame_size(path: str, height: int, width: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """`smart_resize` for one video; a frame that no budget fits (too elongated) fails that video only."""
    try:
        return smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    except ValueError as exc:
        raise VideoError(f"{path}: {exc}") from None


def _decode(reader, indices: list[int], path: str) -> np.ndarray:
    try:
        return reader.get_batch(indices).asnumpy()
    except Exception as exc:  # a truncated or damaged stream fails here, after the container opened
        raise VideoError(f"{path}: corrupt video, decoding failed ({_decord_reason(exc)})") from None


def _folder_frames(path: str) -> list[str]:
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(FRAME_EXTENSIONS))
    if not names:
        raise VideoError(f"{path}: frame folder has no .jpg/.png frames")
    return [os.path.join(path, n) for n in names]


def _load_images(files: Sequence[str], min_pixels: int, max_pixels: int) -> np.ndarray:
    """Frame images → resized (T, H, W, 3); the size comes from the first image."""
    image = require("PIL.Image", "video")
    size = None
    out = []
    for f in files:
        try:
            with image.open(f) as img:
                if size is None:
                    size = _frame_size(f, img.height, img.width, min_pixels, max_pixels)
                img.draft("RGB", (size[1], size[0]))  # JPEG: decode at a reduced scale when it is enough
                out.append(np.asarray(img.convert("RGB")))
        except (OSError, SyntaxError) as exc:
            raise VideoError(f"{f}: unreadable frame image ({exc})") from None
    return _resize(out, size)


#: A benchmark's own frame choice: `(total frames, source fps, clip start s, clip end s, is a frame folder,
#: frames wanted) -> 0-based frame positions` (e.g. MVBench's segment middles, `mvbench.segment_indices`).
FrameRule = Callable[[int, float, "float | None", "float | None", bool, "int | None"], Sequence[int]]


def sample_video(
    path: str | os.PathLike,
    *,
    frames: int | None = 16,
    fps: float | None = None,
    min_frames: int = 4,
    max_frames: int = 16,
    start: float | None = None,
    end: float | None = None,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame_fps: float | None = None,
    decode_threads: int = 1,
    resample_to: int | None = None,
    frame_rule: FrameRule | None = None,
) -> VideoFrames:
    """Sample frames from a video file (or a folder of JPEG frames) the Qwen2.5-VL way.

    `fps` given → fps-based count (`frames` ignored), else `frames` uniform frames. `start`/`end`
    (seconds) restrict sampling to a clip. A folder is read as frames at `frame_fps` (required then).
    `decode_threads` is decord's thread count per video (0 = ffmpeg's choice; 1 suits parallel prefetch).
    `resample_to` re-indexes the chosen frames to that count the way TW-GRPO's released evaluation did
    (`twgrpo_official_indices`). `frame_rule` replaces the choice of frames altogether (a benchmark's
    official rule; it gets the clip bounds itself). A missing, corrupt or truncated video raises `VideoError`
    naming the file.

    Example:
        >>> vf = sample_video("video1.mp4", frames=16)            # doctest: +SKIP
        >>> vf.frames.shape, round(vf.fps, 3)                          # doctest: +SKIP
        ((16, 336, 588, 3), 0.726)
    """
    path = os.fspath(path)
    if not PATCH * PATCH <= min_pixels <= max_pixels:
        raise ValueError(f"need {PATCH * PATCH} <= min_pixels ({min_pixels}) <= max_pixels ({max_pixels})")
    if os.path.isdir(path):
        if not frame_fps or frame_fps <= 0:
            raise VideoError(f"{path}: a frame folder needs its frame rate (frame_fps)")
        files = _folder_frames(path)
        total, source_fps = len(files), float(frame_fps)
        first, last = clip_range(total, source_fps, start, end)
        idx = _pick(total, source_fps, start, end, True, frame_rule, frames, fps, min_frames, max_frames, resample_to)
        pixels = _load_images([files[i] for i in idx], min_pixels, max_pixels)
        times = [round(float(i) / source_fps, 6) for i in idx]
    else:
        reader = _open(path, decode_threads)
        total, source_fps = len(reader), float(reader.get_avg_fps())
        first, last = clip_range(total, source_fps, start, end)
        idx = _pick(total, source_fps, start, end, False, frame_rule, frames, fps, min_frames, max_frames, resample_to)
        unique, inverse = np.unique(idx, return_inverse=True)
        raw = _decode(reader, unique.tolist(), path)
        times = [round(float(t), 6) for t in reader.get_frame_timestamp(unique.tolist())[:, 0][inverse]]
        pixels = _resize(raw, _frame_size(path, raw.shape[1], raw.shape[2], min_pixels, max_pixels))[inverse]
    clip_seconds = (last - first + 1) / source_fps
    return VideoFrames(
        frames=pixels,
        fps=len(idx) / clip_seconds,
        timestamps=times,
        source_fps=source_fps,
        duration=total / source_fps,
        path=path,
        indices=tuple(int(i) for i in idx),
    )


def _pick(
    total: int,
    source_fps: float,
    start: float | None,
    end: float | None,
    folder: bool,
    frame_rule: FrameRule | None,
    *settings: Any,
) -> np.ndarray:
    """The frame positions to show: the benchmark's `frame_rule`, else ours on the clip's range."""
    if frame_rule is None:
        return _indices(*clip_range(total, source_fps, start, end), source_fps, *settings)
    idx = np.asarray(frame_rule(total, source_fps, start, end, folder, settings[0]), dtype=np.int64)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= total:
        raise ValueError(f"the frame rule picked no frame or one outside the {total} frames")
    return idx


def _indices(
    first: int,
    last: int,
    source_fps: float,
    frames: int | None,
    fps: float | None,
    min_frames: int,
    max_frames: int,
    resample_to: int | None,
) -> np.ndarray:
    n = frame_count(last - first + 1, source_fps, frames=frames, fps=fps, min_frames=min_frames, max_frames=max_frames)
    if resample_to is None:
        return frame_indices(first, last, n)
    return twgrpo_official_indices(first, last, n, resample_to)


# ----------------------------------------------------------------------------------------------------------
# paths and checks


def _inside(root: Path, path: Path) -> bool:
    """Whether `path` lies under `root`, judged on the normalised paths (a symlinked data folder under the root
    stays allowed; `..` components that climb out do not)."""
    base = os.path.normpath(os.path.abspath(root))
    target = os.path.normpath(os.path.abspath(path))
    return target == base or target.startswith(base.rstrip(os.sep) + os.sep)


def resolve_video(
    record_video: str | None, video_root: str | os.PathLike | None, *, allow_outside: bool = False
) -> str:
    """The file (or frame folder) a record's `video` points to.

    Relative paths are joined to `video_root`. Absolute paths that do not exist — TW-GRPO writes
    `/MMVU/videos/…`, `/NExTQA/videos/…` meaning "under the data root" — are tried under the root too,
    dropping leading folders until one exists (so the root may be `data/` or `data/MMVU/`). HF
    `…/resolve/<rev>/videos/x.mp4` URLs map to `videos/x.mp4` under the root; other URLs raise (twgrpo
    never downloads). When no file is found under another extension either, the first candidate is
    returned for the caller to report as missing.

    Data files are untrusted (issues 18.3, 31): with a `video_root`, a path that escapes it — `../../…`, or an
    absolute path that exists outside it — raises `VideoOutsideRootError` unless `allow_outside`. Without a
    root, paths are used as written (commands always pass one: `--video-root`, else `default_video_root`).
    """
    if not record_video:
        raise VideoError("the record has no video")
    text = str(record_video).strip()
    if _URL.match(text):
        m = _HF_RESOLVE.search(text)
        if not m:
            raise VideoError(f"{text}: a URL; download the videos and pass their folder as the video root")
        text = m.group(1)
    p = Path(os.path.expanduser(text))
    if video_root is None:
        return str(p)
    root = Path(video_root)
    if p.is_absolute() and p.exists():
        if allow_outside or _inside(root, p):
            return str(p)
        raise VideoOutsideRootError(
            f"{text}: absolute video path outside the video root {root}; move the videos under it "
            "or allow it explicitly (--allow-outside-video-root)"
        )
    parts = [part for part in (p.parts[1:] if p.is_absolute() else p.parts) if part not in (".", "")]
    candidates = [root.joinpath(*parts[i:]) for i in range(len(parts))] or [root]
    if not allow_outside:
        if not _inside(root, candidates[0]):  # the path as written climbs out
            raise VideoOutsideRootError(
                f"{text}: video path escapes the video root {root} ('..'); allow it explicitly "
                "(--allow-outside-video-root)"
            )
        candidates = [c for c in candidates if _inside(root, c)]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    for candidate in candidates:
        for ext in VIDEO_EXTENSIONS:
            other = candidate.with_suffix(ext) if candidate.suffix else None
            if other is not None and other != candidate and other.exists():
                return str(other)
    return str(candidates[0])


def check_video(path: str | os.PathLike) -> str | None:
    """None when the video (or frame folder) opens and its first and last frames decode; else the one-line
    reason, which names the file."""
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            files = _folder_frames(path)
            _load_images([files[0], files[-1]], DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS)
        else:
            reader = _open(path, 1)
            _decode(reader, [0, len(reader) - 1], path)
    except VideoError as exc:
        return str(exc)
    return None
