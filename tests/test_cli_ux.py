"""The command line for people who leave long runs alone and bring lmms-eval's habits (issue 32): partial failures
said out loud, names checked before any work, floods grouped, nothing left behind, help that helps."""

from __future__ import annotations

import json
import time

import pytest
from cli_helpers import REPO, run_cli
from eval_helpers import FakeOpenAIServer, text_records, write_set
from paths import VIDEOS

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.names import check_model_reference, close_match

SAMPLE = REPO / "examples" / "eval_sample.json"
SMALL_FRAMES = ["--frames", "4", "--min-pixels", "3136", "--max-pixels", "12544"]


@pytest.fixture()
def server():
    fake = FakeOpenAIServer()
    yield fake
    fake.close()


def openai_eval(server, *args) -> list[str]:
    return ["eval", "--model", "served-model", "--backend", "openai", "--api-base", server.url, *args]


# ----------------------------------------------------------------------------------------------------------
# 2. partial failures


def test_missing_videos_are_summarised_and_max_failed_exits_1(server, tmp_path):
    videos = tmp_path / "videos"  # the sample set's third video is missing: 2 of its 6 items fail
    videos.mkdir()
    for name in ("clevrer_8.mp4", "video1.mp4"):
        (videos / name).symlink_to(VIDEOS / name)
    args = openai_eval(server, "--bench", "mmvu", "--data", SAMPLE, "--video-root", videos, *SMALL_FRAMES)
    ok = run_cli(*args, "--out", tmp_path / "run")
    assert ok.code == 0, ok.stderr
    assert "complete, 2 failed" in ok.stdout
    lines = ok.stderr.splitlines()
    head = lines.index("warning: 2 of 6 items failed (counted as wrong; the same command retries them):")
    assert lines[head + 1].startswith("  2 × video: …: no such video file — e.g. 'clevrer-12176-")
    assert str(videos / "video_12176.mp4") in lines[head + 1]
    strict = run_cli(*args, "--out", tmp_path / "strict", "--max-failed", "10%")
    assert strict.code == 1 and "complete, 2 failed" in strict.stdout
    assert strict.stderr.splitlines()[-1] == (
        "error: mmvu: 2 of 6 items failed (33.3%) — above --max-failed 10%; the results are written, the failed "
        "items are retried when the same command is run again"
    )
    assert json.loads((tmp_path / "strict" / "results.json").read_text())["n_failed"] == 2
    assert run_cli(*args, "--out", tmp_path / "lenient", "--max-failed", "0.5").code == 0
    bad = run_cli(*args, "--out", tmp_path / "bad", "--max-failed", "150%")
    assert bad.code == 2 and "--max-failed" in bad.stderr


# ----------------------------------------------------------------------------------------------------------
# 3. names checked early


def test_a_misspelt_model_folder_is_refused_at_once_with_a_suggestion(tmp_path):
    (tmp_path / "TINY").mkdir()
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    start = time.monotonic()
    for model, suggestion in (("TINYY", "TINY"), ("runs/tinyy", "runs/tiny"), ("./Tiny", "TINY")):
        result = run_cli(
            "eval", "--bench", "mmvu", "--data", SAMPLE, "--model", model, "--backend", "transformers", cwd=tmp_path
        )
        assert result.code == 1, result.stderr
        assert result.stderr.strip().endswith(f"did you mean {suggestion}?"), result.stderr
    assert time.monotonic() - start < 10  # no Hub retries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["TINY", "runs"]  # no run folder left


def test_model_references_that_may_be_right_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_model_reference("Qwen/Qwen2.5-VL-7B-Instruct")  # a Hub id
    check_model_reference(str(tmp_path))  # an existing folder
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    check_model_reference("runs/Qwen2.5-VL-7B")  # nothing close in runs/: maybe a Hub repository
    with pytest.raises(TwgrpoError, match=r"no such model folder, and not a Hub id \(OWNER/NAME\)$"):
        check_model_reference("gpt2-nonexistent-folder")
    assert close_match("MMVU", ["mmvu", "mvbench"]) == "mmvu" and close_match("zzz", ["mmvu"]) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--bench", "mmvuu", "--model", "Q/M"], "did you mean mmvu?"),
        (["eval", "--bench", "MMVU", "--model", "Q/M"], "did you mean mmvu?"),
        (["eval", "--bench", "mmvu,tempcompas", "--model", "Q/M"], "did you mean tempcompass?"),
        (["data", "load", "--bench", "mvbenchh", "x.json"], "did you mean mvbench?"),
    ],
)
def test_a_misspelt_benchmark_gets_a_suggestion(args, message):
    result = run_cli(*args)
    assert result.code in (1, 2) and message in result.stderr, result.stderr


