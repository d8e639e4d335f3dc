"""Token weights at Qwen scale: chunked-from-hidden vs naive from-logits, peak memory and time.

Setting (issue 6): vocabulary V = 151,936, a group of G = 8 completions of L = 512 tokens, fp32, CPU. Both
paths start from the same hidden states (G, L, H) and LM head (V, H) and return the same weights:
- naive:   logits = hidden @ W.T  → (G, L, V) tensor → `token_weights_from_logits`
- chunked: `token_weights_from_hidden(hidden, W, chunk_size=C)` → never more than (G, C, V) at a time

Each run is its own process (peak RSS is per process) and the paths alternate --repeats times, so background
load hits both alike. Reported: best time, peak RSS, and the working memory = peak RSS − RSS once the inputs
exist (what the weight computation itself needs; the inputs are the same for both paths).
Target: chunked working memory ≤ 1/8 of naive at ≤ 1.5× its time.

Second part (issue 29.4): the released path's gradient *through* the weights (`detach_weights: false`), G = 8,
L = --grad-length (96) positions, the same V: the objective Σ coef·w + Σ β·(w − 1)·kl(log p) differentiated
w.r.t. the hidden states and the LM head, from the whole (G, L, V) graph (`token_weights_with_grad`, what the
trainer did) vs `weighted_objective_with_grad` (--grad-chunk positions at a time). The hidden size is
--grad-hidden (64), so that the (V, H) head gradient both paths return stays small beside the (G, L, V) part
under test, and L stays small enough for the whole-graph path to fit a shared machine (≈ 4 GB). Reported: time,
working memory and the largest gradient difference. Target: equal gradients, working memory ≤ 1/8.

    python benchmarks/bench_weights.py [--hidden 1024] [--chunk 32] [--repeats 3]
                                       [--grad-length 96] [--grad-hidden 64] [--grad-chunk 4] [--skip-weights]
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


def run_grad_path(path: str, hidden_size: int, length: int, chunk: int, grads_file: str) -> dict:
    """One gradient-through-the-weights path on fresh inputs (called in a child process); saves the gradients."""
    import torch

    from twgrpo_train.weights import token_weights_with_grad, weighted_objective_with_grad

    torch.manual_seed(0)
    hidden = torch.randn(GROUP, length, hidden_size).requires_grad_()
    head = torch.nn.Linear(hidden_size, VOCAB, bias=False)
    torch.nn.init.normal_(head.weight, std=hidden_size**-0.5)
    lengths = torch.randint(length // 2, length + 1, (GROUP,))
    lengths[0] = length
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    ids = torch.randint(0, VOCAB, (GROUP, length))
    advantages, ref = torch.randn(GROUP), -torch.rand(GROUP, length) * 5

    def objective(w, logps):
        m = mask.float()
        kl = torch.exp(ref - logps) - (ref - logps) - 1
        weighted = ((-advantages[:, None] + 0.04 * kl.detach()) * (w - w.detach()) * m).sum()
        return weighted + (0.04 * (w.detach() - 1.0) * kl * m).sum()

    base = _rss_mib()
    start = time.perf_counter()
    if path == "full_grad":
        logits = head(hidden)
        logps = torch.log_softmax(logits.float(), -1).gather(-1, ids[..., None])[..., 0]
        loss = objective(token_weights_with_grad(logits, mask, GROUP, 0.7, divergence="reference"), logps)
    else:
        loss = weighted_objective_with_grad(
            hidden, head, mask, ids, GROUP, 0.7, objective, chunk_size=chunk, divergence="reference"
        )
    loss.backward()
    elapsed = time.perf_counter() - start
    torch.save({"hidden": hidden.grad, "head": head.weight.grad}, grads_file)
    return {"path": path, "time_s": elapsed, "peak_mib": _peak_mib(), "base_mib": base, "loss": loss.item()}


def _grad_part(args) -> None:
    import os
    import tempfile

    import torch

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for path in ("full_grad", "chunked_grad"):
                grads = os.path.join(tmp, f"{path}.pt")
                cmd = [sys.executable, __file__, "--child", path, "--grad-hidden", str(args.grad_hidden)]
                cmd += ["--grad-length", str(args.grad_length), "--grad-chunk", str(args.grad_chunk), "--grads", grads]
                # A fixed mmap threshold: glibc otherwise raises it after the first large free, and the chunk-sized
                # buffers (tens of MB) then come from the heap, whose fragments RSS keeps — an allocator artefact
                # that made peak RSS vary by 2× between identical runs (a GPU's caching allocator has no such step).
                env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                run = json.loads(out.stdout.strip().splitlines()[-1])
                best = results.setdefault(path, run)
                best["time_s"] = min(best["time_s"], run["time_s"])
                best["peak_mib"], best["base_mib"] = max(best["peak_mib"], run["peak_mib"]), run["base_mib"]
        full, chunked = (torch.load(os.path.join(tmp, f"{p}.pt")) for p in ("full_grad", "chunked_grad"))
    print(
        f"\ngradient through the weights (released path), V={VOCAB:,} G={GROUP} L={args.grad_length} "
        f"H={args.grad_hidden} fp32 CPU, chunk={args.grad_chunk}"
    )
    print(f"{'path':13} {'time s':>8} {'peak RSS MiB':>13} {'working MiB':>12}")
    for r in results.values():
        print(f"{r['path']:13} {r['time_s']:8.2f} {r['peak_mib']:13.0f} {r['peak_mib'] - r['base_mib']:12.0f}")
    a, b = results["full_grad"], results["chunked_grad"]
    ratio = (b["peak_mib"] - b["base_mib"]) / (a["peak_mib"] - a["base_mib"])
    print(f"working memory chunked/full: {ratio:.3f} (target ≤ 0.125)")
    print(f"time chunked/full:           {b['time_s'] / a['time_s']:.2f}")
    for name in ("hidden", "head"):
        diff = (full[name] - chunked[name]).abs().max().item()
        scale = full[name].abs().max().item()
        print(f"gradient w.r.t. {name:6}: max |full − chunked| = {diff:.2e} (max |grad| {scale:.2e})")
    print(f"objective: {a['loss']:.6g} vs {b['loss']:.6g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024, help="hidden size H of the LM head input")
    parser.add_argument("--chunk", type=int, default=32, help="positions per chunk for the chunked path")
    parser.add_argument("--repeats", type=int, default=3, help="runs per path, alternating (best time is kept)")
    parser.add_argument("--grad-length", type=int, default=96, help="completion positions in the gradient part")
    parser.add_argument("--grad-hidden", type=int, default=64, help="hidden size in the gradient part")
    parser.add_argument("--grad-chunk", type=int, default=4, help="positions per chunk in the gradient part")
    parser.add_argument("--skip-weights", action="store_true", help="run only the gradient part")
    parser.add_argument("--child", choices=["naive", "chunked", "full_grad", "chunked_grad"], help=argparse.SUPPRESS)
    parser.add_argument("--grads", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child in ("full_grad", "chunked_grad"):
        print(json.dumps(run_grad_path(args.child, args.grad_hidden, args.grad_length, args.grad_chunk, args.grads)))
        return
    if args.child:
        print(json.dumps(run_path(args.child, args.hidden, args.chunk)))
        return
    if args.skip_weights:
        _grad_part(args)
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
    _grad_part(args)


if __name__ == "__main__":
    main()
