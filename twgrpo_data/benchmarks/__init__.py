"""Benchmark loaders: native files as users download them → records (DESIGN §2), one module per benchmark.

Every module exposes the same small set: `NAME`, `DESCRIPTION`, `DEFAULT_PATH` (the usual download layout,
relative to where you keep the data), `DEFAULT_SPLIT`, `load(path, **options) -> LoadResult`,
`categories(record) -> dict` (the metric breakdown keys, `category` first) and `detect(path) -> bool`, and
the facts particular to it (`twgrpo_data.benchmarks.facts`): `SOURCE` (licence, card text), `HUB` (its
Hugging Face repository and layout), `PROMPT_STYLE`, `READS_INTERCHANGE`, `SIGNATURES`, and — where the
benchmark has one — `OFFICIAL`, its own evaluation protocol (prompts, frames, decoding, scoring, judge). Modules whose
videos move between releases add `video_candidates(record)` and `missing_video_hint(record)`; those whose
items come in dependent groups add `cluster(record)` (Video-MME: the video). Every list
elsewhere (card sources, licence gate, file-name guesses, QAI input formats, prompt styles) is derived from
`BENCHMARKS`, so adding a benchmark is one module plus one line (`registry.NATIVE`).

Every record carries `meta["category"]` — MVBench task, TempCompass dimension (+ `task_type`), Video-MME
duration (+ domain, sub_category, task_type), MMVU subject, NExT-(G)QA question type, CLEVRER and STAR
question type — so the eval harness can break metrics down by it.

Example:
    >>> from twgrpo_data.benchmarks import load_benchmark
    >>> result = load_benchmark("mmvu", "MMVU/validation.json")    # doctest: +SKIP
    >>> len(result.records), dict(result.skipped)                   # doctest: +SKIP
    (625, {'open-ended': 375})
"""

from __future__ import annotations

import inspect
import os
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InputFormatError, TwgrpoError, VideoError, VideoOutsideRootError
from ..io.load_result import LoadResult
from ..io.readers import is_interchange
from ..names import did_you_mean
from ..prompts import PROMPT_STYLES
from ..record import Problem, Record
from . import unified
from .facts import HubSource, OfficialProtocol, Source
from .registry import (
    NATIVE,
    benchmark_of,
    categories_of,
    category_names,
    cluster_of,
    guess_from_name,
    native_benchmarks,
    source_table,
    with_categories,
)

if TYPE_CHECKING:  # the video module (numpy) loads when a video is located, not when the registry is read
    from ..video import VideoRef


class BenchmarkModule(Protocol):
    NAME: str
    DESCRIPTION: str
    DEFAULT_PATH: str
    DEFAULT_SPLIT: str | None
    PROMPT_STYLE: str
    READS_INTERCHANGE: bool
    SIGNATURES: tuple[tuple[str, ...], ...]
    SOURCE: Source | None
    HUB: HubSource | None

    def load(self, path: str | os.PathLike, **options: Any) -> LoadResult: ...

    def categories(self, record: Record) -> dict[str, Any]: ...

    def detect(self, path: Path) -> bool: ...


#: Every registered benchmark by name: the native ones (`registry.NATIVE`, where a new benchmark is registered)
#: and `unified` last, which reads Video-R1/TW-GRPO files of any of them. A live view: a benchmark added to
#: `NATIVE` is here too.
BENCHMARKS: Mapping[str, BenchmarkModule] = ChainMap({unified.NAME: unified}, NATIVE)


def list_benchmarks() -> list[str]:
    """Registered benchmark names, in a fixed order."""
    return list(BENCHMARKS)


def prompt_style(name: str) -> str:
    """The evaluation prompt style `auto` stands for on benchmark `name` ("cot" for an unknown name)."""
    module = BENCHMARKS.get(name)
    return module.PROMPT_STYLE if module is not None else "cot"


def resolve_style(requested: str, bench: str, records: Iterable[Record]) -> str:
    """The style `auto` stands for on this benchmark and data; an explicit style is returned unchanged.

    Pass the whole data file's records, not a `--limit` slice: the protocol must not depend on how many
    items are evaluated."""
    if requested != "auto":
        if requested not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {requested!r}; expected auto or one of {', '.join(PROMPT_STYLES)}")
        return requested
    if prompt_style(bench) == "clevrer" or any(r.is_multi_answer for r in records):
        return "clevrer"
    return "cot"


