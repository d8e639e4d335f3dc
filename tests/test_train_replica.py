"""The released method's switches (issue 11.4): gradients through the token weights, KL multiplied by them."""

from __future__ import annotations

import pytest
import torch
from paths import REPO, TINY_YAML, VIDEOS

from twgrpo_train.config import TrainConfigError, load_config
from twgrpo_train.weights import token_weights_from_logits, token_weights_with_grad


@pytest.mark.parametrize("divergence", ["kl", "reference"])
def test_weights_with_grad_equal_the_detached_ones_and_carry_a_gradient(divergence):
    gen = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(8, 7, 40, generator=gen, dtype=torch.float64)).requires_grad_()
    mask = torch.ones(8, 7, dtype=torch.long)
    mask[1, 4:] = 0
    mask[6, 2:] = 0
    w = token_weights_with_grad(logits, mask, 4, 1.7, divergence=divergence)
    torch.testing.assert_close(
        w.detach().float(), token_weights_from_logits(logits.detach(), mask, 4, 1.7, divergence=divergence).float()
    )
    (grad,) = torch.autograd.grad((w * torch.arange(7.0, dtype=w.dtype)).sum(), logits)
    assert grad.abs().sum() > 0


def test_released_switches_need_whole_groups_in_the_loss_step():
    with pytest.raises(TrainConfigError, match="set steps_per_generation=1 and num_iterations=1"):
        load_config(TINY_YAML, ["model=/m", "detach_weights=false", "num_iterations=2"])
    assert not load_config(TINY_YAML, ["model=/m", "detach_weights=false"]).detach_weights


