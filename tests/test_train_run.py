"""TW-GRPO training on CPU: a video step on the tiny Qwen2.5-VL, smoke run + resume, the CLI, and learning."""

from __future__ import annotations

import itertools
import json
import math
import subprocess

import pytest
import torch
from cli_helpers import accelerate_launch, run_cli_subprocess
from paths import TINY_YAML, VIDEOS
from train_helpers import KILLED, TRAIN_ENV, step_lines, weights

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.json_text import read_jsonl
from twgrpo_data.video import sample_video
from twgrpo_train.callbacks import MetricsJsonlCallback
from twgrpo_train.config import TWGRPOConfig, load_config
from twgrpo_train.data import load_train_dataset
from twgrpo_train.trainer import TWGRPOTrainer, run_training

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # Tiny models: one thread is faster than two and does not oversubscribe shared CI cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield
    torch.set_num_threads(threads)


def distinct_characters(prompts, completions, **_):
    """A reward that varies between random completions, so advantages are not all zero."""
    return [len(set(c[-1]["content"])) / 10 for c in completions]


def tiny_config(model_dir, out_dir, *extra):
    return load_config(
        TINY_YAML, [f"model={model_dir}", f"output_dir={out_dir}", "frames=4", "max_completion_length=8", *extra]
    )


def test_video_step_applies_token_weights_to_the_loss(tiny_model_dir, tmp_path):
    cfg = tiny_config(tiny_model_dir, tmp_path, "save_strategy=no")
    ds = load_train_dataset(cfg.train_file, video_root=cfg.video_root)
    trainer = TWGRPOTrainer(model=cfg.model, reward_funcs=[distinct_characters], args=cfg, train_dataset=ds)
    trainer.model.train()
    out = trainer._generate_and_score_completions([ds[0]] * 4 + [ds[4]] * 4)  # two groups of G=4

    # video reached the batch with its real sampling rate
    assert out["video_grid_thw"].shape == (8, 3) and len(out["pixel_values_videos"]) == 8
    clip = sample_video(VIDEOS / "video_12176.mp4", frames=4, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)
    assert out["second_per_grid_ts"][0].item() == pytest.approx(2 / clip.fps)

    # weights in [1, alpha] on completion tokens, shared by the group, advantages = A_i · w_t
    mask, w = out["completion_mask"].bool(), out["token_weights"]
    assert ((w[mask] >= 1) & (w[mask] <= 1.7 + 1e-6)).all() and (w[~mask] == 0).all()
    assert w[mask].max().item() == pytest.approx(1.7)
    both = mask[0] & mask[1]
    torch.testing.assert_close(w[0][both], w[1][both])
    torch.testing.assert_close(out["advantages"], out["sequence_advantages"][:, None] * w)
    assert out["sequence_advantages"].abs().sum() > 0

    # the loss is DAPO's token mean of −A_i·w_t (the ratio is 1 on fresh samples) and its gradient moves
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop
    loss = trainer.compute_loss(trainer.model, out)
    assert math.isfinite(loss.item())
    expected = -(out["advantages"] * mask).sum() / out["num_items_in_batch"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-6)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    plain = trainer.compute_loss(trainer.model, {**out, "advantages": out["sequence_advantages"]})
    plain_grads = torch.autograd.grad(plain, params, allow_unused=True)
    diff = sum((g - h).abs().sum().item() for g, h in zip(grads, plain_grads) if g is not None)
    scale = sum(g.abs().sum().item() for g in plain_grads if g is not None)
    assert scale > 0 and diff > 1e-3 * scale


def test_video_frames_change_the_scored_log_probs(tiny_model_dir, tmp_path):
    cfg = tiny_config(tiny_model_dir, tmp_path, "save_strategy=no", "loss_type=grpo")
    ds = load_train_dataset(cfg.train_file, video_root=cfg.video_root)
    trainer = TWGRPOTrainer(model=cfg.model, reward_funcs=[distinct_characters], args=cfg, train_dataset=ds)
    trainer.model.train()
    out = trainer._generate_and_score_completions([ds[0]] * 4)
    assert "token_weights" not in out and out["advantages"].dim() == 1  # plain GRPO: no weights
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    attention = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)

    def logps(pixels):
        trainer._active_video = {
            **{k: out[k] for k in ("video_grid_thw", "second_per_grid_ts")},
            "pixel_values_videos": pixels,
        }
        with torch.no_grad():
            return trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, attention, ids.size(1) - out["prompt_ids"].size(1), batch_size=2
            )[0]

    real = logps(out["pixel_values_videos"])
    blank = logps([torch.zeros_like(p) for p in out["pixel_values_videos"]])
    assert not torch.allclose(real, blank)


