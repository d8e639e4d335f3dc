"""What an evaluation run reads: the benchmark's records, the selection a run answers (`--shard`, `--limit`), a
content fingerprint of them, and their videos (located under the video root, sampled for the prefetcher)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError, TwgrpoError, VideoError
from twgrpo_data.record import Record

from .backends.base import one_line
from .config import EvalConfig, shard_of
from .protocol import load_options

# Before the model loads, this many of the first pending records' videos are looked up: if none exists, the
# run stops naming the first missing path and the --video-root it tried (a wrong root, not a few gaps).
FIRST_VIDEOS_CHECKED = 8
NO_VIDEO = (
    "the record has no video (video: null) in a video benchmark; fix the data or pass "
    "--allow-text-only to answer it without one"
)


def load_eval_records(bench: str, data: str | None, options: dict[str, Any] | None = None) -> tuple[list[Record], str]:
    """The records to evaluate and the data path they came from.

    `data` may be a unified / records / parquet / HF-saved file of any benchmark, or the benchmark's own
    native files; without it the benchmark's default location is read. `options` are the loader's (an
    official protocol's open-ended items, subtitles). Invalid records stop the run (a benchmark's numbers
    are over all of its items), naming the first.
    """
    from twgrpo_data.benchmarks import get_benchmark, reads_as_interchange
    from twgrpo_data.sources import open_input, resolve_source

    module = get_benchmark(bench)
    source = resolve_source(data if data is not None else module.DEFAULT_PATH, bench=bench)  # a Hub id → the cache
    path = source.path
    # a unified/records file holds its records as they are (open-ended ones included); options are for native files
    result = open_input(source, bench=bench, options={} if reads_as_interchange(bench, path) else options)
    if result.errors:
        raise TwgrpoError(
            f"{len(result.errors)} invalid record(s) in {path}, first: {result.errors[0]} "
            f"(`twgrpo data validate {path}` lists them)"
        )
    if not result.records:
        raise InputFormatError(f"{path}: no records to evaluate")
    return result.records, str(path.resolve())


def in_shard(record_id: str, k: int, n: int) -> bool:
    """Whether a record belongs to shard K of N: by a hash of its id, so every N-way run splits alike,
    whatever the order of the file or --limit."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def select_records(config: EvalConfig) -> tuple[list[Record], list[Record], str]:
    """`(all records of the data file, the selected ones: shard then --limit, data path)`. A shard may hold
    no records (`--shard 3/3` of two): it is still a shard, and `twgrpo eval merge` needs its folder."""
    records, data_path = load_eval_records(config.bench, config.data, load_options(config))
    selected = records
    shard = shard_of(config.shard)
    if shard is not None:
        selected = [r for r in selected if in_shard(r.id, *shard)]
    if config.limit is not None:
        selected = selected[: config.limit]
    return records, selected, data_path


def records_fingerprint(records: Iterable[Record]) -> str:
    """A content hash of records (questions, options, gold, videos, meta): a corrected gold answer changes it."""
    digest = hashlib.sha256()
    for r in records:
        row = [r.id, r.question, r.options, r.answer, r.video, r.source, r.meta, r.qai]
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def records_benchmark(records: Sequence[Record], data_path: str) -> str | None:
    """The benchmark the records are, by their own fields (most of them), else by the file's name; None when
    neither says."""
    from collections import Counter

    from twgrpo_data.benchmarks import BENCHMARKS, guess_from_name

    votes: Counter = Counter()
    for record in records:
        keys = set(record.meta)
        name = next((n for n, m in BENCHMARKS.items() if any(set(sig) <= keys for sig in m.SIGNATURES)), None)
        votes[name] += 1
    named = [(n, c) for n, c in votes.most_common() if n is not None]
    if named and named[0][1] * 2 > len(records):
        return named[0][0]
    return guess_from_name(Path(data_path).name) or None


def check_first_videos(records: Sequence[Record], config: EvalConfig, video_root: str) -> None:
    """Stop before any model loads when none of the first pending records' videos exists under `video_root`
    (`--video-root`, else the data file's folder): the root is wrong, and every item would fail. (A few missing
    videos only fail their items.)"""
    from twgrpo_data.benchmarks import locate_video

    looked: list[str] = []
    for record in records:
        if record.video is None:
            continue
        try:
            path = locate_video(record, video_root, allow_outside=config.allow_outside_video_root).path
        except VideoError as exc:
            raise TwgrpoError(f"record {record.id!r}: {exc}") from None
        if os.path.exists(path):
            return
        looked.append(path)
        if len(looked) == FIRST_VIDEOS_CHECKED:
            break
    if looked:
        root = video_root if config.video_root is not None else f"not given: the data file's folder {video_root}"
        raise TwgrpoError(
            f"none of the first {len(looked)} videos exists, e.g. {looked[0]} (--video-root {root}); "
            "pass the folder the data's video paths are relative to"
        )


def video_ref(record: Record, video_root: str | None, *, allow_outside: bool = False, bounds: bool = True) -> Any:
    """Where a record's video is and which clip of it to sample; `bounds=False` (the TW-GRPO replica) samples
    the whole video whatever `start`/`end` the record carries, as the released scripts did."""
    from twgrpo_data.benchmarks import locate_video

    ref = locate_video(record, video_root, allow_outside=allow_outside)
    return ref if bounds else dataclasses.replace(ref, start=None, end=None)


def video_loader(
    video_root: str | None,
    settings: dict[str, Any],
    *,
    allow_text_only: bool = False,
    allow_outside: bool = False,
    bounds: bool = True,
    frame_rule: Callable[..., Any] | None = None,
) -> Callable[[Record], Any]:
    """`record -> VideoFrames | None` for the prefetcher; any failure becomes a `VideoError` naming the file.
    A record without a video fails its item unless `allow_text_only` (then it is answered text-only).
    `settings` are `sampling_settings`; `frame_rule` the benchmark's own choice of frames it names."""
    settings = {k: v for k, v in settings.items() if k != "frame_rule"}
    if frame_rule is not None:
        settings["frame_rule"] = frame_rule

    def load(record: Record):
        if record.video is None:
            if allow_text_only:
                return None
            raise VideoError(NO_VIDEO)
        where = record.video
        try:
            ref = video_ref(record, video_root, allow_outside=allow_outside, bounds=bounds)
            where = ref.path
            return ref.sample(**settings)
        except VideoError:
            raise
        except Exception as exc:  # noqa: BLE001 — e.g. an unresolvable path, a frame too elongated to resize
            raise VideoError(f"{where}: {one_line(exc)}") from None

    return load