@pytest.mark.slow
def test_replica_loss_has_the_released_gradient(tiny_model_dir, tmp_path):
    from twgrpo_train.data import load_train_dataset
    from twgrpo_train.rewards import build_reward_funcs
    from twgrpo_train.trainer import VIDEO_KEYS, TWGRPOTrainer

    torch.set_num_threads(1)
    cfg = load_config(
        TINY_YAML,
        [
            f"model={tiny_model_dir}",
            f"output_dir={tmp_path}",
            "save_strategy=no",
            "divergence=reference",
            "detach_weights=false",
            "max_completion_length=6",
        ],
    )
    ds = load_train_dataset(cfg.train_file, video_root=cfg.video_root)
    trainer = TWGRPOTrainer(
        model=cfg.model,
        args=cfg,
        train_dataset=ds,
        reward_funcs=build_reward_funcs(cfg.accuracy_reward, cfg.answer_parser),
    )
    trainer.model.train()
    torch.manual_seed(3)
    for _ in range(10):  # a batch whose rewards differ within a group
        out = trainer._generate_and_score_completions([ds[0]] * 4 + [ds[4]] * 4)
        if out["sequence_advantages"].abs().sum() > 0:
            break
    assert out["sequence_advantages"].abs().sum() > 0
    trainer.current_gradient_accumulation_steps = 1
    params = [p for p in trainer.model.parameters() if p.requires_grad]

    def loss_and_grad(detach: bool):
        trainer.args.detach_weights = detach
        loss = trainer.compute_loss(trainer.model, out)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return loss.item(), torch.cat(
            [(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]
        )

    ours_loss, ours = loss_and_grad(True)
    replica_loss, replica = loss_and_grad(False)
    assert replica_loss == pytest.approx(ours_loss, abs=1e-6)  # the surrogate adds gradient, not value
    relative = ((replica - ours).norm() / ours.norm()).item()
    print(f"replica vs ours: relative gradient difference {relative:.3f}")
    assert relative > 1e-3, relative

    # the chunked surrogate (issue 29.4) has the gradient of the whole-logits graph it replaced
    trainer.args.detach_weights, trainer.args.weight_chunk_size = False, 2
    trainer._active_video = {key: out[key] for key in VIDEO_KEYS}
    chunked = torch.autograd.grad(trainer._released_weight_terms(trainer.model, out), params, allow_unused=True)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attention = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    length, mask = out["completion_ids"].size(1), out["completion_mask"]
    whole = 0.0
    for group in out["group_index"].unique().tolist():
        rows = (out["group_index"] == group).nonzero().squeeze(1).tolist()
        video = trainer._video_kwargs(trainer._active_video, 0, 0, ids[rows], rows=rows)
        logits = trainer.model(input_ids=ids[rows], attention_mask=attention[rows], **video).logits[:, -length - 1 : -1]
        w = token_weights_with_grad(logits, mask[rows], 4, cfg.alpha, divergence="reference")
        whole = whole + (-out["sequence_advantages"][rows, None] * (w - w.detach()) * mask[rows]).sum()
    whole = whole / out["num_items_in_batch"]
    expected = torch.autograd.grad(whole, params, allow_unused=True)
    flat = [
        torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(gs, params)])
        for gs in (chunked, expected)
    ]
    assert flat[1].norm() > 0
    torch.testing.assert_close(flat[0], flat[1], rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# the replica's video inputs are the released run's (issue 29.3)


def released_inputs(total: int, video_fps: float, height: int, width: int):
    """Frames, size and told fps of TW-GRPO's vendored qwen-vl-utils with the launch script's SAMPLE_MODE=true
    (its environment otherwise unset), written out from that code: `smart_nframes`, decord's
    `torch.linspace(...).round()`, `fetch_video`'s pixel bounds and `smart_resize`; no fps reaches the processor,
    so Qwen2.5-VL assumes 2.0."""
    import math

    def round_by(x, f):
        return round(x / f) * f

    nframes = total / video_fps * 2.0
    min_frames, max_frames = math.ceil(4 / 2) * 2, math.floor(min(16, total) / 2) * 2
    n = math.floor(min(min(max(nframes, min_frames), max_frames), total) / 2) * 2
    indices = torch.linspace(0, total - 1, n).round().long().tolist()
    min_pixels = 128 * 28 * 28
    total_pixels = int(float(128000 * 28 * 28 * 0.9))
    max_pixels = max(min(196 * 28 * 28, total_pixels / n * 2), int(min_pixels * 1.05))
    h, w = max(28, round_by(height, 28)), max(28, round_by(width, 28))
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = math.floor(height / beta / 28) * 28, math.floor(width / beta / 28) * 28
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / 28) * 28, math.ceil(width * beta / 28) * 28
    return indices, (h, w), 2.0


@pytest.mark.parametrize("name", ["video_12176.mp4", "clevrer_8.mp4", "video1.mp4"])
def test_replica_samples_the_frames_the_released_run_fed(name):
    from types import SimpleNamespace

    import decord

    from twgrpo_data.video import VideoRef
    from twgrpo_train.trainer import TWGRPOTrainer

    paper = load_config(REPO / "train" / "configs" / "paper_clevrer_7b.yaml", ["train_file=/x.json", "use_cpu=true"])
    path = str(VIDEOS / name)
    reader = decord.VideoReader(path)
    height, width = reader[0].shape[:2]
    indices, size, told = released_inputs(len(reader), reader.get_avg_fps(), height, width)
    ref = VideoRef(path=path)
    clip = TWGRPOTrainer._sample_frames(SimpleNamespace(args=paper), [ref])[ref]
    assert list(clip.indices) == indices and clip.frames.shape[1:3] == size
    assert paper.model_fps == told
    if name == "video_12176.mp4":  # a CLEVRER clip: 128 frames at 25 fps, 480×320 (the numbers)
        assert (len(indices), size[0] * size[1], indices) == (10, 146_608, [0, 14, 28, 42, 56, 71, 85, 99, 113, 127])
    ours = load_config(REPO / "train" / "configs" / "twgrpo_clevrer_7b.yaml", ["train_file=/x.json", "use_cpu=true"])
    assert (ours.sample_fps, ours.model_fps, ours.max_pixels) == (2.0, 2.0, 153_664)  # same inputs in both
