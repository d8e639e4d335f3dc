"""Trainer building blocks without training: config loading, training rows, reward functions, plots, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli, run_cli_fresh
from paths import REPO, TINY_YAML, VIDEOS

from twgrpo_data.errors import RecordError, TwgrpoError
from twgrpo_data.prompts import TRAIN_TEMPLATE, problem_text
from twgrpo_data.record import Record
from twgrpo_train.config import TrainConfigError, TWGRPOConfig, compared_on_resume, load_config, parse_overrides
from twgrpo_train.data import load_train_dataset, record_to_prompt_row
from twgrpo_train.plot import plot_training_curves, read_metrics
from twgrpo_train.rewards import (
    accuracy_reward,
    answer_metrics,
    build_reward_funcs,
    completion_text,
    format_reward_func,
)

CONFIGS = REPO / "train" / "configs"
BASE = ["model=/models/tiny", "use_cpu=true", "bf16=false"]


# ---------------------------------------------------------------------------------------------------------
# config


def test_tiny_config_resolves_data_paths_relative_to_the_yaml():
    cfg = load_config(TINY_YAML, ["model=/models/tiny"])
    assert Path(cfg.train_file) == REPO / "examples" / "train_tiny.jsonl"
    assert Path(cfg.video_root) == VIDEOS
    assert (cfg.loss_type, cfg.trl_loss_type, cfg.alpha, cfg.num_generations) == ("tw_grpo", "dapo", 0.7, 4)
    assert cfg.max_weight == pytest.approx(1.7)
    assert cfg.token_weighting


def test_overrides_win_and_are_typed():
    cfg = load_config(TINY_YAML, ["model=/m", "alpha=1.4", "learning_rate=1e-6", "loss_type=grpo", "plot_file=null"])
    assert cfg.alpha == 1.4 and cfg.learning_rate == 1e-6 and isinstance(cfg.learning_rate, float)
    assert cfg.loss_type == "grpo" and cfg.trl_loss_type == "grpo" and not cfg.token_weighting
    assert cfg.plot_file is None
    assert parse_overrides(["report_to=[tensorboard]", "x="]) == {"report_to": ["tensorboard"], "x": None}


@pytest.mark.parametrize("alpha", ["0", "null"])
def test_alpha_zero_or_none_disables_weighting(alpha):
    assert not load_config(TINY_YAML, ["model=/m", f"alpha={alpha}"]).token_weighting


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("alpah=1.2", "unknown setting 'alpah' (did you mean 'alpha'?)"),
        ("divergence=js", "divergence must be one of kl, reference"),
        ("weight_mapping=reference", "weight_mapping is gone: alpha is now the paper's α"),
        # ranges that are not types (issues 25.4, 29.5): refused before the run folder exists
        ("learning_rate=.inf", "learning_rate must be a finite number, got inf"),
        ("learning_rate=.nan", "learning_rate must be a finite number, got nan"),
        ("top_p=1.5", "top_p must be ≤ 1, got 1.5"),
        ("top_p=0", "top_p must be > 0, got 0.0"),
        ("epsilon=1.0", "epsilon must be < 1, got 1.0"),
        ("epsilon=-0.1", "epsilon must be ≥ 0, got -0.1"),
        ("max_grad_norm=-1", "max_grad_norm must be ≥ 0"),
        ("min_frames=20", "min_frames (20) must not exceed max_frames (16)"),
        ("sample_fps=0", "sample_fps must be > 0"),
        ("token_normalizer=rank", "token_normalizer must be one of global, local"),
        ("learning_rate=fast", "learning_rate must be a number"),
        ("per_device_train_batch_size=6", "generation_batch_size (6) must be divisible by num_generations (4)"),
        # types and ranges of every setting, before anything loads (issue 11.7)
        ("max_steps=four", "max_steps must be an integer, got 'four'"),
        ("seed=1.5", "seed must be an integer, got 1.5"),
        ("use_cpu=maybe", "use_cpu must be true or false, got 'maybe'"),
        ("loss_type=foo", "loss_type must be one of tw_grpo, grpo"),
        ("frames=0", "frames must be ≥ 1, got 0"),
        ("num_frames=0", "frames must be ≥ 1, got 0"),
        ("max_completion_length=-5", "max_completion_length must be ≥ 1, got -5"),
        ("min_pixels=4000", "min_pixels (4000) must not exceed max_pixels (3136)"),
        ("plot_file=curves.jpg", "plot_file must end in .png, .pdf, .svg"),
        ("accuracy_reward=partial", "accuracy_reward must be one of soft, strict"),
        ("weight_chunk_size=0", "weight_chunk_size must be ≥ 1"),
    ],
)
def test_bad_settings_fail_with_one_clear_line(override, message):
    with pytest.raises(TrainConfigError, match=re.escape(message)):
        load_config(TINY_YAML, ["model=/m", override])


def test_groups_split_across_devices_are_rejected(monkeypatch):
    # 2 processes × 2 completions: the global batch holds whole groups of 4, but no single device does
    monkeypatch.setattr(TWGRPOConfig, "world_size", property(lambda self: 2))
    with pytest.raises(TrainConfigError, match="each device must hold whole groups"):
        load_config(TINY_YAML, ["model=/m", "per_device_train_batch_size=2"])
    assert load_config(TINY_YAML, ["model=/m", "per_device_train_batch_size=4"]).steps_per_generation == 1


def test_missing_model_and_bad_yaml_are_user_errors(tmp_path):
    with pytest.raises(TrainConfigError, match="model is not set"):
        load_config(TINY_YAML, [])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(TrainConfigError, match="expected a mapping"):
        load_config(bad, BASE)


def test_every_field_has_help_text():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(TWGRPOConfig))


def test_paper_config_is_the_released_method_and_ours_differs_only_where_documented():
    from dataclasses import fields

    paper = load_config(CONFIGS / "paper_clevrer_7b.yaml", ["use_cpu=true", "bf16=false", "train_file=/data/x.json"])
    assert "Qwen2.5-VL-7B" in paper.model
    assert (paper.num_generations, paper.temperature, paper.learning_rate, paper.max_steps, paper.alpha) == (
        8,
        1.0,
        1e-6,
        500,
        0.7,
    )
    assert paper.max_weight == pytest.approx(1.7)  # the released script's --alpha 1.70
    assert (paper.sample_fps, paper.max_frames, paper.model_fps) == (2.0, 16, 2.0)  # SAMPLE_MODE=true's sampler
    assert (paper.min_pixels, paper.max_pixels, paper.loss_type, paper.beta) == (100_352, 153_664, "tw_grpo", 0.0)
    # the released loss divides each GPU's sum by its own tokens; its KL has no importance-ratio factor
    assert (paper.token_normalizer, paper.trl_loss_type, paper.use_bias_correction_kl) == ("local", "bnpo", False)
    assert paper.max_train_samples == 1000 and paper.accuracy_reward == "soft"
    assert (paper.divergence, paper.top_k, paper.attn_implementation) == ("reference", 50, "auto")
    assert (paper.detach_weights, paper.weight_kl, paper.steps_per_generation) == (False, True, 1)
    assert "attn_implementation" not in (paper.model_init_kwargs or {})  # flash-attn is not a dependency
    ours = load_config(CONFIGS / "twgrpo_clevrer_7b.yaml", ["use_cpu=true", "bf16=false", "train_file=/data/x.json"])
    differ = {
        f.name
        for f in fields(TWGRPOConfig)
        if f.init and compared_on_resume(f.name) and getattr(ours, f.name) != getattr(paper, f.name)
    }
    assert differ == {
        "divergence",
        "top_k",
        "detach_weights",
        "weight_kl",
        "token_normalizer",
        "use_bias_correction_kl",
        "use_vllm",
        "vllm_max_model_length",
    }
    assert not paper.use_vllm and ours.use_vllm and ours.vllm_mode == "colocate"  # the released run used HF generate


def test_grpo_baseline_config_is_the_released_grpo_script():
    """Issue 29.7: grpo.sh trains the vision tower, uses the all-or-nothing reward and no token weights."""
    from dataclasses import fields

    extra = ["use_cpu=true", "bf16=false", "train_file=/data/x.json"]
    paper = load_config(CONFIGS / "paper_clevrer_7b.yaml", extra)
    grpo = load_config(CONFIGS / "paper_clevrer_7b_grpo.yaml", extra)
    assert (grpo.loss_type, grpo.accuracy_reward, grpo.freeze_vision, grpo.token_weighting) == (
        "grpo",
        "strict",
        False,
        False,
    )
    differ = {
        f.name
        for f in fields(TWGRPOConfig)
        if f.init and compared_on_resume(f.name) and getattr(grpo, f.name) != getattr(paper, f.name)
    }
    # the TW-GRPO-only switches (divergence, detach_weights, weight_kl, token_normalizer) do nothing under grpo
    assert differ - {"divergence", "detach_weights", "weight_kl", "token_normalizer", "max_weight"} == {
        "loss_type",
        "alpha",
        "accuracy_reward",
        "freeze_vision",
    }


DEEPSPEED_FILES = sorted(CONFIGS.glob("*.json"))
ACCELERATE_FILES = sorted(CONFIGS.glob("accelerate_*.yaml"))


@pytest.mark.parametrize("path", DEEPSPEED_FILES, ids=lambda p: p.name)
def test_deepspeed_configs_are_valid_json_with_their_stage(path):
    ds = json.loads(path.read_text())
    zero = ds["zero_optimization"]
    assert zero["stage"] == (2 if "zero2" in path.name else 3)
    # "auto" values are filled in by the HF Trainer's DeepSpeed integration from TrainingArguments
    for key in (
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "train_batch_size",
        "gradient_clipping",
    ):
        assert ds[key] == "auto", key
    assert ds["bf16"]["enabled"] == "auto"
    if "offload" in path.name:
        assert zero["offload_optimizer"]["device"] == zero["offload_param"]["device"] == "cpu"


@pytest.mark.parametrize("path", ACCELERATE_FILES, ids=lambda p: p.name)
def test_accelerate_configs_have_what_accelerate_launch_reads(path):
    import yaml
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    acc = yaml.safe_load(path.read_text())
    launch = load_config_from_file(str(path))  # what `accelerate launch --config_file` reads; a bad key raises
    assert launch.mixed_precision == "bf16" and launch.num_processes == acc["num_processes"]
    assert DistributedType(acc["distributed_type"]) in (DistributedType.DEEPSPEED, DistributedType.MULTI_GPU)
    assert acc["num_processes"] >= 2 and acc["num_machines"] == 1 and acc["use_cpu"] is False
    ds_file = acc.get("deepspeed_config", {}).get("deepspeed_config_file")
    assert (acc["distributed_type"] == "DEEPSPEED") == bool(ds_file)
    if ds_file:
        assert (REPO / ds_file).is_file()  # relative to the repository root, where the README launches from
    assert path.name in path.read_text().splitlines()[0]  # the usage line names this file


def test_the_released_two_gpu_setting_ships():
    import yaml

    acc = yaml.safe_load((CONFIGS / "accelerate_zero3_offload.yaml").read_text())
    assert acc["deepspeed_config"]["deepspeed_config_file"] == "train/configs/zero3_offload.json"


# ---------------------------------------------------------------------------------------------------------
# data


def test_prompt_row_uses_the_released_training_template():
    rec = Record(
        id="q", question="why didn't the boy move", options=["unwrap it", "play"], answer=["A", "B"], video="v.mp4"
    )
    row = record_to_prompt_row(rec, video="/videos/v.mp4")
    assert problem_text(rec) == "why didn't the boy move\nA unwrap it\nB play"
    assert row["prompt"] == [
        {
            "role": "user",
            "content": [
                {"type": "video", "video": "/videos/v.mp4", "video_start": None, "video_end": None, "frame_fps": None},
                {
                    "type": "text",
                    "text": "why didn't the boy move\nA unwrap it\nB play  Output the thinking process in "
                    "<think> </think> and final answer (letters separated by , if multiple) in "
                    "<answer> </answer> tags.",
                },
            ],
        }
    ]
    assert row["answer"] == ["A", "B"] and TRAIN_TEMPLATE.startswith("{Question}  Output")


def test_tiny_training_file_loads_with_real_videos():
    ds = load_train_dataset(REPO / "examples" / "train_tiny.jsonl", video_root=VIDEOS)
    assert len(ds) == 12
    videos = {part["video"] for row in ds for part in row["prompt"][0]["content"] if part["type"] == "video"}
    assert {Path(v).name for v in videos} == {"clevrer_8.mp4", "video1.mp4", "video_12176.mp4"}
    assert all(Path(v).is_file() for v in videos)
    assert sum(len(row["answer"]) > 1 for row in ds) == 6
    multi = load_train_dataset(REPO / "examples" / "train_tiny.jsonl", video_root=VIDEOS, question_type="multi")
    assert len(multi) == 6 and all(len(r["answer"]) > 1 for r in multi)
    few = load_train_dataset(REPO / "examples" / "train_tiny.jsonl", video_root=VIDEOS, max_samples=5, seed=42)
    assert len(few) == 5


def test_missing_video_names_file_record_and_field(tmp_path):
    src = tmp_path / "train.jsonl"
    rows = [
        Record(id="ok", question="q", options=["a", "b"], answer=["A"], video="clevrer_8.mp4"),
        Record(id="gone", question="q", options=["a", "b"], answer=["B"], video="nope.mp4"),
    ]
    src.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    with pytest.raises(RecordError) as err:
        load_train_dataset(src, video_root=VIDEOS)
    assert str(err.value).startswith(f"{src}: record 1 (id 'gone'), field 'video': video not found")


def test_text_only_records_need_require_video_false(tmp_path):
    src = tmp_path / "train.jsonl"
    src.write_text(json.dumps(Record(id="t", question="q", options=["a", "b"], answer=["A"]).to_dict()) + "\n")
    with pytest.raises(RecordError, match="no video"):
        load_train_dataset(src)
    row = load_train_dataset(src, require_video=False, system_prompt="Be brief.")[0]
    assert row["prompt"][0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    assert [p["type"] for p in row["prompt"][1]["content"]] == ["text"]


def test_unknown_question_type_is_a_user_error():
    with pytest.raises(TwgrpoError, match="question_type"):
        load_train_dataset(REPO / "examples" / "train_tiny.jsonl", video_root=VIDEOS, question_type="both")


# ---------------------------------------------------------------------------------------------------------
# rewards


def conversation(text):
    return [{"role": "assistant", "content": text}]


def test_soft_and_strict_accuracy_rewards():
    completions = [
        conversation(t)
        for t in [
            "<think>x</think><answer>A</answer>",
            "<answer>A,C</answer>",
            "<answer>A,D</answer>",
            "no tags at all",
        ]
    ]
    gold = [["A", "C"]] * 4
    assert accuracy_reward("soft")(prompts=[None] * 4, completions=completions, answer=gold) == [0.5, 1.0, 0.0, 0.0]
    assert accuracy_reward("strict")(prompts=[None] * 4, completions=completions, answer=gold) == [0.0, 1.0, 0.0, 0.0]
    assert accuracy_reward("soft").__name__ == "soft_accuracy"


def test_format_reward_and_metrics():
    texts = ["<think>a</think><answer>B</answer>", "<answer>B</answer>", "<think>a</think> <answer>B</answer>!"]
    assert format_reward_func(prompts=[None] * 3, completions=[conversation(t) for t in texts]) == [1.0, 0.0, 1.0]
    stats = answer_metrics(texts, [["B", "C"]] * 3)
    assert stats == {"soft_accuracy": 0.5, "accuracy": 0.0, "format_rate": pytest.approx(2 / 3)}
    names = [f.__name__ for f in build_reward_funcs("strict", use_format=True)]
    assert names == ["strict_accuracy", "format"]


def test_completion_text_reads_strings_and_structured_turns():
    assert completion_text("plain") == "plain"
    assert (
        completion_text(
            [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
        )
        == "ab"
    )


def test_unknown_reward_options_are_rejected():
    with pytest.raises(ValueError, match="accuracy reward"):
        accuracy_reward("partial")
    with pytest.raises(ValueError, match="answer parser"):
        accuracy_reward("soft", parser="regex")


# ---------------------------------------------------------------------------------------------------------
# plots


def write_metrics(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plot_overlays_runs_and_skips_eval_rows(tmp_path):
    rows = [{"step": s, "reward_std": 0.1 * s, "completions/mean_length": 10 + s, "reward": 0.5} for s in (2, 1, 3)]
    write_metrics(tmp_path / "twgrpo" / "metrics.jsonl", rows + [{"step": 3, "eval_reward": 1.0}])
    write_metrics(tmp_path / "grpo" / "metrics.jsonl", rows)
    assert [r["step"] for r in read_metrics(tmp_path / "twgrpo")] == [1, 2, 3]
    out = plot_training_curves([tmp_path / "twgrpo", tmp_path / "grpo"], tmp_path / "curves.png", smooth=2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_drops_a_torn_last_line_but_not_a_bad_middle_line(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    write_metrics(path, [{"step": s, "reward_std": 0.1, "completions/mean_length": 9} for s in (1, 2)])
    with path.open("a") as fh:
        fh.write('{"step": 3, "reward_st')  # a kill in the middle of a write
    assert [r["step"] for r in read_metrics(path.parent)] == [1, 2]
    path.write_text('{"step": 1}\n{"ste\n{"step": 2}\n')
    with pytest.raises(TwgrpoError, match="invalid JSON on line 2"):
        read_metrics(path.parent)


def test_plot_errors_are_user_errors(tmp_path):
    with pytest.raises(TwgrpoError, match="no metrics file"):
        plot_training_curves([tmp_path], tmp_path / "x.png")
    write_metrics(tmp_path / "run" / "metrics.jsonl", [{"step": 1, "loss": 0.1}])
    with pytest.raises(TwgrpoError, match="no plottable metrics"):
        plot_training_curves([tmp_path / "run"], tmp_path / "x.png")


# ---------------------------------------------------------------------------------------------------------
# CLI (argument handling; training itself is in test_train_run.py)


def test_cli_bad_override_is_one_line_exit_1():
    result = run_cli("train", "--config", str(TINY_YAML), "model=/m", "alpah=2")
    assert result.code == 1
    assert result.stderr.strip().splitlines() == ["error: override: unknown setting 'alpah' (did you mean 'alpha'?)"]


def test_cli_resume_without_checkpoint_is_a_user_error(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    result = run_cli(
        "train", "--config", str(TINY_YAML), f"model={tmp_path / 'm'}", f"output_dir={tmp_path / 'run'}", "--resume"
    )
    assert result.code == 1 and "no checkpoint to resume from" in result.stderr


def test_cli_plot_subcommand_is_not_taken_for_an_override(tmp_path):
    write_metrics(tmp_path / "run" / "metrics.jsonl", [{"step": 1, "reward_std": 0.2}])
    result = run_cli("train", "plot", str(tmp_path / "run"), "-o", str(tmp_path / "p.png"))
    assert result.code == 0 and (tmp_path / "p.png").is_file()


def test_cli_train_without_settings_is_a_usage_error():
    result = run_cli("train", "--resume")
    assert result.code == 2


# ---------------------------------------------------------------------------------------------------------
# one vocabulary (issue 13.5), settings checked before anything loads (11.7), the CLI's settings (11.9)


def test_old_spellings_still_work_with_a_note(capsys):
    cfg = load_config(
        TINY_YAML,
        ["model=/m", "num_frames=8", "video_min_pixels=1568", "video_max_pixels=6272", "accuracy_reward=fixed"],
    )
    assert (cfg.frames, cfg.min_pixels, cfg.max_pixels, cfg.accuracy_reward) == (8, 1568, 6272, "strict")
    notes = capsys.readouterr().err.strip().splitlines()
    assert notes == [
        "note: num_frames is deprecated, use frames",
        "note: video_min_pixels is deprecated, use min_pixels",
        "note: video_max_pixels is deprecated, use max_pixels",
        "note: accuracy_reward=fixed is deprecated, use accuracy_reward=strict",
    ]


def test_shipped_configs_use_one_vocabulary():
    for path in [TINY_YAML, *CONFIGS.glob("paper_*.yaml")]:
        text = path.read_text()
        assert not re.search(r"^(num_frames|video_min_pixels|video_max_pixels):", text, re.M), path
        assert "accuracy_reward: fixed" not in text and "accuracy_reward=fixed" not in text, path


def test_non_utf8_config_is_one_line(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("model: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TwgrpoError, match=r"latin1\.yaml: not UTF-8 text"):
        load_config(bad, [])


@pytest.mark.parametrize(
    ("model", "message"),
    [("/no/such/model", "model: /no/such/model does not exist"), ("./runs/missing", "does not exist")],
)
def test_missing_model_folder_fails_before_loading(model, message):
    from twgrpo_train.config import check_model_path

    with pytest.raises(TrainConfigError, match=re.escape(message)):
        check_model_path(model)


def test_split_settings_reads_every_spelling():
    from twgrpo_cli.train import split_settings

    own, settings = split_settings(
        [
            "--config",
            "x.yaml",
            "alpha=1.4",
            "--max_steps",
            "3",
            "--learning-rate=1e-5",
            "--use_cpu",
            "--bf16",
            "false",
            "--max_completion_length",
            "-5",
            "-o",
            "out",
            "--resume",
        ]
    )
    assert own == ["--config", "x.yaml", "-o", "out", "--resume"]
    assert settings == [
        "alpha=1.4",
        "max_steps=3",
        "learning_rate=1e-5",
        "use_cpu=true",
        "bf16=false",
        "max_completion_length=-5",
    ]


def test_cli_option_forms_reach_the_config(monkeypatch, tmp_path):
    import twgrpo_train.trainer as trainer_module

    seen = {}
    monkeypatch.setattr(
        trainer_module, "run_training", lambda cfg, resume=False, log=None: seen.setdefault("cfg", cfg) and tmp_path
    )
    result = run_cli(
        "train", "--config", str(TINY_YAML), "model=/m", "--alpha", "1.4", "--max-steps=3", "-o", str(tmp_path / "out")
    )
    cfg = seen["cfg"]
    assert result.code == 0 and (cfg.alpha, cfg.max_steps, cfg.output_dir) == (1.4, 3, str(tmp_path / "out"))
    result = run_cli("train", "--config", str(TINY_YAML), "model=/m", "--alpah", "2")
    assert result.code == 1 and "unknown setting 'alpah' (did you mean 'alpha'?)" in result.stderr


def test_cli_help_lists_every_setting_with_default_and_help():
    from dataclasses import fields

    from twgrpo_cli.train import settings_table

    rows = {name: (default, text) for name, default, text in settings_table()}
    assert set(rows) == {f.name for f in fields(TWGRPOConfig) if f.init}
    assert rows["alpha"][0] == "0.7" and rows["alpha"][1].startswith("The paper's α")
    assert rows["frames"][0] == "16" and rows["output_dir"][1]
    result = run_cli("train", "--help")
    text = " ".join(result.stdout.split())
    assert result.code == 0 and "--out" in text
    for name in ("alpha", "frames", "min_pixels", "max_completion_length", "learning_rate", "seed"):
        assert re.search(rf"\b{name} ", text), name


# ---------------------------------------------------------------------------------------------------------
# outputs that say what they are (11.8)


def test_plot_labels_runs_with_the_same_name_apart(tmp_path):
    from twgrpo_train.plot import run_labels

    rows = [{"step": 1, "reward_std": 0.2}]
    for parent in ("A", "B"):
        write_metrics(tmp_path / parent / "run" / "metrics.jsonl", rows)
    write_metrics(tmp_path / "solo" / "metrics.jsonl", rows)
    assert run_labels([tmp_path / "A" / "run", tmp_path / "B" / "run", tmp_path / "solo"]) == ["A/run", "B/run", "solo"]
    import matplotlib.pyplot as plt

    drawn = []
    original = plt.Axes.plot
    try:
        plt.Axes.plot = lambda self, *a, **k: drawn.append(k["label"]) or original(self, *a, **k)
        plot_training_curves([tmp_path / "A" / "run", tmp_path / "B" / "run"], tmp_path / "c.png")
    finally:
        plt.Axes.plot = original
    assert drawn == ["A/run", "B/run"]


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_plot_file_type_follows_the_suffix(tmp_path, suffix, magic):
    write_metrics(tmp_path / "run" / "metrics.jsonl", [{"step": 1, "reward_std": 0.2}, {"step": 2, "reward_std": 0.1}])
    out = plot_training_curves([tmp_path / "run"], tmp_path / f"curves{suffix}")
    assert out.read_bytes().startswith(magic)
    with pytest.raises(TwgrpoError, match=r"curves\.jpg: a plot file ends in \.png, \.pdf, \.svg"):
        plot_training_curves([tmp_path / "run"], tmp_path / "curves.jpg")


def test_model_card_cites_tw_grpo_and_names_base_model_and_data(tmp_path):
    import yaml

    from twgrpo_train.card import write_model_card

    cfg = load_config(TINY_YAML, ["model=Qwen/Qwen2.5-VL-7B-Instruct", f"output_dir={tmp_path / 'run'}"])
    text = write_model_card(tmp_path, cfg, 12).read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["base_model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and "tw-grpo" in meta["tags"]
    assert "arXiv:2505.24718" in text and "Dang" in text and "Reinforcing Video Reasoning with Focused Thinking" in text
    assert "`Qwen/Qwen2.5-VL-7B-Instruct`" in text and "train_tiny.jsonl` (12 prompts" in text
    # local paths appear relative to the run folder, never as this machine's absolute paths (issue 29.6)
    (tmp_path / "base").mkdir()
    local_cfg = load_config(TINY_YAML, [f"model={tmp_path / 'base'}", f"output_dir={tmp_path / 'run'}"])
    local = write_model_card(tmp_path, local_cfg, 12).read_text()
    assert "base_model" not in local.split("---")[1] and "`../base`" in local
    assert str(tmp_path) not in local and str(REPO) not in local
    for setting in ("alpha (the paper's α)` | `0.7`", "max_weight", "divergence", "detach_weights", "top_k"):
        assert setting in local, setting


# ---------------------------------------------------------------------------------------------------------
# training finds videos as evaluation does (issue 13.4)


def test_training_rows_carry_the_benchmark_clip(tmp_path):
    from twgrpo_data.benchmarks import locate_video
    from twgrpo_train.trainer import _video_ref

    rows = [
        Record(
            id="star_1",
            question="q",
            options=["a", "b"],
            answer=["A"],
            video="video1.mp4",
            source="star",
            meta={"start": 1.0, "end": 2.5},
        ),
        Record(id="plain", question="q", options=["a", "b"], answer=["B"], video="clevrer_8.mp4", source="demo"),
    ]
    src = tmp_path / "train.jsonl"
    src.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    ds = load_train_dataset(src, video_root=VIDEOS)
    star = _video_ref(ds[0]["prompt"])
    assert star == locate_video(rows[0], VIDEOS)
    assert (Path(star.path).name, star.start, star.end) == ("video1.mp4", 1.0, 2.5)
    plain = _video_ref(ds[1]["prompt"])
    assert (Path(plain.path).name, plain.start, plain.end) == ("clevrer_8.mp4", None, None)
    clip = star.sample(frames=4, min_pixels=3136, max_pixels=3136)
    assert all(1.0 - 0.1 <= t <= 2.5 + 0.1 for t in clip.timestamps)


def test_attention_defaults_to_sdpa_without_flash_attn(monkeypatch):
    import importlib.util

    from twgrpo_train.trainer import _attn_implementation

    assert _attn_implementation(load_config(TINY_YAML, ["model=/m"])) == "sdpa"  # CPU run
    gpu = load_config(TINY_YAML, ["model=/m", "use_cpu=false"])
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name == "flash_attn" else real_find_spec(name)
    )
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert _attn_implementation(gpu) == "flash_attention_2"
    assert _attn_implementation(load_config(TINY_YAML, ["model=/m", "attn_implementation=eager"])) == "eager"


# ---------------------------------------------------------------------------------------------------------
# a trainer people can drive (issue 29.6)


def test_train_without_config_is_one_line():
    result = run_cli("train")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: --config is required: twgrpo train --config CONFIG.yaml [key=value ...] (--help lists every setting)"
    ]


def test_the_stored_settings_schema_is_the_config_dataclass():
    from twgrpo_train.settings import load_schema, schema_of

    assert load_schema() == json.loads(json.dumps(schema_of(TWGRPOConfig))), (
        "regenerate with: python -m twgrpo_train.settings"
    )


def test_a_typo_is_refused_before_torch_or_trl_is_imported():
    result, modules = run_cli_fresh("train", "--config", TINY_YAML, "model=/m", "alpah=1.2")
    assert result.code == 1 and not {"torch", "transformers", "trl"} & modules, result.stderr
    assert "unknown setting 'alpah' (did you mean 'alpha'?)" in result.stderr


def test_trl_names_are_aliases(tmp_path):
    cfg = load_config(None, ["model_name_or_path=/m", "dataset_name=data.json", "use_cpu=true", "bf16=false"])
    assert (cfg.model, cfg.train_file) == ("/m", "data.json")
    from twgrpo_cli.train import split_settings

    assert split_settings(["--model_name_or_path", "/m"])[1] == ["model_name_or_path=/m"]


def test_a_missing_reporter_is_a_user_error_before_the_model_loads(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(TrainConfigError, match=r"report_to: wandb is not installed \(pip install wandb\)"):
        load_config(TINY_YAML, ["model=/m", "report_to=wandb"])


def test_each_step_prints_one_short_line():
    from twgrpo_train.callbacks import step_line

    logs = {
        "loss": 0.0123,
        "grad_norm": 0.94,
        "reward": 0.625,
        "reward_std": 0.25,
        "soft_accuracy": 0.5,
        "completions/mean_length": 212.4,
        "tw/weight_mean": 1.31,
        "tw/weight_max": 1.7,
        "tw/weight_entropy": 0.98,
        "entropy": 6.1,
        "clip_ratio/low_mean": 0.0,
        "num_tokens": 2626,
    }
    assert step_line(3, 10, logs) == (
        "step 3/10  reward 0.625 ± 0.250  soft acc 0.500  length 212.4  w mean 1.31 max 1.70  entropy 0.98  "
        "loss 0.0123  grad 0.94"
    )


def test_help_lists_the_tw_grpo_settings_before_trl_s():
    from twgrpo_cli.train import settings_table

    names = [name for name, _, _ in settings_table()]
    assert names[:2] == ["model", "train_file"]
    own_end = names.index("alpha")
    assert own_end < names.index("accelerator_config") and names.index("max_weight") < names.index("adam_beta1")
