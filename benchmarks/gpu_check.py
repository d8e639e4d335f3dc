"""GPU check (issue 19): what only a GPU can measure, in one process and inside a time budget.

Parts, in this order; a part starts only while the remaining budget covers its estimate, else it is skipped
with the reason printed, and a part still running when the budget ends is stopped and reported as such:

1. ``token_weights``: TW-GRPO token weights at V = 151,936, G = 8, L = 1024 (H = 2048, Qwen2.5-VL-3B's hidden
   size) in bf16 and fp32: peak CUDA memory above the inputs and best-of-3 time of
   `token_weights_from_hidden` (chunked) vs `token_weights_from_logits` on the materialised (G, L, V) logits,
   and the largest difference between the two results (they must agree);
2. ``train_3b``: one training step (generation + token weights + loss + optimizer) through the real
   `TWGRPOTrainer`, ``tw_grpo`` vs ``grpo``, on a randomly initialised Qwen2.5-VL with the 3B architecture
   (built from its config with the real vocabulary: nothing is downloaded), G = 8 completions of
   `--completion-length` tokens, 16 frames of a sample video at 128·28² pixels, bf16, gradient checkpointing,
   frozen vision tower: seconds per step and peak CUDA memory (one untimed warm-up step first). Rewards: the
   default soft accuracy + format, plus a probe reward that differs between completions (random output scores
   0 on the task), so the step has a real gradient (its norm must be finite and > 0);
3. ``eval``: `twgrpo eval`'s runner with the transformers backend and the tiny random model over the sample
   videos (`examples/eval_sample.json`): samples/s;
4. ``rollouts_3b``: the rollouts of part 2 on vLLM (`use_vllm: true`, the engine colocated in the training
   process, `load_format: dummy` and then the policy's weights through the trainer's weight sync) against HF
   `generate`: three `tw_grpo` steps each (the first not counted), completions per second of the rollouts alone (the weight
   sync apart) and seconds per whole step, as ratios. Skipped where vLLM is not installed (the GPU image has
   none, and its wheel is larger than what a session may carry). `benchmarks/bench_rollouts.py` runs the same
   comparison on the CPU with the tiny architecture; CPU ratios say nothing about GPU ones;
5. ``train_7b``, ``rollouts_7b``: parts 2 and 4 with the 7B architecture, when the budget still allows.

The tokenizer and processor are those of `twgrpo dev tiny-model` (`build_tiny_model`); the 3B/7B models use
its token ids with the real vocabulary size, so the weight and LM-head shapes are the real ones.

    python benchmarks/gpu_check.py [--budget-s 430] [--completion-length 1024] [--out FILE]
    python benchmarks/gpu_check.py --dry-run     # CPU, tiny shapes, every code path (CI)

Normally started by `scripts/gpu_check.sh`, which first installs the carried wheels. The results are printed
as a table and written as JSON to `--out` (default `$OUT/gpu_check.json` when `$OUT` is set). Exit status: 0
when no part failed (skipped parts are listed), 1 when one failed or a GPU run finds no CUDA device.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
# `make gpu-wheels` copies the sample videos here (the GPU machine gets the repo but not ../shared).
VIDEO_DIRS = (REPO / ".gpu-wheels" / "videos", REPO.parent / "shared" / "data" / "videos")
TRAIN_DATA = REPO / "examples" / "train_tiny.jsonl"
EVAL_DATA = REPO / "examples" / "eval_sample.json"
VERSIONED = (
    "twgrpo",
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "huggingface_hub",
    "decord",
    "av",
    "numpy",
    "pyarrow",
    "fsspec",
)
ALPHA = 0.7  # the paper's α: weights in [1, 1.7] (the released code's --alpha 1.70)
GIB = 2**30
# weights from the two paths may differ only by rounding: fp32 logits are the same GEMM, bf16 ones may round apart
WEIGHT_TOLERANCE = {"float32": 1e-4, "bfloat16": 2e-2}

# Qwen2.5-VL's released architectures (config.json of Qwen/Qwen2.5-VL-{3B,7B}-Instruct); "tiny" is for --dry-run.
VISION_QWEN = dict(
    depth=32,
    hidden_size=1280,
    intermediate_size=3420,
    num_heads=16,
    window_size=112,
    fullatt_block_indexes=[7, 15, 23, 31],
)
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "3b": dict(
        text=dict(
            hidden_size=2048,
            intermediate_size=11008,
            num_hidden_layers=36,
            num_attention_heads=16,
            num_key_value_heads=2,
            vocab_size=151_936,
            tie_word_embeddings=True,
            rope_theta=1_000_000.0,
            mrope_section=[16, 24, 24],
        ),
        vision=VISION_QWEN,
    ),
    "7b": dict(
        text=dict(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152_064,
            tie_word_embeddings=False,
            rope_theta=1_000_000.0,
            mrope_section=[16, 24, 24],
        ),
        vision=VISION_QWEN,
    ),
    "tiny": dict(  # heads 64 wide, as `twgrpo dev tiny-model`'s: vLLM's CPU attention refuses narrower ones
        text=dict(
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=4096,
            tie_word_embeddings=True,
            rope_theta=10_000.0,
            mrope_section=[8, 12, 12],
        ),
        vision=dict(
            depth=2, hidden_size=32, intermediate_size=64, num_heads=2, window_size=56, fullatt_block_indexes=[1]
        ),
    ),
}


@dataclass(frozen=True)
class Plan:
    """Shapes and settings of one run: the real ones on a GPU, tiny ones for --dry-run on the CPU."""

    device: str
    vocab: int
    group: int
    length: int
    hidden: int
    chunk: int
    repeats: int
    train_archs: tuple[str, ...]
    frames: int
    pixels: int
    completion_length: int
    warmup_length: int
    eval_new_tokens: int
    eval_limit: int | None
    rollout_steps: int
    # seconds a part needs to be started (a rough upper bound of its run time on the plan's device)
    estimates: dict[str, float] = field(default_factory=dict)


GPU_PLAN = Plan(
    device="cuda",
    vocab=151_936,
    group=8,
    length=1024,
    hidden=2048,
    chunk=32,
    repeats=3,
    train_archs=("3b", "7b"),
    frames=16,
    pixels=128 * 28 * 28,
    completion_length=1024,
    warmup_length=8,
    eval_new_tokens=256,
    eval_limit=None,
    rollout_steps=3,
    estimates={
        "token_weights": 30,
        "train_3b": 150,
        "eval": 45,
        "rollouts_3b": 180,
        "train_7b": 150,
        "rollouts_7b": 240,
    },
)
DRY_PLAN = Plan(
    device="cpu",
    vocab=2048,
    group=4,
    length=48,
    hidden=64,
    chunk=16,
    repeats=1,
    train_archs=("tiny",),
    frames=16,
    pixels=4 * 28 * 28,
    completion_length=8,
    warmup_length=4,
    eval_new_tokens=8,
    eval_limit=2,
    rollout_steps=2,
    estimates={"token_weights": 1, "train_tiny": 1, "eval": 1, "rollouts_tiny": 1},
)


class PartSkipped(Exception):
    """A part cannot run on this machine (the reason is its message): recorded as skipped, not failed."""


class BudgetExceeded(BaseException):
    """The run's time budget ended while a part was running (a BaseException, like KeyboardInterrupt, so the
    libraries' `except Exception` handlers — the eval runner's per-item one, say — let it through)."""


@dataclass
class Budget:
    """Wall-clock seconds for the whole run, counted from the start of the process."""

    total_s: float
    started: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        return self.total_s - (time.perf_counter() - self.started)

    @contextlib.contextmanager
    def enforced(self) -> Iterator[None]:
        """Raise `BudgetExceeded` in the main thread once the budget is spent (SIGALRM)."""

        def expire(signum, frame):
            raise BudgetExceeded(f"time budget of {self.total_s:.0f} s spent")

        previous = signal.signal(signal.SIGALRM, expire)
        outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, max(self.left(), 0.01))
        entered = time.perf_counter()
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer_delay:  # an enclosing alarm (e.g. pytest-timeout's) keeps running
                remaining = max(outer_delay - (time.perf_counter() - entered), 0.01)
                signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)


# ----------------------------------------------------------------------------------------------------------
# measuring


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn: Callable[[], Any], device: str, repeats: int) -> tuple[float, int | None, Any]:
    """Best time of `repeats` calls of `fn` after one warm-up call, the peak CUDA memory a call allocated
    above what was allocated before it (None on the CPU), and the last result."""
    import torch

    result = fn()
    _sync(device)
    best, peak = math.inf, None
    for _ in range(repeats):
        del result
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        result = fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
        if device == "cuda":
            peak = max(peak or 0, torch.cuda.max_memory_allocated() - base)
    return best, peak, result


def _gib(n: int | None) -> float | None:
    return None if n is None else round(n / GIB, 3)


def _free(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------------------
# part 1: token weights


def check_token_weights(plan: Plan) -> dict[str, Any]:
    """Chunked vs from-logits token weights at the plan's (V, G, L, H), in bf16 and fp32."""
    import torch

    from twgrpo_train.weights import token_weights_from_hidden, token_weights_from_logits

    g, length, vocab = plan.group, plan.length, plan.vocab
    gen = torch.Generator(device="cpu").manual_seed(0)
    lengths = torch.randint(length // 2, length + 1, (g,), generator=gen)
    lengths[0] = length  # one completion runs to the end, as in a real group
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long().to(plan.device)
    rows = []
    for dtype in (torch.bfloat16, torch.float32):
        name = str(dtype).removeprefix("torch.")
        hidden = torch.randn(g, length, plan.hidden, generator=gen).to(plan.device, dtype)
        head = (torch.randn(vocab, plan.hidden, generator=gen) / plan.hidden**0.5).to(plan.device, dtype)
        paths = {
            "chunked": lambda h=hidden, w=head: token_weights_from_hidden(h, w, mask, g, ALPHA, chunk_size=plan.chunk),
            "from_logits": lambda h=hidden, w=head: token_weights_from_logits(h @ w.T, mask, g, ALPHA),
        }
        out = {}
        for path, fn in paths.items():
            seconds, peak, weights = measure(fn, plan.device, plan.repeats)
            out[path] = weights
            rows.append({"dtype": name, "path": path, "time_s": round(seconds, 4), "peak_gib": _gib(peak)})
            del weights
            _free(plan.device)
        diff = (out["chunked"].float() - out["from_logits"].float()).abs().max().item()
        for row in rows[-2:]:
            row["max_abs_diff"] = diff
        if not diff <= WEIGHT_TOLERANCE[name]:
            raise AssertionError(
                f"{name}: chunked and from-logits weights differ by {diff:.3g} (tolerance {WEIGHT_TOLERANCE[name]})"
            )
        del hidden, head, out, paths  # the lambdas hold the inputs too
        _free(plan.device)
    headline = {}
    for name in ("bfloat16", "float32"):
        by_path = {r["path"]: r for r in rows if r["dtype"] == name}
        chunked, full = by_path["chunked"], by_path["from_logits"]
        headline[name] = {
            "memory_ratio": None if chunked["peak_gib"] is None else round(full["peak_gib"] / chunked["peak_gib"], 2),
            "time_ratio": round(chunked["time_s"] / full["time_s"], 2),
        }
    return {
        "setting": {
            "vocab": vocab,
            "group": g,
            "length": length,
            "hidden": plan.hidden,
            "chunk": plan.chunk,
            "alpha": ALPHA,
            "repeats": plan.repeats,
        },
        "rows": rows,
        "headline": headline,
    }


# ----------------------------------------------------------------------------------------------------------
# part 2: one TW-GRPO training step


def qwen_vl_config(arch: str, tokenizer):
    """A `Qwen2_5_VLConfig` with `arch`'s sizes and the tiny tokenizer's special-token ids."""
    from twgrpo_eval.tiny_model import qwen_vl_config as wired_config

    spec = ARCHITECTURES[arch]
    text = dict(spec["text"])
    if text["vocab_size"] < len(tokenizer):
        raise ValueError(f"{arch}: vocabulary {text['vocab_size']} is smaller than the tokenizer's {len(tokenizer)}")
    rope = {"rope_type": "default", "rope_theta": text.pop("rope_theta"), "mrope_section": text.pop("mrope_section")}
    text.update(rope_parameters=rope, max_position_embeddings=32768, rms_norm_eps=1e-6)
    return wired_config(tokenizer, text=text, vision=spec["vision"])


def random_model(arch: str, processor, device: str):
    """A randomly initialised Qwen2.5-VL of `arch` (bf16 on CUDA, fp32 on the CPU), built on the device."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    tokenizer = processor.tokenizer
    config = qwen_vl_config(arch, tokenizer)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    model.to(device)  # a no-op when the device context above was honoured
    model.generation_config.eos_token_id = [eos, pad]
    model.generation_config.pad_token_id = pad
    return model


def probe_reward(prompts: list, completions: list, completion_ids: list[list[int]], **_: Any) -> list[float]:
    """A reward that varies between completions (a hash of their token ids), so that a random model's group has
    non-zero advantages and the step's gradient is a real one. The task rewards are 0 for random output, and
    its text is mostly empty: the tiny tokenizer decodes none of the ids above its few hundred."""
    return [zlib.crc32(str(ids).encode()) % 1000 / 1000 for ids in completion_ids]


def train_steps(
    trainer_mod,
    model,
    processor,
    dataset,
    plan: Plan,
    loss_type: str,
    completion_length: int,
    out_dir: str,
    *,
    steps: int = 1,
    use_vllm: bool = False,
    engine_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `TWGRPOTrainer` for `steps` steps; each step's time (step begin → end) and the part of it spent
    rolling out (`_generate_single_turn`: HF `generate`, or vLLM's weight sync + generation, the sync also timed
    alone), peak memory and the last logged metrics. `s_per_step`: the one step, or the median after the first."""
    import statistics

    import torch
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from twgrpo_train.rewards import build_reward_funcs

    cfg_cls = trainer_mod.TWGRPOConfig
    video = {"frames": plan.frames, "min_pixels": plan.pixels, "max_pixels": plan.pixels}
    gpu = plan.device == "cuda"
    config = cfg_cls(
        output_dir=out_dir,
        model="random-Qwen2.5-VL",
        train_file=str(TRAIN_DATA),
        loss_type=loss_type,
        alpha=ALPHA,
        num_generations=plan.group,
        per_device_train_batch_size=plan.group,
        max_completion_length=completion_length,
        max_steps=steps,
        learning_rate=1e-6,
        beta=0.0,
        temperature=1.0,
        bf16=gpu,
        use_cpu=not gpu,
        gradient_checkpointing=True,
        save_strategy="no",
        report_to="none",
        logging_steps=1,
        plot_file=None,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
        use_vllm=use_vllm,
        vllm_engine_kwargs=engine_kwargs,
        **video,
    )

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            _sync(plan.device)
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            _sync(plan.device)
            self.seconds.append(time.perf_counter() - self.started)

    timer = StepTimer()
    trainer = trainer_mod.TWGRPOTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[timer],
        reward_funcs=[*build_reward_funcs(), probe_reward],
    )  # the defaults: soft accuracy + format
    for noisy in (PrinterCallback, ProgressCallback):  # the step's metrics go to the report instead
        trainer.remove_callback(noisy)
    rollout_s, sync_s, completions = _timed(trainer, "_generate_single_turn", plan.device), [], []
    if use_vllm:
        sync_s = _timed(trainer.vllm_generation, "sync_weights", plan.device)
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.train()
        logged = next((h for h in reversed(trainer.state.log_history) if "loss" in h), {})
        completions = plan.group * steps
    finally:
        del trainer
        model.zero_grad(set_to_none=True)
        _free(plan.device)
    if len(timer.seconds) != steps:
        raise AssertionError(f"{loss_type}: expected {steps} timed steps, got {len(timer.seconds)}")
    if not logged.get("grad_norm", 0.0) > 0 or not math.isfinite(logged["grad_norm"]):
        raise AssertionError(f"{loss_type}: gradient norm {logged.get('grad_norm')} (expected finite and > 0)")
    keep = ("loss", "reward", "completions/mean_length", "tw/weight_mean", "tw/weight_max", "grad_norm")
    typical = timer.seconds[0] if steps == 1 else statistics.median(timer.seconds[1:])
    return {
        "loss_type": loss_type,
        "s_per_step": round(typical, 3),
        "step_s": [round(t, 3) for t in timer.seconds],
        "rollout_s": [round(t, 3) for t in rollout_s],
        "sync_s": [round(t, 3) for t in sync_s],
        "completions": completions,
        "peak_gib": _gib(torch.cuda.max_memory_allocated()) if gpu else None,
        "metrics": {k: logged[k] for k in keep if k in logged},
    }


