"""Video rollouts on vLLM in `twgrpo train` (`use_vllm: true`, TRL's colocate mode: the engine in the training
process) on the CPU, with the tiny Qwen2.5-VL and the real videos.

Differential tests against HF `generate` (the path twgrpo trained with before): greedy rollouts, rewards,
advantages, token weights and loss equal step after step; the engine follows the policy after every optimizer
step (its log-probabilities equal the transformers forward's); TRL's importance-sampling ratio measures exactly
what the sampling masks out. Then the failures (a rollout without its video, an engine error, an undecodable video:
one line naming the record) and the command as users run it: the tiny config, a killed run resumed exactly, and a
two-process launch with an engine per process.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest
import torch
from cli_helpers import accelerate_launch, run_cli_subprocess
from paths import TINY_YAML
from train_helpers import KILLED, TRAIN_ENV, step_lines, weights

from twgrpo_data.errors import RecordError, TwgrpoError
from twgrpo_train.config import load_config
from twgrpo_train.data import load_train_dataset
from twgrpo_train.rollout import VideoRollout
from twgrpo_train.trainer import TWGRPOTrainer

pytestmark = pytest.mark.slow

# Greedy (top_k=1: HF generate and vLLM both keep the arg-max token) with a repetition penalty both apply to the
# prompt's and the completion's tokens: the random model's greedy answers then differ from prompt to prompt.
# No importance-sampling correction: the HF path has none, and top_k=1 renormalises vLLM's log-probs to 0.
GREEDY = [
    "top_k=1",
    "repetition_penalty=4.0",
    "completion_alphabet=null",
    "max_completion_length=6",
    "vllm_importance_sampling_correction=false",
    "save_strategy=no",
]
STEPS = 3
LEARNING_RATE = 0.5


def text_checksum(completions, **_):
    """A reward that tells almost any two different completions apart, so advantages are not all zero."""
    return [sum(map(ord, c[-1]["content"])) % 11 / 10 for c in completions]


def trainer_for(model, out, *overrides) -> tuple[TWGRPOTrainer, object]:
    cfg = load_config(TINY_YAML, [f"model={model}", f"output_dir={out}", *overrides])
    dataset = load_train_dataset(cfg.train_file, video_root=cfg.video_root)
    return TWGRPOTrainer(model=cfg.model, args=cfg, train_dataset=dataset, reward_funcs=[text_checksum]), dataset


def probe(trainer: TWGRPOTrainer, row: dict) -> tuple[dict[int, float], dict[int, float]]:
    """First-token log-probabilities of the 20 likeliest tokens for `row`'s prompt: the engine's (greedy, from the
    request the rollouts send) and the policy's own (transformers forward with the same video)."""
    from vllm import SamplingParams

    trainer._batch_records = [row["id"]]
    ids, _, _ = trainer._tokenize_prompts([row["prompt"]])
    (rollout,), trainer._rollouts = trainer._rollouts, None
    out = trainer.vllm_generation.llm.llm.generate(
        [rollout.request()], SamplingParams(temperature=0, max_tokens=1, logprobs=20), use_tqdm=False
    )[0]
    engine = {t: lp.logprob for t, lp in out.outputs[0].logprobs[0].items()}
    x = torch.tensor([ids[0]])
    with torch.no_grad():
        logits = trainer.model(
            input_ids=x, attention_mask=torch.ones_like(x), **trainer._video_kwargs(trainer._active_video, 0, 1, x)
        ).logits[0, -1]
    trainer._active_video = None
    policy = torch.log_softmax(logits.float(), -1)
    return engine, {t: policy[t].item() for t in engine}


def gap(a: dict[int, float], b: dict[int, float]) -> float:
    return max(abs(a[t] - b[t]) for t in a.keys() & b.keys())


