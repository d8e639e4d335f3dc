"""Trainer building blocks without training: config loading, training rows, reward functions, plots, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO, VIDEOS
from twgrpo_data.errors import RecordError, TwgrpoError
from twgrpo_data.record import Record
from twgrpo_train.config import TrainConfigError, TWGRPOConfig, load_config, parse_overrides
from twgrpo_train.data import TRAIN_TEMPLATE, load_train_dataset, problem_text, record_to_prompt_row
from twgrpo_train.plot import plot_training_curves, read_metrics
from twgrpo_train.rewards import accuracy_reward, answer_metrics, build_reward_funcs, completion_text, format_reward_func

TINY_YAML = REPO / "examples" / "train_tiny.yaml"
CONFIGS = REPO / "train" / "configs"
BASE = ["model=/models/tiny", "use_cpu=true", "bf16=false"]


# ---------------------------------------------------------------------------------------------------------
# config


def test_tiny_config_resolves_data_paths_relative_to_the_yaml():
    cfg = load_config(TINY_YAML, ["model=/models/tiny"])
    assert Path(cfg.train_file) == REPO / "examples" / "train_tiny.jsonl"
    assert Path(cfg.video_root) == VIDEOS
    assert (cfg.loss_type, cfg.trl_loss_type, cfg.alpha, cfg.num_generations) == ("tw_grpo", "dapo", 1.7, 4)
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


@pytest.mark.parametrize(("override", "message"), [
    ("alpah=1.2", "unknown setting 'alpah' (did you mean 'alpha'?)"),
    ("divergence=js", "divergence must be one of kl, reference"),
    ("weight_mapping=linear", "weight_mapping must be one of reference, paper"),
    ("learning_rate=fast", "learning_rate must be a number"),
    ("per_device_train_batch_size=6", "generation_batch_size (6) must be divisible by num_generations (4)"),
    ("weight_chunk_size=0", "weight_chunk_size must be ≥ 1"),
])
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


def test_paper_config_matches_the_paper_setup():
    cfg = load_config(CONFIGS / "paper_clevrer_7b.yaml", ["use_cpu=true", "bf16=false", "train_file=/data/x.json"])
    assert "Qwen2.5-VL-7B" in cfg.model
    assert (cfg.num_generations, cfg.temperature, cfg.learning_rate, cfg.max_steps, cfg.alpha) == (8, 1.0, 1e-6, 500, 1.7)
    assert (cfg.num_frames, cfg.video_max_pixels, cfg.loss_type, cfg.beta) == (16, 128 * 28 * 28, "tw_grpo", 0.0)
    assert cfg.max_train_samples == 1000 and cfg.accuracy_reward == "soft"


@pytest.mark.parametrize("name", ["zero2.json", "zero3.json", "zero3_offload.json"])
def test_deepspeed_configs_are_valid_json_with_their_stage(name):
    ds = json.loads((CONFIGS / name).read_text())
    assert ds["zero_optimization"]["stage"] == (2 if "zero2" in name else 3)
    assert ds["train_micro_batch_size_per_gpu"] == "auto" and ds["bf16"]["enabled"] == "auto"


@pytest.mark.parametrize("name", ["accelerate_zero2.yaml", "accelerate_zero3.yaml", "accelerate_multi_gpu.yaml"])
def test_accelerate_configs_point_at_shipped_deepspeed_files(name):
    import yaml

    acc = yaml.safe_load((CONFIGS / name).read_text())
    ds_file = acc.get("deepspeed_config", {}).get("deepspeed_config_file")
    if ds_file:
        assert (CONFIGS / Path(ds_file).name).is_file()
    assert acc["num_processes"] >= 2


# ---------------------------------------------------------------------------------------------------------
# data


def test_prompt_row_uses_the_released_training_template():
    rec = Record(id="q", question="why didn't the boy move", options=["unwrap it", "play"], answer=["A", "B"],
                 video="v.mp4")
    row = record_to_prompt_row(rec, video="/videos/v.mp4")
    assert problem_text(rec) == "why didn't the boy move\nA unwrap it\nB play"
    assert row["prompt"] == [{"role": "user", "content": [
        {"type": "video", "video": "/videos/v.mp4"},
        {"type": "text", "text": "why didn't the boy move\nA unwrap it\nB play  Output the thinking process in "
                                 "<think> </think> and final answer (letters separated by , if multiple) in "
                                 "<answer> </answer> tags."}]}]
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
    rows = [Record(id="ok", question="q", options=["a", "b"], answer=["A"], video="clevrer_8.mp4"),
            Record(id="gone", question="q", options=["a", "b"], answer=["B"], video="nope.mp4")]
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


def test_soft_and_fixed_accuracy_rewards():
    completions = [conversation(t) for t in ["<think>x</think><answer>A</answer>", "<answer>A,C</answer>",
                                             "<answer>A,D</answer>", "no tags at all"]]
    gold = [["A", "C"]] * 4
    assert accuracy_reward("soft")(prompts=[None] * 4, completions=completions, answer=gold) == [0.5, 1.0, 0.0, 0.0]
    assert accuracy_reward("fixed")(prompts=[None] * 4, completions=completions, answer=gold) == [0.0, 1.0, 0.0, 0.0]
    assert accuracy_reward("soft").__name__ == "soft_accuracy"


def test_format_reward_and_metrics():
    texts = ["<think>a</think><answer>B</answer>", "<answer>B</answer>", "<think>a</think> <answer>B</answer>!"]
    assert format_reward_func(prompts=[None] * 3, completions=[conversation(t) for t in texts]) == [1.0, 0.0, 1.0]
    stats = answer_metrics(texts, [["B", "C"]] * 3)
    assert stats == {"soft_accuracy": 0.5, "accuracy": 0.0, "format_rate": pytest.approx(2 / 3)}
    names = [f.__name__ for f in build_reward_funcs("fixed", use_format=True)]
    assert names == ["fixed_accuracy", "format"]


def test_completion_text_reads_strings_and_structured_turns():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                               {"type": "text", "text": "b"}]}]) == "ab"


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


def test_plot_errors_are_user_errors(tmp_path):
    with pytest.raises(TwgrpoError, match="no metrics file"):
        plot_training_curves([tmp_path], tmp_path / "x.png")
    write_metrics(tmp_path / "run" / "metrics.jsonl", [{"step": 1, "loss": 0.1}])
    with pytest.raises(TwgrpoError, match="no plottable metrics"):
        plot_training_curves([tmp_path / "run"], tmp_path / "x.png")


# ---------------------------------------------------------------------------------------------------------
# CLI (argument handling; training itself is in test_train_run.py)


def run_cli(args, capsys):
    from twgrpo_cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr()


def test_cli_bad_override_is_one_line_exit_1(capsys):
    code, out = run_cli(["train", "--config", str(TINY_YAML), "model=/m", "alpah=2"], capsys)
    assert code == 1
    assert out.err.strip().splitlines() == ["error: override: unknown setting 'alpah' (did you mean 'alpha'?)"]


def test_cli_resume_without_checkpoint_is_a_user_error(tmp_path, capsys):
    code, out = run_cli(["train", "--config", str(TINY_YAML), "model=/m", f"output_dir={tmp_path}", "--resume"],
                        capsys)
    assert code == 1 and "no checkpoint to resume from" in out.err


def test_cli_plot_subcommand_is_not_taken_for_an_override(tmp_path, capsys):
    write_metrics(tmp_path / "run" / "metrics.jsonl", [{"step": 1, "reward_std": 0.2}])
    code, out = run_cli(["train", "plot", str(tmp_path / "run"), "-o", str(tmp_path / "p.png")], capsys)
    assert code == 0 and (tmp_path / "p.png").is_file()


def test_cli_train_without_settings_is_a_usage_error(capsys):
    code, _ = run_cli(["train", "--resume"], capsys)
    assert code == 2