def test_lmms_eval_spellings_are_read_where_they_mean_the_same(server, tmp_path):
    data = write_set(tmp_path / "set.json", text_records(3))
    out = tmp_path / "results"
    result = run_cli(
        "eval",
        "--tasks",
        "mmvu",
        "--model",
        "served-model",
        "--backend",
        "openai",
        "--api-base",
        server.url,
        "--data",
        data,
        "--allow-text-only",
        "--output_path",
        out,
        "--max_new_tokens=8",
        "--limit",
        "2",
    )
    assert result.code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: --tasks is read as twgrpo's --bench",
        "note: --output_path is read as twgrpo's --out",
        "note: --max_new_tokens is read as twgrpo's --max-new-tokens",
    ]
    config = json.loads((out / "config.json").read_text())
    assert (config["bench"], config["max_new_tokens"], config["limit"]) == ("mmvu", 8, 2)
    assert {b["max_tokens"] for b in server.bodies} == {8}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "qwen2_5_vl", "--model_args", "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,max_pixels=12845056"],
            "--model_args is lmms-eval's (its --model names a model class); in twgrpo --model takes the checkpoint "
            "(--model Qwen/Qwen2.5-VL-7B-Instruct) and engine options go to --backend-arg KEY=VALUE",
        ),
        (
            ["--model", "Q/M", "--limit", "0.1"],
            "--limit counts records (the first N); lmms-eval's fraction of a task is not read here: pass a count",
        ),
    ],
)
def test_lmms_eval_spellings_that_mean_something_else_are_refused(args, message):
    result = run_cli("eval", "--bench", "mmvu", *args)
    assert result.code == 2 and result.stderr.strip() == f"error: {message}"


def test_rescore_reads_a_run_folder_and_refuses_results_json(server, tmp_path):
    data = write_set(tmp_path / "set.json", text_records(4))
    run = tmp_path / "run"
    assert run_cli(*openai_eval(server, "--bench", "mmvu", "--data", data, "--allow-text-only", "--out", run)).code == 0
    by_folder = run_cli("eval", "rescore", run, "--json")
    by_file = run_cli("eval", "rescore", run / "samples.jsonl", "--json")
    assert by_folder.code == 0 and json.loads(by_folder.stdout) == json.loads(by_file.stdout)
    wrong = run_cli("eval", "rescore", run / "results.json")
    assert wrong.code == 1
    assert wrong.stderr.strip() == (
        f"error: {run / 'results.json'}: holds a run's scores, not its outputs; pass {run / 'samples.jsonl'} "
        f"(or the run folder {run})"
    )


# ----------------------------------------------------------------------------------------------------------
# 4. floods and leftovers


def test_a_wrong_video_root_is_one_line_not_one_per_record(tmp_path):
    data = REPO.parent / "shared" / "data" / "eval_mmvu.json"
    result = run_cli("data", "validate", data, "--video-root", tmp_path)
    assert result.code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    # 625 records on 379 videos
    assert line.startswith(
        f"error: 625 records' videos (379 files) missing under {tmp_path}, e.g. {data}: record 0 (id '1'), field 'video'"
    )
    assert line.endswith(": no such video file; wrong --video-root?")
    listed = json.loads(run_cli("data", "validate", data, "--video-root", tmp_path, "--json").stdout)
    assert len(listed["problems"]) == 625  # --json still names every record


def test_some_missing_videos_are_grouped_without_blaming_the_root(tmp_path):
    (tmp_path / "clevrer_8.mp4").symlink_to(VIDEOS / "clevrer_8.mp4")
    (tmp_path / "video1.mp4").symlink_to(VIDEOS / "video1.mp4")
    few = run_cli("data", "validate", SAMPLE, "--video-root", tmp_path)
    assert [line.split(": ", 1)[0] for line in few.stderr.splitlines()] == ["error", "error"]  # 2 < 4: one each
    (tmp_path / "video1.mp4").unlink()
    more = run_cli("data", "validate", SAMPLE, "--video-root", tmp_path)
    (line,) = more.stderr.splitlines()
    assert line.startswith(f"error: 4 records' videos (2 files) missing under {tmp_path}, e.g. ")
    assert "wrong --video-root" not in line


def test_a_refused_out_folder_is_left_as_it_was(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    result = run_cli("eval", "--bench", "mmvu", "--data", SAMPLE, "--model", "Q/M", "--out", theirs)
    assert result.code == 2 and "holds files that are not a twgrpo run (notes.txt)" in result.stderr
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]  # no .lock left behind