@pytest.fixture(scope="module")
def paired(tiny_model_dir, tmp_path_factory):
    """The HF-generate trainer and the vLLM trainer (this module's in-process engine) on the same settings, stepped
    together by hand, STEPS times, on batches of two groups of four *different* records (greedy decoding gives
    one prompt's copies one answer; different prompts give the groups rewards, advantages and token weights that
    vary). SGD, not Adam: Adam's first step is the sign of each gradient entry, which would blow rounding-level
    differences up to whole steps. Each step records what both trainers computed, and the engine against the
    policy on a probe prompt: right after the engine's weight sync, and after the optimizer step (before the next)."""
    root = tmp_path_factory.mktemp("paired")
    hf, dataset = trainer_for(tiny_model_dir, root / "hf", *GREEDY, "use_vllm=false")
    vllm, _ = trainer_for(tiny_model_dir, root / "vllm", *GREEDY, "use_vllm=true")
    for trainer in (hf, vllm):
        trainer.model.train()
        trainer.optimizer = torch.optim.SGD([p for p in trainer.model.parameters() if p.requires_grad], LEARNING_RATE)
        trainer.current_gradient_accumulation_steps = 1
    probe_row, steps = dataset[5], []
    for step in range(STEPS):
        batch = [dataset[(8 * step + i) % len(dataset)] for i in range(8)]
        record = {"synced_step": None}
        for name, trainer in (("hf", hf), ("vllm", vllm)):
            out = trainer._generate_and_score_completions(batch)
            if name == "vllm":
                record["synced_step"] = trainer._last_loaded_step
                record["synced"] = probe(trainer, probe_row)
            trainer.optimizer.zero_grad()
            loss = trainer.compute_loss(trainer.model, out)
            loss.backward()
            record[name] = {
                "out": out,
                "loss": loss.item(),
                "grads": [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None],
            }
            trainer.optimizer.step()
            trainer.state.global_step += 1
        record["stale"] = probe(vllm, probe_row)  # the policy moved, the engine not yet
        steps.append(record)
    params = max((p - q).abs().max().item() for p, q in zip(hf.model.parameters(), vllm.model.parameters()))
    yield {"steps": steps, "param_gap": params, "vllm": vllm, "dataset": dataset}


def test_greedy_vllm_rollouts_equal_hf_generate_step_after_step(paired):
    seen = set()
    for step in paired["steps"]:
        hf, vllm = step["hf"]["out"], step["vllm"]["out"]
        torch.testing.assert_close(vllm["prompt_ids"], hf["prompt_ids"], rtol=0, atol=0)  # the same video tokens
        torch.testing.assert_close(vllm["completion_mask"], hf["completion_mask"], rtol=0, atol=0)
        torch.testing.assert_close(vllm["completion_ids"], hf["completion_ids"], rtol=0, atol=0)
        answers = {tuple(row.tolist()) for row in hf["completion_ids"]}
        assert len(answers) > 1  # not one answer for every prompt
        seen |= answers
    assert len(seen) > len(paired["steps"][0]["hf"]["out"]["completion_ids"])  # the answers change as the policy moves


def test_rewards_advantages_token_weights_and_loss_equal_the_hf_paths(paired):
    for step in paired["steps"]:
        hf, vllm = step["hf"], step["vllm"]
        assert hf["out"]["sequence_advantages"].abs().sum() > 0  # rewards differ inside the groups
        torch.testing.assert_close(
            vllm["out"]["sequence_advantages"], hf["out"]["sequence_advantages"], rtol=0, atol=1e-6
        )
        weights = hf["out"]["token_weights"]
        assert weights.max() > 1.0 + 1e-3  # not flat: the group's distributions differ
        torch.testing.assert_close(vllm["out"]["token_weights"], weights, rtol=0, atol=1e-5)
        assert "importance_sampling_ratio" not in vllm["out"]  # as the HF path: no correction asked for
        assert vllm["loss"] == pytest.approx(hf["loss"], abs=1e-7)
        scale = max(g.abs().max().item() for g in hf["grads"])
        assert scale > 0 and max((a - b).abs().max().item() for a, b in zip(hf["grads"], vllm["grads"])) <= 1e-5 * scale
    assert paired["param_gap"] <= 1e-5  # after STEPS updates at a large learning rate


def test_the_engine_generates_with_the_updated_policy_after_each_step(paired):
    steps = paired["steps"]
    for k, step in enumerate(steps):
        assert step["synced_step"] == k  # synced once per optimizer step, before the step's rollouts
        engine, policy = step["synced"]
        assert gap(engine, policy) < 1e-4  # measured: ~1e-6 (fp32 on both sides)
        stale_engine, moved_policy = step["stale"]
        assert stale_engine == engine  # nothing reloads the engine between syncs ...
        assert gap(stale_engine, moved_policy) > 1e-2  # ... while the step moved the policy well away
        if k:
            assert gap(engine, steps[k - 1]["synced"][0]) > 1e-2  # the engine moved with it


