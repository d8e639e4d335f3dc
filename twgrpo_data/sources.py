"""The one door every command reads its data through (issue 26).

A data argument — a local path, `OWNER/NAME` or `hf://datasets/OWNER/NAME[@REV][/path]` — is resolved once, at
the edge, into local files (`resolve_source`: a Hub reference is downloaded into the standard cache by
`twgrpo_data.hub.dataset_repos`), and `open_input` opens any supported input from there: a benchmark's native
files (every loader of the registry), unified / records JSON and JSON Lines, parquet, HF `save_to_disk` folders
and Hub snapshots. Every reader below takes local paths only, so `qai convert`, `qai report`, `data load`,
`data validate`, `data stats`, `publish`, `eval --data` and training's `train_file` accept the same inputs and
read the same records from them.

Example:
    >>> result = open_input("../shared/data/nextgqa_val.json")       # doctest: +SKIP
    >>> len(result.records), result.records[0].source                 # doctest: +SKIP
    (3358, 'nextgqa')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .benchmarks import detect_benchmark, get_benchmark, guess_from_name, load_benchmark, native_benchmarks
from .errors import InputFormatError
from .hub.dataset_repos import download_dataset
from .hub.download import parse_hub_ref
from .io.load_result import LoadResult
from .io.readers import READ_FORMATS, detect_format, is_interchange, read_interchange

#: Formats named by `--from` / `--format` besides `auto` and the benchmarks' own layouts (`input_formats()`):
#: `csv` is NExT-GQA's or NExT-QA's table, the others are the interchange formats.
INTERCHANGE_INPUTS = ("csv", *READ_FORMATS[1:])


@dataclass(frozen=True)
class DataSource:
    """A data argument resolved to local files: as the user `given` it, the local file or folder (`path`, in the
    Hub cache for a Hub reference) and the benchmark whose Hub repository it came from (`bench`), if any."""

    given: str
    path: Path
    bench: str | None = None


def resolve_source(value: str | os.PathLike | DataSource, *, bench: str | None = None) -> DataSource:
    """`value` as local files: a local path as it is (`~` expanded), a Hub reference downloaded (a benchmark's
    repository: its annotation files only; `bench` names the benchmark it is read as, when known). A
    `DataSource` is returned unchanged, so a command resolves its argument once and passes the result on."""
    if isinstance(value, DataSource):
        return value
    ref = parse_hub_ref(value)
    if ref is None:
        return DataSource(str(value), Path(value).expanduser())
    path, repo_bench = download_dataset(str(value), ref, bench=bench)
    return DataSource(str(value), path, repo_bench)


def input_formats() -> tuple[str, ...]:
    """What `--from` / `--format` take: auto, every registered benchmark's native layout, the interchange formats."""
    return ("auto", *native_benchmarks(), *INTERCHANGE_INPUTS)


def open_input(
    source: str | os.PathLike | DataSource | None,
    fmt: str = "auto",
    *,
    bench: str | None = None,
    options: Mapping[str, Any] | None = None,
    split: str | None = None,
) -> LoadResult:
    """Read every record of `source` (resolved first when it is not a `DataSource` yet), collecting record-level
    problems in the result (`LoadResult.raise_or_skip` stops at the first, or counts them).

    `fmt` (`input_formats()`): `auto` tells an interchange file from a benchmark's native files by their
    content; a benchmark name reads native files with its loader; `csv` a NExT-GQA / NExT-QA table; `unified`,
    `records`, `parquet`, `hf` the interchange formats. `bench` reads the data as that benchmark, whatever its
    layout (`eval --bench`, `data load --bench`: an interchange file gets the benchmark's categories);
    `source=None` is then the benchmark's default location. `options` go to a native loader (`types`,
    `subtitles`, `fmt`); `split` picks one split of an HF folder holding several.
    """
    allowed = input_formats()
    if fmt not in allowed:
        raise InputFormatError(f"unknown input format {fmt!r}; expected one of {', '.join(allowed)}")
    if bench is not None and fmt != "auto":
        raise ValueError(f"read as benchmark {bench!r} or in format {fmt!r}, not both")
    if bench is None and fmt != "auto" and fmt not in INTERCHANGE_INPUTS:
        bench = fmt  # `--from mvbench`: the benchmark's own layout
    if bench is not None:
        get_benchmark(bench)  # an unknown name stops before anything is downloaded
    if source is None:
        if bench is None:
            raise ValueError("no data to read: give a path or the benchmark whose default location to read")
        return load_benchmark(bench, None, **(options or {}))
    source = resolve_source(source, bench=bench)
    if bench is None and fmt == "auto":
        fmt = source.bench or detect_input(source.path)
        bench = fmt if fmt not in READ_FORMATS else None
    elif fmt == "csv":
        bench = detect_benchmark(source.path) or "nextqa"
    if bench is not None:
        return load_benchmark(bench, source.path, **(options or {}))
    if options:
        raise InputFormatError(f"{source.given}: options {sorted(options)} apply to a benchmark's native files")
    return read_interchange(source.path, fmt, source=guess_from_name(source.path.name), split=split)


def detect_input(path: Path) -> str:
    """What the local file or folder `path` holds: its interchange format (`READ_FORMATS`) when it is one, else
    the benchmark whose native files it holds; a `save_to_disk` folder of a benchmark's own columns (lmms-lab's
    Video-MME saved locally) is that benchmark's. `InputFormatError` when it is neither."""
    try:
        fmt = detect_format(path)
    except InputFormatError as not_interchange:
        found = detect_benchmark(path)
        if found is None:
            raise not_interchange from None
        return found
    if fmt == "hf" and not is_interchange(path):
        return detect_benchmark(path) or fmt
    return fmt
