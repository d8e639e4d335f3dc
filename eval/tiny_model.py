"""Tiny random Qwen2.5-VL / Qwen2 checkpoints built offline, for tests and CPU smoke runs.

Nothing is downloaded: the byte-level BPE tokenizer is trained with `tokenizers` on a built-in corpus of
video-QA-like text, the weights are random, and everything is written with `save_pretrained` so that
`AutoProcessor.from_pretrained(out_dir)` and `AutoModelForImageTextToText.from_pretrained(out_dir)`
(or `AutoModelForCausalLM` for the text-only model) load it like a real Hub checkpoint.

Example:
    >>> from twgrpo_eval.tiny_model import build_tiny_model
    >>> path = build_tiny_model("runs/Qwen2.5-VL-tiny")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twgrpo_data.errors import require
from twgrpo_data.outputs import atomic_path

# Special tokens in Qwen2.5's order, so ids follow the same layout as the real vocabulary's tail.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# The reasoning tags the TW-GRPO prompt asks for; single (non-special) tokens so a tiny model can emit them
# in one step and `skip_special_tokens=True` still keeps them in the decoded text.
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# Qwen2.5-VL's chat template (same rendered format: default system turn, vision placeholders, generation
# prompt), written as Jinja for both the tokenizer and the processor.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Enough text for the BPE trainer to learn merges for the words the QA prompts and answers use.
_CORPUS = [
    "You are a helpful assistant.",
    "Output the thinking process in <think> </think> and final answer (letters separated by , if multiple) "
    "in <answer> </answer> tags.",
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
    "<think>The video shows a cube that moves to the left, so the answer is A.</think><answer>A</answer>",
    "<think>Both B and C are true, the sphere collides with the cylinder.</think><answer>B,C</answer>",
    "<answer>A,B,C,D</answer> <answer>D</answer> <answer>E</answer>",
    "What happens if the cylinder is removed? Which of the following will not happen?",
    "Why did the boy pick up the toy? Why didn't the girl unwrap the present?",
    "Options: A. the red cube hits the sphere B. the green cylinder enters the scene C. the cyan ball stops",
    "Question: what does the man do after he opens the door? Answer with the option's letter.",
    "A. walk away B. sit down C. look around D. pick up the bag E. wave his hand",
    "Select the best answer to the following multiple-choice question based on the video.",
    "The metal object collides with the rubber object, then the brown sphere exits the scene.",
    "Choose every option that is correct. Please think about this question as if you were a human.",
]


def _train_tokenizer(vocab_size: int):
    """A byte-level BPE `PreTrainedTokenizerFast` with Qwen's special tokens and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS) - len(TAG_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tok.add_special_tokens(SPECIAL_TOKENS)
    tok.add_tokens(TAG_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=32768,
        padding_side="left",
    )


def _padded(n: int, multiple: int = 64) -> int:
    return -(-n // multiple) * multiple


def qwen_vl_config(tokenizer, text: dict[str, Any], vision: dict[str, Any]):
    """A `Qwen2_5_VLConfig` of the given text and vision sizes, wired to `tokenizer`'s special tokens (those the
    chat template and the video processor put in prompts); the vision tower's patching is Qwen2.5-VL's (14-pixel
    patches, 2×2 merge, 2-frame temporal patches) and its output width is the text model's."""
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return Qwen2_5_VLConfig(
        text_config=dict(
            **text,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            **vision,
            out_hidden_size=text["hidden_size"],
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            in_channels=3,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=text["tie_word_embeddings"],
    )


def build_tiny_model(out_dir: str | Path, vocab_size: int = 448, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-VL (vision + text, ~0.45M parameters) with tokenizer and processors.

    One model for every backend: its text attention heads are 64 wide, a size vLLM's CPU attention kernels
    accept (they refuse 16, the width this model had before it ran under vLLM).

    The processors use a small pixel budget (4–16 patches of 28×28 per frame) so a 16-frame video costs a
    few dozen tokens. Returns `out_dir`. A path containing "Qwen2.5-VL" keeps tools that dispatch on the
    model name happy.
    """
    require("transformers", "eval")
    import torch
    from transformers import (
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = _train_tokenizer(vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    pixels = dict(min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28, patch_size=14, temporal_patch_size=2, merge_size=2)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        video_processor=Qwen2VLVideoProcessor(**pixels, cap_pixels_per_frame=True),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    config = qwen_vl_config(
        tokenizer,
        text=dict(
            vocab_size=_padded(len(tokenizer)),
            # head_dim 64 (128 / 2 heads), which vLLM's CPU attention accepts, so one model serves every backend
            # (vLLM refuses head_dim 16: "Unsupported CPU attention configuration").
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=4096,
            # mrope sections (temporal, height, width) must sum to head_dim / 2.
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [8, 12, 12]},
            tie_word_embeddings=True,
        ),
        vision=dict(
            depth=2, hidden_size=32, intermediate_size=64, num_heads=2, window_size=56, fullatt_block_indexes=[1]
        ),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return _save(Path(out_dir), model, processor)


def build_tiny_text_model(out_dir: str | Path, head_dim: int = 64, vocab_size: int = 448, seed: int = 0) -> Path:
    """Write a tiny random text-only Qwen2 (2 layers, 2 heads of `head_dim`) with the same tokenizer.

    `head_dim` ≥ 64 because vLLM's CPU attention kernels only support such sizes. Returns `out_dir`.
    """
    require("transformers", "eval")
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = _train_tokenizer(vocab_size)
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        vocab_size=_padded(len(tokenizer)),
        hidden_size=2 * head_dim,
        intermediate_size=4 * head_dim,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=head_dim,
        max_position_embeddings=4096,
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = [eos, pad]
    model.generation_config.pad_token_id = pad
    return _save(Path(out_dir), model, tokenizer)


def _save(out_dir: Path, model, processor) -> Path:
    """Save model + processor/tokenizer into a temporary sibling folder and rename it into place."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    return out_dir
