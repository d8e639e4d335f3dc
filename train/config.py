"""`TWGRPOConfig`: TRL's `GRPOConfig` plus the model, data, video, reward and token-weight settings.

Every field carries its help text (TRL style), so YAML configs, `key=value` overrides and the docs share one
source. A YAML file maps field names to values; `load_config` reads it, applies overrides and resolves the
data paths (`train_file`, `video_root`) relative to the YAML file, so shipped configs work from any folder.

Example:
    >>> cfg = load_config(None, ["model=runs/tiny", "train_file=x.jsonl", "use_cpu=true", "bf16=false",
    ...                          "num_generations=4", "per_device_train_batch_size=4"])   # doctest: +SKIP
    >>> cfg.loss_type, cfg.alpha                                                            # doctest: +SKIP
    ('tw_grpo', 1.7)
"""

from __future__ import annotations

import difflib
import os
import re
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from trl import GRPOConfig

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.formats import read_text
from twgrpo_data.scoring import PARSERS

from .data import QUESTION_TYPES, TRAIN_TEMPLATE
from .rewards import ACCURACY_KINDS
from .weights import DIVERGENCES, MAPPINGS

LOSS_TYPES = ("tw_grpo", "grpo")
PATCH_PIXELS = 28 * 28
# Settings that define what a run optimises: resuming with another value would mix two methods in one run.
# (max_steps, save/logging intervals, batch-size splits and paths to outputs may change between sessions.)
RESUME_KEYS = ("model", "train_file", "question_type", "prompt_template", "system_prompt", "num_frames",
               "video_min_pixels", "video_max_pixels", "accuracy_reward", "format_reward", "answer_parser",
               "loss_type", "alpha", "divergence", "weight_mapping", "num_generations", "temperature",
               "learning_rate", "beta")
# Fields holding data paths: relative values are taken relative to the YAML file that sets them.
_CONFIG_RELATIVE = ("train_file", "video_root")


class _ConfigLoader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false, so `save_strategy: no` stays the string "no"."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass: plain data only


class TrainConfigError(TwgrpoError, ValueError):
    """An invalid training configuration (unknown key, bad value, groups split across devices)."""


