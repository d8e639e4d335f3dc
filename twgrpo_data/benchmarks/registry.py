"""The native benchmarks by name, and what is derived from them alone: card sources and the licence gate
(`source_table`), file-name guesses, the benchmark a record belongs to and its metric breakdown keys.

The `unified` module (Video-R1 / TW-GRPO files of any benchmark) reads records through these, so it is not one
of them; `twgrpo_data.benchmarks.BENCHMARKS` is this table plus `unified`.
"""

from __future__ import annotations

from typing import Any

from ..record import Record
from . import clevrer, mmvu, mvbench, nextgqa, star, tempcompass, videomme
from .facts import Source
from .loading import fill_categories

#: Every benchmark with a native layout of its own, in the order lists show them.
NATIVE = {m.NAME: m for m in (mvbench, tempcompass, videomme, mmvu, nextgqa, nextgqa.NEXTQA, clevrer, star)}


def native_benchmarks() -> list[str]:
    """The benchmarks with a native layout of their own (every registered one but `unified`)."""
    return [name for name, m in NATIVE.items() if m.SOURCE is not None]


def source_table() -> dict[str, Source]:
    """Record `source` value → what cards and the licence gate state about that benchmark."""
    return {name: m.SOURCE for name, m in NATIVE.items() if m.SOURCE is not None}


def guess_from_name(file_name: str) -> str:
    """Benchmark named in a file name: 'eval_mmvu.json' → 'mmvu'; '' when none is."""
    lowered = file_name.lower()
    return next((name for name in native_benchmarks() if name in lowered), "")


def benchmark_of(record: Record) -> str | None:
    """The benchmark a record's content belongs to: its native fields (`SIGNATURES`, e.g. Video-MME's
    `videoID`/`duration`/`domain`) first, then its `source` when that names a benchmark; None when neither
    does. Content wins, so a renamed or relabelled file is still recognised."""
    keys = set(record.meta)
    for name, module in NATIVE.items():
        if any(set(signature) <= keys for signature in module.SIGNATURES):
            return name
    return record.source if record.source in source_table() else None


def categories_of(record: Record) -> dict[str, Any]:
    """The breakdown keys for `record` from its benchmark (`source`); {} for an unknown source."""
    module = NATIVE.get(record.source)
    if module is None:
        return {}
    return {k: v for k, v in module.categories(record).items() if v is not None}


def with_categories(record: Record) -> Record:
    """`record` with its benchmark's category keys filled into `meta` (existing keys win)."""
    return fill_categories(record, categories_of)


def cluster_of(record: Record) -> str | None:
    """The unit whose items are not independent, when the record's benchmark has one (Video-MME asks three
    questions about each video: its `videoID`); intervals are then clustered by it."""
    hook = getattr(NATIVE.get(record.source), "cluster", None)
    value = hook(record) if hook is not None else None
    return None if value is None else str(value)


def category_names(name: str) -> dict[str, str]:
    """What benchmark `name`'s category codes stand for (NExT-QA's `CW` → causal why), from its module's
    optional `CATEGORY_NAMES`; {} for a benchmark whose categories are words already or an unknown one."""
    return dict(getattr(NATIVE.get(name), "CATEGORY_NAMES", None) or {})
