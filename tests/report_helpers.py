"""Helpers for the HTML report tests: real run folders made by the real runner on the sample videos, with a
backend that answers from a script (so right, wrong, failed and hostile outputs are known), and the hostile
strings a page must show as text."""

from __future__ import annotations

import json
from pathlib import Path

from paths import REPO, VIDEOS

from twgrpo_data.record import Record
from twgrpo_data.sources import open_input
from twgrpo_eval.backends import Backend, Generation, PixelBudget, SamplingSettings
from twgrpo_eval.runner import EvalConfig, run_eval

SAMPLE_DATA = REPO / "examples" / "eval_sample.json"
# each payload sets window.__pwned if it ever runs
HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    "</textarea><script>window.__pwned=3</script><textarea>",
    '<a href="javascript:window.__pwned=4" id="jslink">click me</a>',
    "</script><script>window.__pwned=5</script>",
    '"><svg onload="window.__pwned=6">',
    "<!-- \u2028\u2029 --><style>body{display:none}</style>",
]


class Scripted(Backend):
    """Answers each id with the given raw text; ids in `fail` get a backend error instead."""

    name = "scripted"

    def __init__(self, outputs: dict[str, str], fail: dict[str, str] | None = None):
        super().__init__("scripted", SamplingSettings(), PixelBudget(1, 1))
        self.outputs, self.fail = outputs, fail or {}

    def _generate(self, requests):
        return [
            Generation(error=self.fail[r.id])
            if r.id in self.fail
            else Generation(text=self.outputs.get(r.id, "<think>no idea</think><answer>A</answer>"))
            for r in requests
        ]


def sample_records() -> list[Record]:
    return open_input(SAMPLE_DATA).raise_or_skip(False).records


def make_run(
    out: Path,
    outputs: dict[str, str],
    *,
    fail: dict[str, str] | None = None,
    data: Path = SAMPLE_DATA,
    bench: str = "mmvu",
) -> Path:
    """A run folder written by `run_eval` over `data` with the sample videos and a scripted backend."""
    config = EvalConfig(
        bench=bench,
        model="scripted-model",
        backend="transformers",
        data=str(data),
        video_root=str(VIDEOS),
        out=str(out),
        frames=4,
        min_pixels=4 * 28 * 28,
        max_pixels=16 * 28 * 28,
        prompt="cot",
    )
    run_eval(
        config,
        backend_factory=lambda name, cfg: Scripted(outputs, fail),
    )
    return out


def mixed_outputs() -> tuple[dict[str, str], dict[str, str]]:
    """Outputs that make the sample set a mix: right, wrong, partly right multi-answer, unparsable, failed."""
    records = sample_records()
    outputs = {}
    for i, rec in enumerate(records):
        gold = ",".join(rec.answer)
        outputs[rec.id] = {
            0: f"<think>the weight reads {gold}</think><answer>{gold}</answer>",
            1: "<think>hmm</think><answer>E</answer>",
            2: f"<answer>{gold}</answer>",
            3: f"<think>at least one</think><answer>{rec.answer[0]}</answer>",
            4: "I cannot tell.",
        }.get(i, "<think>x</think><answer>A</answer>")
    fail = {records[-1].id: "backend: server returned 500"}
    return outputs, fail


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def status(row: dict) -> str:
    return "failed" if row.get("error") else "right" if row["strict"] == 1.0 else "wrong"
