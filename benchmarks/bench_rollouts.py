"""Training rollouts on vLLM against HF `generate` (issue 27), on the CPU, in one run.

The comparison `scripts/gpu_check.sh` makes at the 3B/7B architectures (`gpu_check.compare_rollouts`, the same
code), here with the tiny architecture (`gpu_check.ARCHITECTURES["tiny"]`, random weights, heads 64 wide) on
the CPU build of vLLM: `--steps` TW-GRPO steps through `TWGRPOTrainer` with `use_vllm: false` (HF `generate`),
then `use_vllm: true` (the engine in the training process, fp32 like the policy), G completions of up to
`--completion-length` tokens per prompt, 16 frames of the real videos. Printed per path: completions per second of
the rollouts alone (for vLLM: generation, the weight sync timed apart) and seconds per whole step (generation,
rewards, token weights, loss, optimizer, and for vLLM the weight sync), after a first step that is not counted;
then the ratios. What it measures: the tiny model's rollouts on two shared CPU cores, where vLLM's CPU kernels
and scheduler meet HF's per-token Python loop — not what a GPU would show (see the GPU check for that).

Usage (in the vLLM venv: `make bench-vllm`): python benchmarks/bench_rollouts.py [--steps 4] [--group 8]
[--completion-length 64]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for the CPU engine (else a share of RAM)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _gpu_check():
    path = Path(__file__).with_name("gpu_check.py")
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="steps per path (the first is not counted)")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt (one prompt a step)")
    ap.add_argument("--completion-length", type=int, default=64)
    args = ap.parse_args()

    gpu_check = _gpu_check()
    from twgrpo_eval.tiny_model import build_tiny_model

    plan = dataclasses.replace(
        gpu_check.DRY_PLAN, group=args.group, rollout_steps=args.steps, frames=16, pixels=16 * 28 * 28
    )
    videos = next(d for d in gpu_check.VIDEO_DIRS if d.is_dir())
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tiny_dir = build_tiny_model(Path(tmp) / "Qwen2.5-VL-tiny")
        result = gpu_check.check_rollouts("tiny", plan, tiny_dir, videos, args.completion_length)
    s = result["setting"]
    print(
        f"tiny Qwen2.5-VL ({s['params'] / 1e6:.2f} M params, random), G={s['group']}, up to {s['completion_length']} "
        f"new tokens, {s['frames']} frames at {s['pixels_per_frame']} px, {s['steps']} steps per path, {s['dtype']}"
    )
    for row in result["rows"]:
        sync = f", weight sync {row['sync_s_per_step']:.3f} s/step" if row["sync_s_per_step"] is not None else ""
        print(
            f"{row['path']:12s} {row['completions_per_s']:8.2f} completions/s   {row['s_per_step']:.2f} s/step"
            f"{sync}   mean length {row['metrics'].get('completions/mean_length', float('nan')):.1f}"
        )
    ratios = result["ratios"]
    print(f"vLLM / HF generate: {ratios['completions_per_s_vllm_over_hf']:.2f}x completions/s")
    print(f"HF generate / vLLM: {ratios['step_time_hf_over_vllm']:.2f}x step time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
