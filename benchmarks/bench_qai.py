"""Speed of `twgrpo qai convert` on the 3,358 NExT-GQA val questions (issue: QAI, DESIGN §4).

Baseline, in the same run: a plain `nlp.pipe` parse of every question with the same spaCy model and its
default components. Ours, end to end: read the NExT-GQA JSON, convert (ratio 0.5, seed 0) and write the
unified JSON — once with the pipeline already loaded (warm) and once including loading it (cold). The
parse-everything path (`fast=False`) is timed too, and its output must equal the fast path's.

Beyond NExT-GQA (issue 14), per source of the QAI development set (`../shared/data/qai_dev`, 8,330 real
questions from MVBench, Video-MME, TempCompass and STAR): the share of questions negated, refusals by
reason, and — converting the records with options (ratio 1) — the inverted share by strategy with
`--fallback template`, including the option-aware refusals (`options_overlap`). The fast path must give
the parse path's answers there too (checked on one question per opening, as in the tests).

Issue 30, on the development questions of the new forms (`tests/data/qai_forms`: Social-IQ 2.0 and
Video-Bench, two families the project had not seen): per family and mode, the records inverted by each
strategy and the refusals by reason (their soundness is judged by hand; see the README's QAI section).

Run: .venv/bin/python benchmarks/bench_qai.py   (or `make bench`)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data" / "nextgqa_val.json").resolve()
DEV = (REPO / ".." / "shared" / "data" / "qai_dev" / "questions.jsonl").resolve()
FORMS = REPO / "tests" / "data" / "qai_forms" / "questions.jsonl"


def _best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    import spacy

    from twgrpo_data.garbage_collection import gc_paused
    from twgrpo_data.io.writers import write_records
    from twgrpo_data.qai.invert import convert
    from twgrpo_data.qai.negate import Negator, load_pipeline
    from twgrpo_data.sources import open_input

    records = open_input(DATA).raise_or_skip(False).records
    questions = [r.question for r in records]
    n = len(questions)
    model = Negator().info()["spacy_model"]
    full = spacy.load(model)
    baseline = _best_of(2, lambda: list(full.pipe(questions)))

    out_dir = Path(tempfile.mkdtemp(prefix="bench_qai."))

    @gc_paused()  # as the `qai convert` command runs: the collector is switched at the command boundary
    def end_to_end(fast: bool = True) -> list:
        recs = open_input(DATA).raise_or_skip(False).records
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

    _per_source()
    _forms()

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


def _per_source() -> None:
    """Negation outcomes and template-fallback conversion per source of the development set."""
    import json
    from collections import Counter, defaultdict

    from twgrpo_data.qai.invert import convert
    from twgrpo_data.qai.negate import Negator
    from twgrpo_data.record import Record

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    t0 = time.perf_counter()
    results = Negator().negate_many([r["question"] for r in rows])
    seconds = time.perf_counter() - t0
    by_source: dict[str, Counter] = defaultdict(Counter)
    for row, res in zip(rows, results):
        by_source[row["source"]][res.status if res.ok else res.reason] += 1
    openings = {}
    for q in sorted({r["question"] for r in rows}):
        openings.setdefault(" ".join(q.lower().split()[:3]), q)
    sample = list(openings.values())
    assert Negator().negate_many(sample) == Negator(fast=False).negate_many(sample), (
        "fast negation differs from parsed negation on the development set"
    )

    print(
        f"\n{len(rows)} development questions negated in {seconds:.1f} s; fast path = parse path on "
        f"{len(sample)} question openings"
    )
    print(f"  {'source':<12} {'n':>5} {'negated':>8}  refused by reason")
    for source, counts in sorted(by_source.items()):
        n = sum(counts.values())
        refused = ", ".join(f"{k} {v}" for k, v in counts.most_common() if k != "negated")
        print(f"  {source:<12} {n:>5} {counts['negated'] / n:>7.1%}  {refused}")

    records = [
        Record(f"{r['source']}-{i}", r["question"], r["options"], [r["answer"]], source=r["source"])
        for i, r in enumerate(rows)
        if r.get("options")
    ]
    print(f"\nqai convert --ratio 1 --fallback template on the {len(records)} records with options")
    print(f"  {'source':<12} {'n':>5} {'negation':>9} {'template':>9}  not inverted, by reason")
    for source in sorted({r.source for r in records}):
        subset = [r for r in records if r.source == source]
        _, report = convert(subset, 1.0, 0, negator=Negator(), fallback="template")
        data = report.to_dict()
        reasons = Counter(data["unnegatable_reasons"])
        reasons["already_negative"] += data["counts"]["already_negative"]
        reasons["already_multi"] += data["counts"]["already_multi"]
        n = len(subset)
        print(
            f"  {source:<12} {n:>5} {data['strategies']['negation'] / n:>9.1%} "
            f"{data['strategies']['template'] / n:>9.1%}  "
            + ", ".join(f"{k} {v}" for k, v in reasons.most_common() if v)
        )


def _forms() -> None:
    """Per family and mode: inverted by strategy, refused by reason, on the questions of issue 30's forms."""
    import json
    from collections import Counter

    from twgrpo_data.qai.invert import convert
    from twgrpo_data.qai.negate import Negator
    from twgrpo_data.record import Record

    rows = [json.loads(line) for line in FORMS.read_text(encoding="utf-8").splitlines()]
    # Video-Bench ships no gold letters: its records are converted as if A were right (the negation does not
    # depend on which option is; the option checks do)
    records = [
        Record(f"f{i}", r["question"], r["options"], [r["answer"] or "A"], source=r["source"])
        for i, r in enumerate(rows)
    ]
    modes = {
        "default": ({}, {}),
        "--fallback template --why template": ({"fallback": "template", "why": "template"}, {}),
        "--no-contractions": ({}, {"contractions": False}),
        "--already-negative affirm": ({}, {"already_negative": "affirm"}),
    }
    print(f"\nqai convert --ratio 1 on the {len(records)} development questions of issue 30's forms")
    print(f"  {'family':<11} {'mode':<36} {'n':>4} {'negation':>9} {'template':>9} {'affirm':>7}  not inverted")
    for source in sorted({r.source for r in records}):
        subset = [r for r in records if r.source == source]
        for mode, (convert_kw, negator_kw) in modes.items():
            _, report = convert(subset, 1.0, 0, negator=Negator(**negator_kw), **convert_kw)
            data = report.to_dict()
            reasons = Counter(data["unnegatable_reasons"])
            reasons["already_negative"] += data["counts"]["already_negative"]
            strategies = data["strategies"]
            print(
                f"  {source:<11} {mode:<36} {len(subset):>4} {strategies['negation']:>9} "
                f"{strategies['template']:>9} {strategies['affirmation']:>7}  "
                + ", ".join(f"{k} {v}" for k, v in reasons.most_common(5) if v)
            )


if __name__ == "__main__":
    sys.exit(main())
