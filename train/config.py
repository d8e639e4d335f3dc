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

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from trl import GRPOConfig

from twgrpo_data.pixels import PATCH_AREA

from .data import QUESTION_TYPES, TRAIN_TEMPLATE
from .plot import PLOT_FORMATS
from .rewards import ACCURACY_KINDS, TRAIN_PARSERS
from .settings import (  # noqa: F401  (re-exported: the settings' vocabulary lives in the light module)
    ALIASES,
    DEPRECATED_KEYS,
    DEPRECATED_VALUES,
    REMOVED_KEYS,
    TrainConfigError,
    check_range,
    parse_overrides,
    read_settings,
    schema_of,
)
from .weights import DIVERGENCES, PAPER_ALPHA

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
        metadata={
            "help": "Folder that relative (and TW-GRPO-style absolute) video paths are resolved under and must stay "
            "in (default: the folder of `train_file`)."
        },
    )
    allow_outside_video_root: bool = field(
        default=False,
        metadata={"help": "Allow video paths of the data that lead outside the video root (absolute, '..')."},
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
        default=128 * PATCH_AREA, metadata={"help": "Minimum pixels per frame (sides are multiples of 28)."}
    )
    max_pixels: int = field(default=128 * PATCH_AREA, metadata={"help": "Maximum pixels per frame (paper: 128·28·28)."})
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
    # --- vLLM rollouts (use_vllm: true)
    vllm_engine_kwargs: dict | None = field(
        default=None,
        metadata={
            "help": "More vllm.LLM arguments for the rollout engine in the training process (vllm_mode=colocate), "
            "over TRL's and twgrpo's (one video per prompt, the run's pixel bounds, the policy's dtype), e.g. "
            "{enforce_eager: true, max_model_len: 4096}."
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
            check_range(f.name, getattr(self, f.name, None))
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

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle of the settings keeps: all but the Hub token. transformers saves the settings with every
        checkpoint (`training_args.bin`, pickled) and uploads them with `push_to_hub`; the token stays out, masked
        as `to_dict` masks it."""
        state = dict(self.__dict__)
        if state.get("hub_token"):
            state["hub_token"] = "<HUB_TOKEN>"
        return state

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


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> TWGRPOConfig:
    """Build a `TWGRPOConfig` from a YAML file (or nothing) plus `key=value` overrides (which win)."""
    from transformers import HfArgumentParser

    values = read_settings(path, overrides, schema_of(TWGRPOConfig))
    try:
        (config,) = HfArgumentParser(TWGRPOConfig).parse_dict(values)
    except TrainConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise TrainConfigError(f"invalid training configuration: {' '.join(str(exc).split())}") from exc
    check_reporters(config.report_to)
    return config


# `report_to` names and the package each needs (transformers' integrations import them only when training starts).
REPORTER_PACKAGES = {
    "wandb": "wandb",
    "tensorboard": "tensorboard",
    "trackio": "trackio",
    "mlflow": "mlflow",
    "comet_ml": "comet_ml",
    "clearml": "clearml",
    "swanlab": "swanlab",
    "neptune": "neptune",
    "dvclive": "dvclive",
    "codecarbon": "codecarbon",
    "dagshub": "dagshub",
    "azure_ml": "azureml",
    "flyte": "flytekit",
}


def check_reporters(report_to: list[str] | str | None) -> None:
    """Fail before the model loads when a `report_to` logger's package is not installed (a user error)."""
    import importlib.util

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        package = REPORTER_PACKAGES.get(name)
        if package and importlib.util.find_spec(package) is None:
            raise TrainConfigError(
                f"report_to: {name} is not installed (pip install {package}), or set report_to=none / tensorboard"
            )


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
