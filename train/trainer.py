"""`TWGRPOTrainer`: TRL's `GRPOTrainer` with video inputs and TW-GRPO token weights (wiring only).

What the subclass adds (the maths lives in `weights.py` and `rewards.py`):

- **Video.** Prompts carry `{"type": "video", "video": PATH, "video_start": …, "video_end": …}` (located as
  evaluation locates them); `_tokenize_prompts` samples the clip's frames with `twgrpo_data.video` and runs
  the processor with the frames' real sampling rate (so
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
- **Resume.** Checkpoints of Qwen2.5-VL are written under the model's legacy parameter names (transformers
  reverts its key mapping on save) and `Trainer`'s resume path loads them without it, which silently keeps
  the base weights (transformers issue #43701). `_load_from_checkpoint` loads them through the model's own
  key conversion and refuses any key that is still missing or unexpected.

`run_training(config)` is the library entry point behind `twgrpo train`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
from pathlib import Path
from typing import Any

import torch
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from trl import GRPOTrainer
from trl.trainer.utils import RepeatSampler

from twgrpo_data.errors import RecordError, TwgrpoError, VideoError
from twgrpo_data.outputs import atomic_write_text
from twgrpo_data.video import VideoRef
from twgrpo_eval.backends.base import request_seed
from twgrpo_eval.backends.mrope import use_released_mrope

from .callbacks import MetricsJsonlCallback, StepLinePrinterCallback, StepLineProgressCallback
from .card import write_model_card
from .config import TrainConfigError, TWGRPOConfig
from .data import load_train_dataset
from .rewards import answer_metrics, build_reward_funcs
from .run_folder import check_output_dir, finished_step, load_checkpoint_weights, run_record, weight_files
from .weights import token_weights_from_hidden, weight_stats, weighted_objective_with_grad

VIDEO_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
# Qwen2.5-VL's `mm_token_type_ids` value for video placeholder tokens (0 text, 1 image).
_VIDEO_TOKEN_TYPE = 2


def _video_ref(prompt: str | list[dict[str, Any]]) -> VideoRef | None:
    """The video (path and clip) of a prompt's video part (one video per prompt), or None for text only."""
    if isinstance(prompt, str):
        return None
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "video" and part.get("video"):
                    return VideoRef(
                        path=part["video"],
                        start=part.get("video_start"),
                        end=part.get("video_end"),
                        frame_fps=part.get("frame_fps"),
                    )
    return None


