"""`twgrpo eval --backend vllm` end to end on the CPU with the tiny Qwen2.5-VL and the real videos: results,
resume, shards + merge, data parallelism, greedy parity with the transformers backend, and the
`--protocol twgrpo-official` inputs as vLLM's engine received them (`engine_spy.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_spy import read_requests, received_frames
from vllm_helpers import ENGINE_CLI, GENERATION_CONFIG, REPO, VIDEO_RUN, VIDEOS, samples, twgrpo

from twgrpo_eval.rescore import rescore_log

pytestmark = pytest.mark.slow

# The frames TW-GRPO's released evaluation fed the model for this 128-frame, 25 fps CLEVRER video: 10 frames by
# its 2 fps rule, re-indexed to 16 (pinned against the vendored qwen-vl-utils rule in tests/test_eval_protocol.py).
CLEVRER_12176 = [0, 0, 14, 14, 28, 42, 42, 56, 56, 71, 85, 85, 99, 99, 113, 127]
OFFICIAL_PIXELS = (128 * 28 * 28, 196 * 28 * 28)  # the released scripts' per-frame pixel budget


def _results(run: Path) -> dict:
    doc = json.loads((run / "results.json").read_text())
    doc["run"].pop("session")  # this session's timings
    return doc


def _metrics(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("file", "run", "parser_reason")}


def test_each_vllm_run_is_complete_and_scored_as_rescore_scores_its_samples(offline_runs):
    for name in ("shard1", "shard2", "dp2"):
        run = offline_runs[name]
        results = json.loads((run / "results.json").read_text())
        assert _metrics(results) == _metrics(rescore_log(run / "samples.jsonl").summary()), name
        assert results["run"]["complete"] and results["n_failed"] == 0, name
        for line in samples(run).values():
            assert line["error"] is None and line["frames"] == 16 and line["usage"]["completion_tokens"] > 0
        backend = json.loads((run / "config.json").read_text())["sessions"][-1]["backend"]
        assert backend["vllm"] == "0.32.0" and backend["multimodal"] is True
        assert backend["engine_args"]["limit_mm_per_prompt"] == {"video": 1, "image": 0}
    config = json.loads((offline_runs["shard1"] / "config.json").read_text())
    assert [s["pending"] for s in config["sessions"]] == [1, 1]  # --limit 1, then the resumed rest
    assert config["sessions"][0]["backend"]["generation_config"] == {
        **GENERATION_CONFIG,
        "min_p": 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
    }


def test_two_data_parallel_engines_answer_as_one_engine_does(offline_runs):
    one_engine = {**samples(offline_runs["shard1"]), **samples(offline_runs["shard2"])}
    two = samples(offline_runs["dp2"])
    config = json.loads((offline_runs["dp2"] / "config.json").read_text())
    assert config["sessions"][0]["backend"]["data_parallel_size"] == 2
    assert {i: s["output"] for i, s in two.items()} == {i: s["output"] for i, s in one_engine.items()}


def test_merged_shards_equal_the_unsharded_run(offline_runs):
    merged, whole = offline_runs["merged"], offline_runs["dp2"]
    assert _results(merged) == _results(whole)
    assert list(samples(merged)) == list(samples(whole))  # the data file's order


@pytest.fixture(scope="module")
def transformers_run(tiny_vl_model, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("hf") / "run"
    twgrpo(*VIDEO_RUN, "--model", tiny_vl_model, "--backend", "transformers", "--dtype", "float32", "--out", run)
    return run


def test_greedy_answers_agree_with_the_transformers_backend(offline_runs, transformers_run):
    hf, vllm = samples(transformers_run), samples(offline_runs["merged"])
    assert list(hf) == list(vllm)
    # same frames and prompts reached both (see test_vllm_engine for the logits themselves)
    assert {i: s["prompt_hash"] for i, s in hf.items()} == {i: s["prompt_hash"] for i, s in vllm.items()}
    assert {i: s["frame_indices"] for i, s in hf.items()} == {i: s["frame_indices"] for i, s in vllm.items()}
    assert {i: s["parsed"] for i, s in hf.items()} == {i: s["parsed"] for i, s in vllm.items()}
    # the same tokens; vLLM's detokenizer holds back a trailing incomplete UTF-8 sequence, which HF decodes as
    # U+FFFD (the byte-level tiny vocabulary emits lone bytes)
    assert {i: s["output"].rstrip("\ufffd") for i, s in hf.items()} == {i: s["output"] for i, s in vllm.items()}
    assert len({s["output"] for s in vllm.values()}) >= 4  # answers that depend on the video and the question


@pytest.fixture(scope="module")
def official_run(tiny_vl_model, tmp_path_factory) -> tuple[Path, Path]:
    """`--protocol twgrpo-official` on the CLEVRER sample, its defaults untouched; the engine's requests recorded."""
    root = tmp_path_factory.mktemp("official")
    twgrpo(
        "eval",
        "--bench",
        "clevrer",
        "--data",
        REPO / "examples" / "eval_clevrer_sample.json",
        "--video-root",
        VIDEOS,
        "--model",
        tiny_vl_model,
        "--backend",
        "vllm",
        *ENGINE_CLI,
        # the replica asks for 4,096 new tokens (it refuses --max-new-tokens); the engine stops at its model
        # length (ENGINE_CLI: 2,048), ~260 tokens after the 1,783-token prompt, which keeps this test fast
        "--protocol",
        "twgrpo-official",
        "--no-progress",
        "--out",
        root / "run",
        spy=root / "spy",
    )
    return root / "run", root / "spy"


