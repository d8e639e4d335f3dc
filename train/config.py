"""`TWGRPOConfig`: TRL's `GRPOConfig` plus the model, data, video, reward and token-weight settings.

Every field carries its help text (TRL style), so YAML configs, `key=value` overrides and the docs share one
source. A YAML file maps field names to values; `load_config` reads it, applies overrides and resolves the
data paths (`train_file`, `video_root`) relative to the YAML file, so shipped configs work from any folder.

Example:
    >>> cfg = load_config(None, ["model=runs/tiny", "train_file=x.jsonl", "use_cpu=true", "bf16=false",
    ...                          "num_generations=4", "per_device_train_batch_size=4"])   # doctest: +SKIP
    >>> cfg.loss_type, cfg.alpha, cfg.max_weight                                            # doctest: +SKIP
    ('tw_grpo', 0.7, 1.7)
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import re
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from trl import GRPOConfig

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.formats import read_text

from .data import QUESTION_TYPES, TRAIN_TEMPLATE
from .plot import PLOT_FORMATS
from .rewards import ACCURACY_KINDS, TRAIN_PARSERS
from .weights import DIVERGENCES, PAPER_ALPHA

PATCH_PIXELS = 28 * 28
# `tw_grpo` plus the aggregations TRL 1.16's GRPOTrainer implements (its `loss_type` help lists them).
LOSS_TYPES = ("tw_grpo", "grpo", "dapo", "bnpo", "dr_grpo", "cispo", "sapo", "luspo", "vespo")
ATTN_IMPLEMENTATIONS = ("auto", "sdpa", "eager", "flash_attention_2")
TOKEN_NORMALIZERS = ("global", "local")
# Settings that may change between the sessions of one run: where and how often it writes, how long it runs,
# what it reports and memory knobs that leave the arithmetic alone. Every other setting defines what the run
# computes and is compared on resume (the batch split and world size decide which rows each step sees).
RESUMABLE_CHANGES = frozenset(
    {
        "output_dir",
        "max_steps",
        "num_train_epochs",
        "video_root",
        "metrics_file",
        "plot_file",
        "weight_chunk_size",
        "gradient_checkpointing",
        "gradient_checkpointing_kwargs",
        "ds3_gather_for_generation",
        "restore_callback_states_from_checkpoint",
        "resume_from_checkpoint",
        "report_to",
        "run_name",
        "project",
        "disable_tqdm",
        "debug",
        "local_rank",
        "ddp_timeout",
        "skip_memory_metrics",
        "include_num_input_tokens_seen",
        "num_completions_to_print",
        "torch_empty_cache_steps",
        "push_to_hub",
    }
)
RESUMABLE_PREFIXES = ("save_", "logging_", "log_", "eval_", "hub_", "trackio_", "dataloader_", "vllm_server_")
RESUMABLE_PREFIXES += ("do_", "per_device_eval_", "num_generations_eval", "batch_eval_", "prediction_")


def compared_on_resume(key: str) -> bool:
    """Whether a different value of setting `key` makes a resumed run another run (see `RESUMABLE_CHANGES`)."""
    return key not in RESUMABLE_CHANGES and not key.startswith(RESUMABLE_PREFIXES)


# Old spellings of settings (issue 13.5): still read, with a one-line note.
DEPRECATED_KEYS = {"num_frames": "frames", "video_min_pixels": "min_pixels", "video_max_pixels": "max_pixels"}
DEPRECATED_VALUES = {("accuracy_reward", "fixed"): "strict"}
# TRL's names for the same settings (its example scripts' `model_name_or_path`, `dataset_name`): read silently.
ALIASES = {"model_name_or_path": "model", "dataset_name": "train_file"}
# Removed settings whose old values would now mean something else: refused with the way to say it today.
REMOVED_KEYS = {
    "weight_mapping": "weight_mapping is gone: alpha is now the paper's α and weights are 1 + alpha·norm (the paper "
    "and the released code map alike; `paper`, (1+alpha)·norm, gave every first completion token weight 0). "
    "An older config's `alpha: A` with `weight_mapping: reference` is `alpha: A−1` (or `max_weight: A`) now",
}
# Lower bounds checked before anything loads: (bound, inclusive).
_LOWER_BOUNDS = {
    "frames": (1, True),
    "min_frames": (1, True),
    "max_frames": (1, True),
    "sample_fps": (0, False),
    "model_fps": (0, False),
    "min_pixels": (PATCH_PIXELS, True),
    "max_completion_length": (1, True),
    "num_generations": (2, True),
    "per_device_train_batch_size": (1, True),
    "gradient_accumulation_steps": (1, True),
    "weight_chunk_size": (1, True),
    "max_train_samples": (1, True),
    "learning_rate": (0, True),
    "temperature": (0, False),
    "beta": (0, True),
    "num_train_epochs": (0, False),
    "top_k": (0, True),
    "save_steps": (0, False),
    "logging_steps": (0, False),
    "top_p": (0, False),
    "min_p": (0, True),
    "epsilon": (0, True),
    "epsilon_high": (0, True),
    "repetition_penalty": (0, False),
    "max_grad_norm": (0, True),
    "weight_decay": (0, True),
    "warmup_steps": (0, True),
}
# Upper bounds: (bound, inclusive). `epsilon` clips the ratio to [1 − ε, 1 + ε_high], so ε < 1.
_UPPER_BOUNDS = {"top_p": (1, True), "min_p": (1, True), "epsilon": (1, False)}
# Fields holding data paths: relative values are taken relative to the YAML file that sets them.
_CONFIG_RELATIVE = ("train_file", "video_root")


class _ConfigLoader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false, so `save_strategy: no` stays the string "no"."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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
    model: str = field(
        default="",
        metadata={
            "help": "Model folder or Hub id (a Qwen2.5-VL-style video model, or a text-only causal LM for text data)."
        },
    )
    train_file: str = field(
        default="",
        metadata={
            "help": "Training records: a unified JSON, records JSONL/JSON, "
            "parquet or HF dataset folder (e.g. `qai convert` output)."
        },
    )
    data_format: str = field(
        default="auto", metadata={"help": "Format of `train_file` (auto, unified, records, parquet, hf)."}
    )
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder that relative (and TW-GRPO-style absolute) video paths are resolved under."},
    )
    question_type: str = field(
        default="mixed", metadata={"help": f"Which records to train on: {', '.join(QUESTION_TYPES)}."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Shuffle with `data_seed` (or 42) and keep this many records (None: all)."}
    )
    require_video: bool = field(
        default=True, metadata={"help": "Fail on records without a video (set false for text-only training)."}
    )
    prompt_template: str = field(
        default=TRAIN_TEMPLATE,
        metadata={"help": "User prompt; `{Question}` is replaced by the question and its option lines."},
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "Optional system turn (the released training script has none)."}
    )
    attn_implementation: str = field(
        default="auto",
        metadata={
            "help": "Attention kernel: auto (flash_attention_2 "
            "when flash-attn is installed and a GPU is "
            "used, else sdpa), sdpa, eager, "
            "flash_attention_2."
        },
    )
    # --- video
    frames: int = field(
        default=16, metadata={"help": "Frames sampled uniformly from each video (clip); unused with sample_fps."}
    )
    sample_fps: float | None = field(
        default=None,
        metadata={
            "help": "Sample by rate instead of a fixed count: clip length × sample_fps frames, clamped to "
            "[min_frames, max_frames] and floored to an even count (the released run: 2.0; null: `frames`)."
        },
    )
    min_frames: int = field(default=4, metadata={"help": "Fewest frames with sample_fps (released: 4)."})
    max_frames: int = field(default=16, metadata={"help": "Most frames with sample_fps (released: 16)."})
    model_fps: float | None = field(
        default=None,
        metadata={
            "help": "Frame rate told to the model (Qwen2.5-VL's temporal positions); null: the frames' real "
            "sampling rate. The released trainer told none, so Qwen2.5-VL assumed 2.0."
        },
    )
    min_pixels: int = field(
        default=128 * PATCH_PIXELS, metadata={"help": "Minimum pixels per frame (sides are multiples of 28)."}
    )
    max_pixels: int = field(
        default=128 * PATCH_PIXELS, metadata={"help": "Maximum pixels per frame (paper: 128·28·28)."}
    )
    freeze_vision: bool = field(
        default=True, metadata={"help": "Freeze the vision tower (as the released TW-GRPO run did)."}
    )
    # --- rewards
    accuracy_reward: str = field(
        default="soft",
        metadata={
            "help": "Accuracy reward: soft (|P|/|G| for a correct "
            "subset, TW-GRPO) or strict (all-or-nothing, the "
            "GRPO baseline)."
        },
    )
    format_reward: bool = field(
        default=True,
        metadata={"help": "Add the <think>…</think><answer>…</answer> format reward (summed with accuracy)."},
    )
    answer_parser: str = field(
        default="twgrpo_train",
        metadata={
            "help": f"How answers are read from completions: "
            f"{', '.join(TRAIN_PARSERS)} (twgrpo_train: "
            "the released training reward's reading)."
        },
    )
    completion_alphabet: str | None = field(
        default=None,
        metadata={
            "help": "Only these characters (and the end "
            'token) may be generated, e.g. "ABC," '
            "for smoke runs of random tiny models "
            "(None: no restriction)."
        },
    )
    # --- TW-GRPO
    loss_type: str = field(
        default="tw_grpo",
        metadata={
            "help": "tw_grpo (token-weighted, DAPO token-level "
            "normalisation) | grpo (sequence mean, no weights) | "
            "any other TRL loss_type (unweighted)."
        },
    )
    token_normalizer: str = field(
        default="global",
        metadata={
            "help": "tw_grpo's loss divisor: global (every process's completion tokens, TRL's DAPO) or local "
            "(each process's own tokens, then gradients averaged — the released code)."
        },
    )
    alpha: float | None = field(
        default=PAPER_ALPHA,
        metadata={
            "help": "The paper's α: token weights w = 1 + α·(normalised divergence), in [1, 1 + α] (paper: 0.7; "
            "the released script's --alpha 1.70 is the maximum weight 1 + α, see max_weight). 0 or null: no "
            "weighting. A negative α inverts the method and needs allow_inverted_weights."
        },
    )
    max_weight: float | None = field(
        default=None,
        metadata={
            "help": "Another way to set alpha: the largest token weight 1 + α, the number the released code "
            "calls alpha (1.7 there = alpha 0.7 here). Filled in from alpha when not given."
        },
    )
    allow_inverted_weights: bool = field(
        default=False,
        metadata={
            "help": "Accept α < 0 (max_weight < 1), which gives the most informative tokens the smallest "
            "weight — the method inverted; refused unless this is true."
        },
    )
    divergence: str = field(
        default="kl",
        metadata={"help": "kl: exact mean KL(p_i‖mean p) over the group; reference: the released code's estimator."},
    )
    detach_weights: bool = field(
        default=True,
        metadata={
            "help": "Treat token weights as constants (ours). false: "
            "gradients flow through them as in the released "
            "code (needs the full-vocabulary logits with "
            "their graph)."
        },
    )
    weight_kl: bool = field(
        default=False,
        metadata={
            "help": "Multiply the KL term by the token weights too, as the "
            "released code does (only matters with beta > 0)."
        },
    )
    weight_chunk_size: int = field(
        default=32,
        metadata={
            "help": "Completion positions per chunk when computing weights from hidden states (memory ∝ G·chunk·V)."
        },
    )
    # --- outputs
    metrics_file: str = field(
        default="metrics.jsonl", metadata={"help": "Per-step metrics JSONL, relative to output_dir."}
    )
    plot_file: str | None = field(
        default="training_curves.png",
        metadata={
            "help": "Training-curve plot written at the end, relative to output_dir; .png, .pdf or .svg (None: none)."
        },
    )
    # --- TRL defaults changed for this task
    logging_steps: float = field(default=1, metadata={"help": "Log every N steps (1: per-step metrics)."})
    save_steps: float = field(default=100, metadata={"help": "Save a checkpoint every N steps."})

    def __post_init__(self):
        for name, value, allowed in [
            ("divergence", self.divergence, DIVERGENCES),
            ("accuracy_reward", self.accuracy_reward, ACCURACY_KINDS),
            ("answer_parser", self.answer_parser, TRAIN_PARSERS),
            ("question_type", self.question_type, QUESTION_TYPES),
            ("loss_type", self.loss_type, LOSS_TYPES),
            ("token_normalizer", self.token_normalizer, TOKEN_NORMALIZERS),
            ("attn_implementation", self.attn_implementation, ATTN_IMPLEMENTATIONS),
        ]:
            if value not in allowed:
                raise TrainConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        for f in fields(self):
            value = getattr(self, f.name, None)
            if isinstance(value, float) and not math.isfinite(value):
                raise TrainConfigError(f"{f.name} must be a finite number, got {value}")
        for name, (bound, inclusive) in _LOWER_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not (value >= bound if inclusive else value > bound):
                raise TrainConfigError(f"{name} must be {'≥' if inclusive else '>'} {bound}, got {value}")
        for name, (bound, inclusive) in _UPPER_BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not (value <= bound if inclusive else value < bound):
                raise TrainConfigError(f"{name} must be {'≤' if inclusive else '<'} {bound}, got {value}")
        self._resolve_alpha()
        if self.min_frames > self.max_frames:
            raise TrainConfigError(f"min_frames ({self.min_frames}) must not exceed max_frames ({self.max_frames})")
        if self.min_pixels > self.max_pixels:
            raise TrainConfigError(f"min_pixels ({self.min_pixels}) must not exceed max_pixels ({self.max_pixels})")
        if self.plot_file and Path(self.plot_file).suffix.lower() not in PLOT_FORMATS:
            raise TrainConfigError(f"plot_file must end in {', '.join(PLOT_FORMATS)}, got {self.plot_file!r}")
        if self.completion_alphabet is not None and not self.completion_alphabet:
            raise TrainConfigError("completion_alphabet must hold at least one character (or be null)")
        super().__post_init__()
        # Token weights compare the G completions of one prompt, so each device's generation batch must hold
        # whole groups (TRL's sampler then never splits a group across devices).
        local = self.per_device_train_batch_size * self.steps_per_generation
        if local % self.num_generations:
            raise TrainConfigError(
                f"per_device_train_batch_size × steps_per_generation = {local} is not a multiple of "
                f"num_generations = {self.num_generations}: each device must hold whole groups"
            )
        if (
            self.token_weighting
            and (not self.detach_weights or (self.weight_kl and self.beta))
            and (self.steps_per_generation != 1 or self.num_iterations != 1)
        ):
            raise TrainConfigError(
                "detach_weights=false and weight_kl recompute the weights in the loss step, which "
                "needs whole groups there: set steps_per_generation=1 and num_iterations=1"
            )
        eval_group = self.num_generations_eval or self.num_generations
        if self.eval_strategy != "no" and self.per_device_eval_batch_size % eval_group:
            raise TrainConfigError(
                f"per_device_eval_batch_size = {self.per_device_eval_batch_size} is not a multiple of "
                f"{eval_group} generations: each device must hold whole groups"
            )

    def _resolve_alpha(self) -> None:
        """Fold `max_weight` into `alpha` (or derive it), and refuse weights that invert or flip the method."""
        if self.max_weight is not None:
            derived = self.max_weight - 1.0
            if self.alpha not in (None, PAPER_ALPHA) and not math.isclose(self.alpha, derived, abs_tol=1e-12):
                raise TrainConfigError(
                    f"alpha = {self.alpha} and max_weight = {self.max_weight} disagree (max_weight is 1 + alpha); "
                    "set one of them"
                )
            self.alpha = derived
        if self.alpha is None or self.alpha == 0:
            self.max_weight = None
            return
        if not math.isfinite(self.alpha) or self.alpha < -1:
            raise TrainConfigError(
                f"alpha must be ≥ −1 (weights 1 + alpha·norm would be negative, flipping the gradient), got {self.alpha}"
            )
        if self.alpha < 0 and not self.allow_inverted_weights:
            raise TrainConfigError(
                f"alpha = {self.alpha:g} inverts TW-GRPO: weights 1 + alpha·norm in [{1 + self.alpha:g}, 1] give the "
                f"most informative tokens the least weight. alpha is the paper's α (0.7 in the paper; the released "
                f"script's --alpha 1.70 is max_weight=1.7); set allow_inverted_weights=true if this is intended"
            )
        self.max_weight = 1.0 + self.alpha

    @property
    def token_weighting(self) -> bool:
        """Whether advantages are multiplied by TW-GRPO token weights."""
        return self.loss_type == "tw_grpo" and bool(self.alpha)

    @property
    def trl_loss_type(self) -> str:
        """The TRL aggregation that implements `loss_type`: "tw_grpo" is a token-level mean, over every process's
        tokens (DAPO) or over each process's own (BNPO, the released code's `sum / mask.sum()` per GPU)."""
        if self.loss_type != "tw_grpo":
            return self.loss_type
        return "dapo" if self.token_normalizer == "global" else "bnpo"


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["alpha=1.4", "model=/m"]` → `{"alpha": 1.4, "model": "/m"}`; values are read as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TrainConfigError(f"override {pair!r} is not key=value")
        out[key.strip()] = _yaml(value) if value.strip() else None
    return out


def _deprecated(old: str, new: str) -> None:
    print(f"note: {old} is deprecated, use {new}", file=sys.stderr)


def _union_members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _as(value: Any, kind: Any) -> tuple[bool, Any]:
    """Whether `value` (as YAML read it) is a `kind`, and the value converted to it."""
    origin = typing.get_origin(kind) or kind
    if kind is Any:
        return True, value
    if kind is type(None):
        return value is None, value
    if value is None:
        return False, value
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, str):  # YAML 1.1 reads "1e-6" as a string
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
    if kind is str:
        return isinstance(value, str), value
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)), value
    if origin is dict:
        return isinstance(value, dict), value
    if typing.get_origin(kind) is typing.Literal:
        return value in typing.get_args(kind), value
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return True, kind(value).value
        except ValueError:
            return False, value
    return True, value  # a type this check does not know: the dataclass decides


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _typed(key: str, value: Any, hint: Any, source: str) -> Any:
    """`value` checked against the field's type hint; a mismatch is one line naming the setting."""
    kinds = _union_members(hint)
    for kind in kinds:
        ok, converted = _as(value, kind)
        if ok:
            return converted
    names = [_KIND_NAMES.get(k) or getattr(typing.get_origin(k) or k, "__name__", str(k)) for k in kinds]
    raise TrainConfigError(f"{source}: {key} must be {' or '.join(dict.fromkeys(names))}, got {value!r}")


