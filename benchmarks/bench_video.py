"""Frame sampling speed: `sample_video` (16 frames, default pixel budget) vs decoding every frame.

Videos: the three real mp4s in ../shared/data/videos plus synthesised 360p x264 videos (default preset and
GOP): 20 × 10 s and 5 × 2 min. Measured in one run, on the same files:
  baseline    decode every frame (decord, in chunks so memory stays bounded), keep 16, resize — what a
              reader that ignores seeking does;
  sequential  `sample_video` one video after another (16 indices through `get_batch`);
  prefetch    `VideoPrefetcher`, 2 worker threads, over the whole set.
Targets (issue 4): sequential ≥ 3× baseline on the 2-minute videos; prefetch ≥ 1.4× sequential overall.

Usage: python benchmarks/bench_video.py [--videos DIR]   (DIR keeps the synthesised videos for re-runs)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from twgrpo_data.pixels import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, smart_resize
from twgrpo_data.video import (
    VideoFrames,
    frame_indices,
    sample_video,
)
from twgrpo_data.video_prefetch import VideoPrefetcher

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
SIZE, FPS = (360, 640), 24
SHORT, LONG = (20, 10), (5, 120)  # (count, seconds)
NUM_FRAMES = 16


def synthesise(path: Path, seconds: int, seed: int) -> Path:
    """A 360p x264 mp4 with moving gradients and a moving block (x264 defaults: preset medium, GOP 250)."""
    import av

    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 3)
    # 48 distinct frames, cycled: cheap to generate, still real motion for the encoder
    cycle = []
    for i in range(48):
        img = np.empty((h, w, 3), np.uint8)
        img[..., 0] = (xx + 5 * i + base[0]) % 256
        img[..., 1] = (yy + 3 * i + base[1]) % 256
        img[..., 2] = ((xx + yy) // 4 + 7 * i + base[2]) % 256
        x0 = (13 * i) % (w - 80)
        img[100:180, x0 : x0 + 80] = 255 - img[100:180, x0 : x0 + 80]
        cycle.append(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p"))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(seconds * FPS):
            frame = cycle[i % len(cycle)]
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def make_videos(folder: Path) -> dict[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder / f"short_{i:02d}.mp4", SHORT[1], i) for i in range(SHORT[0])]
    jobs += [(folder / f"long_{i}.mp4", LONG[1], 100 + i) for i in range(LONG[0])]
    todo = [j for j in jobs if not j[0].exists()]
    if todo:
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
            list(pool.map(synthesise, *zip(*todo)))
        print(f"synthesised {len(todo)} videos in {time.perf_counter() - t0:.1f} s -> {folder}")
    return {
        "real": sorted(REAL.glob("*.mp4")),
        "10s": [j[0] for j in jobs[: SHORT[0]]],
        "2min": [j[0] for j in jobs[SHORT[0] :]],
    }


def decode_everything(path: Path, chunk: int = 240) -> np.ndarray:
    """The baseline: every frame decoded and converted to RGB, then 16 kept and resized."""
    import decord
    from PIL import Image

    reader = decord.VideoReader(str(path), num_threads=1)
    keep = set(frame_indices(0, len(reader) - 1, NUM_FRAMES).tolist())
    kept = {}
    for lo in range(0, len(reader), chunk):
        batch = reader.get_batch(list(range(lo, min(lo + chunk, len(reader))))).asnumpy()
        kept.update({i: batch[i - lo].copy() for i in range(lo, lo + len(batch)) if i in keep})
    frames = [kept[i] for i in sorted(keep)]
    h, w = smart_resize(*frames[0].shape[:2], min_pixels=DEFAULT_MIN_PIXELS, max_pixels=DEFAULT_MAX_PIXELS)
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BICUBIC)) for f in frames])


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 5 ms from /proc (Linux)."""

    def __enter__(self):
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.start) / 2**20


def cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system)."""
    t = os.times()
    return t.user + t.system


def timed(fn, paths) -> tuple[float, float, PeakRSS]:
    """(wall seconds, CPU seconds, peak memory) of `fn` over `paths`, one after another."""
    with PeakRSS() as mem:
        t0, c0 = time.perf_counter(), cpu_seconds()
        for p in paths:
            fn(p)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return seconds, cpu, mem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, help="folder for the synthesised videos (kept; reused if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_video_") as tmp:
        groups = make_videos(args.videos or Path(tmp))
        everything = [p for g in groups.values() for p in g]
        sample_video(everything[0])  # warm-up: imports, decord/ffmpeg initialisation

        load = os.getloadavg()[0]
        print(
            f"\n16 frames per video, pixel budget {DEFAULT_MIN_PIXELS}..{DEFAULT_MAX_PIXELS}, "
            f"{os.cpu_count()} CPUs, load average {load:.1f} at start (a shared machine makes timings noisy)\n"
        )
        print(
            f"{'group':<7}{'videos':>7}{'baseline s/video':>18}{'sequential s/video':>20}{'speed-up':>10}"
            f"{'baseline MiB':>14}{'sequential MiB':>16}"
        )
        seq_total = seq_cpu = 0.0
        ratios = {}
        for name, paths in groups.items():
            base_s, _, base_mem = timed(decode_everything, paths)
            seq_s, cpu, seq_mem = timed(sample_video, paths)
            seq_total, seq_cpu = seq_total + seq_s, seq_cpu + cpu
            ratios[name] = base_s / seq_s
            print(
                f"{name:<7}{len(paths):>7}{base_s / len(paths):>18.3f}{seq_s / len(paths):>20.3f}"
                f"{ratios[name]:>9.2f}x{base_mem.mib:>14.1f}{seq_mem.mib:>16.1f}"
            )

        with PeakRSS() as pre_mem:
            t0, c0 = time.perf_counter(), cpu_seconds()
            with VideoPrefetcher(everything, workers=2, queue_size=4, frames=NUM_FRAMES) as stream:
                results = [v for _, v in stream]
            pre_s, pre_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        failed = [v for v in results if not isinstance(v, VideoFrames)]
        n = len(everything)
        print(f"\nwhole set ({n} videos):")
        print(
            f"  sequential   {n / seq_total:6.2f} videos/s  ({seq_total:.1f} s wall, {seq_cpu:.1f} s CPU: "
            f"{seq_cpu / seq_total:.2f} cores busy)"
        )
        print(
            f"  prefetch x2  {n / pre_s:6.2f} videos/s  ({pre_s:.1f} s wall, {pre_cpu:.1f} s CPU: "
            f"{pre_cpu / pre_s:.2f} cores busy, peak +{pre_mem.mib:.1f} MiB)  {len(failed)} failed"
        )
        ok_long = ratios["2min"] >= 3.0
        ok_pre = seq_total / pre_s >= 1.4
        print(
            f"target sequential >= 3x baseline on 2-min videos: {ratios['2min']:.2f}x {'met' if ok_long else 'NOT met'}"
        )
        print(
            f"target prefetch >= 1.4x sequential: {seq_total / pre_s:.2f}x {'met' if ok_pre else 'NOT met'}"
            + (
                ""
                if ok_pre or load < os.cpu_count()
                else " (the CPUs were already busy: "
                f"load {load:.1f} on {os.cpu_count()} cores leaves no second core to overlap on)"
            )
        )
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
