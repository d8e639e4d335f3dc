"""Video rollouts on vLLM for `twgrpo train` (`use_vllm: true`, TRL's colocate mode).

TRL 1.16 hands vLLM the prompt's token ids and, for vision models, images (`VLLMGeneration`). A video prompt would
reach the engine as token ids alone — the video's placeholder tokens with no video — and vLLM answers such a
prompt without a word. This module keeps everything else of TRL's vLLM path — its engine in the training process,
its sampling settings, its weight sync after each optimizer step, the log-probabilities it returns (hence its
importance-sampling correction), sleep mode — and changes two things:

- **the engine** is built with evaluation's video settings (`video_engine_kwargs`: one video per prompt, the run's
  pixel bounds), the policy's dtype, and the run's `vllm_engine_kwargs`, on top of TRL's own arguments;
- **each video prompt** goes to the engine as evaluation sends it (`vllm_prompt`): the chat text and the frames the
  trainer decoded once for the group, with their sampling rate — the frames, fps (`second_per_grid_ts`) and pixel
  budget the policy's forward sees. The engine's token ids for each prompt must equal the trainer's (the same
  video tokens in the same places), or the step stops with one line naming the record.

Every completion is sampled with its own seed, drawn from the run's seed, the step and the row, so a resumed run
samples what the uninterrupted one did (the engine's own random state is not part of a checkpoint).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trl.generation.vllm_generation import VLLMGeneration  # imports without vLLM too

from twgrpo_data.errors import RecordError, TwgrpoError
from twgrpo_eval.backends.base import one_line
from twgrpo_eval.backends.vllm_backend import vllm_prompt

if TYPE_CHECKING:
    from twgrpo_data.video import VideoFrames


@dataclass(frozen=True)
class VideoRollout:
    """One row's rollout request: the record it comes from, its chat text, its frames and its sampling seed."""

    record: str
    text: str
    video: VideoFrames
    seed: int

    def request(self) -> dict[str, Any]:
        """The engine request, built where evaluation builds its own (`vllm_prompt`)."""
        return vllm_prompt(self.text, self.video)


class VideoEngine:
    """TRL's colocated `vllm.LLM`, whose `generate` sends the pending video rollouts instead of bare token ids.

    TRL calls `generate` with `{"prompt_token_ids": ids}` rows (one per completion) and one `SamplingParams`; with
    rollouts pending, row i becomes rollout i's request with its own seed, and the engine's prompt token ids must
    equal `ids`. Everything else (weight loading, cache resets, sleep) reaches the engine unchanged.
    """

    def __init__(self, llm) -> None:
        self.llm = llm
        self.pending: list[VideoRollout] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.llm, name)

    def generate(self, prompts, sampling_params=None, **kwargs):
        rollouts, self.pending = self.pending, None
        if rollouts is None:
            return self.llm.generate(prompts, sampling_params=sampling_params, **kwargs)
        if len(prompts) != len(rollouts):
            raise TwgrpoError(
                f"vLLM rollouts: {len(prompts)} prompts reached the engine for {len(rollouts)} video rows "
                "(video rollouts need vllm_tensor_parallel_size=1)"
            )
        requests = [r.request() for r in rollouts]
        params = [_seeded(sampling_params, r.seed) for r in rollouts]
        try:
            outputs = self.llm.generate(requests, params, **kwargs)
        except Exception as exc:  # noqa: BLE001 — named per record below
            raise self._culprit(rollouts, requests, params, kwargs, exc) from exc
        for rollout, prompt, output in zip(rollouts, prompts, outputs):
            check_prompt_tokens(rollout, list(prompt["prompt_token_ids"]), list(output.prompt_token_ids or []))
        return outputs

    def _culprit(self, rollouts, requests, params, kwargs, exc: Exception) -> TwgrpoError:
        """The error of the first record the engine refuses on its own, when it refused the batch while taking
        the requests in (else, failed while running them, it is not asked again: the batch's error)."""
        running = self.llm.llm_engine.has_unfinished_requests()
        for rollout, request, param in [] if running else zip(rollouts, requests, params):
            probe = param.clone()
            probe.max_tokens = 1
            try:
                self.llm.generate([request], [probe], **kwargs)
            except Exception as single:  # noqa: BLE001
                return RecordError(f"vLLM could not generate from it: {one_line(single)}", record_id=rollout.record)
        records = ", ".join(dict.fromkeys(r.record for r in rollouts))
        return TwgrpoError(f"records {records}: vLLM could not generate from this batch: {one_line(exc)}")


def check_prompt_tokens(rollout: VideoRollout, policy: Sequence[int], engine: Sequence[int]) -> None:
    """Refuse a rollout whose prompt the engine saw differently from the policy (other video tokens, or none)."""
    if list(policy) == list(engine):
        return
    first = next((i for i, (a, b) in enumerate(zip(policy, engine)) if a != b), min(len(policy), len(engine)))
    raise RecordError(
        f"vLLM's prompt differs from the policy's ({len(engine)} tokens against {len(policy)}, first difference at "
        f"token {first}): the engine did not see the video the policy is trained on, so its rollouts cannot be",
        record_id=rollout.record,
        field="video",
    )


