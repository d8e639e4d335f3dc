"""The Video-R1 / TW-GRPO evaluation JSONs (`eval_<bench>.json`, `nextgqa_val_raw.json`, CLEVRER and STAR
files), read with `twgrpo_data.io.readers` and given each benchmark's categories in `meta`.

The benchmark is the file's `source`, else guessed from its name (`eval_mmvu.json` → mmvu); the
categories come from that benchmark's own `categories()` (e.g. the MVBench task from `problem_id`, the MMVU
subject from the `videos/<Subject>/` folder), so metrics break down the same way as for native files.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io.json_text import head_text
from ..io.load_result import LoadResult
from ..io.readers import read_interchange
from .registry import categories_of, guess_from_name, with_categories

NAME = "unified"
DESCRIPTION = "Video-R1/TW-GRPO eval JSON (eval_<bench>.json, nextgqa_val_raw.json, …) or twgrpo records"
DEFAULT_PATH = "data/evaluation/eval_mmvu.json"
DEFAULT_SPLIT = None
PROMPT_STYLE = "cot"
READS_INTERCHANGE = True
SIGNATURES = ()
SOURCE = None  # not a source: each record names its own benchmark
HUB = None


def load(path: str | os.PathLike = DEFAULT_PATH, *, source: str | None = None) -> LoadResult:
    """Read a unified (or records / parquet / HF) file; `source` overrides the name-based guess.

    Example:
        >>> r = load("eval_mmvu.json")                        # doctest: +SKIP
        >>> r.records[0].source, r.records[0].meta["category"]  # doctest: +SKIP
        ('mmvu', 'Chemistry')
    """
    p = Path(path)
    result = read_interchange(p, source=guess_from_name(p.name) if source is None else source)
    return LoadResult([with_categories(r) for r in result.records], result.problems, result.skipped, file=result.file)


def categories(record) -> dict:
    """Whatever the record's own benchmark derives (see `twgrpo_data.benchmarks.categories_of`)."""
    return categories_of(record)


def detect(path: Path) -> bool:
    return path.is_file() and path.suffix in (".json", ".jsonl") and '"solution"' in head_text(path, 16384)
