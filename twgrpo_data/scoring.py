"""Answer parsing and per-item rewards, shared by evaluation and training (DESIGN §5).

The `twgrpo` parser and the set arithmetic reproduce TW-GRPO's released scorer exactly, quirks included
(case-sensitive, spaces removed, comma split, no punctuation normalisation), so that re-scoring its logs
gives its published numbers. `lenient` is ours: it forgives the formatting slips that make the strict
scorer count a right answer as wrong ("(A)", "A.", "a", "A and C", option text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PARSERS = ("twgrpo", "raw", "lenient")

#: An `<answer>…</answer>` block (its text may span lines): of a reply, or of a unified file's `solution`.
ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# TW-GRPO's fallback when there is no <answer> tag: the first "answer: B, C" anywhere (even inside <think>).
_ANSWER_WORD = re.compile(r"(?:answer|Answer|ANSWER)[:\s]+([A-Z](?:\s*,\s*[A-Z])*)")
_FORMAT_TRAIN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>[\s!]*$", re.DOTALL)
_FORMAT_EVAL = re.compile(
    r"^(?!.*<think>.*<think>)(?!.*<answer>.*<answer>)<think>.*?</think>\s*<answer>.*?</answer>$", re.DOTALL
)

# lenient parsing
_LETTER = r"\(?([A-Za-z])\)?"
_LETTER_LIST = re.compile(rf"^{_LETTER}(?:\s*(?:,|;|/|&|\band\b|\bor\b)\s*{_LETTER})*$", re.IGNORECASE)
_LONE_LETTER = re.compile(r"(?<![A-Za-z])([A-Za-z])(?![A-Za-z])")
_LETTER_WITH_TEXT = re.compile(r"^\(?([A-Z])\)?[.:)]\s*\S.*$", re.DOTALL)
_OPTION_WORD = re.compile(r"^(?:the\s+)?(?:option|choice)\s*\(?([A-Za-z])\)?\.?$", re.IGNORECASE)
_ANSWER_IS = re.compile(r"(?:answer|option)\s*(?:is|:)\s*\(?([A-Z](?:\s*(?:,|and)\s*[A-Z])*)\)?(?![A-Za-z])")


def parse_twgrpo(text: str) -> str:
    """TW-GRPO's `extract_answer`: first `<answer>` block, else the first 'answer: X[, Y]', else ''."""
    m = ANSWER_TAG.search(text)
    if m:
        return m.group(1).strip()
    m = _ANSWER_WORD.search(text)
    return m.group(1) if m else ""


def parse_twgrpo_train(text: str) -> str:
    """TW-GRPO's training reward reading: the first `<answer>` block, else the whole stripped output.

    Unlike `parse_twgrpo` (its evaluation reading) nothing outside the answer tags counts as an answer
    phrase: a completion that never closes `<answer>` is scored as a whole, which is what the released
    training reward credited. (Its `math_verify` attempt never matches letter golds: `parse` returns
    nothing for "<answer>A,B</answer>".)
    """
    m = ANSWER_TAG.search(text)
    return m.group(1).strip() if m else text.strip()


def parse_raw(text: str) -> str:
    """The whole stripped output, as TW-GRPO's zero-shot script scores it."""
    return text.strip()


def _normalise_text(s: str) -> str:
    return re.sub(r"[\s.,;:!?'\"]+", " ", s).strip().lower()


def is_letter_answer(answer: str) -> bool:
    """Whether `answer` is a clean letter answer ("B", "A,C", "A, C") as TW-GRPO's sets read it."""
    return all(len(part) == 1 and part.isupper() for part in answer_set(answer))


def parse_lenient(text: str, options: Sequence[str] | None = None) -> str:
    """TW-GRPO's reading when it is a clean letter answer, else the last `<answer>` block (else the text after
    `</think>`, else the whole output), read tolerantly.

    Understands "(A)", "A.", "a", "A and C", "A, C", "Option B", "B. <option text>", an answer phrase
    ("the answer is C") and — when `options` is given — the text of exactly one option. Returns canonical
    sorted letters "A,C", or the stripped candidate when nothing can be read from it. Starting from the
    `twgrpo` reading makes lenient accept everything the strict parser accepts (issue 28.5).
    """
    strict = parse_twgrpo(text)
    if is_letter_answer(strict):
        return ",".join(sorted(answer_set(strict)))
    blocks = ANSWER_TAG.findall(text)
    if blocks:
        candidate = blocks[-1]
    elif "</think>" in text:
        candidate = text.rsplit("</think>", 1)[1]
    else:
        candidate = text
    s = candidate.strip().strip("*").strip()
    s_core = s.rstrip(".").strip()
    if _LETTER_LIST.match(s_core):
        return ",".join(sorted({m.upper() for m in _LONE_LETTER.findall(s_core)}))
    m = _OPTION_WORD.match(s_core)
    if m:
        return m.group(1).upper()
    m = _LETTER_WITH_TEXT.match(s)
    if m:
        return m.group(1)
    if options:
        wanted = _normalise_text(s)
        hits = [i for i, opt in enumerate(options) if _normalise_text(opt) == wanted]
        if len(hits) == 1:
            return chr(ord("A") + hits[0])
    phrases = _ANSWER_IS.findall(s)
    if phrases:
        return ",".join(sorted(set(re.findall(r"[A-Z]", phrases[-1]))))
    return s


def parse_answer(text: str, parser: str = "twgrpo", options: Sequence[str] | None = None) -> str:
    """Extract the predicted answer string from a model output with the named parser."""
    if parser == "twgrpo":
        return parse_twgrpo(text)
    if parser == "raw":
        return parse_raw(text)
    if parser == "lenient":
        return parse_lenient(text, options)
    raise ValueError(f"unknown parser {parser!r}; expected one of {', '.join(PARSERS)}")


def answer_set(answer: str) -> set[str]:
    """TW-GRPO's set construction: remove spaces, split on commas, strip ('A,' → {'A', ''})."""
    return {part.strip() for part in answer.replace(" ", "").split(",")}


def gold_set(gold: str | Sequence[str]) -> set[str]:
    """Gold letters from a list, 'A,C' or '<answer>A,C</answer>'."""
    if isinstance(gold, str):
        m = ANSWER_TAG.search(gold)
        return answer_set(m.group(1).strip() if m else gold.strip())
    return set(gold)


def soft_reward(pred: str, gold: str | Sequence[str]) -> float:
    """|P|/|G| if P ⊆ G else 0 — the multi-answer partial credit of TW-GRPO (paper §3.3)."""
    p, g = answer_set(pred), gold_set(gold)
    return len(p) / len(g) if p <= g else 0.0


def strict_reward(pred: str, gold: str | Sequence[str]) -> float:
    """1 if the predicted set equals the gold set, else 0 (the 'fixed' binary reward)."""
    return float(answer_set(pred) == gold_set(gold))


def format_reward(text: str, mode: str = "train") -> float:
    """1 if the output is `<think>…</think><answer>…</answer>` with one of each tag, else 0.

    mode="train" is the training reward (text may precede `<think>`; trailing '!' and spaces allowed);
    mode="eval" is the evaluation script's stricter whole-string `format_score`.
    """
    if mode == "eval":
        return float(bool(_FORMAT_EVAL.match(text)))
    if mode != "train":
        raise ValueError(f"unknown format mode {mode!r}")
    stripped = text.strip()
    if stripped.count("<think>") > 1 or stripped.count("<answer>") > 1:
        return 0.0
    return float(bool(_FORMAT_TRAIN.search(stripped)))
