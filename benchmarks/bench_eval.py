"""Eval-harness overhead per sample, with a backend that answers instantly and records without videos.

Measures what `twgrpo eval` itself costs in front of the model: loading the set, building prompts, batching
through the prefetcher, parsing and scoring every answer, appending samples.jsonl (flush + fsync per
batch) and writing results.json (re-score of the file with Wilson intervals). Video decoding is left out
(bench_video.py measures it). The answers are ~800 characters, TW-GRPO's mean CoT output length on MMVU.

Target (issue 5): ≥ 2,000 samples/s, so the harness is never the bottleneck in front of vLLM.

Usage: python benchmarks/bench_eval.py [--n 20000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from twgrpo_data.io.unified_format import record_to_unified
from twgrpo_data.record import Record
from twgrpo_eval.backends import Backend, Generation, PixelBudget, SamplingSettings
from twgrpo_eval.runner import EvalConfig, run_eval

TARGET = 2000.0
REASONING = (
    "Let me think about the video step by step. The first object enters from the left, then it "
    "collides with the second one. Wait, let me check the order again. Hmm, oh, I see. "
) * 4


class InstantBackend(Backend):
    """Answers every request at once with a CoT-length output whose letter depends on the id."""

    name = "instant"

    def __init__(self) -> None:
        super().__init__("instant", SamplingSettings(), PixelBudget(1, 1))

    def _generate(self, requests):
        return [
            Generation(
                text=f"<think>{REASONING}</think><answer>{'ABCD'[sum(map(ord, r.id)) % 4]}</answer>",
                usage={"prompt_tokens": 1800, "completion_tokens": 200},
            )
            for r in requests
        ]


def make_set(path: Path, n: int) -> Path:
    records = [
        Record(
            f"b{i}",
            f"What happens to object {i} after the collision in the video?",
            ["it stops", "it moves left", "it moves right", "it leaves the scene"],
            ["A", "C"] if i % 5 == 0 else ["ABCD"[i % 4]],
            source="clevrer",
            meta={"category": f"type{i % 6}"},
        )
        for i in range(n)
    ]
    path.write_text(json.dumps([record_to_unified(r) for r in records]), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="items")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_set(Path(tmp) / "set.json", args.n)
        config = EvalConfig(
            bench="clevrer",
            model="instant",
            backend="transformers",
            data=str(data),
            out=str(Path(tmp) / "run"),
            batch_size=args.batch_size,
            allow_text_only=True,
        )
        start = time.perf_counter()
        result = run_eval(
            config,
            backend_factory=lambda name, cfg: InstantBackend(),
        )
        elapsed = time.perf_counter() - start
        assert result.results["n"] == args.n and result.new_samples == args.n
        size_mb = (Path(tmp) / "run" / "samples.jsonl").stat().st_size / 1e6
    rate = args.n / elapsed
    print(
        f"items {args.n}, batch {args.batch_size}: {elapsed:.2f} s end to end "
        f"(load, prompts, batching, parse/score, {size_mb:.1f} MB samples.jsonl with fsync per batch, results.json)"
    )
    print(f"harness throughput: {rate:,.0f} samples/s  (target ≥ {TARGET:,.0f}; ratio {rate / TARGET:.2f}×)")


if __name__ == "__main__":
    main()
