"""Running real vLLM in tests: `twgrpo eval` in a subprocess (optionally under the engine spy) and vLLM's
OpenAI-compatible server on 127.0.0.1 (`vllm_server`, for any test that needs a served model)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cli_helpers import REPO, run_cli_subprocess

SPY = Path(__file__).with_name("engine_spy.py")
VIDEOS = REPO.parent / "shared" / "data" / "videos"
# `twgrpo eval` on the repo's MMVU-style sample (6 records on the 3 real videos), greedy, 16 frames at a small
# pixel budget (4–16 patches of 28² a frame: as many video tokens per pair of frames) and short answers.
VIDEO_RUN = [
    "eval",
    "--bench",
    "mmvu",
    "--data",
    str(REPO / "examples" / "eval_sample.json"),
    "--video-root",
    str(VIDEOS),
    "--temperature",
    "0",
    "--top-p",
    "1",
    "--max-new-tokens",
    "8",
    "--min-pixels",
    "3136",
    "--max-pixels",
    "12544",
    "--no-progress",
]

# Sampling settings the tiny model's generation_config carries in these tests (both non-default): every backend
# must apply them (HF `generate` does; vLLM's offline engine only when it is told — twgrpo tells it). A penalty
# this strong makes the random model's greedy answers differ from item to item (at 1.3 it repeats newlines), so
# comparing answers between runs and backends means something.
GENERATION_CONFIG = {"repetition_penalty": 4.0, "top_k": 7}
# vLLM's CPU engine for a tiny model: fp32 (what the CPU kernels and the transformers backend both run), no graph
# capture or compilation, and the model run inside the engine's process (`uni`; with VLLM_ENABLE_V1_MULTIPROCESSING=0
# from conftest the offline engine runs in twgrpo's own process): one process instead of three, which halves an
# engine's start on two cores. The server keeps vLLM's default process layout. KV cache: VLLM_CPU_KVCACHE_SPACE.
ENGINE = {"max_model_len": 2048, "dtype": "float32", "enforce_eager": True, "distributed_executor_backend": "uni"}
ENGINE_CLI = [
    "--max-model-len",
    "2048",
    "--dtype",
    "float32",
    "--backend-arg",
    "enforce_eager=true",
    "--backend-arg",
    "distributed_executor_backend=uni",
]
SERVER_CLI = ["--max-model-len", "2048", "--dtype", "float32", "--enforce-eager"]


def twgrpo(*args: str | os.PathLike, spy: Path | None = None) -> None:
    """Run `twgrpo ARGS` in a subprocess (each vLLM engine in its own process, as users run it), under the
    engine spy when `spy` names a record folder; a failure shows the command's stderr."""
    if spy is None:
        result = run_cli_subprocess(*args, cwd=REPO)
        code, stderr = result.code, result.stderr
    else:
        proc = subprocess.run(
            [sys.executable, str(SPY), str(spy), *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=600
        )
        code, stderr = proc.returncode, proc.stderr
    if code != 0:
        raise AssertionError(f"twgrpo {' '.join(map(str, args))} exited {code}:\n{stderr[-4000:]}")


def samples(run: Path) -> dict[str, dict]:
    """A run's samples.jsonl lines by id."""
    lines = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    return {line["id"]: line for line in lines}


@dataclass(frozen=True)
class Server:
    """A running vLLM server: its base URL, the model name it serves, and the spy's record folder (or None)."""

    url: str
    model: str
    spy: Path | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def vllm_server(
    model: Path, log: Path, *args: str, spy: Path | None = None, startup_s: float = 300
) -> Iterator[Server]:
    """vLLM's OpenAI-compatible server for `model` on 127.0.0.1 (a free port), as `vllm serve` runs it; yields a
    `Server` (base URL `http://127.0.0.1:PORT/v1`, served model name `str(model)`) and stops it on exit.

    `args` are more server options; `spy` records what its engine receives (`engine_spy.py`). The output
    goes to `log`, whose tail is shown if the server dies or is not up within `startup_s`.
    """
    port = _free_port()
    module = ["-m", "vllm.entrypoints.openai.api_server"]
    prefix = [str(SPY), str(spy), *module] if spy is not None else module
    command = [sys.executable, *prefix, "--model", str(model), "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("w") as out:
        # its own process group: vLLM's engine processes are stopped with it
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server not up after {startup_s:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield Server(f"{base}/v1", str(model), spy)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