def _renderable(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt for the chat template: no video payload, no None-valued keys added by arrow's schema."""
    out = []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            content = [
                {"type": "video"} if part["type"] == "video" else {k: v for k, v in part.items() if v is not None}
                for part in content
            ]
        out.append({**message, "content": content})
    return out


class EpochSeededRepeatSampler(RepeatSampler):
    """TRL's `RepeatSampler` whose order in epoch e does not depend on how many passes this object has made.

    `RepeatSampler` draws each pass's permutation from one generator seeded once, so a run resumed in its
    second epoch (a fresh sampler) would replay the first epoch's order. The Trainer calls `set_epoch(e)`
    before every epoch; this reseeds and skips e draws, which is the order an uninterrupted run has in
    epoch e (and changes nothing in the first epoch).
    """

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle and self.seed is not None:
            self.generator.manual_seed(self.seed)
            for _ in range(epoch):
                torch.randperm(self.num_samples, generator=self.generator)


class TWGRPOTrainer(GRPOTrainer):
    """GRPO / TW-GRPO on TRL for Qwen2.5-VL-style video models (and text-only causal LMs).

    Takes the same arguments as `GRPOTrainer`, with `args` a `TWGRPOConfig`. Rows are TRL conversational
    prompts whose user turn may hold one `{"type": "video", "video": PATH}` part (see
    `twgrpo_train.data.load_train_dataset`).
    """

    _tag_names = ["trl", "grpo", "tw-grpo"]
    _name = "TW-GRPO"

    def __init__(
        self,
        model,
        reward_funcs,
        args: TWGRPOConfig,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        callbacks=None,
        **kwargs,
    ):
        if not isinstance(args, TWGRPOConfig):
            raise TypeError("TWGRPOTrainer needs a TWGRPOConfig")
        engine = contextlib.nullcontext()
        if args.use_vllm:
            from .rollout import video_vllm_generation

            engine = video_vllm_generation(self._rollout_engine_kwargs(args, model, train_dataset))
        with engine:
            super().__init__(
                model=model,
                reward_funcs=reward_funcs,
                args=args,
                train_dataset=train_dataset,
                eval_dataset=eval_dataset,
                processing_class=processing_class,
                callbacks=callbacks,
                **kwargs,
            )
        self.loss_type = args.trl_loss_type
        # Qwen2(.5)-VL: the text after a video where the released model (and vLLM) has it, in every forward
        for policy in (self.model, self.ref_model):
            if policy is not None:
                use_released_mrope(self.accelerator.unwrap_model(policy))
        for stock, compact in (
            (ProgressCallback, StepLineProgressCallback),
            (PrinterCallback, StepLinePrinterCallback),
        ):
            if self.pop_callback(stock) is not None:
                self.add_callback(compact)
        # Video tensors of the batch being scored or trained on (rows aligned with the ids passed to forward).
        self._active_video: dict[str, Any] | None = None
        # The records of the batch being generated, its vLLM rollout requests, and generation calls per step.
        self._batch_records: list[str] = []
        self._rollouts = None
        self._rollout_calls: dict[tuple[str, int], int] = {}
        suppress = set()
        if self._is_vlm and self._video_pad_token_id is not None:
            # a sampled video placeholder would not match the video features in later forwards
            suppress.add(self._video_pad_token_id)
        if args.completion_alphabet:
            suppress |= self._outside_alphabet(args.completion_alphabet)
        if suppress:
            self._suppress(suppress)
        if args.freeze_vision and self._is_vlm:
            self._freeze_vision()

    @staticmethod
    def _rollout_engine_kwargs(args: TWGRPOConfig, model, dataset) -> dict[str, Any]:
        """What the colocated vLLM engine gets beyond TRL's arguments: for video data evaluation's video settings
        (one video per prompt, the run's pixel bounds); the policy's dtype (vLLM's `auto` would run an fp32
        checkpoint in fp16); then the run's own `vllm_engine_kwargs`. Server mode cannot carry videos: refused."""
        from twgrpo_data import installed_version
        from twgrpo_eval.backends import VLLM_DISTRIBUTIONS, PixelBudget
        from twgrpo_eval.backends.vllm_backend import video_engine_kwargs

        video = next((i for i, row in enumerate(dataset or []) if _video_ref(row["prompt"])), None)
        if video is not None and args.vllm_mode != "colocate":
            raise TrainConfigError(
                f"use_vllm with vllm_mode={args.vllm_mode}: training row {video} has a video, and TRL's vLLM server "
                "client sends token ids and images only (its weight sync also needs CUDA); set vllm_mode=colocate"
            )
        if video is not None and args.vllm_tensor_parallel_size != 1:
            raise TrainConfigError("video rollouts on vLLM run one engine per process: set vllm_tensor_parallel_size=1")
        if not installed_version(*VLLM_DISTRIBUTIONS):
            raise TrainConfigError(
                "use_vllm: vLLM is not installed (pip install 'twgrpo[vllm]'); or set use_vllm=false"
            )
        kwargs = video_engine_kwargs(PixelBudget(args.min_pixels, args.max_pixels)) if video is not None else {}
        kwargs["dtype"] = _policy_dtype(args, model)
        return {**kwargs, **(args.vllm_engine_kwargs or {})}

    # ------------------------------------------------------------------------------------------------------
    # model parts

    def _get_train_sampler(self, dataset=None):
        base = super()._get_train_sampler(dataset)
        return EpochSeededRepeatSampler(
            data_source=base.data_source,
            mini_repeat_count=base.mini_repeat_count,
            batch_size=base.batch_size,
            repeat_count=base.repeat_count,
            shuffle=base.shuffle,
            seed=base.seed,
        )

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        from accelerate.utils import is_peft_model

        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        if (
            self.is_deepspeed_enabled
            or self.is_fsdp_enabled
            or is_peft_model(target)
            or not weight_files(Path(resume_from_checkpoint))
        ):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_checkpoint_weights(target, Path(resume_from_checkpoint))

    def _core_model(self):
        from accelerate.utils import is_peft_model

        model = self.accelerator.unwrap_model(self.model)
        return model.get_base_model() if is_peft_model(model) else model

    def _vocabulary_size(self) -> int:
        tokenizer = getattr(self.processing_class, "tokenizer", self.processing_class)
        return max(len(tokenizer), self._core_model().get_output_embeddings().weight.size(0))

    def _outside_alphabet(self, alphabet: str) -> set[int]:
        """The tokens not spelled with `alphabet` (the end tokens are always kept)."""
        tokenizer = getattr(self.processing_class, "tokenizer", self.processing_class)
        keep = {tokenizer.eos_token_id, *self.eos_token_ids}
        for token, index in tokenizer.get_vocab().items():
            text = tokenizer.convert_tokens_to_string([token])
            if text and all(ch in alphabet for ch in text):
                keep.add(index)
        return set(range(self._vocabulary_size())) - keep

    def _suppress(self, tokens: set[int]) -> None:
        """Never sample `tokens`: HF `generate` suppresses them; vLLM may sample only the others (both mask the
        logits to −inf, so both sample from the same distribution)."""
        if self.use_vllm:
            allowed = sorted(set(range(self._vocabulary_size())) - tokens)
            self.vllm_generation.generation_kwargs["allowed_token_ids"] = allowed
        else:
            self.generation_config.suppress_tokens = sorted({*(self.generation_config.suppress_tokens or []), *tokens})
            self.generation_kwargs["suppress_tokens"] = self.generation_config.suppress_tokens

    def _freeze_vision(self) -> None:
        core = self._core_model()
        visual = getattr(core, "visual", None)
        if visual is None:
            visual = getattr(core.base_model, "visual", None)
        if visual is None:
            raise TrainConfigError(
                f"freeze_vision: {type(core).__name__} has no `visual` module; set freeze_vision=false"
            )
        visual.requires_grad_(False)

    # ------------------------------------------------------------------------------------------------------
    # video inputs

    def _sample_frames(self, refs: list[VideoRef], records: list[str] | None = None) -> dict[VideoRef, Any]:
        """Frames of each distinct video clip once (a group repeats its prompt G times); a video that cannot be
        decoded stops the step with one line naming its record (`records`: the rows' record ids)."""
        args = self.args
        by_rate = (
            {"fps": args.sample_fps, "min_frames": args.min_frames, "max_frames": args.max_frames}
            if args.sample_fps
            else {}
        )
        records = dict(zip(refs, records)) if records is not None and len(records) == len(refs) else {}
        frames = {}
        for ref in dict.fromkeys(refs):
            try:
                frames[ref] = ref.sample(
                    frames=args.frames, min_pixels=args.min_pixels, max_pixels=args.max_pixels, **by_rate
                )
            except VideoError as exc:
                raise RecordError(str(exc), file=args.train_file, record_id=records.get(ref), field="video") from None
        return frames

    def _tokenize_prompts(self, prompts: list):
        paths = [_video_ref(p) for p in prompts]
        if not any(paths):
            return super()._tokenize_prompts(prompts)
        if not all(paths):
            raise TwgrpoError("a batch mixes prompts with and without video; train on one kind at a time")
        if not self._is_vlm:
            raise TwgrpoError(f"{self.args.model}: video prompts need a vision-language model with a processor")
        from transformers.video_utils import VideoMetadata

        sampled = self._sample_frames(paths, self._batch_records)
        clips = [sampled[p] for p in paths]
        texts = self.processing_class.apply_chat_template(
            [_renderable(p) for p in prompts],
            chat_template=self.chat_template,
            add_generation_prompt=True,
            tokenize=False,
            **self.chat_template_kwargs,
        )
        # The frames already fit the pixel budget; the same bounds keep the processor from resizing again.
        size = {"shortest_edge": self.args.min_pixels, "longest_edge": self.args.max_pixels}
        enc = self.processing_class(
            text=texts,
            videos=[c.frames for c in clips],
            padding=True,
            return_tensors="pt",
            video_metadata=[
                VideoMetadata(total_num_frames=c.num_frames, fps=self.args.model_fps or c.fps) for c in clips
            ],
            videos_kwargs={"size": size},
        )
        keep = enc["attention_mask"].bool()
        prompt_ids = [row[m].tolist() for row, m in zip(enc["input_ids"], keep)]
        if self.use_vllm:
            self._rollouts = self._video_rollouts(texts, clips)
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

    def _video_rollouts(self, texts: list[str], clips: list[Any]):
        """The vLLM request of every row: its chat text and the group's frames (decoded once), told the rate the
        policy is told (`model_fps`, else the frames' own), with a seed of its own (see `rollout`)."""
        from .rollout import VideoRollout

        mode = "train" if self.model.training else "eval"
        step = self.state.global_step
        call = self._rollout_calls[(mode, step)] = self._rollout_calls.get((mode, step), -1) + 1
        rank = self.accelerator.process_index
        records = self._batch_records if len(self._batch_records) == len(texts) else [str(i) for i in range(len(texts))]
        if self.args.model_fps:
            clips = [dataclasses.replace(c, fps=self.args.model_fps) for c in clips]
        return [
            VideoRollout(record, text, clip, request_seed(self.args.seed, f"{mode}:{step}:{call}:{rank}:{row}"))
            for row, (record, text, clip) in enumerate(zip(records, texts, clips))
        ]

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        rollouts, self._rollouts = self._rollouts, None
        if not self.use_vllm:
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        with self.vllm_generation.rollouts(rollouts):
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )

    def _video_kwargs(
        self, video: dict[str, Any] | None, start: int, end: int, input_ids: torch.Tensor, rows: list[int] | None = None
    ) -> dict:
        """Forward kwargs for rows [start, end) (or the listed `rows`) of the active video batch ({} for text)."""
        if video is None:
            return {}
        rows = list(range(start, end)) if rows is None else rows
        return {
            "pixel_values_videos": torch.cat([video["pixel_values_videos"][i] for i in rows]),
            "video_grid_thw": video["video_grid_thw"][rows],
            "second_per_grid_ts": video["second_per_grid_ts"][rows],
            "mm_token_type_ids": (input_ids == self._video_pad_token_id).long() * _VIDEO_TOKEN_TYPE,
        }

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, **kwargs
    ):
        video = self._active_video
        if video is None:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, **kwargs
            )
        # TRL's forward only knows image fields: run it per row chunk with that chunk's video bound in.
        kwargs.pop("mm_token_type_ids", None)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies, aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            fields = self._video_kwargs(video, start, end, input_ids[start:end])
            mm_token_type_ids = fields.pop("mm_token_type_ids")
            lp, ent, aux_loss = super()._get_per_token_logps_and_entropies(
                functools.partial(model, **fields),
                input_ids[start:end],
                attention_mask[start:end],
                logits_to_keep,
                batch_size=end - start,
                mm_token_type_ids=mm_token_type_ids,
                **kwargs,
            )
            logps.append(lp)
            entropies.append(ent)
            aux.append(aux_loss)
        return (
            torch.cat(logps),
            None if entropies[0] is None else torch.cat(entropies),
            None if aux[0] is None else torch.stack(aux).mean(),
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._active_video = {key: inputs[key] for key in VIDEO_KEYS} if VIDEO_KEYS[0] in inputs else None
        try:
            loss = super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
            args = self.args
            if (
                model.training
                and "group_index" in inputs
                and (not args.detach_weights or (args.weight_kl and self.beta != 0.0))
            ):
                loss = loss + self._released_weight_terms(model, inputs)
            return loss
        finally:
            self._active_video = None

    def _released_weight_terms(self, model, inputs: dict[str, Any]) -> torch.Tensor:
        """The released code's extra loss terms, as a surrogate added to TRL's loss.

        Released: loss = Σ w_t·m·(−min(r·A, clip(r)·A) + β·kl) / N with w computed from the training
        forward. TRL's loss already holds Σ w_t·m·(−A)·r / N (+ β·kl unweighted). On fresh samples (r = 1,
        which `steps_per_generation = num_iterations = 1` guarantees) the rest is, per group,
        Σ m·(−A + β·kl)·(w − sg(w)) / N for gradients through w (`detach_weights: false`) and
        Σ m·β·(sg(w) − 1)·kl / N for the weighted KL (`weight_kl`): one more backbone forward with grad per
        group, whose LM head runs `weight_chunk_size` positions at a time (`weighted_objective_with_grad`), so
        the full-vocabulary logits of the whole completion never exist at once.
        """
        args = self.args
        ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
        attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        mask = inputs["completion_mask"] * inputs["tool_mask"] if "tool_mask" in inputs else inputs["completion_mask"]
        length = inputs["completion_ids"].size(1)
        advantages = inputs["sequence_advantages"]
        weighted_kl = args.weight_kl and self.beta != 0.0
        core = self._core_model()
        backbone, head = core.base_model, core.get_output_embeddings()
        total = ids.new_zeros((), dtype=torch.float32)
        for group in inputs["group_index"].unique().tolist():
            rows = (inputs["group_index"] == group).nonzero().squeeze(1).tolist()
            if len(rows) != self.num_generations:
                raise TwgrpoError(f"group {group} is split across loss steps; set steps_per_generation=1")
            hidden = backbone(
                input_ids=ids[rows],
                attention_mask=attention[rows],
                use_cache=False,
                **self._video_kwargs(self._active_video, 0, 0, ids[rows], rows=rows),
            ).last_hidden_state[:, -length - 1 : -1]
            m = mask[rows].float()
            ref = inputs["ref_per_token_logps"][rows] if weighted_kl else None
            coef = -advantages[rows].unsqueeze(1).expand_as(m)

            def objective(w, logp, m=m, ref=ref, coef=coef):
                out = w.new_zeros(())
                if ref is not None:
                    kl = torch.exp(ref - logp) - (ref - logp) - 1
                    coef = coef + self.beta * kl.detach()
                    out = out + (self.beta * (w.detach() - 1.0) * kl * m).sum()
                if not args.detach_weights:
                    out = out + (coef * (w - w.detach()) * m).sum()
                return out

            total = total + weighted_objective_with_grad(
                hidden,
                head,
                mask[rows],
                inputs["completion_ids"][rows],
                len(rows),
                args.alpha,
                objective,
                chunk_size=args.weight_chunk_size,
                divergence=args.divergence,
                temperature=self.temperature,
            )
        if self.loss_type == "bnpo":  # token_normalizer: local — this micro-batch's own tokens
            normalizer = mask.sum().clamp(min=1.0) * self.current_gradient_accumulation_steps
        else:  # TRL's DAPO normaliser
            normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
            normalizer = normalizer * self.current_gradient_accumulation_steps / args.steps_per_generation
        return total / normalizer

    # ------------------------------------------------------------------------------------------------------
    # rewards, weights and metrics

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if inputs and "answer" in inputs[0]:
            mode = "train" if self.model.training else "eval"
            stats = answer_metrics(completions, [x["answer"] for x in inputs], self.args.answer_parser)
            n = len(completions)
            local = torch.tensor(
                [stats["soft_accuracy"] * n, stats["accuracy"] * n, stats["format_rate"] * n, n],
                dtype=torch.float64,
                device=self.accelerator.device,
            )
            total = self.accelerator.gather(local.unsqueeze(0)).sum(0)
            for i, key in enumerate(("soft_accuracy", "accuracy", "format_rate")):
                self._metrics[mode][key].append((total[i] / total[3]).item())
        return rewards

    def _generate_and_score_completions(self, inputs):
        self._active_video = None
        self._batch_records = [str(x.get("id", i)) for i, x in enumerate(inputs)]
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
                # which group each row belongs to: TRL shuffles rows before the loss step
                out["group_index"] = torch.arange(weights.size(0), device=weights.device) // group
                out["advantages"] = out["advantages"].unsqueeze(1) * weights
                self._log_weight_stats(weights, mask, mode)
            return out
        finally:
            self._active_video = None

    @torch.no_grad()
    def _token_weights(self, out: dict[str, Any], mask: torch.Tensor, group: int, video) -> torch.Tensor:
        """TW-GRPO weights (B·G, L) of a scored batch: one no-grad backbone pass per group, chunked LM head."""
        from trl.models.utils import disable_gradient_checkpointing

        ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
        attention = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
        length = out["completion_ids"].size(1)
        core = self._core_model()
        backbone, head = core.base_model, core.get_output_embeddings()
        args, parts = self.args, []
        with (
            disable_gradient_checkpointing(self.model, args.gradient_checkpointing_kwargs),
            self.accelerator.autocast(),
        ):
            for start in range(0, ids.size(0), group):
                rows = slice(start, start + group)
                hidden = backbone(
                    input_ids=ids[rows],
                    attention_mask=attention[rows],
                    use_cache=False,
                    **self._video_kwargs(video, start, start + group, ids[rows]),
                ).last_hidden_state
                # gathered after the backbone: under ZeRO-3 its forward re-partitions a head tied to the embeddings
                with _gathered(head.weight):
                    weight = head.weight
                    if hasattr(weight, "full_tensor"):  # FSDP2 DTensor shard
                        weight = weight.full_tensor()
                    # the state at position P+t−1 predicts completion token t
                    parts.append(
                        token_weights_from_hidden(
                            hidden[:, -length - 1 : -1],
                            weight,
                            mask[rows],
                            group,
                            args.alpha,
                            chunk_size=args.weight_chunk_size,
                            divergence=args.divergence,
                            temperature=self.temperature,
                        )
                    )
        return torch.cat(parts)

    def _log_weight_stats(self, weights: torch.Tensor, mask: torch.Tensor, mode: str) -> None:
        stats = weight_stats(weights, mask)
        tokens = float(mask.sum())
        local = torch.tensor(
            [[stats["mean"] * tokens, tokens, stats["max"], stats["entropy"]]],
            dtype=torch.float64,
            device=self.accelerator.device,
        )
        every = self.accelerator.gather(local)
        self._metrics[mode]["tw/weight_mean"].append((every[:, 0].nansum() / every[:, 1].sum()).item())
        self._metrics[mode]["tw/weight_max"].append(every[:, 2].nan_to_num(-math.inf).max().item())
        self._metrics[mode]["tw/weight_entropy"].append(every[:, 3].nanmean().item())


def _policy_dtype(args: TWGRPOConfig, model) -> str:
    """The dtype the policy's weights load in (TRL: `model_init_kwargs.dtype`, `auto` = the checkpoint's)."""
    if not isinstance(model, str):
        return str(model.dtype).removeprefix("torch.")
    dtype = (args.model_init_kwargs or {}).get("dtype", "auto")
    if dtype in (None, "auto"):
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model, trust_remote_code=args.trust_remote_code)
        dtype = getattr(config, "dtype", None) or "float32"
    return str(dtype).removeprefix("torch.")