def official_protocol(name: str) -> OfficialProtocol:
    """Benchmark `name`'s own evaluation protocol (`--protocol official`)."""
    protocol = getattr(get_benchmark(name), "OFFICIAL", None)
    if protocol is None:
        have = ", ".join(n for n, m in BENCHMARKS.items() if getattr(m, "OFFICIAL", None) is not None)
        raise TwgrpoError(
            f"{name} has no official protocol of its own (benchmarks with one: {have}); "
            "use --protocol standard or twgrpo-official"
        )
    return protocol


def get_benchmark(name: str) -> BenchmarkModule:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise TwgrpoError(
            f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}{did_you_mean(name, BENCHMARKS)}"
        ) from None


def load_options(name: str) -> list[str]:
    """Keyword options the benchmark's `load` accepts (e.g. `types`, `subtitles`, `fmt`)."""
    params = inspect.signature(get_benchmark(name).load).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def reads_as_interchange(name: str, path: str | os.PathLike) -> bool:
    """Whether `load_benchmark(name, path)` reads `path` with the interchange reader (a unified/records/parquet/HF
    file, which takes no options) rather than the benchmark's own loader. A loader that reads its own unified
    JSON variants (`READS_INTERCHANGE`: TW-GRPO's NExT-GQA and STAR files) gets those, never a records file,
    parquet or an HF folder."""
    module = get_benchmark(name)
    p = Path(path).expanduser()
    if module is unified or not p.exists() or not is_interchange(p):
        return False
    return not module.READS_INTERCHANGE or not (p.suffix == ".json" and unified.detect(p))


def load_benchmark(name: str, path: str | os.PathLike | None = None, **options: Any) -> LoadResult:
    """Read benchmark `name` from the local file or folder `path` (default: its `DEFAULT_PATH`) into records.

    Native layouts go to the benchmark's loader; a Video-R1/TW-GRPO unified file or a twgrpo records
    file is read as such, with the benchmark's categories added. Options are the loader's keywords
    (`types=[…]` for MVBench tasks / TempCompass task types / CLEVRER question types, `subtitles=True`
    for Video-MME, `fmt="csv"` for NExT-GQA …). The result lists every invalid item in `problems` and
    counts deliberate skips (e.g. MMVU open-ended) in `skipped`. A Hub reference is resolved before, by
    `twgrpo_data.sources`.
    """
    module = get_benchmark(name)
    p = Path(path if path is not None else module.DEFAULT_PATH).expanduser()
    if not p.exists():
        raise InputFormatError(
            f"{p}: no such file or folder"
            + ("" if path is not None else f" (the default {name} location; pass the path)")
        )
    if reads_as_interchange(name, p):
        if options:
            raise TwgrpoError(f"{p}: options {sorted(options)} apply to native {name} files, not unified ones")
        return _some_records(unified.load(p, source=name), name, p)
    accepted = set(load_options(name))
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TwgrpoError(f"{name} has no option(s) {unknown}" + (f"; it takes {sorted(accepted)}" if accepted else ""))
    return _some_records(module.load(p, **options), name, p)


def _some_records(result: LoadResult, name: str, path: Path) -> LoadResult:
    """`result`, unless it holds nothing at all: zero records and no problem is never a silent success
    (an empty list, a header-only CSV, or another benchmark's file whose items were all skipped)."""
    if result.records or result.problems:
        return result
    skipped = sum(result.skipped.values())
    why = (
        f" (all {skipped} items skipped: " + ", ".join(f"{k} {v}" for k, v in result.skipped.items()) + ")"
        if skipped
        else " (the file holds no items)"
    )
    looks = detect_benchmark(path)
    hint = f"; it looks like a {looks} file (--bench {looks})" if looks not in (None, name, "unified") else ""
    raise InputFormatError(f"{path}: no {name} records{why}{hint}")


def detect_benchmark(path: str | os.PathLike) -> str | None:
    """The benchmark a local native file or folder belongs to, sniffed from names and the first bytes; None if
    unknown."""
    p = Path(path).expanduser()
    if not p.exists():
        return None
    for name, module in NATIVE.items():
        if module.detect(p):
            return name
    return "unified" if unified.detect(p) or is_interchange(p) else None


# ----------------------------------------------------------------------------------------------------------
# videos