def test_importance_sampling_ratio_is_the_probability_the_sampling_keeps(paired, tiny_model_dir, tmp_path):
    """TRL's correction (on by default, `sequence_mask`) compares vLLM's processed log-probs with the policy's.
    Sampling at temperature 1 with nothing truncated, they differ only by the mask on the video placeholder token
    (never sampled: it would break the training forward), so each sequence's ratio must be the product over its
    tokens of 1 − p(video placeholder) under the policy — engine and policy otherwise agree."""
    trainer = paired["vllm"]
    trainer.vllm_importance_sampling_correction = True
    generation = trainer.vllm_generation
    saved = generation.top_k, generation.repetition_penalty
    generation.top_k, generation.repetition_penalty = 0, 1.0
    try:
        out = trainer._generate_and_score_completions([paired["dataset"][1]] * 4)
    finally:
        generation.top_k, generation.repetition_penalty = saved
        trainer.vllm_importance_sampling_correction = False
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attention = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    video = {k: out[k] for k in ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")}
    with torch.no_grad():
        logits = trainer.model(
            input_ids=ids, attention_mask=attention, **trainer._video_kwargs(video, 0, 4, ids)
        ).logits
    length = out["completion_ids"].size(1)
    placeholder = torch.softmax(logits[:, -length - 1 : -1].float(), -1)[..., trainer._video_pad_token_id]
    expected = (torch.log1p(-placeholder) * out["completion_mask"]).sum(1, keepdim=True).exp()
    torch.testing.assert_close(out["importance_sampling_ratio"], expected, rtol=1e-4, atol=0)
    assert (expected < 1).all()


def test_the_engine_follows_a_trained_vision_tower(paired):
    """freeze_vision=false: the sync must reach the vision tower and drop the video embeddings the engine keeps
    (the probe's video was encoded before; a kept embedding would be the old tower's)."""
    trainer, row = paired["vllm"], paired["dataset"][5]
    projection = trainer.model.model.visual.merger.mlp[2].weight  # the tower's last layer: video embeddings
    with torch.no_grad():
        projection.mul_(-3.0)
    engine, policy = probe(trainer, row)
    assert gap(engine, policy) > 1e-2  # the frames' embeddings changed, the engine's not yet
    trainer.vllm_generation.sync_weights()
    engine, policy = probe(trainer, row)
    assert gap(engine, policy) < 1e-4


def rollouts_of(trainer, row) -> tuple[list[list[int]], list[VideoRollout]]:
    trainer._batch_records = [row["id"]] * 4
    ids, _, _ = trainer._tokenize_prompts([row["prompt"]] * 4)
    rollouts, trainer._rollouts = trainer._rollouts, None
    trainer._active_video = None
    return ids, rollouts


def test_a_rollout_that_lost_its_video_is_refused_naming_the_record(paired):
    from twgrpo_data.video import sample_video

    trainer, row = paired["vllm"], paired["dataset"][0]
    ids, rollouts = rollouts_of(trainer, row)
    clip = rollouts[0].video
    other = sample_video(clip.path, frames=8, min_pixels=3136, max_pixels=3136)  # 8 frames: more video tokens
    for wrong in (None, other):
        trainer._rollouts = [dataclasses.replace(r, video=wrong) for r in rollouts]
        with pytest.raises(
            TwgrpoError, match=rf"^record id '{row['id']}', field 'video': vLLM's prompt differs from the policy's"
        ):
            trainer._generate_single_turn(ids, None, {}, 4)
    trainer._rollouts = rollouts
    completions, _ = trainer._generate_single_turn(ids, None, {}, 4)  # the engine took the refusal in its stride
    assert len(completions) == 4


def test_an_engine_failure_names_the_record(paired):
    trainer, row = paired["vllm"], paired["dataset"][0]
    ids, rollouts = rollouts_of(trainer, row)
    too_long = rollouts[0].text.replace("Which", "Which " + "very " * 3000, 1)  # over max_model_len 2048
    trainer._rollouts = [rollouts[0], dataclasses.replace(rollouts[1], record="too-long", text=too_long), *rollouts[2:]]
    with pytest.raises(
        TwgrpoError, match=r"^record id 'too-long': vLLM could not generate from it: .*maximum context length"
    ):
        trainer._generate_single_turn(ids, None, {}, 4)
    trainer._rollouts = rollouts
    completions, _ = trainer._generate_single_turn(ids, None, {}, 4)
    assert len(completions) == 4


def test_an_undecodable_video_names_the_record(paired, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (tmp_path / "data.jsonl").write_text(
        json.dumps(
            {"id": "q-broken", "question": "What moves?", "options": ["a", "b"], "answer": ["A"], "video": "broken.mp4"}
        )
        + "\n"
    )
    row = load_train_dataset(tmp_path / "data.jsonl")[0]
    with pytest.raises(RecordError, match=r"record id 'q-broken', field 'video': .*broken\.mp4"):
        paired["vllm"]._generate_and_score_completions([row] * 4)


# ---------------------------------------------------------------------------------------------------------
# the command as users run it: each run starts its own engine


# This process's engine set the torch.distributed rendezvous variables (and holds its port): not for the children.
RENDEZVOUS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE")
ENV = {k: v for k, v in TRAIN_ENV.items() if k not in RENDEZVOUS}


def run(root, command: list[str]) -> subprocess.CompletedProcess:
    """A command that is not `twgrpo` itself (a launcher, the killer script), in this test's environment."""
    return subprocess.run(command, cwd=root, env=ENV, capture_output=True, text=True, timeout=600)


def train(root, *args):
    """`twgrpo train --config examples/train_tiny.yaml model=T use_vllm=true ARGS` in `root`; it must succeed."""
    return run_cli_subprocess(
        "train",
        "--config",
        TINY_YAML,
        "model=T",
        "use_vllm=true",
        *args,
        cwd=root,
        env=ENV,
        inherit_env=False,
        check=True,
    )


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory):
    """`twgrpo dev tiny-model T && twgrpo train --config examples/train_tiny.yaml model=T use_vllm=true -o A`."""
    root = tmp_path_factory.mktemp("cli")
    run_cli_subprocess("dev", "tiny-model", "T", cwd=root, env=ENV, inherit_env=False, check=True)
    train(root, "-o", "A", "max_steps=4", "save_steps=2")
    return root


def test_the_tiny_config_trains_on_vllm_rollouts(vllm_run):
    run = vllm_run / "A"
    rows = [r for r in step_lines(run / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert json.loads((run / "twgrpo_config.json").read_text())["use_vllm"] is True
    before, after = weights(vllm_run / "T" / "model.safetensors"), weights(run / "model.safetensors")
    assert max((after[k] - before[k]).abs().max().item() for k in before) > 1e-4


def test_a_killed_vllm_run_resumes_as_if_never_stopped(vllm_run):
    args = ["-o", "B", "max_steps=4", "save_steps=2"]
    killer = [*KILLED, "after-save", "2", "--"]
    killed = run(vllm_run, [*killer, "--config", str(TINY_YAML), "model=T", "use_vllm=true", *args])
    assert killed.returncode == -9, killed.stderr[-2000:]
    train(vllm_run, *args, "--resume")
    a, b = weights(vllm_run / "A" / "model.safetensors"), weights(vllm_run / "B" / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6
    assert step_lines(vllm_run / "A" / "metrics.jsonl") == step_lines(vllm_run / "B" / "metrics.jsonl")


def test_two_processes_each_roll_out_on_their_own_engine(vllm_run):
    launch = [*accelerate_launch("--multi_gpu"), "-m", "twgrpo_cli"]
    command = [
        "train",
        "--config",
        str(TINY_YAML),
        "model=T",
        "use_vllm=true",
        "-o",
        "D",
        "max_steps=2",
        "save_steps=2",
    ]
    done = run(vllm_run, launch + command)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done: model") == 2
    rows = [json.loads(line) for line in (vllm_run / "D" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "reward" in r] == [1, 2]  # written once, by rank 0
    assert json.loads((vllm_run / "D" / "twgrpo_config.json").read_text())["world_size"] == 2
