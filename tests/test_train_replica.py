"""The released method's switches (issue 11.4): gradients through the token weights, KL multiplied by them."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO

from twgrpo_train.config import TrainConfigError, load_config
from twgrpo_train.weights import token_weights_from_logits, token_weights_with_grad

TINY_YAML = REPO / "examples" / "train_tiny.yaml"


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
    from twgrpo_train.trainer import TWGRPOTrainer

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