def test_smoke_run_writes_metrics_checkpoints_plot_and_resumes(tiny_model_dir, tmp_path):
    run_training(tiny_config(tiny_model_dir, tmp_path, "max_steps=2", "save_steps=1"))
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    steps = [r for r in rows if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for key in (
        "loss",
        "reward",
        "reward_std",
        "soft_accuracy",
        "accuracy",
        "format_rate",
        "completions/mean_length",
        "tw/weight_mean",
        "tw/weight_max",
        "tw/weight_entropy",
    ):
        assert all(r[key] is not None and math.isfinite(r[key]) for r in steps), key
    assert all(1.0 <= r["tw/weight_mean"] <= r["tw/weight_max"] <= 1.7 + 1e-6 for r in steps)
    for name in ("checkpoint-1", "checkpoint-2", "model.safetensors", "training_curves.png", "twgrpo_config.json"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "twgrpo_config.json").read_text())["alpha"] == 0.7
    before = (tmp_path / "metrics.jsonl").read_text().splitlines()

    run_training(tiny_config(tiny_model_dir, tmp_path, "max_steps=3", "save_steps=1"), resume=True)
    after = (tmp_path / "metrics.jsonl").read_text().splitlines()
    # the logged steps 1–2 are kept as they were (not re-run), and training continued at step 3
    kept = [line for line in before if json.loads(line)["step"] <= 2]
    assert after[: len(kept)] == kept
    assert [r["step"] for r in map(json.loads, after) if "reward" in r] == [1, 2, 3]
    state = json.loads((tmp_path / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3

    # an earlier run is never overwritten, nor resumed with another method
    with pytest.raises(TwgrpoError, match="holds an earlier run"):
        run_training(tiny_config(tiny_model_dir, tmp_path, "max_steps=4"))
    with pytest.raises(TwgrpoError, match=r"alpha: 0\.7 → 0\.2"):
        run_training(tiny_config(tiny_model_dir, tmp_path, "max_steps=4", "alpha=0.2"), resume=True)


def test_metrics_line_torn_by_a_kill_is_dropped_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    state = type("State", (), {"is_world_process_zero": True, "global_step": 2})()
    MetricsJsonlCallback(path).on_train_begin(None, state, None)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]


# ---------------------------------------------------------------------------------------------------------
# acceptance (issue 11): a run killed and resumed ends where the uninterrupted run ends

# 12 prompts, 2 per step: epoch 1 is steps 1–6, so 10 steps cross into epoch 2 (issue 25.5)
LONG = ["max_steps=10"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """`twgrpo dev tiny-model T && twgrpo train --config examples/train_tiny.yaml model=T -o A`, from another folder."""
    root = tmp_path_factory.mktemp("acceptance")
    run_cli_subprocess("dev", "tiny-model", "T", env=TRAIN_ENV, cwd=root, check=True)
    run_cli_subprocess("train", "--config", TINY_YAML, "model=T", "-o", "A", *LONG, env=TRAIN_ENV, cwd=root, check=True)
    return root


def test_the_tiny_config_learns_and_writes_its_outputs(uninterrupted):
    run = uninterrupted / "A"
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert any(r["reward_std"] > 0 for r in rows) and any(r["grad_norm"] > 0 for r in rows)  # it trains
    before, after = weights(uninterrupted / "T" / "model.safetensors"), weights(run / "model.safetensors")
    assert max((after[k] - before[k]).abs().max().item() for k in before) > 1e-4
    for name in ("checkpoint-2", "checkpoint-4", "training_curves.png", "README.md"):
        assert (run / name).exists(), name
    assert "arXiv:2505.24718" in (run / "README.md").read_text()
    plot = run_cli_subprocess("train", "plot", run, "-o", uninterrupted / "curves.pdf", env=TRAIN_ENV)
    assert plot.code == 0 and (uninterrupted / "curves.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize(("mode", "step"), [("after-save", 2), ("during-save", 4), ("after-save", 8)])
def test_a_killed_run_resumed_ends_like_the_uninterrupted_one(uninterrupted, mode, step):
    root, out = uninterrupted, f"B-{mode}-{step}"
    args = ["--config", str(TINY_YAML), "model=T", "-o", out, *LONG]
    # after-save: SIGKILL once checkpoint-STEP is complete (8: in the second epoch); during-save: inside its save
    killed = subprocess.run(
        KILLED + [mode, str(step), "--", *args],
        env=TRAIN_ENV,
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    if mode == "during-save":
        assert (root / out / "checkpoint-4" / "model.safetensors").is_file()
        assert not (root / out / "checkpoint-4" / "trainer_state.json").exists()
    resumed = run_cli_subprocess("train", *args, "--resume", env=TRAIN_ENV, cwd=root, check=True)
    notes = [line for line in resumed.stderr.splitlines() if line.startswith("note:")]
    assert notes == (
        []
        if mode == "after-save"
        else [
            "note: checkpoint-4 is incomplete (no trainer_state.json; killed while saving?): moved to "
            "checkpoint-4.damaged, resuming from checkpoint-2"
        ]
    )
    if mode == "during-save":  # set aside, never deleted
        assert (root / out / "checkpoint-4.damaged" / "model.safetensors").is_file()
    assert "Missing key" not in resumed.stderr and "missing keys" not in resumed.stderr.lower()
    a, b = weights(root / "A" / "model.safetensors"), weights(root / out / "model.safetensors")
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6
    assert step_lines(root / "A" / "metrics.jsonl") == step_lines(root / out / "metrics.jsonl")


def test_resuming_a_finished_run_does_nothing(uninterrupted, capsys):
    run = uninterrupted / "A"
    before = (run / "metrics.jsonl").read_text()
    notes = []
    cfg = load_config(TINY_YAML, [f"model={uninterrupted / 'T'}", f"output_dir={run}"])
    run_training(cfg, resume=True, log=notes.append)
    assert notes[-1] == f"{run}: the run already finished at step 10 (max_steps 4); nothing to do"
    assert (run / "metrics.jsonl").read_text() == before and not (run / "checkpoint-11").exists()


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ("per_device_train_batch_size=4", "per_device_train_batch_size"),
        ("seed=1", "seed"),
        ("max_completion_length=5", "max_completion_length"),
        ("num_generations=2", "num_generations"),
        ("accuracy_reward=strict", "accuracy_reward"),
        ("max_train_samples=10", "max_train_samples"),
        # every setting that changes the run is compared, not a list of some (issue 29.5)
        ("max_grad_norm=0.5", "max_grad_norm"),
        ("epsilon_high=0.5", "epsilon_high"),
        ("scale_rewards=none", "scale_rewards"),
        ("weight_decay=0.1", "weight_decay"),
        ("warmup_steps=2", "warmup_steps"),
        ("reward_weights=[1.0, 2.0]", "reward_weights"),
        ("repetition_penalty=1.1", "repetition_penalty"),
        ("min_p=0.1", "min_p"),
        ("sample_fps=2.0", "sample_fps"),
        ("token_normalizer=local", "token_normalizer"),
    ],
)
def test_resume_refuses_settings_that_change_the_run(uninterrupted, override, setting):
    cfg = load_config(
        TINY_YAML, [f"model={uninterrupted / 'T'}", f"output_dir={uninterrupted / 'A'}", "max_steps=6", override]
    )
    with pytest.raises(TwgrpoError, match=rf"cannot resume with other settings \({setting}: "):
        run_training(cfg, resume=True)


def fake_checkpoint(folder, step, layout="plain", world_size=1):
    """A checkpoint folder with real (tiny) files in one of the layouts the Trainer writes."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file({"w": torch.zeros(2)}, str(folder / "model.safetensors"))
    torch.save({"step": step}, folder / "scheduler.pt")
    for rank in range(world_size):
        torch.save({"rank": rank}, folder / ("rng_state.pth" if world_size == 1 else f"rng_state_{rank}.pth"))
    if layout == "plain":
        torch.save({"state": {}}, folder / "optimizer.pt")
    elif layout.startswith("zero"):
        (folder / "latest").write_text(f"global_step{step}")
        states = folder / f"global_step{step}"
        states.mkdir()
        for rank in range(world_size):
            torch.save({}, states / f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt")
            if layout == "zero3":
                torch.save({}, states / f"zero_pp_rank_{rank}_mp_rank_00_model_states.pt")
        if layout == "zero2":
            torch.save({}, states / "mp_rank_00_model_states.pt")
    elif layout == "fsdp":
        (folder / "optimizer_0").mkdir()
        (folder / "optimizer_0" / ".metadata").write_bytes(b"x")
    elif layout == "fsdp_local":
        for rank in range(world_size):
            torch.save({}, folder / f"optimizer_0_rank{rank}.bin")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("layout", "world_size"), [("plain", 1), ("plain", 2), ("zero2", 2), ("zero3", 2), ("fsdp", 2), ("fsdp_local", 2)]
)
def test_checkpoint_layouts_of_every_backend_are_resumable(tmp_path, layout, world_size):
    from twgrpo_train.run_folder import checkpoint_problem

    folder = fake_checkpoint(tmp_path / "checkpoint-2", 2, layout, world_size)
    assert checkpoint_problem(folder, world_size) is None
    if layout.startswith("zero"):
        (folder / "global_step2" / "zero_pp_rank_1_mp_rank_00_optim_states.pt").unlink()
        assert checkpoint_problem(folder, world_size) == "no global_step2/zero_pp_rank_1_mp_rank_00_optim_states.pt"
    if world_size == 2:
        assert checkpoint_problem(fake_checkpoint(tmp_path / "c", 2, "plain", 1), 2) == "no rng_state_0.pth"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("torn", "no trainer_state.json"),
        ("trainer_state.json", "trainer_state.json is cut off"),
        ("optimizer.pt", "optimizer.pt is cut off"),
        ("scheduler.pt", "scheduler.pt is cut off"),
        ("rng_state.pth", "rng_state.pth is cut off"),
        ("model.safetensors", "model.safetensors is cut off"),
        ("no scheduler.pt", "no scheduler.pt"),
        ("no rng_state.pth", "no rng_state.pth"),
    ],
)
def test_a_damaged_checkpoint_falls_back_to_the_previous_one_and_is_set_aside(tmp_path, damage, problem):
    from twgrpo_train.run_folder import last_complete_checkpoint

    fake_checkpoint(tmp_path / "checkpoint-2", 2)
    newest = fake_checkpoint(tmp_path / "checkpoint-4", 4)
    if damage == "torn":
        (newest / "trainer_state.json").unlink()
    elif damage.startswith("no "):
        (newest / damage[3:]).unlink()
    else:
        cut(newest / damage)
    notes = []
    assert last_complete_checkpoint(tmp_path, note=notes.append) == tmp_path / "checkpoint-2"
    assert notes == [
        f"note: checkpoint-4 is incomplete ({problem}; killed while saving?): moved to checkpoint-4.damaged, "
        "resuming from checkpoint-2"
    ]
    assert (tmp_path / "checkpoint-4.damaged").is_dir() and not (tmp_path / "checkpoint-4").exists()


def test_checkpoints_without_optimizer_state_are_refused_and_left_alone(tmp_path):
    from twgrpo_train.run_folder import check_output_dir

    for step in (2, 4):
        (fake_checkpoint(tmp_path / f"checkpoint-{step}", step) / "optimizer.pt").unlink()  # save_only_model
    cfg = load_config(TINY_YAML, ["model=/m", f"output_dir={tmp_path}"])
    with pytest.raises(
        TwgrpoError, match=r"checkpoint-4: cannot continue this run exactly: no optimizer state .*save_only_model"
    ):
        check_output_dir(tmp_path, cfg, resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "checkpoint-4"]


def test_a_run_killed_before_its_first_checkpoint_starts_over(tmp_path):
    """Issue 25.4: `--resume` says there is nothing to resume and how to go on; the fresh run starts over."""
    from twgrpo_train.run_folder import check_output_dir

    cfg = load_config(TINY_YAML, ["model=/m", f"output_dir={tmp_path}"])
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.1}\n')
    torn = fake_checkpoint(tmp_path / "checkpoint-2", 2)
    (torn / "trainer_state.json").unlink()
    with pytest.raises(TwgrpoError, match=r"no checkpoint to resume from .*run the same command without --resume"):
        check_output_dir(tmp_path, cfg, resume=True)
    notes = []
    assert check_output_dir(tmp_path, cfg, resume=False, note=notes.append) is None
    assert notes == [
        f"note: {tmp_path} holds a run stopped before its first complete checkpoint: starting it over "
        "(moved aside: checkpoint-2.damaged)"
    ]
    assert (tmp_path / "checkpoint-2.damaged" / "model.safetensors").is_file()
    # a complete checkpoint, or a finished model, is an earlier run that a fresh run never overwrites
    fake_checkpoint(tmp_path / "checkpoint-2", 2)
    with pytest.raises(TwgrpoError, match=r"holds an earlier run \(checkpoint-2\); pass --resume"):
        check_output_dir(tmp_path, cfg, resume=False)
    import shutil

    shutil.rmtree(tmp_path / "checkpoint-2")
    (tmp_path / "model.safetensors").write_bytes((tmp_path / "checkpoint-2.damaged" / "model.safetensors").read_bytes())
    with pytest.raises(TwgrpoError, match=r"holds an earlier run \(a finished model\)"):
        check_output_dir(tmp_path, cfg, resume=False)


def test_a_run_record_of_an_earlier_version_reads_alpha_as_the_maximum_weight(tmp_path):
    from twgrpo_train.run_folder import _earlier_record

    assert _earlier_record({"alpha": 1.7, "weight_mapping": "reference"})["alpha"] == 0.7
    assert _earlier_record({"alpha": 0, "weight_mapping": "reference"})["alpha"] == 0
    assert _earlier_record({"alpha": 1.7, "weight_mapping": "paper"})["weight_mapping"] == "paper"  # not the same run


def test_two_processes_train_and_write_metrics_once(uninterrupted):
    """The launch a multi-GPU user copies, on CPU: `accelerate launch --num_processes 2` (gloo)."""
    launch = accelerate_launch("--multi_gpu") + ["-m", "twgrpo_cli"]
    done = subprocess.run(
        launch + ["train", "--config", str(TINY_YAML), "model=T", "-o", "D", "max_steps=2", "save_steps=2"],
        env=TRAIN_ENV,
        cwd=uninterrupted,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done: model") == 2  # both ranks finished
    run = uninterrupted / "D"
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in rows if "reward" in r] == [1, 2]  # written once, by rank 0
    assert json.loads((run / "twgrpo_config.json").read_text())["world_size"] == 2
    assert (run / "checkpoint-2" / "rng_state_1.pth").is_file()


# ---------------------------------------------------------------------------------------------------------
# learning: the answer letters are written in the prompt; a random tiny model must learn to copy them


def copy_task_rows():
    sets = [list(c) for k in (1, 2) for c in itertools.combinations("ABCDE", k)]
    return [{"prompt": "copy " + ",".join(s) + " =", "answer": s} for s in sets]


@pytest.fixture(scope="module")
def tiny_text_model(tmp_path_factory):
    from twgrpo_eval.tiny_model import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("text") / "Qwen2-tiny")


@pytest.mark.parametrize("loss_type", ["tw_grpo", "grpo"])
def test_soft_reward_rises_well_above_chance(tiny_text_model, tmp_path, loss_type):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from twgrpo_train.rewards import build_reward_funcs

    tok = AutoTokenizer.from_pretrained(tiny_text_model)
    allowed = {tok.convert_tokens_to_ids(t) for t in "ABCDE,"} | {tok.eos_token_id}
    cfg = TWGRPOConfig(
        model=str(tiny_text_model),
        train_file="-",
        output_dir=str(tmp_path),
        loss_type=loss_type,
        alpha=1.7,
        num_generations=8,
        per_device_train_batch_size=64,
        max_completion_length=3,
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        max_steps=200,
        seed=1,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        answer_parser="raw",
        format_reward=False,
        require_video=False,
        freeze_vision=False,
        # sample only letters, commas and the end token, so random completions are answers half of the time
        generation_kwargs={"suppress_tokens": [i for i in range(len(tok)) if i not in allowed]},
    )
    trainer = TWGRPOTrainer(
        model=cfg.model,
        reward_funcs=build_reward_funcs("soft", "raw", use_format=False),
        args=cfg,
        train_dataset=Dataset.from_list(copy_task_rows()),
        callbacks=[MetricsJsonlCallback(tmp_path / "metrics.jsonl")],
    )
    trainer.train()
    soft = [r["soft_accuracy"] for r in read_jsonl(tmp_path / "metrics.jsonl") if "soft_accuracy" in r]
    start, end = sum(soft[:10]) / 10, sum(soft[-30:]) / 30
    # always answering one fixed letter scores 0.2 on this task; copying the prompt scores 1
    assert end >= 0.3 and end >= 4 * start, (start, end)


def test_checkpoint_weights_load_through_the_model_key_mapping(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForImageTextToText

    from twgrpo_train.run_folder import load_checkpoint_weights

    trained = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.01)
    trained.save_pretrained(tmp_path / "ckpt")
    saved = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert not any(k.startswith("model.language_model.") for k in saved)  # legacy names on disk
    fresh = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    load_checkpoint_weights(fresh, tmp_path / "ckpt")
    for (name, a), b in zip(trained.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name

    save_file({**saved, "model.extra.weight": torch.zeros(1)}, str(tmp_path / "ckpt" / "model.safetensors"))
    with pytest.raises(TwgrpoError, match=r"ckpt: checkpoint weights do not match the model: 1 unexpected"):
        load_checkpoint_weights(fresh, tmp_path / "ckpt")
    dropped = next(k for k in saved if "layers.0.mlp" in k)
    save_file({k: v for k, v in saved.items() if k != dropped}, str(tmp_path / "ckpt" / "model.safetensors"))
    with pytest.raises(TwgrpoError, match=r"1 missing \(first model\.language_model\.layers\.0\.mlp"):
        load_checkpoint_weights(fresh, tmp_path / "ckpt")


def broken_video_data(folder):
    """A one-record training file whose video is not a video."""
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    row = {"id": "q-broken", "question": "What moves?", "options": ["a", "b"], "answer": ["A"], "video": "broken.mp4"}
    (folder / "data.jsonl").write_text(json.dumps(row) + "\n")
    return folder / "data.jsonl"


def test_an_undecodable_video_stops_the_step_naming_its_record(tiny_model_dir, tmp_path):
    cfg = tiny_config(tiny_model_dir, tmp_path / "run", "save_strategy=no")
    ds = load_train_dataset(broken_video_data(tmp_path))
    trainer = TWGRPOTrainer(model=cfg.model, reward_funcs=[distinct_characters], args=cfg, train_dataset=ds)
    row = ds[0]
    with pytest.raises(
        TwgrpoError, match=r"record id 'q-broken', field 'video': .*broken\.mp4: (corrupt|unreadable) video"
    ):
        trainer._generate_and_score_completions([row] * 4)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("vllm_mode=server", r"training row 0 has a video, and TRL's vLLM server client sends token ids and images"),
        ("vllm_tensor_parallel_size=2", r"video rollouts on vLLM run one engine per process"),
        ("vllm_mode=colocate", r"use_vllm: vLLM is not installed \(pip install 'twgrpo\[vllm\]'\)"),  # this venv
    ],
)
def test_video_rollouts_vllm_cannot_carry_are_refused_before_anything_starts(
    tiny_model_dir, tmp_path, override, message
):
    cfg = tiny_config(tiny_model_dir, tmp_path, "use_vllm=true", override)
    ds = load_train_dataset(cfg.train_file, video_root=cfg.video_root)
    with pytest.raises(TwgrpoError, match=message):  # before TRL looks for vLLM (not installed here) or a server
        TWGRPOTrainer(model=cfg.model, reward_funcs=[distinct_characters], args=cfg, train_dataset=ds)
