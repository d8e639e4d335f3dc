"""`twgrpo eval` through real vLLM on the CPU with a tiny text-only Qwen2: the offline `vllm` backend (batching,
resume, parsing, data parallel) and the `openai` backend against vLLM's OpenAI-compatible server.

Sampling is random (temperature 1, top_p 1) but seeded per item, so every item's answer is the same whether it
is generated in a first run or a resumed one, by one engine or two, offline or through the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from eval_helpers import metrics, text_records, write_set

from twgrpo_data.scoring import parse_answer
from twgrpo_eval.rescore import rescore_log

REPO = Path(__file__).resolve().parents[2]
TWGRPO = str(Path(sys.executable).with_name("twgrpo"))
CPU_ENGINE = ["--max-model-len", "1024", "--dtype", "float32"]
PROTOCOL = [
    "--temperature",
    "1.0",
    "--top-p",
    "1.0",
    "--max-new-tokens",
    "12",
    "--parser",
    "lenient",
    "--batch-size",
    "4",
    "--no-progress",
    "--allow-text-only",
]  # text-only records on purpose
pytestmark = pytest.mark.slow


def _twgrpo(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([TWGRPO, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"twgrpo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def text_set(tmp_path_factory) -> tuple[Path, list]:
    records = text_records(9)
    return write_set(tmp_path_factory.mktemp("set") / "text.json", records), records


@pytest.fixture(scope="module")
def offline_run(tiny_text_model, text_set, tmp_path_factory) -> Path:
    """Five items, then the same command without --limit: the resumed run adds the other four."""
    data, _ = text_set
    run = tmp_path_factory.mktemp("offline") / "run"
    args = [
        "eval",
        "--bench",
        "mmvu",
        "--data",
        str(data),
        "--model",
        str(tiny_text_model),
        "--backend",
        "vllm",
        "--out",
        str(run),
        *PROTOCOL,
        *CPU_ENGINE,
        "--gpu-memory-utilization",
        "0.15",
        "--backend-arg",
        "enforce_eager=true",
    ]
    _twgrpo(*args, "--limit", "5")
    _twgrpo(*args)
    return run


def test_vllm_backend_resumes_and_scores_with_the_runs_parser(offline_run, text_set):
    _, records = text_set
    lines = _lines(offline_run)
    assert [line["id"] for line in lines] == [r.id for r in records]  # 5 + 4, none twice
    for line, record in zip(lines, records):
        assert line["error"] is None and 0 < line["usage"]["completion_tokens"] <= 12
        assert line["parsed"] == parse_answer(line["output"], "lenient", record.options)
    assert len({line["output"] for line in lines}) > 1  # seeded random sampling, different per item
    config = json.loads((offline_run / "config.json").read_text())
    assert [s["pending"] for s in config["sessions"]] == [5, 4]
    engine = config["sessions"][1]["backend"]
    assert engine["vllm"] == "0.32.0" and engine["engine_args"]["max_model_len"] == 1024
    assert engine["engine_args"]["enforce_eager"] is True and "limit_mm_per_prompt" not in engine["engine_args"]
    results = json.loads((offline_run / "results.json").read_text())
    assert metrics(results) == metrics(rescore_log(offline_run / "samples.jsonl").summary())
    assert results["n"] == 9 and results["run"]["complete"] is True


def test_data_parallel_engines_give_the_same_answers(offline_run, tiny_text_model, text_set, tmp_path):
    data, _ = text_set
    run = tmp_path / "dp"
    _twgrpo(
        "eval",
        "--bench",
        "mmvu",
        "--data",
        str(data),
        "--model",
        str(tiny_text_model),
        "--backend",
        "vllm",
        "--out",
        str(run),
        *PROTOCOL,
        *CPU_ENGINE,
        "--gpu-memory-utilization",
        "0.08",
        "--dp",
        "2",
        "--backend-arg",
        "enforce_eager=true",
    )
    assert json.loads((run / "config.json").read_text())["sessions"][0]["backend"]["data_parallel_size"] == 2
    assert {r["id"]: r["output"] for r in _lines(run)} == {r["id"]: r["output"] for r in _lines(offline_run)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tiny_text_model, tmp_path_factory):
    """vLLM's OpenAI-compatible server on 127.0.0.1, stopped at teardown."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vllm.entrypoints.openai.api_server",
                "--model",
                str(tiny_text_model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *CPU_ENGINE,
                "--gpu-memory-utilization",
                "0.15",
                "--enforce-eager",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not up after 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield f"{base}/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_openai_backend_against_vllm_server_matches_the_offline_engine(
    vllm_server, offline_run, tiny_text_model, text_set, tmp_path
):
    data, records = text_set
    run = tmp_path / "served"
    _twgrpo(
        "eval",
        "--bench",
        "mmvu",
        "--data",
        str(data),
        "--model",
        str(tiny_text_model),
        "--backend",
        "openai",
        "--api-base",
        vllm_server,
        "--concurrency",
        "3",
        "--out",
        str(run),
        *PROTOCOL,
    )
    lines = _lines(run)
    assert sorted(line["id"] for line in lines) == sorted(r.id for r in records)
    assert all(line["error"] is None for line in lines)
    assert {r["id"]: r["output"] for r in lines} == {r["id"]: r["output"] for r in _lines(offline_run)}
    results = json.loads((run / "results.json").read_text())
    assert metrics(results) == metrics(rescore_log(run / "samples.jsonl").summary())
