"""TW-GRPO token weights: chunked == from-logits, hand-computed values, the released code's estimator, edges."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from twgrpo_train.weights import (
    token_weights_from_hidden,
    token_weights_from_logits,
    token_weights_with_grad,
    weight_stats,
    weighted_objective_with_grad,
)


def prefix_mask(lengths: list[int], width: int) -> torch.Tensor:
    return (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()


@st.composite
def weight_problems(draw):
    groups, group_size = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    width, vocab, hidden = draw(st.integers(1, 12)), draw(st.integers(3, 40)), draw(st.integers(2, 8))
    lengths = draw(st.lists(st.integers(0, width), min_size=groups * group_size, max_size=groups * group_size))
    return dict(
        groups=groups,
        group_size=group_size,
        width=width,
        vocab=vocab,
        hidden=hidden,
        lengths=lengths,
        chunk=draw(st.integers(1, 16)),
        seed=draw(st.integers(0, 2**31 - 1)),
        scale=draw(st.sampled_from([0.5, 1.0, 2.0, 4.0])),
        alpha=draw(st.floats(-0.8, 2.0)),
        divergence=draw(st.sampled_from(["kl", "reference"])),
        temperature=draw(st.sampled_from([1.0, 0.7])),
    )


@pytest.mark.slow  # training maths on torch graphs: seconds per property
@settings(max_examples=150, deadline=None)
@given(weight_problems())
def test_chunked_weights_equal_from_logits(prob):
    # Hidden states and head on a grid of quarters (powers-of-two scale): every float32 product and partial sum
    # is exact, so both paths see bit-identical logits and the comparison tests the chunking, not matmul
    # rounding that min-max normalisation would amplify on a nearly flat divergence.
    gen = torch.Generator().manual_seed(prob["seed"])
    rows = prob["groups"] * prob["group_size"]
    hidden = torch.randint(-8, 9, (rows, prob["width"], prob["hidden"]), generator=gen).float() / 4 * prob["scale"]
    head = torch.randint(-8, 9, (prob["vocab"], prob["hidden"]), generator=gen).float() / 4
    mask = prefix_mask(prob["lengths"], prob["width"])
    kw = dict(
        group_size=prob["group_size"],
        alpha=prob["alpha"],
        divergence=prob["divergence"],
        temperature=prob["temperature"],
    )
    expected = token_weights_from_logits(hidden @ head.T, mask, **kw)
    chunked = token_weights_from_hidden(hidden, head, mask, chunk_size=prob["chunk"], **kw)
    torch.testing.assert_close(chunked, expected, rtol=1e-5, atol=1e-6)


def test_lm_head_module_and_weight_matrix_agree():
    head = torch.nn.Linear(6, 30, bias=False)
    hidden, mask = torch.randn(6, 9, 6), prefix_mask([9, 4, 7, 9, 9, 2], 9)
    a = token_weights_from_hidden(hidden, head, mask, group_size=3, alpha=0.7, chunk_size=4)
    b = token_weights_from_hidden(hidden, head.weight, mask, group_size=3, alpha=0.7, chunk_size=2)
    torch.testing.assert_close(a, b)


def logits_of(probs: list[float]) -> list[float]:
    return [math.log(p) for p in probs]


def test_hand_computed_kl_weights():
    # One group of 2 completions, vocabulary of 2, 3 positions; completion 2 ends after position 1.
    logits = torch.tensor(
        [
            [logits_of([0.5, 0.5]), logits_of([0.8, 0.2]), logits_of([0.8, 0.2])],
            [logits_of([0.5, 0.5]), logits_of([0.2, 0.8]), logits_of([0.3, 0.7])],  # last row: finished → uniform
        ]
    )
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    # position 0: identical rows → 0. position 1: m = (.5,.5), KL = .8 ln 1.6 + .2 ln .4 for both rows.
    d1 = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    # position 2: rows (.8,.2) and uniform (.5,.5): m = (.65,.35).
    d2 = 0.5 * (
        (0.8 * math.log(0.8 / 0.65) + 0.2 * math.log(0.2 / 0.35))
        + (0.5 * math.log(0.5 / 0.65) + 0.5 * math.log(0.5 / 0.35))
    )
    w2 = 1 + 0.7 * d2 / d1  # the paper's w = 1 + α·norm with its α = 0.7
    w = token_weights_from_logits(logits, mask, group_size=2, alpha=0.7)
    torch.testing.assert_close(w, torch.tensor([[1.0, 1.7, w2], [1.0, 1.7, 0.0]]), rtol=1e-5, atol=1e-6)


def released_code_weights(logits, mask, group_size, max_weight):
    """The released TW-GRPO `compute_token_importance_kl_logs_uniform`, written out from its formula."""
    per_logps = torch.log_softmax(logits, dim=-1)
    rows, length, vocab = per_logps.shape
    grouped = per_logps.view(rows // group_size, group_size, length, vocab)
    uniform = torch.full_like(grouped, -math.log(vocab))
    m = mask.view(rows // group_size, group_size, length, 1)
    masked = torch.where(m == 1, grouped, uniform)
    mean = masked.mean(dim=1, keepdim=True)
    diff = torch.clamp(mean - masked, -11.0, 11.0)
    token_kl = (torch.exp(diff) - diff - 1).sum(dim=-1).mean(dim=1)
    lo = token_kl.min(dim=1, keepdim=True).values
    hi = token_kl.max(dim=1, keepdim=True).values
    norm = (token_kl - lo) / (hi - lo + 1e-8)
    weights = 1.0 + (max_weight - 1.0) * norm
    return weights.repeat_interleave(group_size, dim=0) * mask


def test_reference_divergence_matches_released_formula():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5, 11, generator=gen) * 3
    # first row of each group runs to the end, so every position is valid (the released code min-maxes all)
    mask = prefix_mask([5, 2, 3, 5, 5, 1], 5)
    # the paper's α = 0.7 is the released code's max_weight 1.7 (its `--alpha 1.70`)
    ours = token_weights_from_logits(logits, mask, group_size=3, alpha=0.7, divergence="reference")
    torch.testing.assert_close(ours, released_code_weights(logits, mask, 3, 1.7), rtol=1e-5, atol=1e-6)


def test_reference_clamp_bounds_each_vocabulary_entry():
    # Two peaked rows disagreeing by far more than 11 nats: each entry contributes at most e^11 − 12.
    logits = torch.tensor([[[100.0, 0.0, 0.0]], [[0.0, 100.0, 0.0]]])
    mask = torch.ones(2, 1, dtype=torch.long)
    # single position → flat → weight 1; the value itself is checked through the two-position case
    assert token_weights_from_logits(logits, mask, 2, 0.7, divergence="reference").tolist() == [[1.0], [1.0]]
    two = torch.cat([logits, torch.zeros(2, 1, 3)], dim=1)
    w = token_weights_from_logits(two, torch.ones(2, 2, dtype=torch.long), 2, 0.7, divergence="reference")
    assert w[:, 0].tolist() == pytest.approx([1.7, 1.7]) and w[:, 1].tolist() == [1.0, 1.0]


def test_finished_positions_use_uniform_and_ignore_their_logits():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 9, generator=gen)
    mask = prefix_mask([6, 3, 6, 2], 6)
    base = token_weights_from_logits(logits, mask, group_size=2, alpha=0.7)
    changed = logits.clone()
    changed[1, 3:] = torch.randn(3, 9, generator=gen) * 10  # logits after row 1's end
    torch.testing.assert_close(token_weights_from_logits(changed, mask, group_size=2, alpha=0.7), base)
    # replacing them with an explicit uniform row (equal logits) and unmasking gives the same weights
    uniform = logits.clone()
    uniform[1, 3:] = 0.0
    unmasked = mask.clone()
    unmasked[1] = 1
    w = token_weights_from_logits(uniform, unmasked, group_size=2, alpha=0.7)
    torch.testing.assert_close(w * mask, base)


def test_positions_where_the_whole_group_finished_get_zero_weight():
    mask = prefix_mask([2, 3, 5, 5], 5)
    w = token_weights_from_logits(torch.randn(4, 5, 7), mask, group_size=2, alpha=0.7)
    assert (w[:2, 3:] == 0).all() and (w[mask.bool()] >= 1).all()


def test_flat_divergence_gives_neutral_weights():
    # every position has the same group of distributions → all divergences equal → weight 1
    row = torch.randn(2, 1, 13).expand(2, 7, 13)
    mask = torch.ones(2, 7, dtype=torch.long)
    w = token_weights_from_logits(row.contiguous(), mask, group_size=2, alpha=0.7)
    assert w.tolist() == [[1.0] * 7] * 2


def test_single_valid_position_gives_neutral_weight():
    w = token_weights_from_logits(torch.randn(3, 4, 5), prefix_mask([1, 1, 0], 4), group_size=3, alpha=1.0)
    assert w.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_min_max_spans_one_to_one_plus_alpha():
    mask = prefix_mask([8, 8, 5, 8], 8)
    w = token_weights_from_logits(torch.randn(4, 8, 20) * 2, mask, group_size=4, alpha=0.7)
    valid = w[mask.bool()]
    assert valid.min().item() == pytest.approx(1.0) and valid.max().item() == pytest.approx(1.7)


def test_the_first_completion_token_keeps_weight_one():
    # Position 0 follows the same prompt in every completion of a group: identical distributions, divergence 0,
    # the group minimum. The paper's w = 1 + α·norm gives it 1 (the removed `(1+α)·norm` reading gave it 0).
    prompt_logits = torch.randn(1, 1, 20).expand(4, 1, 20)
    logits = torch.cat([prompt_logits, torch.randn(4, 5, 20) * 2], dim=1)
    w = token_weights_from_logits(logits, torch.ones(4, 6, dtype=torch.long), group_size=4, alpha=0.7)
    assert w[:, 0].tolist() == pytest.approx([1.0] * 4) and w.max().item() == pytest.approx(1.7)


def test_inverted_and_negative_weights():
    mask = torch.ones(4, 6, dtype=torch.long)
    logits = torch.randn(4, 6, 20) * 2
    normal = token_weights_from_logits(logits, mask, group_size=4, alpha=0.7)
    inverted = token_weights_from_logits(logits, mask, group_size=4, alpha=-0.3)
    # the same normalised divergence, mapped to [0.7, 1]: the most divergent position gets the least weight
    torch.testing.assert_close((inverted - 1) / -0.3, (normal - 1) / 0.7)
    with pytest.raises(ValueError, match="alpha must be ≥ −1"):
        token_weights_from_logits(logits, mask, group_size=4, alpha=-1.5)


@pytest.mark.parametrize("alpha", [0, 0.0, None])
def test_alpha_zero_disables_weighting(alpha):
    mask = prefix_mask([3, 1], 4)
    w = token_weights_from_logits(torch.randn(2, 4, 5), mask, group_size=2, alpha=alpha)
    assert torch.equal(w, mask.float())
    w = token_weights_from_hidden(torch.randn(2, 4, 3), torch.randn(5, 3), mask, group_size=2, alpha=alpha)
    assert torch.equal(w, mask.float())


def test_weights_are_detached():
    logits = torch.randn(4, 3, 6, requires_grad=True)
    w = token_weights_from_logits(logits, torch.ones(4, 3, dtype=torch.long), group_size=2, alpha=0.7)
    assert not w.requires_grad
    head = torch.nn.Linear(4, 6)
    w = token_weights_from_hidden(torch.randn(4, 3, 4, requires_grad=True), head, torch.ones(4, 3), 2, 0.7)
    assert not w.requires_grad


def test_weights_do_not_depend_on_other_groups_padding():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 9, generator=gen)
    alone = token_weights_from_logits(logits, prefix_mask([4, 3], 4), group_size=2, alpha=0.7)
    # the same group padded to 7 positions because another group in the batch is longer
    padded = torch.cat([logits, torch.randn(2, 3, 9, generator=gen)], dim=1)
    other = torch.randn(2, 7, 9, generator=gen)
    batch = token_weights_from_logits(torch.cat([padded, other]), prefix_mask([4, 3, 7, 6], 7), 2, 0.7)
    torch.testing.assert_close(batch[:2, :4], alone)


def test_bad_group_size_and_options_are_rejected():
    mask = torch.ones(3, 2)
    with pytest.raises(ValueError, match="groups of 2"):
        token_weights_from_logits(torch.randn(3, 2, 4), mask, group_size=2, alpha=0.7)
    with pytest.raises(ValueError, match="divergence"):
        token_weights_from_logits(torch.randn(3, 2, 4), mask, group_size=3, alpha=0.7, divergence="js")
    with pytest.raises(ValueError, match="chunk_size"):
        token_weights_from_hidden(torch.randn(3, 2, 4), torch.randn(5, 4), mask, 3, 0.7, chunk_size=0)


def test_weight_stats_uniform_and_concentrated():
    mask = prefix_mask([4, 2], 4)
    stats = weight_stats(mask.float(), mask)
    assert stats == {"mean": 1.0, "max": 1.0, "entropy": pytest.approx(1.0)}
    w = torch.tensor([[1.0, 1.0, 1.0, 3.0], [1.0, 1.0, 0, 0]])
    stats = weight_stats(w, mask)
    assert stats["max"] == 3.0 and stats["mean"] == pytest.approx(8 / 6) and stats["entropy"] < 1.0


# ---------------------------------------------------------------------------------------------------------
# the released path's gradient through the weights, chunked (issue 29.4) vs the whole (B·G, L, V) graph


def released_objective(advantages, ref, beta):
    """The released code's weight-dependent terms: Σ m·(−A + β·kl)·w + Σ m·β·(w − 1)·kl, with w and kl differentiable."""

    def objective(w, logps):
        m = (w != 0).float()
        kl = torch.exp(ref - logps) - (ref - logps) - 1
        return ((-advantages[:, None] + beta * kl.detach()) * (w - w.detach()) * m).sum() + (
            beta * (w.detach() - 1.0) * kl * m
        ).sum()

    return objective


