"""TRL reward functions for TW-GRPO: soft or strict (binary) answer accuracy, and the format reward.

The scoring itself is `twgrpo_data.scoring` (one implementation shared with evaluation); this module only
adapts it to TRL's reward-function protocol: `f(prompts, completions, **dataset_columns) -> list[float]`,
where the dataset rows carry the gold letters in an `answer` column (see `twgrpo_train.data`). As in the
released TW-GRPO training script, the total reward is the unweighted sum accuracy + format ∈ [0, 2].

- soft accuracy: |P|/|G| if the predicted set P ⊆ gold set G, else 0 (the paper's multi-level reward);
- strict accuracy: 1 if P == G else 0 (the released code's `origin_accuracy`, the GRPO baseline);
- format: 1 if the completion is `<think>…</think><answer>…</answer>` (training variant of the check).

Answers are read as the released *training* reward reads them (`twgrpo_train`: the first `<answer>` block,
else the whole completion); the evaluation parsers (`twgrpo`, `raw`, `lenient`) can be chosen instead.
`tests/test_train_reward_released.py` checks both rewards against the released functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twgrpo_data.scoring import PARSERS, format_reward, parse_answer, parse_twgrpo_train, soft_reward, strict_reward

ACCURACY_KINDS = ("soft", "strict")
TRAIN_PARSERS = ("twgrpo_train", *PARSERS)
DEFAULT_PARSER = "twgrpo_train"
RewardFunc = Callable[..., list[float]]


def read_answer(text: str, parser: str = DEFAULT_PARSER) -> str:
    """The predicted answer string of one completion under a training parser (see `TRAIN_PARSERS`)."""
    return parse_twgrpo_train(text) if parser == "twgrpo_train" else parse_answer(text, parser)


def completion_text(completion: str | list[dict[str, Any]]) -> str:
    """The generated text of one TRL completion (a string, or a conversation whose last turn is ours)."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, list):  # structured content blocks
        return "".join(part.get("text", "") for part in content if part.get("type") == "text")
    return content


def accuracy_reward(kind: str = "soft", parser: str = DEFAULT_PARSER) -> RewardFunc:
    """A TRL reward function scoring each completion's parsed answer against the row's `answer` letters.

    `kind` "soft" gives partial credit |P|/|G| for a correct subset; "strict" is all-or-nothing. The
    function's `__name__` (`soft_accuracy` / `strict_accuracy`) names its column in TRL's logs.

    Example:
        >>> f = accuracy_reward("soft")
        >>> f(prompts=["q", "q"], completions=["<answer>A</answer>", "<answer>A,D</answer>"], answer=[["A", "C"]] * 2)
        [0.5, 0.0]
    """
    if kind not in ACCURACY_KINDS:
        raise ValueError(f"accuracy reward must be one of {ACCURACY_KINDS}, got {kind!r}")
    if parser not in TRAIN_PARSERS:
        raise ValueError(f"answer parser must be one of {TRAIN_PARSERS}, got {parser!r}")
    score = soft_reward if kind == "soft" else strict_reward

    def reward(prompts: list, completions: list, answer: Sequence[Sequence[str]], **_: Any) -> list[float]:
        return [score(read_answer(completion_text(c), parser), gold) for c, gold in zip(completions, answer)]

    reward.__name__ = f"{kind}_accuracy"
    return reward


def format_reward_func(prompts: list, completions: list, **_: Any) -> list[float]:
    """TRL reward: 1 for a `<think>…</think><answer>…</answer>` completion, else 0."""
    return [format_reward(completion_text(c)) for c in completions]


format_reward_func.__name__ = "format"


def build_reward_funcs(
    accuracy: str = "soft", parser: str = DEFAULT_PARSER, use_format: bool = True
) -> list[RewardFunc]:
    """The paper's reward: accuracy (soft for TW-GRPO, strict for the GRPO baseline) plus, optionally, format."""
    funcs = [accuracy_reward(accuracy, parser)]
    if use_format:
        funcs.append(format_reward_func)
    return funcs


def answer_metrics(
    completions: Sequence[Any], answers: Sequence[Sequence[str]], parser: str = DEFAULT_PARSER
) -> dict[str, float]:
    """Mean soft accuracy, strict accuracy and format rate of a batch of completions (each in [0, 1])."""
    texts = [completion_text(c) for c in completions]
    preds = [read_answer(t, parser) for t in texts]
    n = max(len(texts), 1)
    return {
        "soft_accuracy": sum(soft_reward(p, g) for p, g in zip(preds, answers)) / n,
        "accuracy": sum(strict_reward(p, g) for p, g in zip(preds, answers)) / n,
        "format_rate": sum(format_reward(t) for t in texts) / n,
    }
