"""vLLM backend throughput: twgrpo's `vllm` backend against raw `vllm.LLM.generate`, and against the transformers
backend (the released TW-GRPO scripts' path), on the same prepared video requests, in one run.

The requests are prepared once (the records' prompts and the real videos' frames, 16 uniform frames at the
default pixel budget of 128–196 patches of 28² a frame): what is timed is generation only. Both vLLM paths run on
the same engine and see the same batches (the runner's default batch size):
- raw: `LLM.generate(prompts, SamplingParams(...))` with the prompt dicts built beforehand (the chat text rendered
  and `(frames, metadata)` attached), the floor any harness around vLLM pays;
- twgrpo: `VLLMBackend.generate(requests)` — chat template rendering, the request payloads, per-item seeds and
  `SamplingParams` merged with the checkpoint's generation_config, the outputs turned into `Generation`s.
- transformers: `TransformersBackend.generate(requests)` on the CPU, fp32, the same batches.
The model is `twgrpo dev tiny-model`'s tiny random Qwen2.5-VL (vLLM on this machine is the CPU build), greedy,
at most `--max-new-tokens` new tokens. The two vLLM paths run `--repeats` times, interleaved, and keep their best;
the transformers backend, some 70 times slower, runs once.

Target (issue 24): twgrpo ≥ 0.9× raw throughput.

Usage (in the vLLM venv: `make bench-vllm`): python benchmarks/bench_vllm.py [--n 48] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for the CPU engine (else a share of RAM)

from twgrpo_data.prompts import build_prompt  # noqa: E402
from twgrpo_data.record import Record  # noqa: E402
from twgrpo_data.video import sample_video  # noqa: E402
from twgrpo_eval.backends import PixelBudget, Request, SamplingSettings  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
TARGET = 0.9
PIXELS = PixelBudget(128 * 28 * 28, 196 * 28 * 28)


def prepared_requests(n: int) -> list[Request]:
    """`n` multiple-choice questions on the real videos, frames decoded once."""
    videos = sorted(VIDEOS.glob("*.mp4"))
    frames = {p: sample_video(p, frames=16, min_pixels=PIXELS.min_pixels, max_pixels=PIXELS.max_pixels) for p in videos}
    requests = []
    for i in range(n):
        path = videos[i % len(videos)]
        record = Record(
            f"b{i}",
            f"What happens to object {i} after the collision in the video?",
            ["it stops", "it moves left", "it moves right", "it leaves the scene"],
            ["ABCD"[i % 4]],
            video=path.name,
        )
        requests.append(Request(record.id, build_prompt(record, "cot"), frames[path]))
    return requests


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=48, help="requests")
    ap.add_argument("--batch-size", type=int, default=16, help="requests per generate call (the runner's default)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=6, help="runs of each vLLM path (the best is kept)")
    args = ap.parse_args()

    from vllm import SamplingParams

    from twgrpo_eval.backends.transformers_backend import TransformersBackend
    from twgrpo_eval.backends.vllm_backend import VLLMBackend, vllm_prompt
    from twgrpo_eval.tiny_model import build_tiny_model

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    requests = prepared_requests(args.n)
    sampling = SamplingSettings(temperature=0.0, top_p=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_tiny_model(Path(tmp) / "Qwen2.5-VL-tiny"))
        engine = dict(dtype="float32", max_model_len=4096, enforce_eager=True)
        with VLLMBackend(model, sampling, PIXELS, **engine) as vllm_backend:
            hf_backend = TransformersBackend(model, sampling, PIXELS, device="cpu", dtype="float32")
            llm = vllm_backend._llm
            # what a raw-vLLM harness hands the engine, built before the clock starts
            prompts = [vllm_prompt(vllm_backend.render(r), r.video) for r in requests]
            params = SamplingParams(temperature=0.0, max_tokens=args.max_new_tokens)
            paths = {
                "raw LLM.generate": lambda: [
                    llm.generate(b, params, use_tqdm=False) for b in batches(prompts, args.batch_size)
                ],
                "twgrpo vllm backend": lambda: [vllm_backend.generate(b) for b in batches(requests, args.batch_size)],
                "transformers backend": lambda: [hf_backend.generate(b) for b in batches(requests, args.batch_size)],
            }
            # warm-up (first-batch allocations), and a check that both vLLM paths do the same work
            raw = [o.outputs[0].text for batch in paths["raw LLM.generate"]() for o in batch]
            ours = [g.text for batch in paths["twgrpo vllm backend"]() for g in batch]
            if raw != ours:
                raise SystemExit("the twgrpo and raw vLLM paths generated different answers: not the same work")
            vllm_paths = ["raw LLM.generate", "twgrpo vllm backend"]
            best = {name: float("inf") for name in vllm_paths}
            for repeat in range(args.repeats):  # interleaved, in turn first, so drifting load hits both alike
                for name in vllm_paths[:: 1 if repeat % 2 else -1]:
                    best[name] = min(best[name], timed(paths[name]))
            best["transformers backend"] = timed(paths["transformers backend"])  # ~70x slower: once
    rate = {name: args.n / seconds for name, seconds in best.items()}
    for name in paths:
        runs = 1 if name == "transformers backend" else args.repeats
        print(f"{name:22s} {rate[name]:7.2f} requests/s  ({best[name]:.2f} s for {args.n}, best of {runs})")
    harness = rate["twgrpo vllm backend"] / rate["raw LLM.generate"]
    print(f"twgrpo / raw vLLM: {harness:.3f}x (target >= {TARGET}x)")
    print(f"twgrpo vllm / transformers backend: {rate['twgrpo vllm backend'] / rate['transformers backend']:.2f}x")
    return 0 if harness >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