@pytest.mark.slow  # training maths on torch graphs: seconds per property
@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from(["kl", "reference"]),
    st.integers(1, 5),
    st.sampled_from([1.0, 0.7]),
    st.lists(st.integers(1, 9), min_size=6, max_size=6),
)
def test_chunked_gradient_through_the_weights_equals_the_whole_graph(seed, divergence, chunk, temperature, lengths):
    gen = torch.Generator().manual_seed(seed)
    rows, width, vocab, size = 6, 9, 23, 5
    hidden = (torch.randn(rows, width, size, generator=gen, dtype=torch.float64) * 2).requires_grad_()
    head = torch.nn.Linear(size, vocab, bias=False).double()
    mask = prefix_mask(lengths, width)
    ids = torch.randint(0, vocab, (rows, width), generator=gen)
    objective = released_objective(torch.randn(rows, generator=gen, dtype=torch.float64), torch.randn(rows, width), 0.1)
    params = [hidden, head.weight]

    logits = head(hidden)
    logps = torch.log_softmax(logits.float() / temperature, -1).gather(-1, ids[..., None])[..., 0]
    w = token_weights_with_grad(logits, mask, 3, 0.7, divergence=divergence, temperature=temperature)
    full = objective(w, logps)
    expected = torch.autograd.grad(full, params, allow_unused=True, materialize_grads=True)

    chunked = weighted_objective_with_grad(
        hidden, head, mask, ids, 3, 0.7, objective, chunk_size=chunk, divergence=divergence, temperature=temperature
    )
    got = torch.autograd.grad(chunked, params, allow_unused=True, materialize_grads=True)
    assert chunked.item() == pytest.approx(full.item(), rel=1e-5, abs=1e-6)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
