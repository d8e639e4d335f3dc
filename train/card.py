"""The model card (`README.md`) written beside a trained model: method, base model, data, settings, citation.

TRL writes a generic GRPO card; a TW-GRPO model must say what it is, what it started from and what it was
trained on, so this card replaces it. The metadata block is `huggingface_hub.ModelCardData`, so the Hub
reads `base_model` (when the base is a Hub id), tags and licence-free fields as usual.
"""

from __future__ import annotations

import re
from pathlib import Path

from twgrpo_data.cards import TWGRPO_CITATION
from twgrpo_data.formats import atomic_write_text

from .config import TWGRPOConfig

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


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
    settings = [
        ("loss_type", config.loss_type),
        ("alpha", config.alpha),
        ("divergence", config.divergence),
        ("weight_mapping", config.weight_mapping),
        ("accuracy_reward", config.accuracy_reward),
        ("format_reward", config.format_reward),
        ("answer_parser", config.answer_parser),
        ("num_generations", config.num_generations),
        ("temperature", config.temperature),
        ("learning_rate", config.learning_rate),
        ("beta", config.beta),
        ("max_steps", config.max_steps),
        ("frames", config.frames),
        ("max_pixels", config.max_pixels),
        ("seed", config.seed),
    ]
    rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in settings)
    body = f"""
# {Path(config.output_dir).name}

Trained with {method} — the method of *Reinforcing Video Reasoning with Focused Thinking* (Dang et al., 2025,
[arXiv:2505.24718](https://arxiv.org/abs/2505.24718); released code: https://github.com/longmalongma/TW-GRPO),
with `twgrpo train` on TRL.

- **Base model:** `{config.model}`
- **Training data:** `{config.train_file}` ({num_prompts} prompts, question type `{config.question_type}`)
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
