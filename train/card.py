"""The model card (`README.md`) written beside a trained model: method, base model, data, settings, citation.

TRL writes a generic GRPO card; a TW-GRPO model must say what it is, what it started from and what it was
trained on, so this card replaces it. The metadata block is `huggingface_hub.ModelCardData`, so the Hub
reads `base_model` (when the base is a Hub id), tags and licence-free fields as usual.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from twgrpo_data.hub.cards import TWGRPO_CITATION
from twgrpo_data.outputs import atomic_write_text

from .config import TWGRPOConfig

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _shown_path(value: str, out: str) -> str:
    """A Hub id or `hf://` path as it is; a local path relative to the run folder when it lies near it (at most
    two levels up), else its name: a card never tells where things lie on the machine that trained."""
    if not value or value.startswith("hf://") or (_HUB_ID.match(value) and not Path(value).exists()):
        return value
    path = Path(value).expanduser().resolve()
    try:
        relative = os.path.relpath(path, Path(out).resolve())
    except ValueError:  # another drive (Windows)
        return path.name
    return relative if Path(relative).parts[:3].count("..") < 3 else path.name


def model_card_text(config: TWGRPOConfig, num_prompts: int) -> str:
    """The card's Markdown for a run with `config` over `num_prompts` training prompts."""
    from huggingface_hub import ModelCardData

    base_is_hub = bool(_HUB_ID.match(config.model)) and not Path(config.model).exists()
    method = (
        "TW-GRPO (token-weighted GRPO)"
        if config.token_weighting
        else f"GRPO (loss_type {config.loss_type}, no token weights)"
    )
    data = ModelCardData(
        base_model=config.model if base_is_hub else None,
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        tags=["twgrpo", "tw-grpo" if config.token_weighting else "grpo", "trl"],
    )
    weighting = (
        [
            ("alpha (the paper's α)", config.alpha),
            ("max_weight (1 + α; the released code's alpha)", config.max_weight),
            ("divergence", config.divergence),
            ("detach_weights", config.detach_weights),
            ("weight_kl", config.weight_kl),
            ("token_normalizer", config.token_normalizer),
        ]
        if config.token_weighting
        else []
    )
    video = (
        [("sample_fps", config.sample_fps), ("min_frames", config.min_frames), ("max_frames", config.max_frames)]
        if config.sample_fps
        else [("frames", config.frames)]
    )
    settings = [
        ("loss_type", config.loss_type),
        *weighting,
        ("accuracy_reward", config.accuracy_reward),
        ("format_reward", config.format_reward),
        ("answer_parser", config.answer_parser),
        ("num_generations", config.num_generations),
        ("temperature", config.temperature),
        ("top_k", config.top_k),
        ("max_completion_length", config.max_completion_length),
        ("learning_rate", config.learning_rate),
        ("beta", config.beta),
        ("max_steps", config.max_steps),
        *video,
        ("min_pixels", config.min_pixels),
        ("max_pixels", config.max_pixels),
        ("model_fps", config.model_fps),
        ("freeze_vision", config.freeze_vision),
        ("seed", config.seed),
    ]
    rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in settings)
    body = f"""
# {Path(config.output_dir).name}

Trained with {method} — the method of *Reinforcing Video Reasoning with Focused Thinking* (Dang et al., 2025,
[arXiv:2505.24718](https://arxiv.org/abs/2505.24718); released code: https://github.com/longmalongma/TW-GRPO),
with `twgrpo train` on TRL.

- **Base model:** `{_shown_path(config.model, config.output_dir)}`
- **Training data:** `{_shown_path(config.train_file, config.output_dir)}` ({num_prompts} prompts, question type `{config.question_type}`)
- **Reward:** {config.accuracy_reward} answer accuracy{" + format" if config.format_reward else ""}

| setting | value |
|---|---|
{rows}

Every setting is in `twgrpo_config.json`; per-step metrics are in `{config.metrics_file}`.

## Citation

```bibtex
{TWGRPO_CITATION.strip()}
```
"""
    return f"---\n{data.to_yaml()}\n---\n{body}"


def write_model_card(out: str | Path, config: TWGRPOConfig, num_prompts: int) -> Path:
    """Write the card to `out/README.md` (atomically) and return its path."""
    path = Path(out) / "README.md"
    atomic_write_text(path, model_card_text(config, num_prompts))
    return path
