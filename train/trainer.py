"""`TWGRPOTrainer`: TRL's `GRPOTrainer` with video inputs and TW-GRPO token weights (wiring only).

What the subclass adds (the maths lives in `weights.py` and `rewards.py`):

- **Video.** Prompts carry `{"type": "video", "video": PATH}`; `_tokenize_prompts` samples the frames with
  `twgrpo_data.video.sample_video` and runs the processor with the frames' real sampling rate (so
  Qwen2.5-VL's temporal positions, `second_per_grid_ts`, are right). The video tensors are kept per row and
  passed to every forward: generation, TRL's log-prob passes and the loss. TRL itself only wires images.
- **Token weights.** After TRL has generated and scored a batch (rows still in group order), one extra
  no-grad forward per group gives the hidden states; `token_weights_from_hidden` turns them into weights
  w (B·G, L) chunk by chunk, and the advantages become per-token A_i·w_t. Since w ≥ 0,
  −min(r·A·w, clip(r)·A·w) = −w·min(r·A, clip(r)·A): exactly the TW-GRPO weighted objective, with TRL's
  DAPO token-level normalisation (`loss_type="tw_grpo"`).
  The scored batch also keeps `sequence_advantages` (B,) and `token_weights` (B·G, L) for inspection.
- **Metrics.** Soft/strict accuracy and format rate of every batch, weight mean/max/entropy, next to TRL's
  reward mean/std and completion lengths; `MetricsJsonlCallback` appends each log to a JSONL file.

`run_training(config)` is the library entry point behind `twgrpo train`.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.formats import atomic_write_text

from .config import RESUME_KEYS, TrainConfigError, TWGRPOConfig
from .data import load_train_dataset
from .rewards import answer_metrics, build_reward_funcs
from .weights import token_weights_from_hidden, weight_stats

VIDEO_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
# Qwen2.5-VL's `mm_token_type_ids` value for video placeholder tokens (0 text, 1 image).
_VIDEO_TOKEN_TYPE = 2


def _video_path(prompt: str | list[dict[str, Any]]) -> str | None:
    """The path in a prompt's video part (one video per prompt), or None for a text-only prompt."""
    if isinstance(prompt, str):
        return None
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "video" and part.get("video"):
                    return part["video"]
    return None


