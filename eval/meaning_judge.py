"""The LLM meaning verifier of QAI (issue 30): does a wrong option mean the same as the answer?

`twgrpo_data.qai.same_meaning` defines the interface and the local verifier, which sees equal text, inflection and
misspellings but no synonyms. This verifier asks any OpenAI-compatible chat server — through the `openai`
evaluation backend, so the server check, retries, concurrency and key handling are the evaluation's own (the
key comes from `api_key` or `OPENAI_API_KEY` and is never recorded) — whether each wrong option says the same
as the answer, after the local checks. A reply that is neither yes nor no, or a failed request, stops the
conversion with one line: an unknown verdict must not become a gold option.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.prompts import Prompt
from twgrpo_data.qai.same_meaning import LexicalVerifier, Verdict

from .backends.base import PixelBudget, Request, SamplingSettings
from .backends.openai_backend import OpenAIBackend

SYSTEM = (
    "You check multiple-choice questions about videos. Two answer options mean the same when one of them is a "
    "correct answer to the question exactly when the other one is (a paraphrase, a synonym, a misspelling)."
)
TEMPLATE = (
    "Question: {question}\nOption 1: {answer}\nOption 2: {option}\n"
    "Do option 1 and option 2 mean the same as answers to this question? Reply with one word: yes or no."
)
# greedy decoding, a one-word reply; no video, so the pixel budget is never used
SAMPLING = SamplingSettings(temperature=0.0, top_p=1.0, max_new_tokens=4, seed=0)


class LLMVerifier:
    """Asks an OpenAI-compatible server, for each wrong option the local checks pass, whether it means the
    same as the answer.

    Example:
        >>> verifier = LLMVerifier("Qwen/Qwen2.5-7B-Instruct", api_base="http://127.0.0.1:8000/v1")  # doctest: +SKIP
    """

    name = "llm"

    def __init__(self, model: str, *, api_base: str, api_key: str | None = None, concurrency: int = 8):
        self.model, self.api_base = model, api_base
        self.local = LexicalVerifier()
        self.backend = OpenAIBackend(
            model, SAMPLING, PixelBudget(0, 0), api_base=api_base, api_key=api_key, concurrency=concurrency
        )

    def judge(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[list[Verdict]]:
        out = self.local.judge(items)
        asks = [(r, k) for r, verdicts in enumerate(out) for k, v in enumerate(verdicts) if not v.same]
        requests = [
            Request(
                id=f"{r}-{k}",
                prompt=Prompt(
                    style="meaning_check",
                    text=TEMPLATE.format(question=items[r][0], answer=items[r][1], option=items[r][2][k]),
                    system=SYSTEM,
                    has_video=False,
                ),
            )
            for r, k in asks
        ]
        for (r, k), generation in zip(asks, self.backend.generate(requests)):
            option = items[r][2][k]
            word = (
                (generation.text or "").strip().split(maxsplit=1)[0].strip(".,!:;\"'").lower()
                if generation.text
                else ""
            )
            if generation.error is not None or word not in ("yes", "no"):
                problem = generation.error or f"reply {generation.text!r} is neither yes nor no"
                raise TwgrpoError(
                    f"meaning check: {self.model} at {self.api_base} gave no verdict on option {option!r} of "
                    f"question {items[r][0]!r}: {problem}"
                )
            out[r][k] = Verdict(option, word == "yes", f"{self.model}: {word}")
        return out

    def describe(self) -> dict[str, Any]:
        return {"verifier": self.name, "model": self.model, "api_base": self.api_base, "checks": ["local", "llm"]}

    def close(self) -> None:
        self.backend.close()
