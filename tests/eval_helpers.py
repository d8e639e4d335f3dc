"""Helpers for the eval tests: an answer-key backend (answers instantly from a table, so expected numbers are
known) and small record sets."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from twgrpo_data.formats import record_to_unified
from twgrpo_data.record import Record
from twgrpo_eval.backends import Backend, Generation, PixelBudget, SamplingSettings
from twgrpo_eval.runner import EvalConfig, run_eval

# text-only records stand for quick items here; a real run fails an item that has no video
SMALL = dict(frames=4, min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28, allow_text_only=True)


class AnswerKey(Backend):
    """Answers each id from a table, as `<think>…</think><answer>X</answer>`; can fail or be interrupted."""

    name = "answer-key"

    def __init__(self, answers: dict[str, str], *, interrupt_at_call: int | None = None, error: str | None = None):
        super().__init__("answer-key", SamplingSettings(), PixelBudget(1, 1))
        self.answers, self.interrupt_at_call, self.error = answers, interrupt_at_call, error
        self.seen: list[list[str]] = []
        self.fps: dict[str, float] = {}  # the frame rate each video request told the model

    def _generate(self, requests):
        self.seen.append([r.id for r in requests])
        self.fps.update({r.id: r.video.fps for r in requests if r.video is not None})
        if self.interrupt_at_call is not None and len(self.seen) == self.interrupt_at_call:
            raise KeyboardInterrupt  # the user pressing Ctrl-C while a batch is in flight
        if self.error:
            raise RuntimeError(self.error)
        return [Generation(text=f"<think>checking</think><answer>{self.answers[r.id]}</answer>") for r in requests]


def write_set(path: Path, records: list[Record]) -> Path:
    path.write_text(json.dumps([record_to_unified(r) for r in records], indent=1), encoding="utf-8")
    return path


def text_records(n: int) -> list[Record]:
    return [Record(f"q{i}", f"Question {i}?", ["red", "green", "blue"], ["A"] if i % 3 else ["A", "C"],
                   source="mmvu", meta={"category": "even" if i % 2 == 0 else "odd"}) for i in range(n)]


def run_with(tmp_path: Path, data: Path, backend: Backend, **kw) -> dict:
    config = EvalConfig(bench=kw.pop("bench", "mmvu"), model="answer-key", backend="transformers", data=str(data),
                        out=str(tmp_path / "run"), **{**SMALL, **kw})
    return run_eval(config, console=Console(file=io.StringIO()), progress=False,
                    backend_factory=lambda name, cfg: backend).results


def metrics(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("file", "run", "parser_reason")}
