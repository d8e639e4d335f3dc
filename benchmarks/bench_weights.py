"""Token weights at Qwen scale: chunked-from-hidden vs naive from-logits, peak memory and time.

Setting (issue 6): vocabulary V = 151,936, a group of G = 8 completions of L = 512 tokens, fp32, CPU. Both
paths start from the same hidden states (G, L, H) and LM head (V, H) and return the same weights:
- naive:   logits = hidden @ W.T  → (G, L, V) tensor → `token_weights_from_logits`
- chunked: `token_weights_from_hidden(hidden, W, chunk_size=C)` → never more than (G, C, V) at a time

Each run is its own process (peak RSS is per process) and the paths alternate --repeats times, so background
load hits both alike. Reported: best time, peak RSS, and the working memory = peak RSS − RSS once the inputs
exist (what the weight computation itself needs; the inputs are the same for both paths).
Target: chunked working memory ≤ 1/8 of naive at ≤ 1.5× its time.

    python benchmarks/bench_weights.py [--hidden 1024] [--chunk 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

VOCAB, GROUP, LENGTH = 151_936, 8, 512


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_path(path: str, hidden_size: int, chunk: int) -> dict:
    """Build the inputs, run one path once and report its numbers (called in a child process)."""
    import torch

    from twgrpo_train.weights import token_weights_from_hidden, token_weights_from_logits

    torch.manual_seed(0)
    hidden = torch.randn(GROUP, LENGTH, hidden_size)
    head = torch.randn(VOCAB, hidden_size) / hidden_size**0.5
    lengths = torch.randint(LENGTH // 2, LENGTH + 1, (GROUP,))
    lengths[0] = LENGTH
    mask = (torch.arange(LENGTH)[None, :] < lengths[:, None]).long()
    base = _rss_mib()
    start = time.perf_counter()
    if path == "naive":
        weights = token_weights_from_logits(hidden @ head.T, mask, GROUP, alpha=1.7)
    else:
        weights = token_weights_from_hidden(hidden, head, mask, GROUP, alpha=1.7, chunk_size=chunk)
    elapsed = time.perf_counter() - start
    return {
        "path": path,
        "time_s": elapsed,
        "peak_mib": _peak_mib(),
        "base_mib": base,
        "checksum": float(weights.double().sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024, help="hidden size H of the LM head input")
    parser.add_argument("--chunk", type=int, default=32, help="positions per chunk for the chunked path")
    parser.add_argument("--repeats", type=int, default=3, help="runs per path, alternating (best time is kept)")
    parser.add_argument("--child", choices=["naive", "chunked"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_path(args.child, args.hidden, args.chunk)))
        return

    # Alternate the two paths (one fresh process per run) so background load hits both alike; keep each best.
    results: dict[str, dict] = {}
    for _ in range(args.repeats):
        for path in ("naive", "chunked"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", path, "--hidden", str(args.hidden), "--chunk", str(args.chunk)],
                check=True,
                capture_output=True,
                text=True,
            )
            run = json.loads(out.stdout.strip().splitlines()[-1])
            best = results.setdefault(path, run)
            best["time_s"] = min(best["time_s"], run["time_s"])
            best["peak_mib"], best["base_mib"] = max(best["peak_mib"], run["peak_mib"]), run["base_mib"]
    naive, chunked = results["naive"], results["chunked"]
    print(f"token weights, V={VOCAB:,} G={GROUP} L={LENGTH} H={args.hidden} fp32 CPU, chunk={args.chunk}")
    print(f"{'path':8} {'time s':>8} {'peak RSS MiB':>13} {'working MiB':>12}")
    for r in (naive, chunked):
        print(f"{r['path']:8} {r['time_s']:8.2f} {r['peak_mib']:13.0f} {r['peak_mib'] - r['base_mib']:12.0f}")
    work_ratio = (chunked["peak_mib"] - chunked["base_mib"]) / (naive["peak_mib"] - naive["base_mib"])
    print(f"working memory chunked/naive: {work_ratio:.3f} (target ≤ 0.125)")
    print(f"peak RSS chunked/naive:       {chunked['peak_mib'] / naive['peak_mib']:.3f}")
    print(f"time chunked/naive:           {chunked['time_s'] / naive['time_s']:.2f} (target ≤ 1.5)")
    same = abs(naive["checksum"] - chunked["checksum"]) <= 1e-4 * abs(naive["checksum"])
    print(f"same weights: {same} (sum {naive['checksum']:.4f} vs {chunked['checksum']:.4f})")


if __name__ == "__main__":
    main()
