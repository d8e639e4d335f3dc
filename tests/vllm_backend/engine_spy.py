"""What reached vLLM's engine: run a command with every engine request recorded, and read the records back.

`python engine_spy.py RECORD_DIR ARGS…` runs `twgrpo ARGS…`, `python engine_spy.py RECORD_DIR -m MODULE ARGS…`
a module (e.g. `vllm.entrypoints.openai.api_server`), with vLLM's `InputProcessor.assign_request_id`
wrapped: both the offline `LLM` and the server's `AsyncLLM` call it once per request, on the
`EngineCoreRequest` they are about to hand the engine core — after the prompt was tokenized, the video decoded
(server) and processed by the model's HF processor, and the sampling parameters merged with the checkpoint's
`generation_config`. For each request the spy writes its prompt token ids, its sampling parameters and, per
video, the processed tensors (`pixel_values_videos`, `video_grid_thw`, `second_per_grid_ts`) to RECORD_DIR, so
a test checks what vLLM received rather than what twgrpo meant to send.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "seed")
VIDEO_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


@dataclass
class EngineRequest:
    """One request as the engine core received it."""

    prompt_token_ids: list[int]
    sampling: dict[str, Any]
    videos: list[dict[str, np.ndarray]]
    images: int  # image items (a server given frames as separate images would show them here)
    pixels_normalized: bool  # False: raw 0–255 values, rescaled and normalised by the model


def install(record_dir: Path) -> None:
    """Wrap `InputProcessor.assign_request_id` so that each request is written to `record_dir`."""
    from vllm.v1.engine.input_processor import InputProcessor

    record_dir.mkdir(parents=True, exist_ok=True)
    original_init, original_assign = InputProcessor.__init__, InputProcessor.assign_request_id
    counter = itertools.count()
    engine: dict[str, Any] = {}

    def __init__(self, vllm_config, *args, **kwargs) -> None:
        original_init(self, vllm_config, *args, **kwargs)
        # vLLM ≥ 0.30 may leave rescaling and normalising the pixels to the model ("on device")
        mm_config = getattr(vllm_config.model_config, "multimodal_config", None)
        engine["pixels_normalized"] = not getattr(mm_config, "mm_device_do_normalize", False)

    def assign_request_id(request) -> None:
        _write(record_dir, next(counter), request, engine)
        original_assign(request)

    InputProcessor.__init__ = __init__
    InputProcessor.assign_request_id = staticmethod(assign_request_id)


def _write(record_dir: Path, seq: int, request, engine: dict[str, Any]) -> None:
    videos, features = [], request.mm_features or []
    for feature in features:
        if feature.modality != "video":
            continue
        key = hashlib.sha256(feature.identifier.encode()).hexdigest()[:20]
        videos.append(key)
        path = record_dir / f"video-{key}.npz"
        if feature.data is not None and not path.exists():  # None: vLLM's cache already sent this video
            data = feature.data.get_data()
            np.savez(path, **{k: data[k].float().numpy() for k in VIDEO_FIELDS})
    params = request.sampling_params
    doc = {
        "prompt_token_ids": list(request.prompt_token_ids or []),
        "sampling": {k: getattr(params, k) for k in SAMPLING_FIELDS},
        "videos": videos,
        "images": sum(f.modality == "image" for f in features),
        **engine,
    }
    (record_dir / f"request-{os.getpid()}-{seq:05d}.json").write_text(json.dumps(doc))


def read_requests(record_dir: Path) -> list[EngineRequest]:
    """The recorded requests, in the order each process made them."""
    out = []
    for path in sorted(record_dir.glob("request-*.json")):
        doc = json.loads(path.read_text())
        videos = [dict(np.load(record_dir / f"video-{key}.npz")) for key in doc["videos"]]
        out.append(
            EngineRequest(doc["prompt_token_ids"], doc["sampling"], videos, doc["images"], doc["pixels_normalized"])
        )
    return out


def received_frames(request: EngineRequest, processor, index: int = 0) -> np.ndarray:
    """The uint8 frames (T, H, W, 3) behind a request's `pixel_values_videos`: Qwen2-VL's patching undone (the
    video processor cuts (T, 3, H, W) into temporal × spatial patches grouped by merge windows), and its
    normalisation where the processor applied it."""
    video, vp = request.videos[index], processor.video_processor
    t, h, w = (int(x) for x in video["video_grid_thw"].reshape(-1))
    tp, p, m = vp.temporal_patch_size, vp.patch_size, vp.merge_size
    x = video["pixel_values_videos"].reshape(t, h // m, w // m, m, m, 3, tp, p, p)
    x = x.transpose(0, 6, 5, 1, 3, 7, 2, 4, 8).reshape(t * tp, 3, h * p, w * p)
    if request.pixels_normalized:
        std, mean = (np.asarray(v).reshape(1, 3, 1, 1) for v in (vp.image_std, vp.image_mean))
        x = (x * std + mean) * 255
    return np.clip(np.rint(x), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def main(argv: list[str]) -> None:
    record_dir, *command = argv
    install(Path(record_dir))
    if command[0] == "-m":
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    else:
        from twgrpo_cli.app import main as twgrpo

        sys.argv = ["twgrpo", *command]
        twgrpo()


if __name__ == "__main__":
    main(sys.argv[1:])
