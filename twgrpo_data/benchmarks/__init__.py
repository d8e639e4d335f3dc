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
`BENCHMARKS`, so adding a benchmark is one module plus one line below.

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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InputFormatError, TwgrpoError, VideoError, VideoOutsideRootError
from ..formats import LoadResult
from ..garbage_collection import gc_paused
from ..names import did_you_mean
from ..record import Problem, Record
from . import clevrer, mmvu, mvbench, nextgqa, star, tempcompass, unified, videomme
from .facts import HubSource, OfficialProtocol, Source
from .loading import head_text

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


BENCHMARKS: dict[str, BenchmarkModule] = {
    m.NAME: m for m in (mvbench, tempcompass, videomme, mmvu, nextgqa, nextgqa.NEXTQA, clevrer, star, unified)
}


def list_benchmarks() -> list[str]:
    """Registered benchmark names, in a fixed order."""
    return list(BENCHMARKS)


def native_benchmarks() -> list[str]:
    """The benchmarks with a native layout of their own (every one but `unified`)."""
    return [name for name, m in BENCHMARKS.items() if m.SOURCE is not None]


def source_table() -> dict[str, Source]:
    """Record `source` value → what cards and the licence gate state about that benchmark."""
    return {name: m.SOURCE for name, m in BENCHMARKS.items() if m.SOURCE is not None}


def prompt_style(name: str) -> str:
    """The evaluation prompt style `auto` stands for on benchmark `name` ("cot" for an unknown name)."""
    module = BENCHMARKS.get(name)
    return module.PROMPT_STYLE if module is not None else "cot"


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


def guess_from_name(file_name: str) -> str:
    """Benchmark named in a file name: 'eval_mmvu.json' → 'mmvu'; '' when none is."""
    lowered = file_name.lower()
    return next((name for name in native_benchmarks() if name in lowered), "")


def benchmark_of(record: Record) -> str | None:
    """The benchmark a record's content belongs to: its native fields (`SIGNATURES`, e.g. Video-MME's
    `videoID`/`duration`/`domain`) first, then its `source` when that names a benchmark; None when neither
    does. Content wins, so a renamed or relabelled file is still recognised."""
    keys = set(record.meta)
    for name, module in BENCHMARKS.items():
        if any(set(signature) <= keys for signature in module.SIGNATURES):
            return name
    return record.source if record.source in source_table() else None


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


def _is_interchange(path: Path) -> bool:
    """A unified/records/parquet/HF file written by twgrpo or Video-R1 rather than a native benchmark file."""
    if path.is_dir():
        from .loading import saved_dataset_columns

        return {"id", "question", "options", "answer", "meta"} <= saved_dataset_columns(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return {"id", "question", "options", "answer", "meta"} <= set(pq.read_schema(path).names)
    if path.suffix in (".json", ".jsonl"):
        head = head_text(path, 16384)
        return '"solution"' in head or ('"answer": [' in head and '"meta"' in head)
    return False


def reads_as_interchange(name: str, path: str | os.PathLike) -> bool:
    """Whether `load_benchmark(name, path)` reads `path` as a unified/records file (which takes no options)."""
    p = Path(path).expanduser()
    return p.exists() and not get_benchmark(name).READS_INTERCHANGE and _is_interchange(p)


@gc_paused()
def load_benchmark(name: str, path: str | os.PathLike | None = None, **options: Any) -> LoadResult:
    """Read benchmark `name` from `path` (default: its `DEFAULT_PATH`) into records.

    Native layouts go to the benchmark's loader; a Video-R1/TW-GRPO unified file or a twgrpo records
    file is read as such, with the benchmark's categories added. Options are the loader's keywords
    (`types=[…]` for MVBench tasks / TempCompass task types / CLEVRER question types, `subtitles=True`
    for Video-MME, `fmt="csv"` for NExT-GQA …). The result lists every invalid item in `problems` and
    counts deliberate skips (e.g. MMVU open-ended) in `skipped`. `path` may be a Hub reference
    (`OWNER/NAME`, `hf://datasets/OWNER/NAME[/path]`): the benchmark's annotation files are downloaded.
    """
    from ..hub_sources import resolve_data_path

    module = get_benchmark(name)
    p = (resolve_data_path(path, bench=name) if path is not None else Path(module.DEFAULT_PATH)).expanduser()
    if not p.exists():
        raise InputFormatError(
            f"{p}: no such file or folder"
            + ("" if path is not None else f" (the default {name} location; pass the path)")
        )
    if not module.READS_INTERCHANGE and _is_interchange(p):
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
    """The benchmark a native file or folder belongs to, sniffed from names and the first bytes; None if unknown."""
    from ..hub_sources import resolve_data_path

    p = resolve_data_path(path).expanduser()
    if not p.exists():
        return None
    for name, module in BENCHMARKS.items():
        if name != "unified" and module.detect(p):
            return name
    return "unified" if unified.detect(p) or _is_interchange(p) else None


def categories_of(record: Record) -> dict[str, Any]:
    """The breakdown keys for `record` from its benchmark (`source`); {} for an unknown source."""
    module = BENCHMARKS.get(record.source)
    if module is None or module is unified:
        return {}
    return {k: v for k, v in module.categories(record).items() if v is not None}


def cluster_of(record: Record) -> str | None:
    """The unit whose items are not independent, when the record's benchmark has one (Video-MME asks three
    questions about each video: its `videoID`); intervals are then clustered by it."""
    hook = getattr(BENCHMARKS.get(record.source), "cluster", None)
    value = hook(record) if hook is not None else None
    return None if value is None else str(value)


def category_names(name: str) -> dict[str, str]:
    """What benchmark `name`'s category codes stand for (NExT-QA's `CW` → causal why), from its module's
    optional `CATEGORY_NAMES`; {} for a benchmark whose categories are words already or an unknown one."""
    return dict(getattr(BENCHMARKS.get(name), "CATEGORY_NAMES", None) or {})


def with_categories(record: Record) -> Record:
    """`record` with its benchmark's category keys filled into `meta` (existing keys win)."""
    extra = {k: v for k, v in categories_of(record).items() if k not in record.meta}
    return record.replace(meta={**record.meta, **extra}) if extra else record


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
    "reads_as_interchange",
    "source_table",
    "with_categories",
]
