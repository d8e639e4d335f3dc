"""Speed of `twgrpo qai convert` on the 3,358 NExT-GQA val questions (issue: QAI, DESIGN §4).

Baseline, in the same run: a plain `nlp.pipe` parse of every question with the same spaCy model and its
default components. Ours, end to end: read the NExT-GQA JSON, convert (ratio 0.5, seed 0) and write the
unified JSON — once with the pipeline already loaded (warm) and once including loading it (cold). The
parse-everything path (`fast=False`) is timed too, and its output must equal the fast path's.

Run: .venv/bin/python benchmarks/bench_qai.py   (or `make bench`)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data" / "nextgqa_val.json").resolve()


def _best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    import spacy

    from twgrpo_data.formats import write_records
    from twgrpo_data.invert import convert, load_input
    from twgrpo_data.negate import Negator, load_pipeline

    records = load_input(DATA).records
    questions = [r.question for r in records]
    n = len(questions)
    model = Negator().info()["spacy_model"]
    full = spacy.load(model)
    baseline = _best_of(2, lambda: list(full.pipe(questions)))

    out_dir = Path(tempfile.mkdtemp(prefix="bench_qai."))

    def end_to_end(fast: bool = True) -> list:
        recs = load_input(DATA).records
        out, _ = convert(recs, 0.5, 0, negator=Negator(fast=fast))
        write_records(out, out_dir / "out.json")
        return out

    load_pipeline.cache_clear()
    t0 = time.perf_counter()
    fast_out = end_to_end()
    cold = time.perf_counter() - t0
    warm = _best_of(3, end_to_end)
    t0 = time.perf_counter()
    slow_out = end_to_end(fast=False)
    slow = time.perf_counter() - t0
    assert fast_out == slow_out, "fast path output differs from the parse-everything path"

    all_fast = Negator().negate_many(questions)
    assert all_fast == Negator(fast=False).negate_many(questions), "fast negation differs from parsed negation"

    rows = [
        (f"baseline: nlp.pipe of every question ({model}, all components)", baseline),
        ("qai convert end to end, warm pipeline", warm),
        ("qai convert end to end, cold (loads spaCy)", cold),
        ("qai convert end to end, parse every selected question (fast=False)", slow),
    ]
    print(f"{n} NExT-GQA val questions; output identical with and without the fast path")
    for name, seconds in rows:
        print(f"  {name:<70} {seconds:6.2f} s  {n / seconds:8.0f} q/s  {baseline / seconds:5.1f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
