"""Differential test: our training rewards against the released TW-GRPO training rewards, run as released.

1,200 generated completions cover what a policy writes: tags missing or unclosed, several answer blocks,
lower-case letters, duplicates, spaces, "answer: X" inside the thinking, "The answer Depends…", truncation,
LaTeX that `math_verify` parses, single- and multi-answer gold. Our default reading (`twgrpo_train`) must
give the released reward on every one; the evaluation parser (`twgrpo`) is shown to differ, so the
generator really reaches the cases where the two readings part.
"""

from __future__ import annotations

import random

import pytest
from released_twgrpo_reward import accuracy_reward as released_soft
from released_twgrpo_reward import format_reward as released_format
from released_twgrpo_reward import origin_accuracy_reward as released_strict

from twgrpo_train.rewards import accuracy_reward, format_reward_func

N = 1200


def answer_text(rng: random.Random, gold: list[str]) -> str:
    letters = "ABCDE"
    kind = rng.randrange(8)
    if kind == 0:
        picked = rng.sample(gold, rng.randint(1, len(gold)))  # a correct subset (or all)
    elif kind == 1:
        picked = rng.sample(letters, rng.randint(1, 3))  # anything
    elif kind == 2:
        picked = [g.lower() for g in gold]  # lower case
    elif kind == 3:
        picked = gold + [gold[0]]  # duplicates
    elif kind == 4:
        picked = [f"({g})" for g in gold]  # punctuation
    elif kind == 5:
        picked = gold[:1] + [""]  # trailing comma
    elif kind == 6:
        return rng.choice(["", " ", "Depends", "none", "$A$", "\\boxed{B}", "A and C"])
    else:
        picked = list(gold)
    sep = rng.choice([",", ", ", " , ", ",  "])
    text = sep.join(picked)
    return rng.choice(["", " ", "\n"]) + text + rng.choice(["", " ", "\n", "."])


def completion(rng: random.Random, gold: list[str]) -> str:
    ans = answer_text(rng, gold)
    think = rng.choice(
        ["the ball moves", f"answer: {rng.choice('ABCD')} maybe", "The answer Depends on it", "answer: A, C", "hmm"]
    )
    shape = rng.randrange(10)
    if shape == 0:
        text = f"<think>{think}</think><answer>{ans}</answer>"
    elif shape == 1:
        text = f"<think>{think}</think>\n<answer>{ans}</answer>"
    elif shape == 2:
        text = ans  # tags missing
    elif shape == 3:
        text = f"<think>{think}</think> {ans}"  # answer outside tags
    elif shape == 4:
        other = answer_text(rng, gold)
        text = f"<think>{think}</think><answer>{ans}</answer><answer>{other}</answer>"  # several blocks
    elif shape == 5:
        text = f"<think>{think}</think><answer>{ans}"  # truncated: never closed
    elif shape == 6:
        text = f"<think>{think}"  # truncated inside the thinking
    elif shape == 7:
        text = f"<ANSWER>{ans}</ANSWER>"  # upper-case tags
    elif shape == 8:
        text = f"The answer is {ans}. <answer>{ans}</answer>!"
    else:
        text = f"<think>{think}</think><answer>{ans}</answer>" + rng.choice(["", " ", "!!", "\n"])
    return text


def cases(seed: int = 0) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(N):
        gold = sorted(rng.sample("ABCD", rng.choice([1, 1, 2, 2, 3])))
        out.append((completion(rng, gold), gold))
    return out


def released(func, texts: list[str], golds: list[list[str]]) -> list[float]:
    # the released script's columns: completions as [{"content": …}], solution "<answer>B,C</answer>"
    return func(
        completions=[[{"role": "assistant", "content": t}] for t in texts],
        solution=[f"<answer>{','.join(g)}</answer>" for g in golds],
    )


def ours(kind: str, parser: str, texts: list[str], golds: list[list[str]]) -> list[float]:
    return accuracy_reward(kind, parser)(
        prompts=[None] * len(texts), completions=[[{"role": "assistant", "content": t}] for t in texts], answer=golds
    )


@pytest.fixture(scope="module")
def generated():
    data = cases()
    texts, golds = [t for t, _ in data], [g for _, g in data]
    return texts, golds


@pytest.mark.parametrize(("kind", "reference"), [("soft", released_soft), ("strict", released_strict)])
def test_default_training_reward_equals_the_released_one(generated, kind, reference):
    texts, golds = generated
    expected = released(reference, texts, golds)
    got = ours(kind, "twgrpo_train", texts, golds)
    disagree = [(t, g, e, o) for t, g, e, o in zip(texts, golds, expected, got) if e != o]
    assert not disagree, f"{len(disagree)} of {N} disagree, e.g. {disagree[:3]}"
    # the cases are not trivial: rewards of every level occur
    assert {0.0, 1.0} <= set(expected) and (kind == "strict" or any(0 < e < 1 for e in expected))


def test_the_evaluation_parser_differs_on_these_cases(generated):
    texts, golds = generated
    expected = released(released_soft, texts, golds)
    got = ours("soft", "twgrpo", texts, golds)
    assert sum(e != o for e, o in zip(expected, got)) >= 50


def test_format_reward_equals_the_released_one(generated):
    texts, _ = generated
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    assert format_reward_func(prompts=[None] * N, completions=completions) == released_format(completions=completions)
