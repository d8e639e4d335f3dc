"""TW-GRPO token weights: how much each completion position matters, from the group's next-token distributions.

For one prompt with a group of G completions and a completion position t, let p_i be completion i's
next-token distribution at t (temperature-scaled softmax over the whole vocabulary V). A completion that has
already finished at t contributes the uniform distribution u = 1/V instead (as the released TW-GRPO code does).

Divergence d_t (one number per prompt and position):
- ``"kl"`` (default): the exact group-mean KL to the mixture, d_t = (1/G) Σ_i KL(p_i ‖ m) with
  m = (1/G) Σ_i p_i (the generalised Jensen–Shannon divergence, 0 ≤ d_t ≤ log G);
- ``"reference"``: the released code's estimator, d_t = (1/G) Σ_i Σ_v [e^δ − δ − 1] with
  δ = clamp(mean_j log p_j(v) − log p_i(v), −11, 11) summed uniformly over the vocabulary (an
  Itakura–Saito-like quantity, not a KL).

Weights: d is min-max normalised over the positions where at least one completion of the group is still
active, n_t = (d_t − min d) / (max d − min d + 1e-8), then w_t = 1 + α·n_t — the paper's mapping, with its
α (0.7 in the paper): w ∈ [1, 1 + α]. The released code takes the maximum weight 1 + α as its argument
(`--alpha 1.70` there is α = 0.7 here). The weight is shared by the G completions at that position and
multiplied by each completion's mask (0 after its end). A group whose divergence is flat (a single valid
position, or all equal within 1e-6 + 1e-5·|max|) has no preferred position and gets weight 1 everywhere.
``alpha`` 0 or None disables weighting (all ones): plain token-level GRPO. A negative α inverts the method
(the most informative positions get the smallest weight); below −1 weights turn negative, which is refused.

By default, unlike the released code, weights are computed without gradient (a fixed re-weighting of the
policy-gradient terms, not something the optimiser may change). For the released behaviour
(`detach_weights: false` in training), where gradients flow through the weights, `token_weights_with_grad`
keeps the whole graph of (B·G, L, V) logits, and `weighted_objective_with_grad` gives the same gradient from
hidden states chunk by chunk (it differentiates through the small (B, L) divergence first, then replays
each chunk of positions through the LM head under activation checkpointing).

`token_weights_from_logits` takes the (B·G, L, V) logits; `token_weights_from_hidden` computes the same
result from hidden states and the LM head in chunks of positions, so only a (G, chunk, V) slice of logits
ever exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch

Divergence = Literal["kl", "reference"]

DIVERGENCES = ("kl", "reference")
# The paper's α (w ∈ [1, 1 + α]); the released code's `--alpha 1.70` is its maximum weight 1 + α.
PAPER_ALPHA = 0.7
# The released code clamps per-entry log-ratios at ±11 before exponentiating.
REFERENCE_CLAMP = 11.0
_NORM_EPS = 1e-8
_FLAT_ATOL, _FLAT_RTOL = 1e-6, 1e-5


def _check(completion_mask: torch.Tensor, group_size: int, divergence: str, alpha: float | None) -> None:
    if group_size < 1 or completion_mask.shape[0] % group_size:
        raise ValueError(f"batch of {completion_mask.shape[0]} rows is not a whole number of groups of {group_size}")
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if alpha is not None and not alpha >= -1.0:
        raise ValueError(f"alpha must be ≥ −1 (weights 1 + alpha·norm would turn negative), got {alpha}")


def _group_divergence(
    logits: torch.Tensor,
    active: torch.Tensor,
    divergence: Divergence,
    temperature: float,
    lp_out: torch.Tensor | None = None,
    scratch: torch.Tensor | None = None,
) -> torch.Tensor:
    """(C,) divergence of one group from its (G, C, V) logits; finished rows (`~active`) count as uniform.

    `lp_out` and `scratch` are optional (G, C, V) fp32 buffers to reuse (the chunked path recycles two per
    group instead of allocating new ones per chunk); `scratch` may be `logits` itself, which is then overwritten.
    """
    group, vocab = logits.shape[0], logits.shape[-1]
    scaled = logits.float() if temperature == 1.0 else logits.float() / temperature
    lp = torch.log_softmax(scaled, dim=-1, out=lp_out)
    lp.masked_fill_(~active.unsqueeze(-1), -math.log(vocab))
    if divergence == "kl":
        log_mix = torch.logsumexp(lp, dim=0) - math.log(group)  # log m, (C, V)
        p = torch.exp(lp, out=scratch)
        return lp.sub_(log_mix).mul_(p).sum(-1).mean(0)  # (1/G) Σ_i Σ_v p_i (log p_i − log m)
    mean_lp = lp.mean(0)
    delta = lp.neg_().add_(mean_lp).clamp_(-REFERENCE_CLAMP, REFERENCE_CLAMP)  # mean log p − log p_i
    return torch.exp(delta, out=scratch).sub_(delta).sub_(1.0).sum(-1).mean(0)


def _group_divergence_differentiable(
    logits: torch.Tensor, active: torch.Tensor, divergence: Divergence, temperature: float
) -> torch.Tensor:
    """`_group_divergence` without in-place steps, so autograd can differentiate it (same formulas)."""
    vocab = logits.shape[-1]
    lp = torch.log_softmax(logits.float() / temperature, dim=-1)
    lp = torch.where(active.unsqueeze(-1), lp, torch.full_like(lp, -math.log(vocab)))
    if divergence == "kl":
        log_mix = torch.logsumexp(lp, dim=0) - math.log(lp.shape[0])
        return ((lp - log_mix) * lp.exp()).sum(-1).mean(0)
    delta = (lp.mean(0) - lp).clamp(-REFERENCE_CLAMP, REFERENCE_CLAMP)
    return (delta.exp() - delta - 1.0).sum(-1).mean(0)


def _weights_from_divergence(
    div: torch.Tensor, completion_mask: torch.Tensor, group_size: int, alpha: float
) -> torch.Tensor:
    """(B, L) divergences → (B·G, L) weights (min-max over each group's valid positions, mapped, masked)."""
    mask = completion_mask.bool()
    valid = mask.view(-1, group_size, mask.shape[-1]).any(dim=1)  # (B, L)
    d_max = div.masked_fill(~valid, -math.inf).amax(dim=1, keepdim=True)
    d_min = div.masked_fill(~valid, math.inf).amin(dim=1, keepdim=True)
    spread = d_max - d_min
    flat = ~(spread > _FLAT_ATOL + _FLAT_RTOL * d_max.abs())  # also catches no valid position
    norm = ((div - d_min) / (spread + _NORM_EPS)).clamp(0.0, 1.0)
    w = 1.0 + alpha * norm
    w = torch.where(flat | ~valid, torch.ones_like(w), w)
    return w.repeat_interleave(group_size, dim=0) * mask


def _group_lengths(completion_mask: torch.Tensor, group_size: int) -> list[int]:
    """Per group, one past the last position where any completion is active (0 for an empty group)."""
    valid = completion_mask.bool().view(-1, group_size, completion_mask.shape[-1]).any(dim=1)
    positions = torch.arange(1, valid.shape[1] + 1, device=valid.device)
    return (valid * positions).amax(dim=1).tolist()


def _weights_from_logits(logits, completion_mask, group_size, alpha, divergence, temperature, group_fn):
    _check(completion_mask, group_size, divergence, alpha)
    if not alpha:
        return completion_mask.float()
    mask = completion_mask.bool()
    div = torch.zeros(mask.shape[0] // group_size, mask.shape[1], device=logits.device)
    for b, length in enumerate(_group_lengths(completion_mask, group_size)):
        rows = slice(b * group_size, (b + 1) * group_size)
        div[b, :length] = group_fn(logits[rows, :length], mask[rows, :length], divergence, temperature)
    return _weights_from_divergence(div, completion_mask, group_size, alpha)


@torch.no_grad()
def token_weights_from_logits(
    logits: torch.Tensor,
    completion_mask: torch.Tensor,
    group_size: int,
    alpha: float | None,
    divergence: Divergence = "kl",
    temperature: float = 1.0,
) -> torch.Tensor:
    """TW-GRPO weights (B·G, L) from next-token logits (B·G, L, V) of B groups of `group_size` completions.

    `logits[r, t]` is the distribution from which completion token t of row r was sampled; rows are in group
    order (the G completions of a prompt are consecutive), `completion_mask` (B·G, L) is 1 on completion
    tokens. See the module docstring for the formulas. The result is detached and 0 where the mask is 0.

    Example:
        >>> logits = torch.randn(4, 6, 50); mask = torch.ones(4, 6, dtype=torch.long)
        >>> w = token_weights_from_logits(logits, mask, group_size=2, alpha=0.7)
        >>> w.shape, bool(((w >= 1) & (w <= 1.7)).all())
        (torch.Size([4, 6]), True)
    """
    return _weights_from_logits(logits, completion_mask, group_size, alpha, divergence, temperature, _group_divergence)


def token_weights_with_grad(
    logits: torch.Tensor,
    completion_mask: torch.Tensor,
    group_size: int,
    alpha: float | None,
    divergence: Divergence = "kl",
    temperature: float = 1.0,
) -> torch.Tensor:
    """`token_weights_from_logits` with the autograd graph kept: ∂w/∂logits flows, as in the released code.

    Holds the whole (B·G, L, V) log-softmax and its graph (the released path's memory): training uses
    `weighted_objective_with_grad`, whose gradient is checked against this one (tests, `make bench`).
    """
    return _weights_from_logits(
        logits, completion_mask, group_size, alpha, divergence, temperature, _group_divergence_differentiable
    )


@torch.no_grad()
def token_weights_from_hidden(
    hidden: torch.Tensor,
    lm_head: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    completion_mask: torch.Tensor,
    group_size: int,
    alpha: float | None,
    chunk_size: int = 32,
    divergence: Divergence = "kl",
    temperature: float = 1.0,
) -> torch.Tensor:
    """`token_weights_from_logits(lm_head(hidden), …)` computed `chunk_size` positions at a time.

    `hidden` (B·G, L, H) are the final hidden states at the positions whose outputs predict the completion
    tokens; `lm_head` is the output layer (a module, so DeepSpeed ZeRO-3 hooks gather its weight, or any
    callable, or a (V, H) weight matrix). With a weight matrix, two (G, chunk_size, V) fp32 buffers are
    recycled for every chunk, instead of several (B·G, L, V) tensors on the from-logits path; positions after
    a group's last active token are skipped.

    Example:
        >>> head = torch.nn.Linear(8, 50, bias=False); h = torch.randn(4, 6, 8)
        >>> mask = torch.ones(4, 6, dtype=torch.long)
        >>> a = token_weights_from_hidden(h, head, mask, group_size=2, alpha=0.7, chunk_size=4)
        >>> b = token_weights_from_logits(head(h), mask, group_size=2, alpha=0.7)
        >>> bool(torch.allclose(a, b, atol=1e-5))
        True
    """
    _check(completion_mask, group_size, divergence, alpha)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    if not alpha:
        return completion_mask.float()
    mask = completion_mask.bool()
    div = torch.zeros(mask.shape[0] // group_size, mask.shape[1], device=hidden.device)
    buffers: tuple[torch.Tensor, torch.Tensor] | None = None
    for b, length in enumerate(_group_lengths(completion_mask, group_size)):
        rows = slice(b * group_size, (b + 1) * group_size)
        for start in range(0, length, chunk_size):
            cols = slice(start, min(start + chunk_size, length))
            h = hidden[rows, cols]
            if isinstance(lm_head, torch.Tensor):
                if buffers is None:  # two flat fp32 buffers, recycled for every chunk of every group
                    size = group_size * min(chunk_size, hidden.shape[1]) * lm_head.shape[0]
                    buffers = tuple(torch.empty(size, dtype=torch.float32, device=hidden.device) for _ in range(2))
                shape = (h.shape[0], h.shape[1], lm_head.shape[0])
                logits_buf, lp_buf = (buf[: math.prod(shape)].view(shape) for buf in buffers)
                # a 2-D GEMM on the (copied, contiguous) chunk is markedly faster than a batched one on the view
                flat_out = logits_buf.view(-1, shape[-1]) if lm_head.dtype == torch.float32 else None
                logits = torch.mm(h.reshape(-1, h.shape[-1]).to(lm_head.dtype), lm_head.T, out=flat_out).view(shape)
                div[b, cols] = _group_divergence(
                    logits, mask[rows, cols], divergence, temperature, lp_out=lp_buf, scratch=logits_buf
                )
            else:
                logits = lm_head(h)
                scratch = logits if logits.dtype == torch.float32 and logits.is_contiguous() else None
                div[b, cols] = _group_divergence(logits, mask[rows, cols], divergence, temperature, scratch=scratch)
    return _weights_from_divergence(div, completion_mask, group_size, alpha)


def _chunk_divergence_and_logps(
    hidden: torch.Tensor,
    lm_head: Callable[[torch.Tensor], torch.Tensor],
    active: torch.Tensor,
    ids: torch.Tensor,
    divergence: Divergence,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(C,) divergence and (G, C) log-probs of the sampled tokens for one group's chunk of hidden states."""
    logits = lm_head(hidden)
    div = _group_divergence_differentiable(logits, active, divergence, temperature)
    logps = torch.log_softmax(logits.float() / temperature, dim=-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    return div, logps


def weighted_objective_with_grad(
    hidden: torch.Tensor,
    lm_head: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
    completion_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    group_size: int,
    alpha: float,
    objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    chunk_size: int = 32,
    divergence: Divergence = "kl",
    temperature: float = 1.0,
) -> torch.Tensor:
    """`objective(w, logps)` with its full gradient, never holding more than a (G, chunk_size, V) slice of logits.

    `w` are the token weights (B·G, L) of `lm_head(hidden)` *with* their graph (as `token_weights_with_grad`),
    `logps` (B·G, L) the temperature-scaled log-probabilities of `completion_ids`; `objective` maps them to a
    scalar (e.g. the released code's Σ −A·w·m / N). Returns a scalar equal in value to the objective whose
    gradient w.r.t. `hidden` and the LM head's parameters is the objective's.

    How: a no-grad pass computes the (B, L) divergence and the (B·G, L) log-probs chunk by chunk; the objective is
    differentiated w.r.t. those small tensors (through min-max normalisation and the weight mapping); then every
    chunk is replayed under activation checkpointing and contributes ⟨∂objective/∂d, d⟩ + ⟨∂objective/∂logps,
    logps⟩, whose gradient is the chain rule's. `lm_head` should be the output module (not its weight) under
    DeepSpeed ZeRO-3, so that its hooks gather the weight in the replayed chunks of the backward too.

    Example:
        >>> head = torch.nn.Linear(8, 50, bias=False); h = torch.randn(4, 6, 8, requires_grad=True)
        >>> mask, ids = torch.ones(4, 6, dtype=torch.long), torch.randint(0, 50, (4, 6))
        >>> f = lambda w, lp: (w * lp).sum()
        >>> chunked = weighted_objective_with_grad(h, head, mask, ids, 2, 0.7, f, chunk_size=4)
        >>> lp = torch.log_softmax(head(h), -1).gather(-1, ids[..., None])[..., 0]
        >>> full = f(token_weights_with_grad(head(h), mask, 2, 0.7), lp)
        >>> bool(torch.allclose(torch.autograd.grad(chunked, h)[0], torch.autograd.grad(full, h)[0], atol=1e-5))
        True
    """
    from torch.utils.checkpoint import checkpoint

    _check(completion_mask, group_size, divergence, alpha)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    head = (lambda h: h @ lm_head.T) if isinstance(lm_head, torch.Tensor) else lm_head
    mask = completion_mask.bool()
    rows_total, length = mask.shape
    spans = [
        (slice(b * group_size, (b + 1) * group_size), slice(start, min(start + chunk_size, n)))
        for b, n in enumerate(_group_lengths(completion_mask, group_size))
        for start in range(0, n, chunk_size)
    ]
    div = torch.zeros(rows_total // group_size, length, device=hidden.device)
    logps = torch.zeros(rows_total, length, device=hidden.device)
    with torch.no_grad():
        for rows, cols in spans:
            b = rows.start // group_size
            div[b, cols], logps[rows, cols] = _chunk_divergence_and_logps(
                hidden[rows, cols], head, mask[rows, cols], completion_ids[rows, cols], divergence, temperature
            )
    div.requires_grad_(True)
    logps.requires_grad_(True)
    with torch.enable_grad():
        weights = _weights_from_divergence(div, completion_mask, group_size, alpha) if alpha else mask.float()
        value = objective(weights, logps)
        grad_div, grad_logps = torch.autograd.grad(value, [div, logps], allow_unused=True)
    grad_div = torch.zeros_like(div) if grad_div is None else grad_div
    grad_logps = torch.zeros_like(logps) if grad_logps is None else grad_logps
    replay = hidden.sum() * 0.0  # connected to the graph even when no chunk carries gradient
    for rows, cols in spans:
        b = rows.start // group_size
        if not (grad_div[b, cols].any() or grad_logps[rows, cols].any()):
            continue
        chunk_div, chunk_logps = checkpoint(
            _chunk_divergence_and_logps,
            hidden[rows, cols],
            head,
            mask[rows, cols],
            completion_ids[rows, cols],
            divergence,
            temperature,
            use_reentrant=False,
        )
        replay = replay + (grad_div[b, cols] * chunk_div).sum() + (grad_logps[rows, cols] * chunk_logps).sum()
    return value.detach() + replay - replay.detach()


def weight_stats(weights: torch.Tensor, completion_mask: torch.Tensor) -> dict[str, float]:
    """Summary of token weights over completion tokens: mean, max and normalised entropy.

    Entropy is per completion, of its weights normalised to sum 1 over its tokens, divided by log(#tokens)
    (1 = uniform weighting, lower = concentrated on fewer tokens), averaged over completions with ≥ 2 tokens.
    """
    mask = completion_mask.bool()
    if not mask.any():
        return {"mean": float("nan"), "max": float("nan"), "entropy": float("nan")}
    values = weights[mask].float()
    w = weights.float() * mask
    q = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    ent = -(q * q.clamp_min(1e-30).log()).sum(-1)
    n = mask.sum(-1)
    rows = n >= 2
    entropy = (ent[rows] / n[rows].float().log()).mean().item() if rows.any() else float("nan")
    return {"mean": values.mean().item(), "max": values.max().item(), "entropy": entropy}
