"""`twgrpo eval` end to end, as a user runs it: the tiny random Qwen2.5-VL, the transformers backend and the
real videos in ../shared/data/videos; `rescore` reproduces results.json; a killed run resumes; `compare`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli, start_cli
from eval_helpers import AnswerKey, run_with, text_records, write_set
from paths import REPO, VIDEOS

from twgrpo_data.io.unified_format import record_to_unified
from twgrpo_data.prompts import build_prompt
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input

# A few frames at a tiny pixel budget and short answers keep each run to seconds on a CPU.
FAST = [
    "--backend",
    "transformers",
    "--frames",
    "4",
    "--min-pixels",
    "3136",
    "--max-pixels",
    "12544",
    "--max-new-tokens",
    "8",
    "--video-root",
    str(VIDEOS),
    "--no-progress",
]


def _metrics(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("file", "run", "parser_reason")}


def _ids(run: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (run / "samples.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_eval_on_the_example_set_is_reproduced_by_rescore(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    run_cli(
        "eval",
        "--bench",
        "mmvu",
        "--data",
        "examples/eval_sample.json",
        "--model",
        str(tiny_model_dir),
        "--out",
        str(run),
        *FAST,
        cwd=REPO,
        check=True,
    )
    results = json.loads((run / "results.json").read_text())
    rescored = json.loads(run_cli("eval", "rescore", str(run / "samples.jsonl"), "--json", cwd=REPO, check=True).stdout)
    assert _metrics(results) == _metrics(rescored)
    assert results["n"] == 6 and results["single"]["n"] == 4 and results["multi"]["n"] == 2
    assert set(results["by_category"]) == {"Mechanics", "Scenes", "CLEVRER"}
    lines = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert all(line["error"] is None and line["frames"] == 4 and line["fps"] > 0 for line in lines)
    config = json.loads((run / "config.json").read_text())
    assert config["prompt"] == "clevrer"  # the set has multi-answer items
    assert config["model"] == str(tiny_model_dir)
    assert config["sessions"][0]["backend"]["model_class"] == "Qwen2_5_VLForConditionalGeneration"


@pytest.mark.slow
def test_clevrer_style_multi_answer_set(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    proc = run_cli(
        "eval",
        "--bench",
        "clevrer",
        "--data",
        "examples/eval_clevrer_sample.json",
        "--model",
        str(tiny_model_dir),
        "--out",
        str(run),
        *FAST,
        cwd=REPO,
        check=True,
    )
    assert "multi-answer" in proc.stdout and "accuracy" in proc.stdout
    results = json.loads((run / "results.json").read_text())
    assert (results["single"]["n"], results["multi"]["n"]) == (1, 2)
    records = {r.id: r for r in open_input(REPO / "examples" / "eval_clevrer_sample.json").raise_or_skip(False).records}
    for line in (run / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["prompt_hash"] == build_prompt(records[row["id"]], "clevrer").hash
        assert row["gold"] == records[row["id"]].answer


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results_without_duplicates(tiny_model_dir, tmp_path):
    videos = ["clevrer_8.mp4", "video1.mp4", "video_12176.mp4"]
    records = [
        Record(
            f"k{i}",
            f"Question number {i}?",
            ["left", "right", "up", "down"],
            ["A", "C"] if i % 4 == 0 else [chr(65 + i % 4)],
            video=videos[i % 3],
            source="mmvu",
        )
        for i in range(14)
    ]
    data = tmp_path / "set.json"
    data.write_text(json.dumps([record_to_unified(r) for r in records]))
    args = ["eval", "--bench", "mmvu", "--data", str(data), "--model", str(tiny_model_dir), *FAST, "--batch-size", "2"]
    killed = tmp_path / "killed"
    proc = start_cli(
        *args, "--out", killed, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    samples = killed / "samples.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _ids(killed)
    assert 2 <= len(partial) < len(records), "the run should have been killed part-way"
    assert not (killed / "results.json").exists()
    run_cli(*args, "--out", str(killed), cwd=REPO, check=True)
    ids = _ids(killed)
    assert sorted(ids) == sorted(r.id for r in records)  # each id once: nothing redone, nothing lost
    assert ids[: len(partial)] == partial
    fresh = tmp_path / "fresh"
    run_cli(*args, "--out", str(fresh), cwd=REPO, check=True)
    resumed_results = json.loads((killed / "results.json").read_text())
    assert _metrics(resumed_results) == _metrics(json.loads((fresh / "results.json").read_text()))
    by_id = {json.loads(line)["id"]: json.loads(line) for line in (fresh / "samples.jsonl").read_text().splitlines()}
    for line in (killed / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert (row["output"], row["prompt_hash"], row["fps"]) == (
            by_id[row["id"]]["output"],
            by_id[row["id"]]["prompt_hash"],
            by_id[row["id"]]["fps"],
        )
    assert len(json.loads((killed / "config.json").read_text())["sessions"]) == 2


def test_compare_prints_runs_side_by_side_and_plots(tmp_path):
    records = text_records(6)
    data = write_set(tmp_path / "set.json", records)
    good = AnswerKey({r.id: ",".join(r.answer) for r in records})
    half = AnswerKey({r.id: r.answer[0] for r in records})  # only the first letter of multi-answer golds
    run_with(tmp_path / "a", data, good)
    run_with(tmp_path / "b", data, half)
    runs = [str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")]
    png = tmp_path / "cmp.png"
    proc = run_cli("eval", "compare", *runs, "--plot", str(png), env={"COLUMNS": "160"}, cwd=REPO, check=True)
    assert "a/run" in proc.stdout and "b/run" in proc.stdout  # same folder names, told apart by their parents
    row = next(line for line in proc.stdout.splitlines() if "multi-answer (n=2)" in line)
    assert [cell.split(" [")[0].strip() for cell in row.split("│")[2:6]] == ["100.00", "100.00", "0.00", "50.00"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(run_cli("eval", "compare", *runs, "--json", cwd=REPO, check=True).stdout)
    assert data["a/run"]["accuracy"] == 100.0 and data["b/run"]["multi"]["soft_accuracy"] == 50.0


def test_eval_errors_are_one_line(tmp_path):
    proc = run_cli("eval", "--bench", "mmvu", "--model", "org/m", "--data", str(tmp_path / "none.json"), cwd=REPO)
    assert proc.code == 1
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'none.json'}: no such file or folder"]
    proc = run_cli("eval", "compare", str(tmp_path), cwd=REPO)
    assert proc.code == 1 and "no results.json" in proc.stderr
    proc = run_cli("eval", "--bench", "mmvu", "--model", "m", "--backend", "openai", "--tp", "2", cwd=REPO)
    assert proc.code == 2 and "only for --backend vllm" in proc.stderr


# ----------------------------------------------------------------------------------------------------------
# issue 12 / 18: shards, missing videos, choices, the paper's table, secrets


def _video_set(tmp_path: Path, n: int = 6) -> Path:
    videos = ["clevrer_8.mp4", "video1.mp4", "video_12176.mp4"]
    records = [
        Record(
            f"k{i}",
            f"Question number {i}?",
            ["left", "right", "up", "down"],
            ["A", "C"] if i % 4 == 0 else [chr(65 + i % 4)],
            video=videos[i % 3],
            source="mmvu",
            meta={"category": videos[i % 3]},
        )
        for i in range(n)
    ]
    data = tmp_path / "set.json"
    data.write_text(json.dumps([record_to_unified(r) for r in records]))
    return data


@pytest.mark.slow
def test_three_shards_merged_equal_one_run_with_the_tiny_model(tiny_model_dir, tmp_path):
    data = _video_set(tmp_path)
    # one item per generate call: each item's sample then depends on its own seed only, never on its batch
    args = ["eval", "--bench", "mmvu", "--data", str(data), "--model", str(tiny_model_dir), *FAST, "--batch-size", "1"]
    run_cli(*args, "--out", str(tmp_path / "single"), cwd=REPO, check=True)
    for k in (1, 2, 3):
        run_cli(*args, "--shard", f"{k}/3", "--out", str(tmp_path / f"shard{k}"), cwd=REPO, check=True)
    proc = run_cli(
        "eval",
        "merge",
        *(str(tmp_path / f"shard{k}") for k in (1, 2, 3)),
        "--out",
        str(tmp_path / "merged"),
        cwd=REPO,
        check=True,
    )
    assert "complete" in proc.stdout
    single = json.loads((tmp_path / "single" / "results.json").read_text())
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    for doc in (single, merged):
        doc["run"].pop("session")  # timings
    assert json.dumps(merged, indent=2) == json.dumps(single, indent=2)
    assert _ids(tmp_path / "merged") == _ids(tmp_path / "single")


def test_a_run_whose_videos_are_all_missing_exits_1_with_one_line(tmp_path):
    data = _video_set(tmp_path)
    proc = run_cli(
        "eval",
        "--bench",
        "mmvu",
        "--data",
        str(data),
        "--model",
        "org/m",
        "--out",
        str(tmp_path / "run"),
        *FAST[:-3],
        "--video-root",
        str(tmp_path / "nowhere"),
        "--no-progress",
        cwd=REPO,
    )
    assert proc.code == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "none of the first" in lines[0] and "clevrer_8.mp4" in lines[0]
    assert f"--video-root {tmp_path / 'nowhere'}" in lines[0]
    assert not (tmp_path / "run").exists()


def test_unknown_choices_are_refused_before_any_folder_is_made(tmp_path):
    for option, value in (
        ("--backend", "vllmm"),
        ("--prompt", "cott"),
        ("--parser", "strict"),
        ("--protocol", "leaderboard"),
    ):
        proc = run_cli(
            "eval", "--bench", "mmvu", "--model", "m", "--out", str(tmp_path / "run"), option, value, cwd=REPO
        )
        assert proc.code == 2 and value in proc.stderr, option
    assert not (tmp_path / "run").exists()
    help_text = run_cli("eval", "--help", env={"COLUMNS": "200"}, cwd=REPO, check=True).stdout
    assert "auto|vllm|transformers|openai" in help_text and "standard|twgrpo-official" in help_text


def test_eval_list_shows_the_benchmarks_and_their_default_data():
    out = run_cli("eval", "list", env={"COLUMNS": "200"}, cwd=REPO, check=True).stdout
    for name in ("mvbench", "tempcompass", "videomme", "mmvu", "nextgqa", "clevrer"):
        assert name in out
    assert "NExT-GQA/datasets/nextgqa/test.csv" in out  # the split the paper reports


def test_several_benchmarks_run_into_one_folder_each(tmp_path, monkeypatch):
    import twgrpo_eval.runner as runner

    seen = []

    def fake_run(config, **kw):
        seen.append((config.bench, config.out, config.data))
        return runner.RunResult(Path(config.out), {"run": {}}, 0, 0.0)

    import twgrpo_data.hub.benchmark_data as benchmark_data

    def fake_resolve(name, limit=None, videos=True, **kw):  # each benchmark's default data, found locally
        return benchmark_data.BenchmarkData(tmp_path / f"{name}.json", None, {"kind": "local"})

    monkeypatch.setattr(runner, "run_eval", fake_run)
    monkeypatch.setattr(benchmark_data, "resolve_benchmark_data", fake_resolve)
    result = run_cli("eval", "--bench", "all", "--model", "org/m", "--out", tmp_path)
    assert result.code == 0, result.stderr
    assert [b for b, _, _ in seen] == ["clevrer", "nextgqa", "mmvu", "mvbench", "tempcompass", "videomme"]
    assert all(out == str(tmp_path / b) and data == str(tmp_path / f"{b}.json") for b, out, data in seen)
    result = run_cli("eval", "--bench", "mmvu,clevrer", "--model", "org/m", "--data", "x.json")
    assert result.code == 2 and "--data" in result.stderr


def test_compare_table_in_every_format_with_a_paired_test(tmp_path):
    records = text_records(12)
    data = write_set(tmp_path / "set.json", records)
    runs = []
    for model, right in (("base", 4), ("tuned", 11)):
        key = AnswerKey({r.id: (",".join(r.answer) if i < right else "D") for i, r in enumerate(records)})
        for bench in ("mmvu", "clevrer"):
            folder = tmp_path / f"{bench}-{model}"
            run_with(folder, data, key, bench=bench)
            config = json.loads((folder / "run" / "config.json").read_text())
            config["model"] = f"/models/{model}"
            (folder / "run" / "config.json").write_text(json.dumps(config))
            runs.append(str(folder / "run"))
    md = run_cli("eval", "compare", *runs, "--table", "--format", "markdown", cwd=REPO, check=True).stdout
    lines = md.strip().splitlines()
    assert lines[0] == "| model | clevrer | mmvu |"  # the paper's column order
    assert lines[2].startswith("| base | 33.3 / ") and lines[3].startswith("| tuned | 91.7 / ")
    assert "McNemar p (base vs tuned)" in lines[4] and "0.0156 (n=12)" in lines[4]  # 7 discordant, all one way
    csv_text = run_cli("eval", "compare", *runs, "--table", "--format", "csv", cwd=REPO, check=True).stdout
    assert csv_text.splitlines()[0] == "model,clevrer,mmvu"
    latex = run_cli("eval", "compare", *runs, "--table", "--format", "latex", cwd=REPO, check=True).stdout
    assert latex.startswith("\\begin{tabular}{lrr}") and "\\toprule" in latex and "\\bottomrule" in latex
    rich = run_cli("eval", "compare", *runs, "--table", env={"COLUMNS": "200"}, cwd=REPO, check=True).stdout
    assert "tuned" in rich and "McNemar" in rich
    for suffix, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml")):
        plot = tmp_path / f"cmp{suffix}"
        run_cli("eval", "compare", *runs[:2], "--plot", str(plot), cwd=REPO, check=True)
        assert plot.read_bytes().startswith(magic)
    proc = run_cli("eval", "compare", *runs[:2], "--plot", str(tmp_path / "cmp.gif"), cwd=REPO)
    assert proc.code == 2 and "expected .png, .pdf, .svg" in proc.stderr


def test_an_openai_key_appears_in_no_file_and_no_output(tmp_path):
    from eval_helpers import FakeOpenAIServer

    secret = "sk-test-SECRET"
    data = _video_set(tmp_path, 3)
    server = FakeOpenAIServer()
    try:
        run = tmp_path / "run"
        args = [
            "eval",
            "--bench",
            "mmvu",
            "--data",
            str(data),
            "--model",
            "served-model",
            "--backend",
            "openai",
            "--api-base",
            server.url,
            "--frames",
            "4",
            "--min-pixels",
            "3136",
            "--max-pixels",
            "12544",
            "--video-root",
            str(VIDEOS),
            "--out",
            str(run),
        ]
        proc = run_cli(*args, "--api-key", secret, "--backend-arg", f"hf_token={secret}", cwd=REPO, check=True)
        outputs = [proc.stdout + proc.stderr]
        assert json.loads((run / "results.json").read_text())["n"] == 3
        assert set(server.auth) == {f"Bearer {secret}"}  # the key was used
        env_proc = run_cli(
            *args[:-2], "--out", str(tmp_path / "env"), env={"OPENAI_API_KEY": secret}, cwd=REPO, check=True
        )
        outputs.append(env_proc.stdout + env_proc.stderr)
        bad = run_cli(
            *args[:-2],
            "--out",
            str(tmp_path / "bad"),
            "--api-key",
            secret,
            "--backend-arg",
            f"broken{secret}",
            cwd=REPO,
        )
        outputs.append(bad.stdout + bad.stderr)
        assert bad.code == 2
        wrong = run_cli(*args[:-2], "--model", "other", "--out", str(tmp_path / "wrong"), "--api-key", secret, cwd=REPO)
        outputs.append(wrong.stdout + wrong.stderr)
        assert wrong.code == 1 and "not 'other'" in wrong.stderr
    finally:
        server.close()
    assert all(secret not in text for text in outputs)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != data]
    assert files and all(secret.encode() not in p.read_bytes() for p in files)
    config = json.loads((run / "config.json").read_text())
    assert (
        config["backend_options"]["api_key"] == "<redacted>" and config["backend_options"]["hf_token"] == "<redacted>"
    )


# ----------------------------------------------------------------------------------------------------------
# issue 26: the options come from EvalConfig and the backends


def test_every_eval_option_comes_from_evalconfig_a_backend_or_the_command_itself():
    import inspect
    from dataclasses import fields

    from twgrpo_cli.app import load_subcommand
    from twgrpo_eval.backends import backend_class, backend_options
    from twgrpo_eval.config import EvalConfig

    params = {p.name: p for p in load_subcommand("eval").params if p.name != "debug"}
    configured = {f.name: f for f in fields(EvalConfig) if "panel" in f.metadata}
    assert set(configured) == {f.name for f in fields(EvalConfig)} - {"backend_options", "data_source", "judge_options"}
    for name, field in configured.items():
        option = params[name]
        assert (option.help, option.rich_help_panel) == (field.metadata["help"], field.metadata["panel"]), name
        assert option.min == field.metadata.get("min"), name
    declared = backend_options()
    for name, (declaration, owners) in declared.items():
        assert params[name].help == f"{'/'.join(owners)}: {declaration.help}", name
    own = {"judge_api_key", "backend_arg", "no_progress", "max_failed"}
    assert set(params) == set(configured) | set(declared) | own
    for name, (_, owners) in declared.items():  # each declaration is a keyword of the constructors that list it
        for owner in owners:
            keywords = inspect.signature(backend_class(owner).__init__).parameters
            assert keywords[name].kind is inspect.Parameter.KEYWORD_ONLY, (owner, name)


def test_a_backend_option_the_chosen_backend_does_not_take_is_refused_naming_the_ones_that_do():
    result = run_cli("eval", "--bench", "mmvu", "--model", "org/m", "--backend", "transformers", "--api-key", "k")
    assert result.code == 2
    assert result.err_lines == ["error: --api-key: only for --backend openai (the backend is transformers)"]