def locate_video(record: Record, video_root: str | os.PathLike | None, *, allow_outside: bool = False) -> VideoRef:
    """Where `record`'s video is under `video_root` and which part to sample.

    Tries the benchmark's known layouts in turn (MVBench's `main`/`video` branches and Video-R1 copies,
    CLEVRER's per-1000 folders, …; see `video_candidates`); the clip is the record's `meta` `start`/`end`
    unless the layout found is pre-cut; a frame folder is read at `meta["fps"]`. When nothing exists, the
    first candidate is returned (for `check_video` to report as missing). A path that escapes `video_root`
    raises `VideoOutsideRootError` unless `allow_outside` (see `resolve_video`); commands pass the data file's
    folder when the user gives no root (`default_video_root`).
    """
    from ..video import VideoRef, resolve_video

    module = BENCHMARKS.get(record.source)
    hook: Callable[[Record], list[tuple[str, bool]]] | None = getattr(module, "video_candidates", None)
    candidates = hook(record) if hook else ([(record.video, True)] if record.video else [])
    if not candidates:
        raise VideoError(f"record {record.id!r} has no video")
    chosen = None
    for rel, clip in candidates:
        path = resolve_video(rel, video_root, allow_outside=allow_outside)
        if os.path.exists(path):
            chosen = (path, clip)
            break
    if chosen is None:
        chosen = (resolve_video(candidates[0][0], video_root, allow_outside=allow_outside), candidates[0][1])
    path, clip = chosen
    start, end = (record.meta.get("start"), record.meta.get("end")) if clip else (None, None)
    fps = record.meta.get("fps") if os.path.isdir(path) else None
    return VideoRef(path=path, start=_seconds(start), end=_seconds(end), frame_fps=_seconds(fps))


def default_video_root(data: str | os.PathLike) -> Path:
    """Where video paths lead when no video root is given: the folder of the data file (a folder of data files
    is the root itself) — the paths are relative to it, as `datasets` reads a metadata file's `file_name`, and
    confined to it (`locate_video`), so a data file cannot have a command read a video elsewhere on this machine.
    """
    path = Path(data).expanduser()
    return path if path.is_dir() else path.parent


def benchmark_video_root(name: str) -> Path:
    """A benchmark's default root: the top folder of its usual download (`MMVU`, `TempCompass`, `Video-MME`, …),
    which its records' video paths are relative to when its default data is read."""
    return Path(Path(get_benchmark(name).DEFAULT_PATH).parts[0])


def _seconds(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def check_record_videos(
    records: Iterable[Record],
    video_root: str | os.PathLike | None,
    *,
    file: str | None = None,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[Problem]:
    """One problem per record whose video is missing or unreadable (each distinct video is checked once,
    `workers` at a time). Missing MVBench videos get the known reason (NTU removed, .webm renamed, …).
    `progress(done, total)` is called after each distinct video.
    """
    records = list(records)
    from ..video import VideoRef, check_video

    refs: list[VideoRef | VideoError] = []
    for rec in records:
        try:
            refs.append(locate_video(rec, video_root))
        except VideoError as exc:
            refs.append(exc)
    paths = sorted({r.path for r in refs if isinstance(r, VideoRef)})
    verdicts: dict[str, str | None] = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for done, (path, verdict) in enumerate(zip(paths, pool.map(check_video, paths)), start=1):
            verdicts[path] = verdict
            if progress is not None:
                progress(done, len(paths))
    problems = []
    for i, (rec, ref) in enumerate(zip(records, refs)):
        if isinstance(ref, VideoError):  # a path escaping the root is an error, a record without video a warning
            severity = "error" if isinstance(ref, VideoOutsideRootError) else "warning"
            problems.append(Problem(str(ref), file, i, rec.id, "video", severity))
            continue
        reason = verdicts[ref.path]
        if reason is None:
            continue
        hint = getattr(BENCHMARKS.get(rec.source), "missing_video_hint", None)
        if hint is not None and not os.path.exists(ref.path):
            reason += f"; {hint(rec)}"
        problems.append(Problem(reason, file, i, rec.id, "video"))
    return problems


__all__ = [
    "BENCHMARKS",
    "BenchmarkModule",
    "HubSource",
    "OfficialProtocol",
    "Source",
    "benchmark_of",
    "categories_of",
    "category_names",
    "check_record_videos",
    "cluster_of",
    "detect_benchmark",
    "get_benchmark",
    "guess_from_name",
    "list_benchmarks",
    "load_benchmark",
    "load_options",
    "benchmark_video_root",
    "default_video_root",
    "locate_video",
    "native_benchmarks",
    "official_protocol",
    "prompt_style",
    "resolve_style",
    "reads_as_interchange",
    "source_table",
    "with_categories",
]