@dataclass
class TWGRPOConfig(GRPOConfig):
    """Configuration of a TW-GRPO run: every `GRPOConfig` / `TrainingArguments` field plus the ones below.

    `loss_type="tw_grpo"` is the paper's method: TRL's DAPO token-level normalisation (sum over all tokens
    of the batch divided by their count, no KL with `beta=0`) with per-token advantages A_i·w_t.
    `loss_type="grpo"` is the paper's baseline: sequence-mean GRPO without token weights. Any other TRL
    `loss_type` is passed through unweighted.
    """

    # --- model and data
    model: str = field(default="", metadata={"help": "Model folder or Hub id (a Qwen2.5-VL-style video model, "
                                                     "or a text-only causal LM for text data)."})
    train_file: str = field(default="", metadata={"help": "Training records: a unified JSON, records JSONL/JSON, "
                                                          "parquet or HF dataset folder (e.g. `qai convert` output)."})
    data_format: str = field(default="auto", metadata={"help": "Format of `train_file` (auto, unified, records, "
                                                               "parquet, hf)."})
    video_root: str | None = field(default=None, metadata={"help": "Folder that relative (and TW-GRPO-style "
                                                                   "absolute) video paths are resolved under."})
    question_type: str = field(default="mixed", metadata={"help": f"Which records to train on: "
                                                                  f"{', '.join(QUESTION_TYPES)}."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Shuffle with `data_seed` (or 42) and "
                                                                          "keep this many records (None: all)."})
    require_video: bool = field(default=True, metadata={"help": "Fail on records without a video (set false for "
                                                                "text-only training)."})
    prompt_template: str = field(default=TRAIN_TEMPLATE, metadata={"help": "User prompt; `{Question}` is replaced "
                                                                           "by the question and its option lines."})
    system_prompt: str | None = field(default=None, metadata={"help": "Optional system turn (the released training "
                                                                      "script has none)."})
    # --- video
    num_frames: int = field(default=16, metadata={"help": "Frames sampled uniformly from each video."})
    video_min_pixels: int = field(default=128 * PATCH_PIXELS, metadata={"help": "Minimum pixels per frame "
                                                                                "(sides are multiples of 28)."})
    video_max_pixels: int = field(default=128 * PATCH_PIXELS, metadata={"help": "Maximum pixels per frame "
                                                                                "(paper: 128·28·28)."})
    freeze_vision: bool = field(default=True, metadata={"help": "Freeze the vision tower (as the released TW-GRPO "
                                                                "run did)."})
    # --- rewards
    accuracy_reward: str = field(default="soft", metadata={"help": "Accuracy reward: soft (|P|/|G| for a correct "
                                                                   "subset, TW-GRPO) or fixed (all-or-nothing)."})
    format_reward: bool = field(default=True, metadata={"help": "Add the <think>…</think><answer>…</answer> format "
                                                                "reward (summed with accuracy)."})
    answer_parser: str = field(default="twgrpo", metadata={"help": f"How answers are read from completions: "
                                                                   f"{', '.join(PARSERS)}."})
    # --- TW-GRPO
    loss_type: str = field(default="tw_grpo", metadata={"help": "tw_grpo (token-weighted, DAPO token-level "
                                                                "normalisation) | grpo (sequence mean, no weights) | "
                                                                "any other TRL loss_type (unweighted)."})
    alpha: float | None = field(default=1.7, metadata={"help": "Maximum token weight α (reference mapping: weights "
                                                               "in [1, α]); 0 or None disables weighting."})
    divergence: str = field(default="kl", metadata={"help": "kl: exact mean KL(p_i‖mean p) over the group; "
                                                            "reference: the released code's estimator."})
    weight_mapping: str = field(default="reference", metadata={"help": "reference: 1+(α−1)·norm (released code); "
                                                                       "paper: (1+α)·norm."})
    weight_chunk_size: int = field(default=32, metadata={"help": "Completion positions per chunk when computing "
                                                                 "weights from hidden states (memory ∝ G·chunk·V)."})
    # --- outputs
    metrics_file: str = field(default="metrics.jsonl", metadata={"help": "Per-step metrics JSONL, relative to "
                                                                         "output_dir."})
    plot_file: str | None = field(default="training_curves.png", metadata={"help": "Training-curve PNG written at "
                                                                                   "the end, relative to output_dir "
                                                                                   "(None: no plot)."})
    # --- TRL defaults changed for this task
    logging_steps: float = field(default=1, metadata={"help": "Log every N steps (1: per-step metrics)."})
    save_steps: float = field(default=100, metadata={"help": "Save a checkpoint every N steps."})

    def __post_init__(self):
        for name, value, allowed in [("divergence", self.divergence, DIVERGENCES),
                                     ("weight_mapping", self.weight_mapping, MAPPINGS),
                                     ("accuracy_reward", self.accuracy_reward, ACCURACY_KINDS),
                                     ("answer_parser", self.answer_parser, PARSERS),
                                     ("question_type", self.question_type, QUESTION_TYPES)]:
            if value not in allowed:
                raise TrainConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.weight_chunk_size < 1:
            raise TrainConfigError(f"weight_chunk_size must be ≥ 1, got {self.weight_chunk_size}")
        if self.video_min_pixels > self.video_max_pixels:
            raise TrainConfigError("video_min_pixels must not exceed video_max_pixels")
        super().__post_init__()
        # Token weights compare the G completions of one prompt, so each device's generation batch must hold
        # whole groups (TRL's sampler then never splits a group across devices).
        local = self.per_device_train_batch_size * self.steps_per_generation
        if local % self.num_generations:
            raise TrainConfigError(
                f"per_device_train_batch_size × steps_per_generation = {local} is not a multiple of "
                f"num_generations = {self.num_generations}: each device must hold whole groups")
        eval_group = self.num_generations_eval or self.num_generations
        if self.eval_strategy != "no" and self.per_device_eval_batch_size % eval_group:
            raise TrainConfigError(
                f"per_device_eval_batch_size = {self.per_device_eval_batch_size} is not a multiple of "
                f"{eval_group} generations: each device must hold whole groups")

    @property
    def token_weighting(self) -> bool:
        """Whether advantages are multiplied by TW-GRPO token weights."""
        return self.loss_type == "tw_grpo" and bool(self.alpha)

    @property
    def trl_loss_type(self) -> str:
        """The TRL aggregation that implements `loss_type` ("tw_grpo" → DAPO token-level normalisation)."""
        return "dapo" if self.loss_type == "tw_grpo" else self.loss_type


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["alpha=1.4", "model=/m"]` → `{"alpha": 1.4, "model": "/m"}`; values are read as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TrainConfigError(f"override {pair!r} is not key=value")
        out[key.strip()] = _yaml(value) if value.strip() else None
    return out


def _checked(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Reject unknown keys (suggesting the closest name); read YAML 1.1 strings like "1e-6" as floats."""
    hints = typing.get_type_hints(TWGRPOConfig)
    out = {}
    for key, value in values.items():
        if key not in hints or not any(f.name == key and f.init for f in fields(TWGRPOConfig)):
            close = difflib.get_close_matches(key, hints, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TrainConfigError(f"{source}: unknown setting {key!r}{hint}")
        if isinstance(value, str) and float in (typing.get_args(hints[key]) or (hints[key],)):
            try:
                value = float(value)
            except ValueError as exc:
                raise TrainConfigError(f"{source}: {key} must be a number, got {value!r}") from exc
        out[key] = value
    return out


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> TWGRPOConfig:
    """Build a `TWGRPOConfig` from a YAML file (or nothing) plus `key=value` overrides (which win)."""
    from transformers import HfArgumentParser

    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            loaded = _yaml(read_text(path))
        except OSError as exc:
            raise TrainConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise TrainConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"{path}: expected a mapping of settings at the top level")
        loaded = _checked(loaded, str(path))
        for key in _CONFIG_RELATIVE:
            value = str(loaded.get(key) or "")
            if value and not value.startswith("hf://") and not Path(os.path.expanduser(value)).is_absolute():
                loaded[key] = str((path.parent / loaded[key]).resolve())
        values.update(loaded)
    values.update(_checked(parse_overrides(overrides or []), "override"))
    for required in ("model", "train_file"):
        if not values.get(required):
            raise TrainConfigError(f"{required} is not set (in the config or as {required}=…)")
    try:
        (config,) = HfArgumentParser(TWGRPOConfig).parse_dict(values)
    except TrainConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise TrainConfigError(f"invalid training configuration: {exc}") from exc
    return config
