"""Tests that need vLLM: they run in the second venv (`make test-vllm`) and are not collected elsewhere.

Every engine here serves the tiny Qwen2.5-VL of `twgrpo dev tiny-model` (text head_dim 64, which vLLM's CPU
attention needs) with a non-default `generation_config`, on the real videos in ../shared/data/videos.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from vllm_helpers import ENGINE_CLI, GENERATION_CONFIG, SERVER_CLI, VIDEO_RUN, Server, twgrpo, vllm_server

from twgrpo_data import installed_version
from twgrpo_eval.backends import VLLM_DISTRIBUTIONS

# by installed metadata, so that a folder on sys.path can never pass for the package
collect_ignore_glob = [] if installed_version(*VLLM_DISTRIBUTIONS) else ["test_*.py"]

# vLLM's CPU engine reserves this many GiB for its KV cache (else a share of the machine's memory), and the
# offline engine runs in the process that made it (see vllm_helpers.ENGINE); the tests' subprocesses inherit both.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


@pytest.fixture(scope="session")
def tiny_vl_model(tiny_model_dir, tmp_path_factory) -> Path:
    """`twgrpo dev tiny-model`'s Qwen2.5-VL with `GENERATION_CONFIG` written into its generation_config.json."""
    out = tmp_path_factory.mktemp("model") / "Qwen2.5-VL-tiny"
    shutil.copytree(tiny_model_dir, out)
    path = out / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **GENERATION_CONFIG}, indent=2))
    return out


@pytest.fixture(scope="module")
def served_tiny_model(tiny_vl_model, tmp_path_factory) -> Iterator[Server]:
    """vLLM's OpenAI-compatible server for `tiny_vl_model` on 127.0.0.1, one video per prompt; what its engine
    receives is recorded (`Server.spy`, see `engine_spy.py`)."""
    folder = tmp_path_factory.mktemp("server")
    # one video per prompt, as the offline engine; per-request pixel bounds (the run's) accepted
    video = ["--limit-mm-per-prompt", json.dumps({"video": 1, "image": 0}), "--trust-request-mm-kwargs"]
    with vllm_server(tiny_vl_model, folder / "server.log", *SERVER_CLI, *video, spy=folder / "spy") as server:
        yield server


@pytest.fixture(scope="session")
def offline_runs(tiny_vl_model, tmp_path_factory) -> dict[str, Path]:
    """`twgrpo eval --backend vllm` on the video set, greedy, as users run it: shard 1/2 stopped after one item
    (`--limit 1`) and resumed, shard 2/2, their `eval merge`, and the whole set on two data-parallel engines."""
    root = tmp_path_factory.mktemp("offline")
    args = [*VIDEO_RUN, "--model", tiny_vl_model, "--backend", "vllm", *ENGINE_CLI]
    twgrpo(*args, "--shard", "1/2", "--limit", "1", "--out", root / "shard1")
    twgrpo(*args, "--shard", "1/2", "--out", root / "shard1")
    twgrpo(*args, "--shard", "2/2", "--out", root / "shard2")
    twgrpo("eval", "merge", root / "shard1", root / "shard2", "--out", root / "merged")
    twgrpo(*args, "--dp", "2", "--out", root / "dp2")
    return {name: root / name for name in ("shard1", "shard2", "merged", "dp2")}