def _checked(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Reject unknown keys (suggesting the closest name), map old spellings, check every value's type."""
    hints = typing.get_type_hints(TWGRPOConfig)
    settable = {f.name for f in fields(TWGRPOConfig) if f.init}
    out = {}
    for key, value in values.items():
        if key in DEPRECATED_KEYS:
            _deprecated(key, DEPRECATED_KEYS[key])
            key = DEPRECATED_KEYS[key]
        key = ALIASES.get(key, key)
        if key in REMOVED_KEYS:
            raise TrainConfigError(f"{source}: {REMOVED_KEYS[key]}")
        if key not in settable:
            close = difflib.get_close_matches(key, settable, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TrainConfigError(f"{source}: unknown setting {key!r}{hint}")
        if isinstance(value, str) and (key, value) in DEPRECATED_VALUES:
            _deprecated(f"{key}={value}", f"{key}={DEPRECATED_VALUES[key, value]}")
            value = DEPRECATED_VALUES[key, value]
        if value is None and type(None) not in _union_members(hints[key]):
            continue  # `key: null` leaves a setting that cannot be None at its default ("set it elsewhere")
        out[key] = _typed(key, value, hints[key], source)
    return out


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> TWGRPOConfig:
    """Build a `TWGRPOConfig` from a YAML file (or nothing) plus `key=value` overrides (which win)."""
    from transformers import HfArgumentParser

    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            loaded = _yaml(read_text(path))  # read_text: one line for a missing, unreadable or non-UTF-8 file
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
    given = _checked(parse_overrides(overrides or []), "override")
    if "alpha" in given and "max_weight" not in given:
        values.pop("max_weight", None)  # an override of one of the pair replaces the config's choice
    if "max_weight" in given and "alpha" not in given:
        values.pop("alpha", None)
    values.update(given)
    if values.get("alpha") is not None and values.get("max_weight") is not None:
        if not math.isclose(values["alpha"] + 1.0, values["max_weight"], abs_tol=1e-12):
            raise TrainConfigError(
                f"alpha = {values['alpha']} and max_weight = {values['max_weight']} disagree (max_weight is "
                "1 + alpha, the released code's `alpha`); set one of them"
            )
    for required in ("model", "train_file"):
        if not values.get(required):
            raise TrainConfigError(f"{required} is not set (in the config or as {required}=…)")
    try:
        (config,) = HfArgumentParser(TWGRPOConfig).parse_dict(values)
    except TrainConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise TrainConfigError(f"invalid training configuration: {' '.join(str(exc).split())}") from exc
    return config


def check_model_path(model: str) -> None:
    """Fail before anything loads when `model` is neither an existing folder nor something a Hub id can be.

    A value that is a filesystem path (absolute, `./`, `~`, more than one `/`) must exist; a bare `org/name`
    may be a Hub id, which is only checked when the Hub is offline (`HF_HUB_OFFLINE=1`).
    """
    from huggingface_hub.constants import HF_HUB_OFFLINE

    path = Path(os.path.expanduser(model))
    if path.exists():
        if not (path / "config.json").is_file():
            raise TrainConfigError(f"model: {model} has no config.json (not a saved model folder)")
        return
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model
    if looks_like_path or HF_HUB_OFFLINE:
        offline = "" if looks_like_path else " (and the Hub is offline)"
        raise TrainConfigError(f"model: {model} does not exist{offline}")