def _timed(owner, method: str, device: str) -> list[float]:
    """Time every call of `owner.method` (an instance attribute shadows the class's); the list fills as it runs."""
    calls: list[float] = []
    inner = getattr(owner, method)

    def timed(*args, **kwargs):
        _sync(device)
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            _sync(device)
            calls.append(time.perf_counter() - started)

    setattr(owner, method, timed)
    return calls


def check_training(arch: str, plan: Plan, tiny_dir: Path, videos: Path, completion_length: int) -> dict[str, Any]:
    """A warm-up step, then one timed `tw_grpo` and one `grpo` step on a random `arch` Qwen2.5-VL."""
    import torch
    from transformers import AutoProcessor

    from twgrpo_train import trainer as trainer_mod
    from twgrpo_train.data import load_train_dataset

    processor = AutoProcessor.from_pretrained(tiny_dir)
    dataset = load_train_dataset(TRAIN_DATA, video_root=videos)
    started = time.perf_counter()
    model = random_model(arch, processor, plan.device)
    build_s = time.perf_counter() - started
    n_params = sum(p.numel() for p in model.parameters())
    weights_gib = _gib(torch.cuda.memory_allocated()) if plan.device == "cuda" else None
    result: dict[str, Any] = {
        "setting": {
            "arch": arch,
            "params": n_params,
            "group": plan.group,
            "completion_length": completion_length,
            "frames": plan.frames,
            "pixels_per_frame": plan.pixels,
            "gradient_checkpointing": True,
            "freeze_vision": True,
            "dtype": "bfloat16" if plan.device == "cuda" else "float32",
        },
        "build_s": round(build_s, 2),
        "weights_gib": weights_gib,
        "rows": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-check-train-") as out_dir:
            # untimed: CUDA context, cuBLAS handles and kernels warm up for both loss types alike
            train_steps(trainer_mod, model, processor, dataset, plan, "grpo", plan.warmup_length, out_dir)
            for loss_type in ("tw_grpo", "grpo"):
                result["rows"].append(
                    train_steps(trainer_mod, model, processor, dataset, plan, loss_type, completion_length, out_dir)
                )
    except torch.cuda.OutOfMemoryError as exc:
        result["oom"] = str(exc).splitlines()[0]
    finally:
        del model
        _free(plan.device)
    return result


# ----------------------------------------------------------------------------------------------------------
# part 4: rollouts on vLLM against HF generate


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def compare_rollouts(model, processor, dataset, plan: Plan, completion_length: int) -> dict[str, Any]:
    """`plan.rollout_steps` TW-GRPO steps of `model` with HF `generate`, then with vLLM rollouts (the engine in
    this process, built from the model's config with dummy weights, then given the policy's by the trainer's
    weight sync before its first rollout); per path the rollouts' completions per second (the vLLM weight
    sync apart), the sync and the whole step, after a first step that is not counted (engine and kernel
    warm-up). Ratios: vLLM over HF for completions per second, HF over vLLM for step time (both > 1: vLLM wins)."""
    import statistics

    from twgrpo_train import trainer as trainer_mod

    if not vllm_installed():
        raise PartSkipped("vLLM is not installed here (the GPU image has none; its wheel is over the carry limit)")
    steps = plan.rollout_steps
    with tempfile.TemporaryDirectory(prefix="gpu-check-rollouts-") as tmp:
        # vLLM builds its engine from a folder: the model's config and the processor, no weights (dummy)
        folder = Path(tmp) / "model"
        model.config.architectures = [type(model).__name__]  # a model built from a config has none: vLLM needs it
        model.config.save_pretrained(folder)
        model.generation_config.save_pretrained(folder)
        processor.save_pretrained(folder)
        model.config._name_or_path = model.name_or_path = str(folder)  # where vLLM (TRL: model.name_or_path) reads
        engine = {"load_format": "dummy", "max_model_len": 8192}
        if plan.device == "cpu":
            engine["enforce_eager"] = True  # no graph compilation on the CPU
        rows = {}
        for path, use_vllm in (("hf_generate", False), ("vllm", True)):
            row = train_steps(
                trainer_mod,
                model,
                processor,
                dataset,
                plan,
                "tw_grpo",
                completion_length,
                str(Path(tmp) / path),
                steps=steps,
                use_vllm=use_vllm,
                engine_kwargs=engine if use_vllm else None,
            )
            rollout = [r - s for r, s in zip(row["rollout_s"], row["sync_s"] or [0.0] * steps)]
            counted = rollout[1:] or rollout
            row["completions_per_s"] = round(plan.group * len(counted) / sum(counted), 3)
            row["sync_s_per_step"] = (
                round(statistics.median(row["sync_s"][1:] or row["sync_s"]), 4) if use_vllm else None
            )
            rows[path] = {"path": path, **row}
    hf, vllm = rows["hf_generate"], rows["vllm"]
    check_same_text({path: row["metrics"].get("completions/mean_length") for path, row in rows.items()})
    return {
        "rows": list(rows.values()),
        "ratios": {
            "completions_per_s_vllm_over_hf": round(vllm["completions_per_s"] / hf["completions_per_s"], 2),
            "step_time_hf_over_vllm": round(hf["s_per_step"] / vllm["s_per_step"], 2),
        },
    }


def check_same_text(mean_lengths: dict[str, float | None]) -> None:
    """Completions/s counts completions, not tokens: it compares two rollout paths only when they wrote about as
    much text (mean completion lengths within 20 %), and none of them nothing."""
    lengths = {path: value or 0.0 for path, value in mean_lengths.items()}
    if not min(lengths.values()) or min(lengths.values()) < 0.8 * max(lengths.values()):
        raise AssertionError(
            f"the rollout paths generated different amounts of text (mean completion length {lengths}): their "
            "completions/s would not compare"
        )


def check_rollouts(arch: str, plan: Plan, tiny_dir: Path, videos: Path, completion_length: int) -> dict[str, Any]:
    """`compare_rollouts` on a random `arch` Qwen2.5-VL."""
    import torch
    from transformers import AutoProcessor

    from twgrpo_train.data import load_train_dataset

    if not vllm_installed():  # before building a model of billions of parameters
        raise PartSkipped("vLLM is not installed here (the GPU image has none; its wheel is over the carry limit)")
    processor = AutoProcessor.from_pretrained(tiny_dir)
    dataset = load_train_dataset(TRAIN_DATA, video_root=videos)
    model = random_model(arch, processor, plan.device)
    setting = {
        "arch": arch,
        "params": sum(p.numel() for p in model.parameters()),
        "group": plan.group,
        "completion_length": completion_length,
        "frames": plan.frames,
        "pixels_per_frame": plan.pixels,
        "steps": plan.rollout_steps,
        "dtype": "bfloat16" if plan.device == "cuda" else "float32",
    }
    try:
        return {"setting": setting, **compare_rollouts(model, processor, dataset, plan, completion_length)}
    except torch.cuda.OutOfMemoryError as exc:
        return {"setting": setting, "rows": [], "oom": str(exc).splitlines()[0]}
    finally:
        del model
        _free(plan.device)


# ----------------------------------------------------------------------------------------------------------
# part 3: the transformers eval backend


def check_eval(plan: Plan, tiny_dir: Path, videos: Path, console: Console) -> dict[str, Any]:
    """`run_eval` with the transformers backend and the tiny model over the sample videos."""
    from twgrpo_eval.runner import EvalConfig, run_eval

    with tempfile.TemporaryDirectory(prefix="gpu-check-eval-") as tmp:
        config = EvalConfig(
            bench="mmvu",
            model=str(tiny_dir),
            backend="transformers",
            data=str(EVAL_DATA),
            video_root=str(videos),
            out=str(Path(tmp) / "run"),
            max_new_tokens=plan.eval_new_tokens,
            limit=plan.eval_limit,
        )
        result = run_eval(config)
        errors = [json.loads(line).get("error") for line in (result.out / "samples.jsonl").read_text().splitlines()]
        backend = json.loads((result.out / "config.json").read_text())["sessions"][-1]["backend"]
    failed = [e for e in errors if e]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(errors)} eval items failed, e.g. {failed[0]}")
    session = result.results["run"]["session"]
    return {
        "setting": {
            "bench": "mmvu",
            "data": str(EVAL_DATA.relative_to(REPO)),
            "items": len(errors),
            "max_new_tokens": plan.eval_new_tokens,
            "batch_size": config.batch_size,
            "frames": config.frames,
        },
        "samples": result.new_samples,
        "elapsed_s": session["elapsed_s"],
        "samples_per_s": session["samples_per_s"],
        "device": backend["device"],
        "dtype": backend["dtype"],
    }


