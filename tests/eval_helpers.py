"""Helpers for the eval tests: an answer-key backend (answers instantly from a table, so expected numbers are
known) and small record sets."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from twgrpo_data.io.unified_format import record_to_unified
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
    return [
        Record(
            f"q{i}",
            f"Question {i}?",
            ["red", "green", "blue"],
            ["A"] if i % 3 else ["A", "C"],
            source="mmvu",
            meta={"category": "even" if i % 2 == 0 else "odd"},
        )
        for i in range(n)
    ]


def run_with(tmp_path: Path, data: Path, backend: Backend, **kw) -> dict:
    config = EvalConfig(
        bench=kw.pop("bench", "mmvu"),
        model="answer-key",
        backend="transformers",
        data=str(data),
        out=str(tmp_path / "run"),
        **{**SMALL, **kw},
    )
    return run_eval(config, backend_factory=lambda name, cfg: backend).results


def metrics(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("file", "run", "parser_reason")}


class FakeOpenAIServer:
    """A local chat-completions endpoint (127.0.0.1 only): fails the first `fail` requests with 503, sleeps
    `delay` s each, holds every request after the first `hold_after` until `release` is set; `GET /v1/models`
    lists `models`; the Authorization header of every request is kept. Each request body is kept; the reply is
    `answer(body)` (default "<answer>A</answer>"). `echo_auth` makes it a hostile server that answers every
    completion with a 401 quoting the key it got."""

    def __init__(
        self,
        fail: int = 0,
        delay: float = 0.0,
        models: tuple[str, ...] = ("served-model",),
        answer=lambda body: "<answer>A</answer>",
        echo_auth: bool = False,
        hold_after: int | None = None,
    ):
        """`answer(request body)` gives each reply's content (deterministic: a function of the request)."""
        self.fail, self.delay, self.bodies, self.models, self.auth = fail, delay, [], models, []
        self.echo_auth = echo_auth
        self.hold_after, self.release = hold_after, threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.auth.append(self.headers.get("Authorization"))
                data = json.dumps(
                    {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in outer.models],
                    }
                ).encode()
                self.send_response(200 if self.path.endswith("/models") else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                outer.auth.append(self.headers.get("Authorization"))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                if outer.echo_auth:
                    data = json.dumps({"error": {"message": f"invalid key: {outer.auth[-1]}"}}).encode()
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if len(outer.bodies) <= outer.fail:
                    self.send_response(503)
                    self.send_header("retry-after-ms", "10")
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "overloaded"}}')
                    return
                if outer.hold_after is not None and len(outer.bodies) > outer.hold_after:
                    outer.release.wait(60)
                threading.Event().wait(outer.delay)
                completion = {
                    "id": "c",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": answer(body)},
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
                }
                data = json.dumps(completion).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeJudgeServer(FakeOpenAIServer):
    """A deterministic OpenAI-compatible judge on 127.0.0.1: MMVU's structured verdict (correct when the ground
    truth appears in the model's response), TempCompass's "Correct"/"Incorrect" (the ground truth's text in the
    prediction) and its caption judge (answers the multi-choice question with the option the caption names).
    `asked` counts each question (its user message)."""

    def __init__(self, model: str = "judge-model"):
        super().__init__(models=(model,), answer=judge_verdict)
        self.model = model

    @property
    def asked(self):
        from collections import Counter

        return Counter(body["messages"][-1]["content"] for body in self.bodies)


def judge_verdict(body: dict) -> str:
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "structured format" in system:  # MMVU
        truth = user.split("Ground Truth Answer: ", 1)[1].split("\n\n", 1)[0]
        response = user.split("Model Response to the Question: ", 1)[1]
        return json.dumps({"extracted_answer": response[:20], "correct": truth.lower() in response.lower()})
    if "Video Description:" in user:  # TempCompass captioning: the option the caption names
        caption = user.split("Video Description:")[-1].split("\nMulti-Choice Question:")[0].lower()
        options = user.rsplit("Multi-Choice Question:\n", 1)[1].strip().split("\n")[1:]
        named = next((o for o in options if o[3:].lower() in caption), "None of the choices are correct")
        return f"Reasoning: the caption says so.\nAnswer: {named}"
    truth = user.split("Ground-Truth Answer: ", 1)[1].split("\n", 1)[0]
    prediction = user.split("Model Prediction: ", 1)[1]
    return "Correct" if truth.split(". ")[-1].lower() in prediction.lower() else "Incorrect"


class ScriptBackend(Backend):
    """Answers each id with a given text (a function of the request, or a table) and keeps every prompt."""

    name = "script"

    def __init__(self, answer):
        super().__init__("script", SamplingSettings(), PixelBudget(1, 1))
        self.answer = answer
        self.prompts: dict = {}
        self.videos: dict = {}

    def _generate(self, requests):
        self.prompts.update({r.id: r.prompt for r in requests})
        self.videos.update({r.id: r.video for r in requests})
        answer = self.answer if callable(self.answer) else lambda r: self.answer[r.id]
        return [Generation(text=answer(r)) for r in requests]
