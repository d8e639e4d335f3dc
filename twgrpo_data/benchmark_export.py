"""`twgrpo data load` as one call: a benchmark's native files (as downloaded) → records, written to a file when
asked, with the summary the command prints (`LoadedBenchmark.summary`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .benchmarks import BENCHMARKS, load_options
from .errors import InputFormatError, TwgrpoError
from .io.load_result import LoadResult
from .io.readers import READ_FORMATS
from .io.writers import write_records
from .progress import Status, no_status
from .sources import DataSource, detect_input, open_input, resolve_source

# the loader keyword → the option of `twgrpo data load` that sets it
LOAD_FLAGS = {"types": "--types", "subtitles": "--subtitles", "fmt": "--from"}


@dataclass
class LoadedBenchmark:
    """What `load_native` read (and wrote)."""

    bench: str
    file: str  # the path read (the benchmark's default when none was given)
    result: LoadResult
    output: str | None = None
    output_format: str | None = None

    def summary(self) -> dict[str, Any]:
        """The `--json` summary: records, multi-answer items, categories, skips, invalid items and the output."""
        recs = self.result.records
        return {
            "benchmark": self.bench,
            "file": self.file,
            "records": len(recs),
            "multi_answer": sum(r.is_multi_answer for r in recs),
            "categories": dict(Counter(str(r.meta.get("category")) for r in recs).most_common()),
            "skipped": dict(self.result.skipped),
            "invalid": self.result.n_invalid,
            "warnings": len(self.result.warnings),
            "invalid_items": [p.to_dict() for p in self.result.errors],
            "output": self.output,
            "output_format": self.output_format,
        }


def which_benchmark(path: str | Path | None, bench: str = "auto") -> tuple[str, DataSource | None]:
    """`bench`, or with `auto` the benchmark `path` is (sniffed from its names and first bytes; an interchange
    file of any benchmark is `unified`: each record gets its own benchmark's categories), with `path` resolved
    to local files (a Hub reference downloaded once, here)."""
    if bench != "auto":
        return bench, None if path is None else resolve_source(path, bench=bench)
    if path is None:
        raise TwgrpoError("give PATH or --bench NAME")
    source = resolve_source(path)
    try:
        found = source.bench or detect_input(source.path)
    except InputFormatError:
        found = ""
    if found in READ_FORMATS:
        found = "unified"
    if not found:
        raise TwgrpoError(f"{path}: cannot tell which benchmark this is; pass --bench ({', '.join(BENCHMARKS)})")
    return found, source


def load_native(
    bench: str,
    path: str | Path | DataSource | None = None,
    *,
    options: dict[str, Any] | None = None,
    skip_invalid: bool = False,
    out: str | Path | None = None,
    allow_empty: bool = False,
    status: Status = no_status,
) -> LoadedBenchmark:
    """Read benchmark `bench` from `path` (default: its usual path) with its loader's `options` (those set: `types`,
    `subtitles`, `fmt`; one the benchmark does not take is refused, naming its flag) and write the records to
    `out` when given. An invalid item stops the load unless `skip_invalid` (then it is dropped and listed); an
    output with no record left is refused unless `allow_empty`.

    Example:
        >>> load_native("mmvu", "validation.json", out="mmvu.jsonl").summary()["records"]   # doctest: +SKIP
    """
    options = options or {}
    shown = path.given if isinstance(path, DataSource) else path  # as the user wrote it
    if bench in BENCHMARKS:
        unused = [LOAD_FLAGS[k] for k in options if k not in load_options(bench)]
        if unused:
            raise TwgrpoError(f"{', '.join(unused)} does not apply to {bench}")
    with status(f"reading and validating {bench} ({shown if shown is not None else 'its default path'})"):
        result = open_input(path, bench=bench, options=options)
    if result.errors and not skip_invalid:
        raise TwgrpoError(f"{result.errors[0]} ({result.n_invalid} invalid item(s); --skip-invalid drops them)")
    loaded = LoadedBenchmark(bench, str(shown if shown is not None else BENCHMARKS[bench].DEFAULT_PATH), result)
    if out is not None and not result.records and not allow_empty:
        raise TwgrpoError(
            f"{shown}: no {bench} records to write ({result.n_invalid} invalid item(s) dropped); pass --allow-empty to "
            "write an empty output"
        )
    if out is not None:
        with status(f"writing {out}"):
            loaded.output, loaded.output_format = str(out), write_records(result.records, out)
    return loaded