def _renderable(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt for the chat template: no video payload, no None-valued keys added by arrow's schema."""
    out = []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            content = [{k: v for k, v in part.items() if v is not None and not (k == "video" and part["type"] == "video")}
                       for part in content]
        out.append({**message, "content": content})
    return out


class MetricsJsonlCallback(TrainerCallback):
    """Append every training log (TRL's metrics plus ours) to a JSONL file, one object per logging step.

    On (re)start the file is cut back to the steps up to the checkpoint being resumed, so a resumed run never
    holds the same step twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or not self.path.exists():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8").split("\n"):
            try:
                row = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue  # the last line, torn by a kill
            if row is not None and row.get("step", 0) <= state.global_step:
                keep.append(line)
        atomic_write_text(self.path, "".join(line + "\n" for line in keep))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch}
        row.update({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in logs.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())


class TWGRPOTrainer(GRPOTrainer):
    """GRPO / TW-GRPO on TRL for Qwen2.5-VL-style video models (and text-only causal LMs).

    Takes the same arguments as `GRPOTrainer`, with `args` a `TWGRPOConfig`. Rows are TRL conversational
    prompts whose user turn may hold one `{"type": "video", "video": PATH}` part (see
    `twgrpo_train.data.load_train_dataset`).
    """

    _tag_names = ["trl", "grpo", "tw-grpo"]
    _name = "TW-GRPO"

    def __init__(self, model, reward_funcs, args: TWGRPOConfig, train_dataset=None, eval_dataset=None,
                 processing_class=None, callbacks=None, **kwargs):
        if not isinstance(args, TWGRPOConfig):
            raise TypeError("TWGRPOTrainer needs a TWGRPOConfig")
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, callbacks=callbacks, **kwargs)
        self.loss_type = args.trl_loss_type
        # Video tensors of the batch being scored or trained on (rows aligned with the ids passed to forward).
        self._active_video: dict[str, Any] | None = None
        if self._is_vlm and self._video_pad_token_id is not None and not self.use_vllm:
            # a sampled video placeholder would not match the video features in later forwards
            suppress = [*(self.generation_config.suppress_tokens or []), self._video_pad_token_id]
            self.generation_config.suppress_tokens = suppress
            self.generation_kwargs["suppress_tokens"] = suppress
        if args.freeze_vision and self._is_vlm:
            self._freeze_vision()
        if self.use_vllm and train_dataset is not None and len(train_dataset) and _video_path(train_dataset[0]["prompt"]):
            raise TrainConfigError("vLLM generation is wired for text prompts only; set use_vllm=false for video data")

    # ------------------------------------------------------------------------------------------------------
    # model parts

    def _core_model(self):
        from accelerate.utils import is_peft_model

        model = self.accelerator.unwrap_model(self.model)
        return model.get_base_model() if is_peft_model(model) else model

    def _freeze_vision(self) -> None:
        core = self._core_model()
        visual = getattr(core, "visual", None)
        if visual is None:
            visual = getattr(core.base_model, "visual", None)
        if visual is None:
            raise TrainConfigError(f"freeze_vision: {type(core).__name__} has no `visual` module; "
                                   "set freeze_vision=false")
        visual.requires_grad_(False)

    # ------------------------------------------------------------------------------------------------------
    # video inputs

    def _sample_frames(self, paths: list[str]) -> dict[str, Any]:
        """Frames of each distinct video once (a group repeats its prompt G times)."""
        from twgrpo_data.video import sample_video

        args = self.args
        return {path: sample_video(path, num_frames=args.num_frames, min_pixels=args.video_min_pixels,
                                   max_pixels=args.video_max_pixels) for path in dict.fromkeys(paths)}

    def _tokenize_prompts(self, prompts: list):
        paths = [_video_path(p) for p in prompts]
        if not any(paths):
            return super()._tokenize_prompts(prompts)
        if not all(paths):
            raise TwgrpoError("a batch mixes prompts with and without video; train on one kind at a time")
        if not self._is_vlm:
            raise TwgrpoError(f"{self.args.model}: video prompts need a vision-language model with a processor")
        from transformers.video_utils import VideoMetadata

        sampled = self._sample_frames(paths)
        clips = [sampled[p] for p in paths]
        texts = self.processing_class.apply_chat_template(
            [_renderable(p) for p in prompts], chat_template=self.chat_template, add_generation_prompt=True,
            tokenize=False, **self.chat_template_kwargs)
        # The frames already fit the pixel budget; the same bounds keep the processor from resizing again.
        size = {"shortest_edge": self.args.video_min_pixels, "longest_edge": self.args.video_max_pixels}
        enc = self.processing_class(
            text=texts, videos=[c.frames for c in clips], padding=True, return_tensors="pt",
            video_metadata=[VideoMetadata(total_num_frames=c.num_frames, fps=c.fps) for c in clips],
            videos_kwargs={"size": size})
        keep = enc["attention_mask"].bool()
        prompt_ids = [row[m].tolist() for row, m in zip(enc["input_ids"], keep)]
        device = self.accelerator.device
        grid = enc["video_grid_thw"]
        self._active_video = {
            "pixel_values_videos": list(torch.split(enc["pixel_values_videos"].to(device), grid.prod(-1).tolist())),
            "video_grid_thw": grid.to(device),
            "second_per_grid_ts": torch.as_tensor(enc["second_per_grid_ts"], dtype=torch.float32, device=device),
        }
        fields = {key: enc[key] for key in VIDEO_KEYS}
        fields["mm_token_type_ids"] = [row[m].tolist() for row, m in zip(enc["mm_token_type_ids"], keep)]
        return prompt_ids, None, fields

    def _video_kwargs(self, video: dict[str, Any] | None, start: int, end: int, input_ids: torch.Tensor) -> dict:
        """Forward kwargs for rows [start, end) of the active video batch ({} for text-only batches)."""
        if video is None:
            return {}
        return {
            "pixel_values_videos": torch.cat(video["pixel_values_videos"][start:end]),
            "video_grid_thw": video["video_grid_thw"][start:end],
            "second_per_grid_ts": video["second_per_grid_ts"][start:end],
            "mm_token_type_ids": (input_ids == self._video_pad_token_id).long() * _VIDEO_TOKEN_TYPE,
        }

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, **kwargs):
        video = self._active_video
        if video is None:
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              batch_size=batch_size, **kwargs)
        # TRL's forward only knows image fields: run it per row chunk with that chunk's video bound in.
        kwargs.pop("mm_token_type_ids", None)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies, aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            fields = self._video_kwargs(video, start, end, input_ids[start:end])
            mm_token_type_ids = fields.pop("mm_token_type_ids")
            lp, ent, aux_loss = super()._get_per_token_logps_and_entropies(
                functools.partial(model, **fields), input_ids[start:end], attention_mask[start:end],
                logits_to_keep, batch_size=end - start, mm_token_type_ids=mm_token_type_ids, **kwargs)
            logps.append(lp)
            entropies.append(ent)
            aux.append(aux_loss)
        return (torch.cat(logps), None if entropies[0] is None else torch.cat(entropies),
                None if aux[0] is None else torch.stack(aux).mean())

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._active_video = {key: inputs[key] for key in VIDEO_KEYS} if VIDEO_KEYS[0] in inputs else None
        try:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        finally:
            self._active_video = None

    # ------------------------------------------------------------------------------------------------------
    # rewards, weights and metrics

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if inputs and "answer" in inputs[0]:
            mode = "train" if self.model.training else "eval"
            stats = answer_metrics(completions, [x["answer"] for x in inputs], self.args.answer_parser)
            n = len(completions)
            local = torch.tensor([stats["soft_accuracy"] * n, stats["accuracy"] * n, stats["format_rate"] * n, n],
                                 dtype=torch.float64, device=self.accelerator.device)
            total = self.accelerator.gather(local.unsqueeze(0)).sum(0)
            for i, key in enumerate(("soft_accuracy", "accuracy", "format_rate")):
                self._metrics[mode][key].append((total[i] / total[3]).item())
        return rewards

    def _generate_and_score_completions(self, inputs):
        self._active_video = None
        try:
            out = super()._generate_and_score_completions(inputs)
            video = self._active_video
            if video is not None:
                out.update(video)
            if self.args.token_weighting:
                mode = "train" if self.model.training else "eval"
                group = self.num_generations if mode == "train" else self.num_generations_eval
                mask = out["completion_mask"] if "tool_mask" not in out else out["completion_mask"] * out["tool_mask"]
                weights = self._token_weights(out, mask, group, video)
                out["sequence_advantages"] = out["advantages"]
                out["token_weights"] = weights
                out["advantages"] = out["advantages"].unsqueeze(1) * weights
                self._log_weight_stats(weights, mask, mode)
            return out
        finally:
            self._active_video = None

    @torch.no_grad()
    def _token_weights(self, out: dict[str, Any], mask: torch.Tensor, group: int, video) -> torch.Tensor:
        """TW-GRPO weights (B·G, L) of a scored batch: one no-grad backbone pass per group, chunked LM head."""
        from trl.models.utils import disable_gradient_checkpointing
        from trl.trainer.utils import maybe_gather_lm_head_ctx

        ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
        attention = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
        length = out["completion_ids"].size(1)
        core = self._core_model()
        backbone, head = core.base_model, core.get_output_embeddings()
        weight = head.weight
        if hasattr(weight, "full_tensor"):  # FSDP2 DTensor shard
            weight = weight.full_tensor()
        args, parts = self.args, []
        with (disable_gradient_checkpointing(self.model, args.gradient_checkpointing_kwargs),
              self.accelerator.autocast(), maybe_gather_lm_head_ctx(head.weight)):
            for start in range(0, ids.size(0), group):
                rows = slice(start, start + group)
                hidden = backbone(input_ids=ids[rows], attention_mask=attention[rows], use_cache=False,
                                  **self._video_kwargs(video, start, start + group, ids[rows])).last_hidden_state
                # the state at position P+t−1 predicts completion token t
                parts.append(token_weights_from_hidden(
                    hidden[:, -length - 1:-1], weight, mask[rows], group, args.alpha,
                    chunk_size=args.weight_chunk_size, divergence=args.divergence, mapping=args.weight_mapping,
                    temperature=self.temperature))
        return torch.cat(parts)

    def _log_weight_stats(self, weights: torch.Tensor, mask: torch.Tensor, mode: str) -> None:
        stats = weight_stats(weights, mask)
        tokens = float(mask.sum())
        local = torch.tensor([[stats["mean"] * tokens, tokens, stats["max"], stats["entropy"]]],
                             dtype=torch.float64, device=self.accelerator.device)
        every = self.accelerator.gather(local)
        self._metrics[mode]["tw/weight_mean"].append((every[:, 0].nansum() / every[:, 1].sum()).item())
        self._metrics[mode]["tw/weight_max"].append(every[:, 2].nan_to_num(-math.inf).max().item())
        self._metrics[mode]["tw/weight_entropy"].append(every[:, 3].nanmean().item())


def _check_output_dir(out: Path, config: TWGRPOConfig, resume: bool, last_checkpoint) -> None:
    """A fresh run never overwrites an earlier one; a resumed run must optimise the same thing."""
    has_checkpoint = out.is_dir() and last_checkpoint(str(out)) is not None
    if not resume:
        if has_checkpoint or (out / config.metrics_file).exists():
            raise TwgrpoError(f"{out}: holds an earlier run; pass --resume to continue it, or give another "
                              "output_dir=DIR")
        return
    if not has_checkpoint:
        raise TwgrpoError(f"{out}: no checkpoint to resume from")
    saved = out / "twgrpo_config.json"
    if saved.is_file():
        old, new = json.loads(saved.read_text(encoding="utf-8")), json.loads(config.to_json_string())
        changed = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in RESUME_KEYS if k in old and old[k] != new.get(k)]
        if changed:
            raise TwgrpoError(f"{out}: resuming with other settings would mix two runs ({'; '.join(changed)}); "
                              "use another output_dir")


def run_training(config: TWGRPOConfig, resume: bool = False) -> Path:
    """Train as configured and return the output folder.

    Writes there: `twgrpo_config.json` (every setting used), `checkpoint-N/` every `save_steps`, the final
    model and processor, the metrics JSONL and the training-curve PNG. `resume=True` continues from the
    last checkpoint in `output_dir` (step count, optimizer, scheduler and RNG state included).
    """
    from transformers.trainer_utils import get_last_checkpoint

    from .plot import plot_training_curves

    out = Path(config.output_dir)
    _check_output_dir(out, config, resume, get_last_checkpoint)
    dataset = load_train_dataset(
        config.train_file, fmt=config.data_format, video_root=config.video_root, question_type=config.question_type,
        max_samples=config.max_train_samples, seed=config.data_seed if config.data_seed is not None else 42,
        template=config.prompt_template, system_prompt=config.system_prompt, require_video=config.require_video)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "twgrpo_config.json", config.to_json_string())
    metrics = out / config.metrics_file
    trainer = TWGRPOTrainer(
        model=config.model, args=config, train_dataset=dataset, callbacks=[MetricsJsonlCallback(metrics)],
        reward_funcs=build_reward_funcs(config.accuracy_reward, config.answer_parser, config.format_reward))
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(str(out))
    if config.plot_file and trainer.is_world_process_zero():
        plot_training_curves([metrics], out / config.plot_file)
    return out
