"""The tiny offline Qwen2.5-VL / Qwen2 checkpoints load with the Auto classes and run video generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer  # noqa: E402
from transformers.video_utils import VideoMetadata  # noqa: E402

from twgrpo_eval.tiny_model import SPECIAL_TOKENS, TAG_TOKENS, build_tiny_text_model  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_tiny_model_is_a_small_qwen25vl(tiny_model_dir):
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    tok = AutoProcessor.from_pretrained(tiny_model_dir).tokenizer
    assert model.config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert model.config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert model.config.text_config.vocab_size >= len(tok)


def test_special_and_tag_tokens_are_single_tokens(tiny_model_dir):
    tok = AutoProcessor.from_pretrained(tiny_model_dir).tokenizer
    for t in SPECIAL_TOKENS + TAG_TOKENS:
        assert tok.tokenize(t) == [t]
    text = "<think>the cube moves</think><answer>A,C</answer>"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_chat_template_renders_qwen_video_prompt(tiny_model_dir):
    proc = AutoProcessor.from_pretrained(tiny_model_dir)
    msgs = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Why?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Why?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_video_prompt_generates_groups_with_real_fps(tiny_model_dir):
    proc = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    msgs = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Why?"}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    video = np.random.default_rng(0).integers(0, 255, (16, 60, 90, 3), dtype=np.uint8)
    inputs = proc(
        text=[text], videos=[video], video_metadata=[VideoMetadata(total_num_frames=16, fps=4.0)], return_tensors="pt"
    )
    # temporal patch 2 → 8 grid steps; second_per_grid_ts = 2 frames / 4 fps.
    assert inputs["video_grid_thw"][0, 0].item() == 8
    assert inputs["second_per_grid_ts"].tolist() == [0.5]
    n_video_tokens = int((inputs["input_ids"] == model.config.video_token_id).sum())
    assert n_video_tokens == int(inputs["video_grid_thw"].prod()) // 4
    out = model.generate(**inputs, max_new_tokens=5, do_sample=True, num_return_sequences=4)
    assert out.shape[0] == 4 and out.shape[1] > inputs["input_ids"].shape[1]


def test_text_model_has_vllm_friendly_head_dim(tmp_path):
    path = build_tiny_text_model(tmp_path / "Qwen2-tiny", head_dim=64)
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.head_dim == 64
    assert tok.tokenize("<answer>") == ["<answer>"]
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], model.config.vocab_size)


def test_dev_tiny_model_cli_writes_loadable_model(tmp_path):
    from cli_helpers import run_cli

    result = run_cli("dev", "tiny-model", tmp_path / "m", "--text-only")
    assert result.code == 0, result.stderr
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "m").config.model_type == "qwen2"