def test_official_protocol_frames_fps_and_pixels_reach_the_engine_as_pinned(official_run, tiny_vl_model):
    import decord
    from PIL import Image
    from transformers import AutoProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    run, spy = official_run
    lines = samples(run)
    assert all(line["frame_indices"] == CLEVRER_12176 for line in lines.values())
    requests = read_requests(spy)
    assert len(requests) == len(lines) and all(len(r.videos) == 1 for r in requests)
    frames = received_frames(requests[0], AutoProcessor.from_pretrained(tiny_vl_model))
    source = decord.VideoReader(str(VIDEOS / "video_12176.mp4"))
    height, width = smart_resize(*source[0].shape[:2], 28, *OFFICIAL_PIXELS)
    assert frames.shape == (16, height, width, 3)  # the pinned per-frame pixel budget
    for i in range(16):  # repeated exactly where the pinned indices repeat
        for j in range(16):
            assert (frames[i] == frames[j]).all() == (CLEVRER_12176[i] == CLEVRER_12176[j])
    distinct = sorted(set(CLEVRER_12176))
    decoded = source.get_batch(distinct).asnumpy()
    resized = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in decoded])
    for frame, index in zip(frames, CLEVRER_12176):  # each is the video's frame at its pinned index
        distance = np.abs(resized.astype(int) - frame.astype(int)).mean(axis=(1, 2, 3))
        assert distinct[int(distance.argmin())] == index and distance.min() < 4
    for request in requests:
        assert float(request.videos[0]["second_per_grid_ts"]) == 1.0  # 2 frames per grid step at 2.0 fps told


def test_official_protocol_sends_the_verbatim_prompt_and_the_checkpoints_generation_config(official_run, tiny_vl_model):
    from transformers import AutoTokenizer

    run, spy = official_run
    tokenizer = AutoTokenizer.from_pretrained(tiny_vl_model)
    data = json.loads((REPO / "examples" / "eval_clevrer_sample.json").read_text())
    for request, raw in zip(read_requests(spy), data):
        assert raw["problem"] in tokenizer.decode(request.prompt_token_ids)  # the file's own option lines
        sampling = request.sampling
        assert (sampling["temperature"], sampling["top_p"], sampling["max_tokens"]) == (0.1, 0.001, 4096)
        assert {k: sampling[k] for k in GENERATION_CONFIG} == GENERATION_CONFIG
    results = json.loads((run / "results.json").read_text())
    assert _metrics(results) == _metrics(rescore_log(run / "samples.jsonl").summary())