def _seeded(params, seed: int):
    """`params` with the row's seed, unless the run fixed one itself (`generation_kwargs: {seed: …}`)."""
    if params.seed is not None:
        return params
    own = params.clone()
    own.seed = seed
    return own


class VideoVLLMGeneration(VLLMGeneration):
    """TRL's `VLLMGeneration` whose colocated engine takes video prompts (`VideoEngine`).

    `engine_kwargs` join (and win over) the arguments TRL builds the engine with. Server mode is TRL's own.
    """

    def __init__(self, *args, engine_kwargs: dict[str, Any] | None = None, **kwargs) -> None:
        self.engine_kwargs = dict(engine_kwargs or {})
        super().__init__(*args, **kwargs)

    def _init_vllm(self) -> None:
        if self.mode != "colocate":
            return super()._init_vllm()
        import trl.generation.vllm_generation as host

        build = host.LLM

        def engine(**trl_kwargs):
            return build(**{**trl_kwargs, **self.engine_kwargs})

        # TRL builds the engine in `_init_vllm` with no way to add arguments: its `LLM` name takes ours meanwhile
        host.LLM = engine
        try:
            super()._init_vllm()
        finally:
            host.LLM = build
        self.llm = VideoEngine(self.llm)

    def sync_weights(self) -> None:
        """Load the policy's weights into the colocated engine through vLLM's in-place reload.

        TRL copies each tensor into the engine's parameter with `load_weights`. vLLM's CPU build repacks its
        linear layers' weights after loading (oneDNN / packed GEMM) and drops the parameters TRL would copy into,
        so there that copy fails; `reload_weights` restores the loading layout, loads and repacks — on every
        platform — and also empties the engine's encoder and multimodal caches, which would otherwise keep video
        embeddings computed with the old vision weights (freeze_vision=false).
        """
        if self.mode != "colocate":
            return super().sync_weights()
        if self.enable_sleep_mode:  # as TRL: map the weights' memory before writing into it
            from trl.generation.vllm_generation import empty_cache

            empty_cache()
            self.llm.wake_up(tags=["weights"])
            self._llm_weights_sleeping = False
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": self._iter_named_params()})
        self.llm.collective_rpc(repack_tied_heads)
        # the worker dropped its caches; the engine's bookkeeping of them goes too (else: "encoder cache miss")
        self.llm.llm_engine.reset_encoder_cache()
        self.llm.reset_mm_cache()
        self.llm.reset_prefix_cache()

    @contextlib.contextmanager
    def rollouts(self, rollouts: list[VideoRollout] | None) -> Iterator[None]:
        """Send `rollouts` (aligned with the prompts TRL passes next) as the next `generate`'s requests."""
        engine = self.llm if isinstance(getattr(self, "llm", None), VideoEngine) else None
        if rollouts is not None and engine is None:
            raise TwgrpoError("video rollouts need vllm_mode=colocate")
        if engine is not None:
            engine.pending = rollouts
        try:
            yield
        finally:
            if engine is not None:
                engine.pending = None


def repack_tied_heads(worker) -> int:
    """Prepare again, from the reloaded weights, every LM head that shares its weight with the embeddings.

    vLLM's in-place reload prepares each layer after its own weights arrive; a tied head (Qwen2.5-VL-3B, the
    tiny model) receives none — its weight is the embeddings' — so on the CPU it would keep the packed copy of
    the old weights it made at load time and score every token with them. Runs in the engine's worker
    (`LLM.collective_rpc`); returns how many heads it prepared.
    """
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead, VocabParallelEmbedding

    model = worker.model_runner.get_model()
    embeddings = {id(m.weight) for m in model.modules() if type(m) is VocabParallelEmbedding and hasattr(m, "weight")}
    heads = [
        m for m in model.modules() if isinstance(m, ParallelLMHead) and id(getattr(m, "weight", None)) in embeddings
    ]
    for head in heads:
        head.quant_method.process_weights_after_loading(head)
    return len(heads)


@contextlib.contextmanager
def video_vllm_generation(engine_kwargs: dict[str, Any]) -> Iterator[None]:
    """While a `GRPOTrainer` is being built, make it build `VideoVLLMGeneration` (with `engine_kwargs`) where it
    builds TRL's `VLLMGeneration` (TRL has no way to choose the class)."""
    import trl.trainer.grpo_trainer as host

    original = host.VLLMGeneration
    host.VLLMGeneration = functools.partial(VideoVLLMGeneration, engine_kwargs=engine_kwargs)
    try:
        yield
    finally:
        host.VLLMGeneration = original
