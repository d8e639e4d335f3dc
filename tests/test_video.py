"""Frame sampling (`twgrpo_data.video`) on the real mp4s in ../shared/data/videos and on videos made here."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import VIDEOS

from twgrpo_data.errors import VideoError
from twgrpo_data.pixels import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, smart_resize
from twgrpo_data.video import (
    VideoFrames,
    VideoRef,
    check_video,
    frame_count,
    resolve_video,
    sample_video,
)
from twgrpo_data.video_prefetch import VideoPrefetcher

REAL = sorted(VIDEOS.glob("*.mp4"))
# frames, fps of the three shared videos (decord's count; ffprobe agrees)
REAL_SHAPE = {"clevrer_8.mp4": (240, 24.0), "video1.mp4": (491, 22.29), "video_12176.mp4": (128, 25.0)}


def write_video(path: Path, n_frames: int, fps: int = 24, size: tuple[int, int] = (120, 160)) -> Path:
    """An x264 mp4 whose frame i is flat grey at level 5*i, so a decoded frame tells which one it is."""
    av = pytest.importorskip("av")
    h, w = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), 5 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def levels(frames: np.ndarray) -> list[int]:
    """Frame number encoded by `write_video`, read back from the mean grey level."""
    return [int(round(float(f.mean()) / 5)) for f in frames]


@pytest.fixture(scope="module")
def clip48(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("v") / "clip48.mp4", 48)  # 2 s at 24 fps


# ----------------------------------------------------------------------------------------------------------
# real videos


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_video_gives_16_frames_in_budget_with_true_fps(path):
    total, src_fps = REAL_SHAPE[path.name]
    vf = sample_video(path)
    t, h, w, c = vf.frames.shape
    assert (t, c) == (16, 3) and vf.frames.dtype == np.uint8
    assert h % 28 == 0 and w % 28 == 0
    assert DEFAULT_MIN_PIXELS <= h * w <= DEFAULT_MAX_PIXELS
    assert vf.source_fps == pytest.approx(src_fps, rel=1e-3)
    assert vf.duration == pytest.approx(total / src_fps, rel=1e-3)
    assert vf.fps == pytest.approx(16 / (total / src_fps), rel=1e-3)
    assert vf.timestamps[0] == 0 and vf.timestamps == sorted(vf.timestamps)
    assert vf.timestamps[-1] == pytest.approx((total - 1) / src_fps, abs=0.05)


def test_real_video_keeps_aspect_ratio_under_the_budget():
    vf = sample_video(VIDEOS / "video_12176.mp4", min_pixels=64 * 28 * 28, max_pixels=128 * 28 * 28)  # 480x320
    _, h, w, _ = vf.frames.shape
    assert (h, w) == smart_resize(320, 480, min_pixels=64 * 28 * 28, max_pixels=128 * 28 * 28)
    assert h * w <= 128 * 28 * 28
    assert abs(w / h - 1.5) < 0.1


def test_fps_mode_counts_frames_from_duration():
    vf = sample_video(VIDEOS / "video_12176.mp4", fps=2.0)  # 5.12 s → 10.24 → 10 frames
    assert vf.num_frames == 10
    assert vf.fps == pytest.approx(10 / 5.12)


def test_fps_mode_caps_at_max_frames():
    assert sample_video(VIDEOS / "clevrer_8.mp4", fps=2.0, max_frames=16).num_frames == 16  # 10 s → 20 → 16


def test_clip_bounds_restrict_timestamps_and_set_fps():
    vf = sample_video(VIDEOS / "video1.mp4", frames=8, start=4.0, end=10.0)
    assert vf.num_frames == 8
    assert vf.timestamps[0] == pytest.approx(4.0, abs=0.05)
    assert vf.timestamps[-1] == pytest.approx(10.0, abs=0.05)
    assert vf.fps == pytest.approx(8 / 6.0, rel=0.02)


# ----------------------------------------------------------------------------------------------------------
# synthesised videos: which frames come back


def test_uniform_sampling_decodes_the_linspace_frames(clip48):
    vf = sample_video(clip48, frames=8)
    assert levels(vf.frames) == np.linspace(0, 47, 8).round().astype(int).tolist()
    assert vf.timestamps == pytest.approx([i / 24 for i in np.linspace(0, 47, 8).round()], abs=1e-3)
    assert vf.fps == pytest.approx(4.0)  # 8 frames over 2 s


def test_more_frames_than_the_clip_has_repeats_frames(clip48):
    vf = sample_video(clip48, frames=16, start=1.0, end=1.25)  # frames 24..30
    assert vf.num_frames == 16
    got = levels(vf.frames)
    assert got == sorted(got) and set(got) == set(range(24, 31))


def test_clip_past_the_end_is_clamped(clip48):
    vf = sample_video(clip48, frames=4, start=1.5, end=60.0)
    assert levels(vf.frames)[-1] == 47 and levels(vf.frames)[0] == 36


def test_fps_mode_floors_to_an_even_count():
    assert frame_count(48, 24.0, frames=None, fps=2.5, min_frames=4, max_frames=16) == 4  # 5 → 4
    assert frame_count(48, 24.0, frames=None, fps=1.0, min_frames=4, max_frames=16) == 4  # 2 → min 4
    assert frame_count(3, 24.0, frames=None, fps=2.0, min_frames=4, max_frames=16) == 2  # clip has 3
    assert frame_count(48, 24.0, frames=7, fps=None, min_frames=4, max_frames=16) == 7


def test_small_frames_are_scaled_up_to_min_pixels(clip48):
    _, h, w, _ = sample_video(clip48, frames=2).frames.shape  # 160x120 source
    assert h * w >= DEFAULT_MIN_PIXELS and h % 28 == 0 and w % 28 == 0


def test_frame_folder_is_read_at_its_frame_rate(tmp_path):
    image = pytest.importorskip("PIL.Image")
    folder = tmp_path / "castle_clip"
    folder.mkdir()
    for i in range(30):  # 10 s at 3 fps, 1-based names as MVBench's TVQA frames
        image.fromarray(np.full((90, 160, 3), 8 * i, np.uint8)).save(folder / f"{i + 1:05d}.jpg", quality=95)
    vf = sample_video(folder, frames=4, frame_fps=3, start=2.0, end=8.0)
    assert [round(f.mean() / 8) for f in vf.frames] == [6, 12, 18, 24]
    assert vf.timestamps == pytest.approx([2.0, 4.0, 6.0, 8.0])
    assert vf.fps == pytest.approx(4 / (19 / 3))
    assert vf.frames.shape[1] % 28 == 0 and vf.frames.shape[2] % 28 == 0
    with pytest.raises(VideoError, match="frame_fps"):
        sample_video(folder, frames=4)


# ----------------------------------------------------------------------------------------------------------
# broken input


def test_truncated_video_is_a_one_line_error_naming_it(tmp_path):
    data = (VIDEOS / "video1.mp4").read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError) as err:
        sample_video(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert check_video(bad) == str(err.value)


def test_damaged_stream_fails_at_decode_with_a_video_error(tmp_path):
    av = pytest.importorskip("av")
    good = tmp_path / "good.mp4"
    with av.open(str(good), "w", options={"movflags": "faststart"}) as container:  # index first, then data
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(48):
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), format="rgb24")
                )
            )
        container.mux(stream.encode())
    data = bytearray(good.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 20000] = bytes(20000)
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    assert check_video(good) is None
    reason = check_video(bad)
    assert reason is not None and reason.startswith(str(bad)) and "\n" not in reason
    with pytest.raises(VideoError, match="damaged.mp4"):
        sample_video(bad)


@pytest.mark.parametrize("content", [b"", b"not a video" * 50])
def test_garbage_file_is_unreadable(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    assert "unreadable video" in check_video(bad)


def test_missing_video_is_reported():
    assert check_video("/nonexistent/v.mp4") == "/nonexistent/v.mp4: no such video file"
    with pytest.raises(VideoError, match="no such video file"):
        sample_video("/nonexistent/v.mp4")


def test_importing_the_video_module_does_not_import_torch():
    code = "import sys, twgrpo_data.video, twgrpo_data.benchmarks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------------------------------------
# pixel budget


@given(
    st.integers(20, 4000),
    st.integers(20, 4000),
    st.integers(4, 512).flatmap(lambda lo: st.tuples(st.just(lo), st.integers(lo, 2048))),
)
@settings(max_examples=300, deadline=None)
def test_smart_resize_sides_are_multiples_of_28_and_never_over_budget(h, w, budget):
    lo, hi = budget[0] * 784, budget[1] * 784
    if max(h, w) / min(h, w) > 200:
        return
    rh, rw = smart_resize(h, w, min_pixels=lo, max_pixels=hi)
    assert rh % 28 == 0 and rw % 28 == 0 and rh >= 28 and rw >= 28
    assert rh * rw <= hi
    if hi >= 2 * lo and lo >= 64 * 784 and max(h, w) / min(h, w) <= 3:
        assert rh * rw >= lo  # a window this wide always has room for the 28-pixel steps
        assert abs(rh / rw - h / w) <= 28 / min(rh, rw) * (h / w) * 2.5  # aspect kept up to one step


def test_smart_resize_narrow_window_keeps_the_budget():
    rh, rw = smart_resize(320, 480, min_pixels=128 * 784, max_pixels=128 * 784)
    assert rh * rw <= 128 * 784 and rh % 28 == 0 and rw % 28 == 0


def test_smart_resize_keeps_a_size_that_already_fits():
    assert smart_resize(336, 588) == (336, 588)


# ----------------------------------------------------------------------------------------------------------
# paths


def test_resolve_video_maps_twgrpo_absolute_paths_under_the_root(tmp_path):
    target = tmp_path / "MMVU" / "videos" / "Chemistry" / "0.mp4"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x")
    assert resolve_video("/MMVU/videos/Chemistry/0.mp4", tmp_path) == str(target)
    assert resolve_video("/MMVU/videos/Chemistry/0.mp4", tmp_path / "MMVU") == str(target)
    url = "https://huggingface.co/datasets/yale-nlp/MMVU/resolve/main/videos/Chemistry/0.mp4"
    assert resolve_video(url, tmp_path / "MMVU") == str(target)
    assert resolve_video("videos/Chemistry/0.webm", tmp_path / "MMVU") == str(target)  # renamed extension


def test_resolve_video_refuses_plain_urls_and_reports_the_missing_path(tmp_path):
    with pytest.raises(VideoError, match="URL"):
        resolve_video("https://www.youtube.com/watch?v=x", tmp_path)
    assert resolve_video("a/b.mp4", tmp_path) == str(tmp_path / "a" / "b.mp4")
    assert resolve_video(str(VIDEOS / "video1.mp4"), None) == str(VIDEOS / "video1.mp4")  # no root: as written


def test_video_paths_stay_under_the_root_unless_allowed(tmp_path):
    root = tmp_path / "videos"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.mp4").write_bytes(b"x")
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"x")
    assert resolve_video("a/../a/ok.mp4", root) == str(root / "a" / ".." / "a" / "ok.mp4")  # stays inside
    with pytest.raises(VideoError, match=r"escapes the video root .*--allow-outside-video-root"):
        resolve_video("../secret.mp4", root)
    with pytest.raises(VideoError, match=r"escapes the video root"):
        resolve_video("../../../../../../etc/passwd", root)
    with pytest.raises(VideoError, match=r"absolute video path outside the video root"):
        resolve_video(str(secret), root)
    with pytest.raises(VideoError, match=r"absolute video path outside the video root"):
        resolve_video(str(VIDEOS / "video1.mp4"), root)
    assert resolve_video("../secret.mp4", root, allow_outside=True) == str(root / ".." / "secret.mp4")
    assert resolve_video(str(secret), root, allow_outside=True) == str(secret)
    assert resolve_video(str(root / "a" / "ok.mp4"), root) == str(root / "a" / "ok.mp4")  # absolute, inside


# ----------------------------------------------------------------------------------------------------------
# prefetcher


def test_prefetcher_yields_in_input_order_with_errors_in_place(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk")
    items = [REAL[0], bad, REAL[1], VideoRef(str(REAL[2]), start=1.0, end=2.0)]
    with VideoPrefetcher(items, workers=2, queue_size=2, frames=4) as stream:
        out = list(stream)
    assert [item for item, _ in out] == items
    assert isinstance(out[1][1], VideoError) and "bad.mp4" in str(out[1][1])
    assert all(isinstance(v, VideoFrames) and v.num_frames == 4 for i, (_, v) in enumerate(out) if i != 1)
    assert out[3][1].timestamps[0] == pytest.approx(1.0, abs=0.05)


def test_prefetcher_runs_ahead_at_most_queue_size():
    started, lock = [], threading.Lock()

    def load(i):
        with lock:
            started.append(i)
        time.sleep(0.01)
        return i

    consumed = 0
    for i, result in VideoPrefetcher(range(20), load, workers=2, queue_size=3):
        assert result == i
        consumed += 1
        time.sleep(0.02)  # a slow consumer: the workers must wait, not race ahead
        with lock:
            assert len(started) <= consumed + 3
    assert consumed == 20


def test_prefetcher_overlaps_slow_loads():
    def load(i):
        time.sleep(0.1)
        return i

    t0 = time.perf_counter()
    assert [r for _, r in VideoPrefetcher(range(8), load, workers=4, queue_size=8)] == list(range(8))
    assert time.perf_counter() - t0 < 0.6  # sequential would take 0.8 s


@pytest.mark.slow
def test_prefetcher_with_processes_matches_sequential():
    with VideoPrefetcher(REAL, workers=2, processes=True, frames=4) as stream:
        got = [v for _, v in stream]
    for path, frames in zip(REAL, got):
        assert np.array_equal(frames.frames, sample_video(path, frames=4).frames)