def test_data_load_without_out_says_nothing_was_written():
    fixture = REPO.parent / "shared" / "fixtures" / "benchmarks" / "mmvu" / "validation.json"
    result = run_cli("data", "load", "--bench", "mmvu", fixture)
    assert result.code == 0
    assert result.stdout.splitlines()[-1].startswith("nothing written: -o FILE writes the records")


# ----------------------------------------------------------------------------------------------------------
# 5. help


def every_command() -> list[list[str]]:
    from twgrpo_cli.app import SUBCOMMANDS, load_subcommand

    paths = [[]]
    for name, sub in SUBCOMMANDS.items():
        paths.append([name])
        if sub.group:
            paths += [[name, child] for child in load_subcommand(name).commands]
    assert len(paths) > 15
    return paths


def test_no_help_shows_a_type_beside_a_flag(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    for path in every_command():
        result = run_cli(*path, "--help")
        assert result.code == 0, path
        assert "<bool>" not in result.stdout, path
        assert "--debug" in result.stdout or not path, path


def test_publish_help_leaves_shell_completion_to_twgrpo_itself():
    assert "--install-completion" not in run_cli("publish", "--help").stdout
    assert "--install-completion" in run_cli("--help").stdout


def test_eval_help_groups_its_options_in_panels(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = run_cli("eval", "--help").stdout
    panels = [line.split("─ ", 1)[1].split(" ─", 1)[0] for line in text.splitlines() if line.startswith("╭─ ")]
    assert panels == [
        "Options",
        "Data",
        "Model and backend",
        "Protocol (what is measured)",
        "Sampling",
        "Output",
        "Commands",
    ]
    body = text[text.index("╭─ Sampling") : text.index("╭─ Output")]
    assert all(f"--{name}" in body for name in ("temperature", "top-p", "max-new-tokens", "seed"))


def test_eval_list_prints_json_for_programs():
    from twgrpo_data.benchmarks import BENCHMARKS

    result = run_cli("eval", "list", "--json")
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(BENCHMARKS)
    mmvu = next(r for r in rows if r["name"] == "mmvu")
    assert mmvu["hub"] == "yale-nlp/MMVU" and mmvu["in_paper_table"] and isinstance(mmvu["found"], bool)


# the commands whose example only reads files that lie in ../shared (a read-only run, in the repository root)
RUN_EXAMPLES = {("data", "validate"), ("data", "stats"), ("eval", "rescore"), ("eval", "list"), ("qai", "negate")}


def help_example(command) -> list[str]:
    """The `twgrpo …` command of the `Example:` in a command's help (lines joined; a shell pipe before it cut)."""
    import re
    import shlex

    found = re.search(r"Example: (.*?)(?:\n\s*\n|$)", command.help or "", re.DOTALL)
    assert found, f"{command.name}: no 'Example:' in its help"
    text = " ".join(found.group(1).split())
    return shlex.split(text[text.index("twgrpo ") :].split(" | ")[0])


def parse_example(tokens: list[str]):
    """Parse `tokens` (`twgrpo …`) down the command groups as click would, running nothing; returns the path of the
    command they reach."""
    from twgrpo_cli.app import build_command

    command, name, args, path = build_command(), "twgrpo", tokens[1:], []
    while True:
        ctx = command.make_context(name, list(args))
        rest = [*ctx._protected_args, *ctx.args]
        if not rest or rest[0] not in getattr(command, "list_commands", lambda ctx: [])(ctx):
            return path
        name, args = rest[0], rest[1:]
        command = command.get_command(ctx, name)
        path.append(name)


def commands_with_examples() -> dict[tuple[str, ...], object]:
    """Every command with an example of its own, by path: all but the groups qai, data and dev."""
    from twgrpo_cli.app import SUBCOMMANDS, build_command, load_subcommand

    commands = {(): build_command()}
    for name, sub in SUBCOMMANDS.items():
        command = load_subcommand(name)
        if not sub.group or name in ("eval", "train"):  # a group that runs itself has an example of its own
            commands[(name,)] = command
        for child, sub_command in getattr(command, "commands", {}).items():
            commands[(name, child)] = sub_command
    assert len(commands) == len(every_command()) - 3
    return commands


def test_every_commands_help_example_parses():
    for path, command in commands_with_examples().items():
        tokens = help_example(command)
        reached = parse_example(tokens)
        assert reached == list(path) if path else reached, (path, tokens)  # the root's example is a command's


@pytest.mark.slow
def test_the_help_examples_that_only_read_run():
    commands = commands_with_examples()
    for path in RUN_EXAMPLES:
        tokens = help_example(commands[path])
        input = "who picked up the ball\nhow did the boy react\n" if path == ("qai", "negate") else None
        result = run_cli(*tokens[1:], cwd=REPO, input=input)
        assert result.code == 0, (tokens, result.stderr)
