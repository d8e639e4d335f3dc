"""The LLM judge of the official protocols that score with one (MMVU: every answer; TempCompass: captioning and
replies its rules cannot read): any OpenAI-compatible server (`--judge-model`, `--judge-api-base`).

The benchmark module says what to ask and how to read the reply (`OfficialProtocol.score`); this module
asks. Judgements are kept twice, so nothing is asked twice:

    RUN/judge.jsonl   every question asked and its reply, appended and fsync'd before the reply is used —
                      a killed run loses no judgement, and the resumed run (or a rerun of a failed item with
                      the same output) finds it here instead of asking again;
    samples.jsonl     each item's line carries the judgements its score rests on (messages, settings, reply),
                      so `twgrpo eval rescore` re-reads them without any server.

A question's key is the judge model, the messages, the settings and the attempt number (TempCompass re-asks an
unreadable reply). The key comes from the same place as the backend's (`--judge-api-key`, else
`OPENAI_API_KEY`), is never written and is scrubbed from messages. A judge that cannot be reached, or does not
serve the model, stops the run before its first item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twgrpo_data.benchmarks.facts import Ask
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.jsonl_log import append_jsonl, cut_torn_tail, read_jsonl_log
from twgrpo_data.prompts import short_hash

from .backends.base import one_line, request_seed
from .backends.openai_backend import check_served, openai_client

JUDGEMENTS = "judge.jsonl"


class JudgeError(TwgrpoError):
    """The judge could not be asked (server error after retries): the item fails and is retried on resume."""


def judgement_key(model: str, messages: list[dict[str, str]], params: dict[str, Any], attempt: int) -> str:
    return short_hash([model, messages, params, attempt])


@dataclass
class JudgeSettings:
    """Where the judge is and how to reach it (`api_key` is a secret: redacted in config.json)."""

    model: str
    api_base: str
    api_key: str | None = None
    timeout: float = 120.0
    max_retries: int = 5

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "api_base": self.api_base,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }


class Judge:
    """Asks an OpenAI-compatible server, remembering every judgement in `cache_path` (thread-safe).

    Example:
        >>> judge = Judge(JudgeSettings("gpt-4o", "http://127.0.0.1:8001/v1"), Path("runs/mmvu/judge.jsonl"))  # doctest: +SKIP
        >>> judge.ask([{"role": "user", "content": "Correct?"}], {"max_tokens": 8})  # doctest: +SKIP
    """

    def __init__(self, settings: JudgeSettings, cache_path: Path | None = None) -> None:
        self.settings = settings
        self.client = openai_client(settings.api_base, settings.api_key, settings.timeout, settings.max_retries)
        check_served(
            self.client,
            settings.api_base,
            settings.model,
            what="--judge-model",
            model_option="--judge-model",
            base_option="--judge-api-base",
            timeout=settings.timeout,
        )
        self.cache_path = cache_path
        if cache_path is not None:
            cut_torn_tail(cache_path)  # a line cut short by a kill: its question is asked again, appended whole
        self.cache = read_judgements(cache_path) if cache_path is not None else {}
        self.asked = 0  # questions sent to the server by this process (cached ones are not)
        self._lock = threading.Lock()
        self._asking: dict[str, threading.Lock] = {}

    def ask(self, messages: list[dict[str, str]], params: dict[str, Any], attempt: int = 0) -> str:
        """The judge's reply to `messages` with the benchmark's `params` — from the cache when it was asked
        before. A server error (after the client's retries) raises `JudgeError`."""
        key = judgement_key(self.settings.model, messages, params, attempt)
        with self._lock:
            if key in self.cache:
                return self.cache[key]
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:  # two items of a batch with the same question: the second waits for the first's reply
            with self._lock:
                if key in self.cache:
                    return self.cache[key]
            reply = self._ask_server(messages, params, attempt, key)
            with self._lock:
                self.asked += 1
                self.cache[key] = reply
                self._asking.pop(key, None)
        return reply

    def _ask_server(self, messages: list[dict[str, str]], params: dict[str, Any], attempt: int, key: str) -> str:
        """One chat completion; its question and reply are appended to the cache file before they are used."""
        try:
            resp = self.client.chat.completions.create(
                model=self.settings.model, messages=messages, seed=request_seed(attempt, key), **params
            )
        except Exception as exc:  # noqa: BLE001 — after the client's own retries
            raise JudgeError(f"the judge at {self.settings.api_base} failed: {one_line(exc)}") from None
        reply = (resp.choices[0].message.content if resp.choices else None) or ""
        if self.cache_path is not None:
            row = {"key": key, "model": self.settings.model, "messages": messages, "params": params, "attempt": attempt}
            with self._lock:
                append_jsonl(self.cache_path, [{**row, "reply": reply}])
        return reply

    def close(self) -> None:
        self.client.close()


def read_judgements(path: Path) -> dict[str, str]:
    """`key → reply` of a run's judge.jsonl ({} when there is none); a line cut short by a kill is ignored."""
    if not path.is_file():
        return {}
    rows, _ = read_jsonl_log(path)
    return {row["key"]: row["reply"] for row in rows}


@dataclass
class Recorder:
    """An `Ask` for one item that keeps what was asked and answered (for the item's sample line)."""

    ask_judge: Ask
    judgements: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, messages: list[dict[str, str]], params: dict[str, Any], attempt: int = 0) -> str:
        reply = self.ask_judge(messages, params, attempt)
        self.judgements.append({"messages": messages, "params": params, "attempt": attempt, "reply": reply})
        return reply


class Replay:
    """An `Ask` that answers from an item's recorded judgements only (`twgrpo eval rescore`)."""

    def __init__(self, judgements: Iterable[dict[str, Any]] | None) -> None:
        self.replies = {
            short_hash([j["messages"], j["params"], j.get("attempt", 0)]): j["reply"] for j in judgements or ()
        }

    def __call__(self, messages: list[dict[str, str]], params: dict[str, Any], attempt: int = 0) -> str:
        reply = self.replies.get(short_hash([messages, params, attempt]))
        if reply is None:
            raise JudgeError("a judgement this score needs is not in the sample's line; re-run the evaluation")
        return reply