# ----------------------------------------------------------------------------------------------------------
# running and reporting


def environment() -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"python": platform.python_version(), "versions": {}}
    for name in VERSIONED:
        try:
            env["versions"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            env["versions"][name] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = {"name": props.name, "memory_gib": round(props.total_memory / GIB, 1), "cuda": torch.version.cuda}
    return env


def run_part(
    name: str,
    fn: Callable[[], dict[str, Any]],
    plan: Plan,
    budget: Budget,
    report: dict[str, Any],
    console: Console,
    write: Callable[[], None],
) -> None:
    """Run one part if the budget covers its estimate; record ok / skipped / failed / stopped, then save."""
    need = plan.estimates.get(name, 0.0)
    if budget.left() < need:
        report["parts"][name] = {"status": "skipped", "reason": f"{budget.left():.0f} s left, needs about {need:.0f} s"}
        console.print(f"[yellow]skipped {name}[/]: {report['parts'][name]['reason']}")
        write()
        return
    console.print(f"[bold]{name}[/] … ({budget.left():.0f} s left)")
    started = time.perf_counter()
    try:
        with budget.enforced():
            part = {"status": "ok", **fn()}
    except BudgetExceeded as exc:
        part = {"status": "stopped", "reason": str(exc)}
    except PartSkipped as exc:
        part = {"status": "skipped", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 — one part's failure is reported and the others still run
        traceback.print_exc(file=sys.stderr)
        part = {"status": "failed", "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    part["wall_s"] = round(time.perf_counter() - started, 2)
    report["parts"][name] = part
    console.print(
        f"  {name}: {part['status']} in {part['wall_s']} s" + (f" ({part['reason']})" if "reason" in part else "")
    )
    write()


def _fmt(value: Any, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}" if isinstance(value, (int, float)) else str(value)


def render(report: dict[str, Any]) -> Table:
    """One table: every measured row, then every skipped, stopped or failed part."""
    title = "twgrpo GPU check" + (
        " (dry run: CPU, tiny shapes — no figure here is a GPU measurement)" if report["dry_run"] else ""
    )
    table = Table(title=title)
    for col in ("part", "case", "time", "peak memory", "note"):
        table.add_column(col)
    parts = report["parts"]
    for name, part in parts.items():
        if part["status"] != "ok":
            continue
        if name == "token_weights":
            s = part["setting"]
            for r in part["rows"]:
                table.add_row(
                    name,
                    f"{r['dtype']} {r['path']}",
                    _fmt(r["time_s"], " s"),
                    _fmt(r["peak_gib"], " GiB"),
                    f"V={s['vocab']:,} G={s['group']} L={s['length']}; max |Δw| {r['max_abs_diff']:.2g}",
                )
            for dtype, h in part["headline"].items():
                table.add_row(
                    name,
                    f"{dtype} from_logits / chunked",
                    "",
                    _fmt(h["memory_ratio"], "×"),
                    f"time chunked / from_logits {h['time_ratio']:g}×",
                )
        elif name.startswith("train_"):
            s = part["setting"]
            for r in part["rows"]:
                m = r["metrics"]
                table.add_row(
                    name,
                    r["loss_type"],
                    _fmt(r["s_per_step"], " s/step"),
                    _fmt(r["peak_gib"], " GiB"),
                    f"{s['params'] / 1e9:.2f}B params, G={s['group']}, {s['frames']} frames, "
                    f"len {_fmt(m.get('completions/mean_length'))}",
                )
            if "oom" in part:
                table.add_row(name, "out of memory", "", "", part["oom"][:80])
        elif name.startswith("rollouts_"):
            s = part["setting"]
            for r in part["rows"]:
                table.add_row(
                    name,
                    r["path"],
                    _fmt(r["s_per_step"], " s/step"),
                    _fmt(r["peak_gib"], " GiB"),
                    f"{_fmt(r['completions_per_s'])} completions/s"
                    + (f", weight sync {_fmt(r['sync_s_per_step'])} s" if r["sync_s_per_step"] is not None else ""),
                )
            if part["rows"]:
                ratios = part["ratios"]
                table.add_row(
                    name,
                    "vLLM / HF generate",
                    f"{ratios['step_time_hf_over_vllm']:g}× faster steps",
                    "",
                    f"{ratios['completions_per_s_vllm_over_hf']:g}× completions/s; {s['params'] / 1e9:.2f}B params, "
                    f"G={s['group']}, len {s['completion_length']}",
                )
            if "oom" in part:
                table.add_row(name, "out of memory", "", "", part["oom"][:80])
        elif name == "eval":
            table.add_row(
                name,
                f"transformers · {part['device']}",
                _fmt(part["elapsed_s"], " s"),
                "",
                f"{_fmt(part['samples_per_s'])} samples/s over {part['samples']} items",
            )
    for name, part in parts.items():
        if part["status"] != "ok":
            table.add_row(name, part["status"], "", "", part.get("reason", ""))
    return table


def default_out() -> Path | None:
    return Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes: exercise every code path")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="seconds for the whole run (default 430 on a GPU, 170 for --dry-run)",
    )
    parser.add_argument(
        "--completion-length",
        type=int,
        default=None,
        help="completion tokens per training step (default 1024; dry run 8)",
    )
    parser.add_argument(
        "--video-root",
        type=Path,
        default=None,
        help="folder with the sample videos (default .gpu-wheels/videos, else ../shared/data/videos)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default $OUT/gpu_check.json)")
    args = parser.parse_args(argv)
    budget = Budget(args.budget_s if args.budget_s is not None else (170.0 if args.dry_run else 430.0))
    console = Console(width=150)
    # transformers 5 renamed gradient checkpointing; TRL 1.16 still calls the old names (noise, not news)
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)
    plan = DRY_PLAN if args.dry_run else GPU_PLAN
    videos = args.video_root or next((d for d in VIDEO_DIRS if d.is_dir()), None)
    if videos is None or not videos.is_dir():
        console.print(
            f"gpu_check: no sample videos (looked in {', '.join(map(str, VIDEO_DIRS))}); "
            "run `make gpu-wheels` and carry .gpu-wheels, or pass --video-root",
            markup=False,
        )
        return 1
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        console.print("gpu_check: no CUDA device; run it on the GPU machine, or use --dry-run", markup=False)
        return 1
    completion_length = args.completion_length or plan.completion_length
    out = args.out or default_out()
    report: dict[str, Any] = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dry_run": args.dry_run,
        "budget_s": budget.total_s,
        "environment": environment(),
        "parts": {},
    }

    def write() -> None:
        report["elapsed_s"] = round(time.perf_counter() - budget.started, 1)
        if out is not None:
            from twgrpo_data.outputs import atomic_write_json

            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(out, report)

    with tempfile.TemporaryDirectory(prefix="gpu-check-model-") as tmp:
        from twgrpo_eval.tiny_model import build_tiny_model

        tiny_dir = build_tiny_model(Path(tmp) / "Qwen2.5-VL-tiny")

        def training(arch: str) -> tuple[str, Callable[[], dict[str, Any]]]:
            return f"train_{arch}", lambda: check_training(arch, plan, tiny_dir, videos, completion_length)

        def rollouts(arch: str) -> tuple[str, Callable[[], dict[str, Any]]]:
            return f"rollouts_{arch}", lambda: check_rollouts(arch, plan, tiny_dir, videos, completion_length)

        # the first architecture before the eval, any larger one after it: it is the one to skip when time is short
        first, *rest = plan.train_archs
        parts = [
            ("token_weights", lambda: check_token_weights(plan)),
            training(first),
            ("eval", lambda: check_eval(plan, tiny_dir, videos, console)),
            rollouts(first),
            *(part for arch in rest for part in (training(arch), rollouts(arch))),
        ]
        for name, fn in parts:
            run_part(name, fn, plan, budget, report, console, write)
    write()
    console.print(render(report))
    if out is not None:
        console.print(f"results: {out}", markup=False)
    return 1 if any(p["status"] == "failed" for p in report["parts"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