def _gathered(param: torch.nn.Parameter):
    """Context in which a DeepSpeed ZeRO-3 partitioned parameter holds its full tensor (read only); else nothing.

    TRL's `maybe_gather_lm_head_ctx` asks transformers whether ZeRO-3 is on, which it does not know when
    `accelerate launch` set DeepSpeed up; the parameter itself says it is partitioned (`ds_id`)."""
    import contextlib

    if not hasattr(param, "ds_id"):
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters([param], modifier_rank=None)


def _attn_implementation(config: TWGRPOConfig) -> str:
    """`attn_implementation: auto` → flash-attention 2 when installed and on a GPU, else PyTorch's SDPA."""
    import importlib.util

    if config.attn_implementation != "auto":
        return config.attn_implementation
    if importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available() and not config.use_cpu:
        return "flash_attention_2"
    return "sdpa"


def run_training(config: TWGRPOConfig, resume: bool = False, log=print) -> Path:
    """Train as configured and return the output folder.

    Writes there: `twgrpo_config.json` (every setting used), `checkpoint-N/` every `save_steps`, the final
    model and processor with a model card, the metrics JSONL and the training-curve plot. `resume=True`
    continues from the last complete checkpoint in `output_dir` (weights, step count, optimizer, scheduler
    and RNG state); resuming a finished run does nothing. `log` receives one-line progress notes.
    """
    from .config import check_model_path
    from .plot import plot_training_curves

    out = Path(config.output_dir)
    check_model_path(config.model)
    if Path(config.model).expanduser().exists():  # a local model: the same folder however it was written
        config.model = str(Path(config.model).expanduser().resolve())
    attn = _attn_implementation(config)
    config.model_init_kwargs = {**(config.model_init_kwargs or {}), "attn_implementation": attn}
    checkpoint = check_output_dir(out, config, resume, note=log)
    if checkpoint is not None and (step := finished_step(checkpoint, config)) is not None:
        log(f"{out}: the run already finished at step {step} (max_steps {config.max_steps}); nothing to do")
        return out
    dataset = load_train_dataset(
        config.train_file,
        fmt=config.data_format,
        video_root=config.video_root,
        question_type=config.question_type,
        max_samples=config.max_train_samples,
        seed=config.data_seed if config.data_seed is not None else 42,
        template=config.prompt_template,
        system_prompt=config.system_prompt,
        require_video=config.require_video,
        allow_outside_video_root=config.allow_outside_video_root,
    )
    log(f"attention: {attn}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "twgrpo_config.json", json.dumps(run_record(config), indent=2) + "\n")
    metrics = out / config.metrics_file
    trainer = TWGRPOTrainer(
        model=config.model,
        args=config,
        train_dataset=dataset,
        callbacks=[MetricsJsonlCallback(metrics)],
        reward_funcs=build_reward_funcs(config.accuracy_reward, config.answer_parser, config.format_reward),
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        write_model_card(out, config, len(dataset))
        if config.plot_file:
            plot_training_curves([metrics], out / config.plot_file)
    return out
