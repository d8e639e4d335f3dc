"""Answer parsers and rewards: TW-GRPO's exact behaviour (quirks included) and the lenient parser."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twgrpo_data.metrics import Z95, clustered_stderr, mcnemar_exact, score_output, summarize, wilson_ci
from twgrpo_data.scoring import (
    answer_set,
    format_reward,
    parse_answer,
    parse_lenient,
    parse_twgrpo,
    soft_reward,
    strict_reward,
)


@pytest.mark.parametrize(
    "output, expected",
    [
        ("<think>hmm</think><answer> B </answer>", "B"),
        ("<answer>A</answer> later <answer>C</answer>", "A"),  # first block wins
        ("<think>the answer Based on the video</think> nothing", "B"),  # fallback grabs a capital of a word
        ("Answer: A, C", "A, C"),
        ("C", ""),  # bare letter, no tag, no 'answer'
        ("", ""),
    ],
)
def test_twgrpo_parser_matches_reference_extraction(output, expected):
    assert parse_twgrpo(output) == expected


@pytest.mark.parametrize(
    "pred, gold, reward",
    [
        ("A,C", "<answer>A,C</answer>", 1.0),
        ("C, A", ["A", "C"], 1.0),  # order-insensitive, spaces removed
        ("A", ["A", "C"], 0.5),
        ("A,A", ["A", "B"], 0.5),  # duplicates collapse
        ("A,B", ["A"], 0.0),  # a superset scores nothing
        ("A,", ["A"], 0.0),  # trailing comma makes an empty member
        ("a", ["A"], 0.0),  # case-sensitive
        ("A.", ["A"], 0.0),
        ("(A)", ["A"], 0.0),
        ("", ["A"], 0.0),
    ],
)
def test_soft_reward_reproduces_twgrpo_set_arithmetic(pred, gold, reward):
    assert soft_reward(pred, gold) == reward
    assert strict_reward(pred, gold) == float(reward == 1.0)


@pytest.mark.parametrize(
    "output, expected",
    [
        ("(A)", "A"),
        ("A.", "A"),
        ("a", "A"),
        ("A and C", "A,C"),
        ("c, a", "A,C"),
        ("<answer>B.</answer> then <answer>(D)</answer>", "D"),  # last block, where the first is no clean letter
        ("<answer>B</answer> then <answer>(D)</answer>", "B"),  # a clean first block: what the strict parser read
        ("<think>x</think> Option B", "B"),
        ("<answer>B. 5.0</answer>", "B"),
        ("The answer is C.", "C"),
    ],
)
def test_lenient_parser_understands_common_slips(output, expected):
    assert parse_lenient(output) == expected


def test_lenient_parser_matches_option_text_only_when_unique():
    assert parse_lenient("<answer>5.0</answer>", ["10.0", "5.0"]) == "B"
    assert parse_lenient("a cube", ["a sphere", "a cylinder"]) == "a cube"


def test_raw_parser_keeps_whole_output():
    assert parse_answer("  <answer>C</answer>\n", "raw") == "<answer>C</answer>"
    with pytest.raises(ValueError):
        parse_answer("A", "nope")


@pytest.mark.parametrize(
    "text, train, evalmode",
    [
        ("<think>a</think><answer>B</answer>", 1.0, 1.0),
        ("<think>a</think>\n<answer>B</answer>!", 1.0, 0.0),
        ("preamble <think>a</think><answer>B</answer>", 1.0, 0.0),
        ("<think>a</think><answer>B</answer><answer>C</answer>", 0.0, 0.0),
        ("<answer>B</answer>", 0.0, 0.0),
    ],
)
def test_format_reward_train_and_eval_modes(text, train, evalmode):
    assert format_reward(text) == train
    assert format_reward(text, "eval") == evalmode


@given(gold=st.sets(st.sampled_from("ABCDE"), min_size=1), pred=st.sets(st.sampled_from("ABCDE"), min_size=1))
def test_soft_reward_is_subset_share(gold, pred):
    r = soft_reward(",".join(sorted(pred)), sorted(gold))
    assert r == (len(pred) / len(gold) if pred <= gold else 0.0)
    assert 0.0 <= r <= 1.0
    assert answer_set(",".join(pred)) == pred


def test_summary_splits_single_multi_and_categories_and_counts_failures():
    items = [
        score_output("1", "<answer>A</answer>", ["A"], category="x"),
        score_output("2", "<answer>A</answer>", ["A", "B"], category="y"),
        score_output("3", None, ["B"], category="x", error="video missing: v.mp4"),
    ]
    s = summarize(items)
    assert s["n"] == 3 and s["n_failed"] == 1
    assert s["accuracy"] == pytest.approx(100 / 3, abs=1e-3)
    assert s["soft_accuracy"] == pytest.approx(150 / 3, abs=1e-3)
    assert s["single"]["n"] == 2 and s["multi"]["soft_accuracy"] == 50.0
    assert s["by_category"]["x"]["n"] == 2
    assert s["format_rate"] == 0.0


def test_wilson_interval_does_not_collapse_on_small_groups():
    lo, hi = wilson_ci(1.0, 5)
    assert hi == 100.0 and 50 < lo < 60  # 5 of 5: [56.55, 100], not [100, 100]
    lo, hi = wilson_ci(0.6, 100)
    assert lo == pytest.approx(50.20, abs=0.01) and hi == pytest.approx(69.06, abs=0.01)  # textbook values


def test_mcnemar_exact_counts_only_discordant_items():
    a = [True] * 10 + [False] * 2 + [True] * 5
    b = [False] * 10 + [True] * 2 + [True] * 5
    result = mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"]) == (10, 2)
    assert result["p_value"] == pytest.approx(0.038574, abs=1e-6)  # 2·P[Bin(12, ½) <= 2] = 2·79/4096
    assert mcnemar_exact(a, a)["p_value"] == 1.0


def _lmms_eval_clustered_stderr(scores, cluster_ids):
    """lmms-eval `clustered_stderr` (lmms_eval/api/metrics.py), reimplemented from its quoted formula:
    SE = sqrt(Var(s)/n + (1/n²) Σ_c Σ_{i≠j} (s_ic − s̄)(s_jc − s̄)), by the explicit double sum."""
    n = len(scores)
    mean = sum(scores) / n
    var = sum((s - mean) ** 2 for s in scores) / (n - 1)
    cross = 0.0
    for i in range(n):
        for j in range(n):
            if i != j and cluster_ids[i] == cluster_ids[j]:
                cross += (scores[i] - mean) * (scores[j] - mean)
    return math.sqrt(var / n + cross / n**2)


@given(
    st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0]), st.integers(0, 6)), min_size=2, max_size=40).filter(
        lambda xs: len({s for s, _ in xs}) > 1
    )
)
def test_clustered_stderr_is_lmms_evals(items):
    scores, clusters = [s for s, _ in items], [c for _, c in items]
    assert clustered_stderr(scores, clusters) == pytest.approx(_lmms_eval_clustered_stderr(scores, clusters))
    # one item per cluster: the plain standard error
    alone = clustered_stderr(scores, list(range(len(scores))))
    assert alone == pytest.approx(float(np.std(scores, ddof=1) / np.sqrt(len(scores))))


def test_video_mme_style_clusters_widen_the_interval_and_say_so():
    # 3 questions per video, answered alike within a video: 10 independent videos, not 30 items
    items = [
        score_output(f"{v}-{q}", "<answer>A</answer>" if v % 2 else "<answer>B</answer>", ["A"], cluster=str(v))
        for v in range(10)
        for q in range(3)
    ]
    clustered = summarize(items)
    plain = summarize([dataclasses.replace(i, cluster=None) for i in items])
    assert clustered["ci_method"] == "clustered" and plain["ci_method"] == "wilson"
    assert clustered["accuracy"] == plain["accuracy"] == 50.0
    low, high = clustered["accuracy_ci95"]
    se = _lmms_eval_clustered_stderr([float(i.strict) for i in items], [i.cluster for i in items])
    assert (low, high) == (round((0.5 - Z95 * se) * 100, 4), round((0.5 + Z95 * se) * 100, 4))
    assert high - low > plain["accuracy_ci95"][1] - plain["accuracy_ci95"][0]


def test_format_is_taken_on_the_stripped_output_as_twgrpo_did():
    assert score_output("1", "<think>x</think><answer>A</answer>\n", ["A"]).format == 1.0
    assert score_output("1", "  <think>x</think>\n<answer>A</answer>  ", ["A"]).format == 1.0


_pieces = st.sampled_from(
    ["<answer>", "</answer>", "<think>", "</think>", "A", "B", "C", ",", " ", "answer: ", "Answer: ", "(", ")", ".",
     "and", "a", "option", "\n", "The answer is "]
)  # fmt: skip


@given(output=st.lists(_pieces, max_size=12).map("".join), gold=st.sets(st.sampled_from("ABC"), min_size=1))
def test_lenient_accepts_everything_the_strict_parser_accepts(output, gold):
    gold = sorted(gold)
    strict = parse_answer(output, "twgrpo")
    lenient = parse_answer(output, "lenient")
    if strict_reward(strict, gold) == 1.0:
        assert strict_reward(lenient, gold) == 1.0, (output, strict, lenient)
    assert soft_reward(lenient, gold) >= soft_reward(strict, gold)
