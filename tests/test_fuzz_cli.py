"""Fuzz the commands with what careless users give them (issue 10): every command that reads a file × bad
encodings, truncation, wrong formats and benchmarks; every command that writes × outputs it must refuse or
cannot write; and a kill during a write.

Each case asserts the exit status, exactly one stderr line (`error: …`, no traceback, not an internal error),
and that the folder the case ran in is unchanged (every file hashed before and after; no file added).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import REPO, Result, run_cli, run_cli_subprocess, start_cli
from paths import DATA, FIXTURES

SAMPLE = REPO / "examples" / "nextgqa_val_sample.json"  # 200 native NExT-GQA questions

BAD_CONTENT: dict[str, bytes] = {
    "latin1": '[{"id": "café", "question": "où"}]'.encode("latin-1"),
    "utf16": '[{"id": "x", "question": "q"}]'.encode("utf-16"),
    "binary": bytes(range(256)) * 8,
    "truncated": SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2],
    "zero_byte": b"",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "wrong_format": b"name,colour\nball,red\n",
    "not_records": b'{"hello": "world"}',
}


def tree_state(root: Path) -> dict[str, str]:
    """Relative path → sha256 (folders as 'dir') of everything under `root`."""
    state = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        state[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return state


def assert_one_line_error(result: Result, code: int) -> str:
    assert result.code == code, (result.code, result.stderr, result.stdout[-2000:])
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.err_lines
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


def run_in(tmp: Path, *args, code: int = 1, input: str | None = None) -> str:
    """Run the CLI in `tmp`, expect a one-line error with `code` and an unchanged `tmp`."""
    before = tree_state(tmp)
    result = run_cli(*args, cwd=tmp, input=input)
    line = assert_one_line_error(result, code)
    assert tree_state(tmp) == before, "the failed run changed files"
    return line


# ----------------------------------------------------------------------------------------------------------
# inputs: every reading command × every kind of bad file

# (command, suffix of the bad file, how the bad file is placed: "file" or "run" (a run folder's file))
READERS = {
    "qai convert": (lambda f: ["qai", "convert", f, "-o", "out.json"], ".json", None),
    "qai convert csv": (lambda f: ["qai", "convert", f, "-o", "out.json"], ".csv", None),
    "qai convert --compare": (lambda f: ["qai", "convert", SAMPLE, "--compare", f, "-o", "out.json"], ".json", None),
    "qai negate": (lambda f: ["qai", "negate", f, "-o", "out.jsonl"], ".jsonl", None),
    "qai negate text": (lambda f: ["qai", "negate", f], ".txt", None),
    "data validate": (lambda f: ["data", "validate", f], ".json", None),
    "data stats": (lambda f: ["data", "stats", f], ".jsonl", None),
    "data load nextgqa": (lambda f: ["data", "load", "--bench", "nextgqa", f, "-o", "out.json"], ".json", None),
    "data load nextgqa csv": (lambda f: ["data", "load", "--bench", "nextgqa", f], ".csv", None),
    "data load mmvu": (lambda f: ["data", "load", "--bench", "mmvu", f], ".json", None),
    "eval rescore": (lambda f: ["eval", "rescore", f], ".jsonl", None),
    "eval compare": (lambda f: ["eval", "compare", Path(f).parent], ".json", "results.json"),
    "publish": (lambda f: ["publish", f, "--repo-id", "me/x", "--dry-run", "-o", "preview"], ".json", None),
    "publish --report": (
        lambda f: [
            "publish",
            _write_json(Path(f).parent / "good.json", [RECORD]),
            "--repo-id",
            "me/x",
            "--dry-run",
            "-o",
            "preview",
            "--report",
            f,
        ],
        ".json",
        None,
    ),
    "train plot": (lambda f: ["train", "plot", Path(f).parent, "-o", "curves.png"], ".jsonl", "metrics.jsonl"),
}
# bad contents a reader may legitimately accept as valid (nothing to assert then)
ACCEPTS = {
    ("qai negate text", "wrong_format"),
    ("qai negate text", "not_records"),
    ("qai negate text", "truncated"),
    ("qai negate text", "deep"),
}


def place(tmp: Path, suffix: str, run_file: str | None, content: bytes) -> str:
    if run_file is not None:
        run = tmp / "run"
        run.mkdir()
        (run / run_file).write_bytes(content)
        return str(run / run_file)
    path = tmp / f"bad{suffix}"
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("kind", sorted(BAD_CONTENT))
@pytest.mark.parametrize("command", sorted(READERS))
def test_bad_input_gives_one_line(tmp_path, command, kind):
    if (command, kind) in ACCEPTS:
        pytest.skip("plain text: any UTF-8 line is a question")
    build, suffix, run_file = READERS[command]
    bad = place(tmp_path, suffix, run_file, BAD_CONTENT[kind])
    line = run_in(tmp_path, *build(bad))
    assert "bad" in line or "run" in line, f"the message does not name the file: {line}"


def test_train_config_bad_encoding(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_bytes("model: café".encode("latin-1"))
    line = run_in(tmp_path, "train", "--config", bad)
    assert "config.yaml" in line


# parquet and HF folders


def _write_good_parquet(path: Path) -> None:
    result = run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", path)
    assert result.code == 0, result.stderr


@pytest.fixture(scope="module")
def good_arrow(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("arrow")
    _write_good_parquet(root / "good.parquet")
    _write_good_parquet(root / "good_hf")
    return root / "good.parquet", root / "good_hf"


def _break_parquet(kind: str, good: Path, target: Path) -> None:
    data = good.read_bytes()
    target.write_bytes(
        {"truncated": data[: len(data) // 2], "zero_byte": b"", "random": os.urandom(4096), "tail_only": data[-64:]}[
            kind
        ]
    )


@pytest.mark.parametrize("kind", ["truncated", "zero_byte", "random", "tail_only"])
@pytest.mark.parametrize("command", ["qai convert", "data validate", "data stats", "data load"])
def test_bad_parquet(tmp_path, good_arrow, command, kind):
    bad = tmp_path / "bad.parquet"
    _break_parquet(kind, good_arrow[0], bad)
    args = {
        "qai convert": ["qai", "convert", bad, "-o", "out.json"],
        "data validate": ["data", "validate", bad],
        "data stats": ["data", "stats", bad],
        "data load": ["data", "load", "--bench", "nextqa", bad],
    }[command]
    assert "bad.parquet" in run_in(tmp_path, *args)


def _break_hf(kind: str, folder: Path) -> None:
    arrow = next(folder.glob("*.arrow"))
    if kind == "missing_arrow":
        arrow.unlink()
    elif kind == "truncated_arrow":
        arrow.write_bytes(arrow.read_bytes()[:100])
    elif kind == "bad_state":
        (folder / "state.json").write_text("{not json", encoding="utf-8")
    elif kind == "state_wrong_shape":
        (folder / "state.json").write_text("[1, 2]", encoding="utf-8")


@pytest.mark.parametrize("kind", ["missing_arrow", "truncated_arrow", "bad_state", "state_wrong_shape"])
@pytest.mark.parametrize("command", ["qai convert", "data validate", "data stats"])
def test_broken_hf_folder(tmp_path, good_arrow, command, kind):
    import shutil

    bad = tmp_path / "bad_hf"
    shutil.copytree(good_arrow[1], bad)
    _break_hf(kind, bad)
    args = {
        "qai convert": ["qai", "convert", bad, "-o", "out.json"],
        "data validate": ["data", "validate", bad],
        "data stats": ["data", "stats", bad],
    }[command]
    assert "bad_hf" in run_in(tmp_path, *args)


# ----------------------------------------------------------------------------------------------------------
# wrong fields and wrong benchmarks name what is wrong


def _write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _native(**changes):
    item = json.loads(SAMPLE.read_text(encoding="utf-8"))[0]
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


RECORD = {
    "id": "r1",
    "question": "what did the boy do",
    "options": ["sat", "ran"],
    "answer": ["B"],
    "video": "v.mp4",
    "source": "nextgqa",
    "meta": {},
}


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("native_no_question", [_native(question=None)], ["4882821564_1", "'question'"]),
        ("meta_list", [{**RECORD, "meta": [1, 2]}], ["'r1'", "'meta'", "must be an object"]),
        ("qai_string", [{**RECORD, "qai": "yes"}], ["'r1'", "'qai'", "must be an object"]),
        ("answer_int", [{**RECORD, "answer": 1}], ["'r1'", "'answer'", "list of letters"]),
        ("empty_list", [], ["no records"]),
    ],
)
def test_wrong_field_messages(tmp_path, name, content, words):
    bad = _write_json(tmp_path / f"{name}.json", content)
    line = run_in(tmp_path, "qai", "convert", bad, "-o", "out.json")
    for word in words:
        assert word in line, (word, line)


def test_header_only_csv_is_like_an_empty_list(tmp_path):
    header = (FIXTURES / "nextgqa/datasets/nextgqa/val.csv").read_text(encoding="utf-8").splitlines()[0]
    csv = tmp_path / "val.csv"
    csv.write_text(header + "\n", encoding="utf-8")
    empty = _write_json(tmp_path / "val.json", [])
    for path in (csv, empty):
        line = run_in(tmp_path, "data", "load", "--bench", "nextgqa", path)
        assert "no nextgqa records" in line


def test_csv_missing_option_column_is_an_error_up_front(tmp_path):
    rows = (FIXTURES / "nextgqa/datasets/nextgqa/val.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    drop = header.index("a3")
    cut = [",".join(c for i, c in enumerate(r.split(",")) if i != drop) for r in rows]
    csv = tmp_path / "val.csv"
    csv.write_text("\n".join(cut) + "\n", encoding="utf-8")
    line = run_in(tmp_path, "qai", "convert", csv, "-o", "out.json")
    assert "a3" in line and "val.csv" in line


def test_csv_problems_are_csv_problems(tmp_path):
    bad = tmp_path / "table.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    line = run_in(tmp_path, "qai", "convert", bad, "-o", "out.json")
    assert "CSV" in line and "JSON" not in line


@pytest.mark.parametrize(
    "bench, fixture, looks_like",
    [
        ("mmvu", FIXTURES / "clevrer/questions/validation.json", "clevrer"),
        ("mmvu", FIXTURES / "star/STAR_val.json", "star"),
    ],
)
def test_wrong_benchmark_names_the_right_one(tmp_path, bench, fixture, looks_like):
    line = run_in(tmp_path, "data", "load", "--bench", bench, fixture, "-o", "out.json")
    assert f"--bench {looks_like}" in line


def test_skip_invalid_lists_skipped_ids_in_the_report(tmp_path):
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))[:3]
    del items[1]["question"]
    data = _write_json(tmp_path / "mixed.json", items)
    result = run_cli(
        "qai",
        "convert",
        data,
        "-o",
        tmp_path / "out.json",
        "--report",
        tmp_path / "rep.json",
        "--skip-invalid",
        "--json",
    )
    assert result.code == 0, result.stderr
    report = json.loads((tmp_path / "rep.json").read_text(encoding="utf-8"))
    assert report["skipped_records"] == [
        {
            "severity": "error",
            "file": str(data),
            "index": 1,
            "id": items[1]["id"],
            "field": "question",
            "message": "missing or not a string",
        }
    ]


# ----------------------------------------------------------------------------------------------------------
# outputs: every writing command × outputs to refuse or that cannot be written


def _records_jsonl(tmp: Path) -> Path:
    path = tmp / "records.jsonl"
    result = run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", path)
    assert result.code == 0, result.stderr
    return path


def _run_folder(tmp: Path) -> Path:
    run = tmp / "run1"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "reward_std": 0.1 * s}) + "\n" for s in range(1, 4)), encoding="utf-8"
    )
    return run


# command → (args before the output, output option or None for a positional, default file name for DIR/)
WRITERS = {
    "qai convert": (lambda t: ["qai", "convert", SAMPLE], "-o", "nextgqa_val_sample.qai.json"),
    "qai convert --report": (lambda t: ["qai", "convert", SAMPLE, "-o", "ok.json"], "--report", "report.json"),
    "qai negate": (lambda t: ["qai", "negate", DATA / "qai_dev" / "questions.jsonl"], "-o", None),
    "data load": (lambda t: ["data", "load", "--bench", "nextgqa", SAMPLE], "-o", "nextgqa.json"),
    "dev tiny-model": (lambda t: ["dev", "tiny-model"], None, None),
    "publish": (lambda t: ["publish", _records_jsonl(t), "--repo-id", "me/x", "--dry-run"], "-o", None),
    "eval compare --plot": (lambda t: ["eval", "compare", t / "run1"], "--plot", None),
    "train plot": (lambda t: ["train", "plot", _run_folder(t)], "-o", None),
}


def _args(command: str, tmp: Path, out: str) -> list:
    build, option, _ = WRITERS[command]
    if command == "eval compare --plot":
        (tmp / "run1").mkdir(exist_ok=True)
    return [*build(tmp), *([option] if option else []), out]


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_existing_foreign_folder_is_never_replaced(tmp_path, command):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "a.txt").write_text("keep", encoding="utf-8")
    line = run_in(tmp_path, *_args(command, tmp_path, "results"), code=2)
    assert "results" in line


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_existing_file_with_unknown_suffix_is_a_usage_error(tmp_path, command):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    run_in(tmp_path, *_args(command, tmp_path, "notes.txt"), code=2)


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_dot_is_refused(tmp_path, command):
    run_in(tmp_path, *_args(command, tmp_path, "."), code=2)


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_parent_that_is_a_file(tmp_path, command):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    name = (
        "x.png"
        if "plot" in command
        else "x.json"
        if command.startswith(("qai convert", "data"))
        else "x.jsonl"
        if command == "qai negate"
        else "x"
    )
    line = run_in(tmp_path, *_args(command, tmp_path, f"afile/{name}"), code=1)
    assert "afile" in line


def test_output_equal_to_input_is_refused(tmp_path):
    data = tmp_path / "val.json"
    data.write_bytes(SAMPLE.read_bytes())
    run_in(tmp_path, "qai", "convert", data, "-o", data, code=2)
    run_in(tmp_path, "data", "load", "--bench", "nextgqa", data, "-o", data, code=2)


def test_report_is_checked_before_the_output_is_written(tmp_path):
    run_in(tmp_path, "qai", "convert", SAMPLE, "-o", "out.json", "--report", "report.txt", code=2)
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("failure", ["full disk", "read-only filesystem"])
@pytest.mark.parametrize("command", ["data load", "publish", "train plot", "qai convert --report"])
def test_unwritable_filesystem(tmp_path, monkeypatch, command, failure):
    """ENOSPC at the flush, or EROFS at the rename, of the atomic write: one line, nothing left behind."""
    args = _args(
        command,
        tmp_path,
        {"data load": "out.json", "publish": "preview", "train plot": "c.png", "qai convert --report": "rep.json"}[
            command
        ],
    )
    code, where = {"full disk": (errno.ENOSPC, "fsync"), "read-only filesystem": (errno.EROFS, "replace")}[failure]

    def fail(*args):
        raise OSError(code, os.strerror(code))

    before = tree_state(tmp_path)
    monkeypatch.setattr(os, where, fail)
    line = assert_one_line_error(run_cli(*args, cwd=tmp_path), 1)
    monkeypatch.undo()
    assert os.strerror(code) in line
    assert tree_state(tmp_path) == before


@pytest.mark.slow
def test_publish_never_prints_the_token(tmp_path):
    token = "hf_" + "Zx9" * 12
    records = _records_jsonl(tmp_path)
    result = run_cli_subprocess(
        "publish",
        records,
        "--repo-id",
        "me/x",
        cwd=tmp_path,
        timeout=300,
        env={"HF_TOKEN": token, "HF_ENDPOINT": "http://127.0.0.1:9"},
    )
    assert_one_line_error(result, 1)
    assert token not in result.stdout + result.stderr


def test_eval_input_and_output_paths(tmp_path):
    """The eval command at the CLI level: a bad --data file and a --out that is a file are one line each."""
    base = [
        "eval",
        "--bench",
        "mmvu",
        "--model",
        "m",
        "--backend",
        "openai",
        "--api-base",
        "http://127.0.0.1:9/v1",
        "--no-progress",
    ]
    bad = tmp_path / "bad.json"
    bad.write_bytes(BAD_CONTENT["latin1"])
    assert "bad.json" in run_in(tmp_path, *base, "--data", bad, "--out", "run")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    run_in(tmp_path, *base, "--data", REPO / "examples" / "eval_sample.json", "--out", "notes.txt")


def test_bad_option_values_are_usage_errors_before_work(tmp_path):
    for args in (
        ["qai", "convert", SAMPLE, "--ratio", "1.5"],
        ["qai", "convert", SAMPLE, "--from", "xml"],
        ["qai", "convert", SAMPLE, "--to", "xml"],
        ["qai", "convert", SAMPLE, "--min-keep", "-1"],
        ["data", "stats", SAMPLE, "--format", "xml"],
        ["data", "load", SAMPLE, "--from", "xml"],
        ["eval", "--bench", "mmvu", "--model", "m", "--timeout", "-1", "--backend", "openai"],
        ["train", "plot", "nowhere", "--smooth", "0"],
    ):
        run_in(tmp_path, *args, code=2)


# ----------------------------------------------------------------------------------------------------------
# the policy where it allows: into a folder, over our own outputs, and after a killed write


def test_into_folder_keeps_its_files(tmp_path):
    r = tmp_path / "r"
    r.mkdir()
    (r / "a.txt").write_text("keep\n", encoding="utf-8")
    result = run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", f"{r}/")
    assert result.code == 0, result.stderr
    assert (r / "a.txt").read_text(encoding="utf-8") == "keep\n"
    assert json.loads((r / "nextgqa.json").read_text(encoding="utf-8"))[0]["id"] == "4882821564_1"


def test_own_hf_folder_is_replaced(tmp_path):
    out = tmp_path / "hf"
    for _ in range(2):
        result = run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", out)
        assert result.code == 0, result.stderr
    assert (out / "dataset_info.json").is_file()
    marker = json.loads((out / ".twgrpo").read_text(encoding="utf-8"))  # it lists what twgrpo wrote there
    assert sorted(marker["files"]) == sorted(p.name for p in out.iterdir() if p.name != ".twgrpo")


def test_default_name_keeps_the_whole_stem(tmp_path):
    first_five = json.loads(SAMPLE.read_text(encoding="utf-8"))[:5]
    for name in ("val.v1.json", "val.v2.json"):
        _write_json(tmp_path / name, first_five)
        result = run_cli("qai", "convert", name, cwd=tmp_path)
        assert result.code == 0, result.stderr
    assert (tmp_path / "val.v1.qai.json").is_file() and (tmp_path / "val.v2.qai.json").is_file()
    before = (tmp_path / "val.v1.qai.json").read_bytes()
    result = run_cli("qai", "convert", "val.v1.qai.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert (tmp_path / "val.v1.qai.json").read_bytes() == before and (tmp_path / "val.v1.qai.qai.json").is_file()


KILL_WRITE = """
import os, signal, sys
from twgrpo_data.outputs import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("partial", encoding="utf-8")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_write_keeps_the_old_output_and_is_cleaned_next_run(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("[]\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", KILL_WRITE, str(out)], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text(encoding="utf-8") == "[]\n"
    stale = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json.")]
    assert len(stale) == 1 and re.fullmatch(r"\.out\.json\.twgrpo-tmp-\d+-\w{8}", stale[0])
    result = run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", out)
    assert result.code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 200


def _count(out: Path) -> int:
    if out.is_dir():
        from datasets import load_from_disk

        return len(load_from_disk(str(out)))
    return len(json.loads(out.read_text(encoding="utf-8")))


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, name",
    [(["qai", "convert", SAMPLE], "out.json"), (["data", "load", "--bench", "nextgqa", SAMPLE], "out_hf")],
)
def test_kill_during_write_leaves_old_or_new_output(tmp_path, command, name):
    """SIGKILL the real command at several moments: the output is always the old one or a complete new one,
    and the next run leaves nothing but the output behind."""
    out = tmp_path / name
    small = _write_json(tmp_path / "small.json", json.loads(SAMPLE.read_text(encoding="utf-8"))[:3])
    first = run_cli_subprocess(*command[:-1], small, "-o", out, cwd=tmp_path)
    assert first.code == 0, first.stderr
    for delay in (0.5, 2.0, 4.0):
        proc = start_cli(*command, "-o", out, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _count(out) in (3, 200)
    result = run_cli_subprocess(*command, "-o", out, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "small.json"])
    assert _count(out) == 200


# ----------------------------------------------------------------------------------------------------------
# CLI conventions (issue 13.6)


def test_version_and_module_entry():
    from twgrpo_data import __version__

    result = run_cli_subprocess("--version")
    assert result.code == 0 and result.stdout.strip() == f"twgrpo {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["qai"],
        ["qai", "convert"],
        ["qai", "negate"],
        ["data", "load"],
        ["data", "validate"],
        ["data", "stats"],
        ["eval"],
        ["eval", "rescore"],
        ["eval", "compare"],
        ["train"],
        ["train", "plot"],
        ["publish"],
        ["dev", "tiny-model"],
    ],
)
def test_every_help_shows_debug(command):
    result = run_cli(*command, "--help")
    assert result.code == 0 and "--debug" in result.stdout


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli_subprocess("data", "stats", tmp_path / "missing.json", "--debug")
    assert result.code == 1 and "Traceback" in result.stderr and "InputFormatError" in result.stderr


def test_shell_completion_completes_commands_and_options():
    env = {"_TWGRPO_COMPLETE": "complete_bash", "COMP_WORDS": "twgrpo qai convert x --fr", "COMP_CWORD": "4"}
    assert run_cli_subprocess(env=env).stdout.split() == ["--from"]


def test_completion_and_choices_in_help():
    assert "--install-completion" in run_cli("--help").stdout
    text = run_cli("qai", "convert", "--help").stdout
    assert "nextgqa" in text and "parquet" in text and "existing" in text


def test_acceptance_into_folder_and_unknown_suffix(tmp_path):
    """Issue 10's acceptance, on the 200-question sample: `-o r/` leaves r/a.txt; `-o notes.txt` exits 2."""
    r = tmp_path / "r"
    r.mkdir()
    (r / "a.txt").write_text("keep\n", encoding="utf-8")
    result = run_cli("qai", "convert", SAMPLE, "-o", "r/", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert (r / "a.txt").read_text(encoding="utf-8") == "keep\n"
    assert len(json.loads((r / "nextgqa_val_sample.qai.json").read_text(encoding="utf-8"))) == 200
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    run_in(tmp_path, "qai", "convert", SAMPLE, "-o", "notes.txt", code=2)


def test_old_output_spelling_still_works(tmp_path):
    result = run_cli("qai", "negate", "-", "--output", "neg.jsonl", input="who picked up the ball\n", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "--output is deprecated" in result.stderr
    assert json.loads((tmp_path / "neg.jsonl").read_text(encoding="utf-8"))["question"] == "who picked up the ball"


# ----------------------------------------------------------------------------------------------------------
# nothing lost, III (issue 25): each case is what a careless user did, run as they ran it


def _users_folder(tmp: Path, kind: str) -> Path:
    """A folder of the user's that looks like something twgrpo writes, but that twgrpo did not write."""
    folder = tmp / "notes"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("# my thesis notes\n", encoding="utf-8")
    if kind == "readme":
        (folder / "data").rmdir()
    elif kind == "readme_and_parquet":
        (folder / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 my own table PAR1")
    elif kind == "save_to_disk":  # a dataset the user saved with `datasets` (no README)
        (folder / "README.md").unlink()
        (folder / "data").rmdir()
        for name in ("dataset_info.json", "state.json", "data-00000-of-00001.arrow"):
            (folder / name).write_text("{}", encoding="utf-8")
    return folder


@pytest.mark.parametrize("kind", ["readme", "readme_and_parquet", "save_to_disk"])
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_folder_that_only_looks_like_ours_is_never_replaced(tmp_path, command, kind):
    """`mkdir notes && echo "# my thesis notes" > notes/README.md && twgrpo qai convert … -o notes` (25.1)."""
    _users_folder(tmp_path, kind)
    line = run_in(tmp_path, *_args(command, tmp_path, "notes"), code=2)
    assert "notes" in line


@pytest.mark.parametrize(
    "command, out",
    [
        (lambda t: ["data", "load", "--bench", "nextgqa", SAMPLE, "-o"], "hf"),
        (lambda t: ["publish", _records_jsonl(t), "--repo-id", "me/x", "--dry-run", "-o"], "preview"),
    ],
)
def test_a_file_added_to_a_folder_twgrpo_wrote_survives_the_next_write(tmp_path, command, out):
    args = [*command(tmp_path), tmp_path / out]
    assert run_cli(*args).code == 0
    (tmp_path / out / "NOTES.md").write_text("mine\n", encoding="utf-8")
    second = run_cli(*args)
    assert second.code == 0, second.stderr
    assert (tmp_path / out / "NOTES.md").read_text(encoding="utf-8") == "mine\n"


def test_a_users_file_that_the_new_output_would_overwrite_stops_the_write(tmp_path):
    out = tmp_path / "hf"
    assert run_cli("data", "load", "--bench", "nextgqa", SAMPLE, "-o", out).code == 0
    (out / "dataset_info.json").write_text('{"mine": true}', encoding="utf-8")  # the user edited it: theirs now
    line = run_in(tmp_path, "data", "load", "--bench", "nextgqa", SAMPLE, "-o", out, code=2)
    assert "dataset_info.json" in line and "did not write" in line


@pytest.fixture
def downloaded_model(tiny_model_dir, tmp_path) -> Path:
    """A base model as the Hub gives it: config, weights, tokenizer, README — no twgrpo marker."""
    import shutil

    from twgrpo_data.outputs import MARKER

    model = tmp_path / "Qwen2.5-VL-base"
    shutil.copytree(tiny_model_dir, model)
    (model / MARKER).unlink()
    (model / "README.md").write_text("# the base model's card\n", encoding="utf-8")
    return model


TRAIN = ["train", "--config", REPO / "examples" / "train_tiny.yaml"]


def test_train_onto_the_base_model_is_refused(tmp_path, downloaded_model, tiny_model_dir):
    """`twgrpo train … model=X -o X` (25.2): the weights, config, tokenizer and README stay as they were."""
    line = run_in(tmp_path, *TRAIN, f"model={downloaded_model}", "-o", downloaded_model, code=2)
    assert "Qwen2.5-VL-base" in line
    run_in(tmp_path, *TRAIN, f"model={downloaded_model}", f"output_dir={downloaded_model}", code=2)
    run_in(tmp_path.parent, *TRAIN, f"model={tiny_model_dir}", "-o", tiny_model_dir, code=2)  # twgrpo's own model


@pytest.mark.parametrize("kind", ["readme", "save_to_disk"])
def test_train_into_a_users_folder_is_refused(tmp_path, tiny_model_dir, kind):
    _users_folder(tmp_path, kind)
    assert "notes" in run_in(tmp_path, *TRAIN, f"model={tiny_model_dir}", "-o", "notes", code=2)


def test_a_second_training_run_on_a_locked_folder_stops_at_once(tmp_path, tiny_model_dir):
    from filelock import FileLock

    (tmp_path / "run").mkdir()
    with FileLock(str(tmp_path / "run" / ".lock")):  # the first run holds it
        line = run_in(tmp_path, *TRAIN, f"model={tiny_model_dir}", "-o", "run", code=1)
    assert "being written by another twgrpo train" in line


@pytest.mark.slow
def test_two_training_runs_started_on_one_folder(tmp_path, tiny_model_dir):
    """Two `twgrpo train -o run` started one after the other (25.2): the second stops at once, the first goes on."""
    from twgrpo_data.outputs import MARKER

    args = [*TRAIN, f"model={tiny_model_dir}", "max_steps=1000", "-o", "run"]
    first = start_cli(*args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / MARKER).exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        first.send_signal(signal.SIGSTOP)  # paused (its lock held), so that it leaves the CPU to the second run
        second = run_cli(*TRAIN, f"model={tiny_model_dir}", "max_steps=1000", "-o", "run", cwd=tmp_path)
        assert "being written by another twgrpo train" in assert_one_line_error(second, 1)
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait()


EVAL = ["eval", "--bench", "mmvu", "--data", REPO / "examples" / "eval_sample.json", "--model", "m", "--backend"]
EVAL_OPENAI = [*EVAL, "openai", "--api-base", "http://127.0.0.1:9/v1", "--no-progress", "--out", "run"]


@pytest.mark.parametrize(
    "option, value",
    [
        ("--frames", "100000"),
        ("--temperature", "nan"),
        ("--sample-fps", "nan"),
        ("--model-fps", "inf"),
        ("--top-p", "nan"),
        ("--max-pixels", str(10**9)),
    ],
)
def test_an_unchecked_eval_value_is_refused_before_the_run_folder_exists(tmp_path, option, value):
    """`--frames 100000` used to fail every item and leave a folder the corrected command could not resume (25.4)."""
    line = run_in(tmp_path, *EVAL_OPENAI, option, value)
    assert option in line


def test_an_eval_run_folder_named_dash_is_refused(tmp_path):
    line = run_in(tmp_path, *EVAL, "openai", "--api-base", "http://127.0.0.1:9/v1", "--out", "-", code=2)
    assert "standard output" in line


def _shard_runs(tmp: Path) -> list[Path]:
    from eval_helpers import AnswerKey, run_with, text_records, write_set

    records = text_records(30)
    data = write_set(tmp / "set.json", records)
    answers = {r.id: "A" for r in records}
    for k in (1, 2, 3):
        run_with(tmp / f"s{k}", data, AnswerKey(answers), shard=f"{k}/3")
    return [tmp / f"s{k}" / "run" for k in (1, 2, 3)]


def test_merging_a_shard_whose_samples_lost_lines_is_refused(tmp_path):
    """A shard folder copied from a cluster node lost its last lines (25.3): merge names the missing ids."""
    shards = _shard_runs(tmp_path)
    samples = shards[1] / "samples.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    samples.write_text("".join(lines[:-2]), encoding="utf-8")
    lost = [json.loads(line)["id"] for line in lines[-2:]]
    line = run_in(tmp_path, "eval", "merge", *shards, "--out", "merged")
    assert f"holds {len(lines) - 2} item(s) but the run selected {len(lines)}" in line and "s2" in line
    results = json.loads((shards[1] / "results.json").read_text(encoding="utf-8"))
    results["run"]["selected"] -= 2  # a results.json that agrees with the cut file: the data file still tells
    (shards[1] / "results.json").write_text(json.dumps(results), encoding="utf-8")
    line = run_in(tmp_path, "eval", "merge", *shards, "--out", "merged")
    assert "2 of 30 selected item(s) are missing" in line and all(repr(i) in line for i in lost)


def test_a_complete_merge_computes_complete(tmp_path):
    shards = _shard_runs(tmp_path)
    result = run_cli("eval", "merge", *shards, "--out", tmp_path / "merged")
    assert result.code == 0, result.stderr
    run = json.loads((tmp_path / "merged" / "results.json").read_text(encoding="utf-8"))["run"]
    assert run["complete"] is True and run["selected"] == 30
    _users_folder(tmp_path, "readme")
    assert "notes" in run_in(tmp_path, "eval", "merge", *shards, "--out", "notes", code=2)


# silent wrong input (25.6)


def test_a_nextgqa_csv_saved_with_a_byte_order_mark_is_still_nextgqa(tmp_path):
    csv = tmp_path / "val.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "nextgqa/datasets/nextgqa/val.csv").read_bytes())
    result = run_cli("data", "load", csv, "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["benchmark"] == "nextgqa"


def test_a_file_whose_first_record_is_long_is_detected(tmp_path):
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))[:3]
    items[0] = {"note": "x" * 100_000, **items[0]}  # its benchmark keys far beyond the first 64 KB
    data = _write_json(tmp_path / "long.json", items)
    result = run_cli("data", "load", data, "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["benchmark"] == "nextgqa"
    assert run_cli("qai", "convert", data, "-o", tmp_path / "out.json").code == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_in_a_json_input_is_an_error_not_invalid_json_out(tmp_path, constant):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(RECORD)[:-1] + f', "qai": null, "meta": {{"score": {constant}}}}}\n', encoding="utf-8")
    line = run_in(tmp_path, "qai", "convert", data, "-o", "out.json")
    assert "in.jsonl: line 1" in line and "'meta.score'" in line and constant.lstrip("-") in line


def test_nan_from_a_parquet_column_is_refused_before_writing_json(tmp_path, good_arrow):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(good_arrow[0]).slice(0, 3)
    pq.write_table(table.append_column("score", pa.array([1.0, float("nan"), 2.0])), tmp_path / "in.parquet")
    line = run_in(tmp_path, "qai", "convert", tmp_path / "in.parquet", "-o", "out.json")
    assert f"id {table.column('id')[1].as_py()!r}" in line and "'meta.score'" in line and "NaN" in line


def test_an_empty_gold_option_is_an_error(tmp_path):
    data = _write_json(tmp_path / "in.json", [{**RECORD, "options": ["sat", " "], "answer": ["B"]}])
    for args in (["data", "validate", data], ["qai", "convert", data, "-o", "out.json"]):
        line = run_in(tmp_path, *args)
        assert "'options'" in line and "option B is empty" in line


def test_a_duplicate_key_in_the_training_config_is_an_error(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("model: m\ntrain_file: t.jsonl\nlearning_rate: 1.0e-6\nlearning_rate: 1.0e-3\n", encoding="utf-8")
    line = run_in(tmp_path, "train", "--config", config)
    assert "config.yaml" in line and "duplicate key 'learning_rate' (first on line 3)" in line


@pytest.mark.parametrize("to, out", [("parquet", "x.json"), ("jsonl", "x.parquet"), ("hf", "x.jsonl")])
def test_a_format_that_disagrees_with_the_suffix_is_refused(tmp_path, to, out):
    line = run_in(tmp_path, "qai", "convert", SAMPLE, "--to", to, "-o", out, code=2)
    assert out in line


def test_a_zero_row_input_is_an_error_unless_allowed(tmp_path, good_arrow):
    import pyarrow.parquet as pq

    zero = tmp_path / "zero.parquet"
    pq.write_table(pq.read_table(good_arrow[0]).slice(0, 0), zero)
    assert "no records to convert" in run_in(tmp_path, "qai", "convert", zero, "-o", "out.json")
    result = run_cli("qai", "convert", zero, "-o", tmp_path / "out.json", "--allow-empty", "--json")
    assert result.code == 0 and json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == []
    all_invalid = _write_json(tmp_path / "bad.json", [_native(question=None)])
    load = ["data", "load", "--bench", "nextgqa", all_invalid, "--skip-invalid", "-o"]
    assert "no nextgqa records to write" in run_in(tmp_path, *load, "none.json")
    assert run_cli(*load, tmp_path / "none.json", "--allow-empty").code == 0


# user faults are user errors (25.7)


def test_a_lone_surrogate_in_the_input_names_file_record_and_field(tmp_path):
    data = tmp_path / "in.json"
    data.write_text(json.dumps([RECORD, {**RECORD, "id": "r2", "question": "what \udc80 happened"}]), encoding="utf-8")
    line = run_in(tmp_path, "qai", "convert", data, "-o", "out.json")
    assert "in.json: record 1 (id 'r2')" in line and "'question'" in line and "surrogate" in line


def _disk_of_200_kb() -> None:
    """In the child before it starts: files past 200 kB cannot be written (EFBIG, as on a full disk)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an ignored signal stays ignored in the program it runs
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))


@pytest.mark.slow
def test_a_full_disk_while_writing_weights_is_one_line(tmp_path):
    proc = run_cli_subprocess(
        *["dev", "tiny-model", "tiny"],
        cwd=tmp_path,
        timeout=300,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=_disk_of_200_kb,
    )
    assert proc.code == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error")]  # transformers draws a bar
    assert errors == [line for line in proc.stderr.splitlines() if line.strip()][-1:]
    assert errors[0].startswith("error: tiny: cannot write:") and "File too large" in errors[0]
    assert list(tmp_path.iterdir()) == []  # no half-written model, no temporary


def test_a_corrupt_zip_member_is_one_line_naming_it(tmp_path):
    import io
    import zipfile

    from twgrpo_data.errors import HubError
    from twgrpo_data.hub.archives import unpack_archive

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("videos/a.mp4", os.urandom(1000) * 50)
    data = bytearray(buffer.getvalue())
    start = data.find(b"videos/a.mp4") + 40
    data[start : start + 64] = bytes(64)  # damaged in transfer
    archive = tmp_path / "videos.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(HubError, match=r"videos.zip: member 'videos/a.mp4' is corrupt .*download it anew"):
        unpack_archive(archive, tmp_path / "unpacked")


# cleanup deletes only its own temporaries (25.8); `-o -` and shared default outputs (25.9)


def test_a_users_dated_backup_beside_the_output_survives(tmp_path):
    for name in (".val.qai.json.20241201.old", "val.qai.json.20241201.old"):
        (tmp_path / name).write_text("my backup\n", encoding="utf-8")
        os.utime(tmp_path / name, (time.time() - 30 * 86400,) * 2)
    assert run_cli("qai", "convert", SAMPLE, "-o", "val.qai.json", cwd=tmp_path).code == 0
    assert (tmp_path / ".val.qai.json.20241201.old").read_text(encoding="utf-8") == "my backup\n"
    assert (tmp_path / "val.qai.json.20241201.old").exists()


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_dash_never_makes_a_folder_named_dash(tmp_path, command):
    if command == "qai negate":
        result = run_cli("qai", "negate", "-", "-o", "-", input="who picked up the ball\n", cwd=tmp_path)
        assert result.code == 0 and json.loads(result.stdout)["status"] == "negated"
        assert not (tmp_path / "-").exists()
        return
    assert "standard output" in run_in(tmp_path, *_args(command, tmp_path, "-"), code=2)


def test_inputs_of_the_same_name_in_two_folders_get_two_outputs(tmp_path):
    items = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for folder, part in (("a", items[:5]), ("b", items[5:12])):
        (tmp_path / folder).mkdir()
        _write_json(tmp_path / folder / "val.v1.json", part)
        assert run_cli("qai", "convert", f"{folder}/val.v1.json", cwd=tmp_path).code == 0
    assert len(json.loads((tmp_path / "a" / "val.v1.qai.json").read_text(encoding="utf-8"))) == 5
    assert len(json.loads((tmp_path / "b" / "val.v1.qai.json").read_text(encoding="utf-8"))) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


# the README's "Output paths" paragraph, sentence by sentence, and the tests that show each is true

OUTPUT_PATHS = {
    "Output paths follow one policy (`twgrpo_data/outputs.py`) in every command, `train -o` included.": [
        "test_existing_foreign_folder_is_never_replaced",
        "test_train_into_a_users_folder_is_refused",
    ],
    "A file output needs one of the command's suffixes: `-o notes.txt` is a usage error (exit 2), and so is a "
    "format option that disagrees with the suffix (`--to parquet -o x.json`).": [
        "test_existing_file_with_unknown_suffix_is_a_usage_error",
        "test_a_format_that_disagrees_with_the_suffix_is_refused",
    ],
    "`-o DIR/` (trailing slash) writes *into* `DIR` under the default name and leaves the rest of `DIR` alone.": [
        "test_into_folder_keeps_its_files",
        "test_acceptance_into_folder_and_unknown_suffix",
    ],
    "`-o -` writes to standard output where a command can (`qai negate`) and is refused everywhere else; no "
    "command makes a folder named `-`.": [
        "test_dash_never_makes_a_folder_named_dash",
        "test_an_eval_run_folder_named_dash_is_refused",
    ],
    "A folder output (an HF dataset, a tiny model, a hub preview) goes only into a new or empty folder or one "
    "holding twgrpo's `.twgrpo` marker, which lists the files twgrpo wrote there: a folder holding only your "
    "`README.md` (with or without a `data/` of parquet files) is not a hub preview, and a `save_to_disk` folder "
    "you wrote is not twgrpo's.": [
        "test_a_folder_that_only_looks_like_ours_is_never_replaced",
        "test_own_hf_folder_is_replaced",
    ],
    "Replacing a marked folder removes only the files its marker lists, as twgrpo wrote them; a file you added or "
    "edited stays, and one the new output would overwrite stops the command before anything changes.": [
        "test_a_file_added_to_a_folder_twgrpo_wrote_survives_the_next_write",
        "test_a_users_file_that_the_new_output_would_overwrite_stops_the_write",
    ],
    "A training run folder (`train -o DIR`) is new, empty or an earlier training run's — never the base model, "
    "the data or someone else's folder — and a second run on it stops at once while the first holds its lock.": [
        "test_train_onto_the_base_model_is_refused",
        "test_train_into_a_users_folder_is_refused",
        "test_a_second_training_run_on_a_locked_folder_stops_at_once",
    ],
    "The input is never an output, and without `-o` the output goes beside the input under a name that keeps its "
    "whole stem (`data/val.v1.json` → `data/val.v1.qai.json`), so inputs of the same name in two folders never "
    "share one.": [
        "test_output_equal_to_input_is_refused",
        "test_default_name_keeps_the_whole_stem",
        "test_inputs_of_the_same_name_in_two_folders_get_two_outputs",
    ],
    "Writes are atomic (a temporary sibling named `.NAME.twgrpo-tmp-PID-…`, fsync, rename), and the next write of "
    "the same path removes only such temporaries whose process is gone — never a file you named, however old.": [
        "test_killed_write_keeps_the_old_output_and_is_cleaned_next_run",
        "test_a_users_dated_backup_beside_the_output_survives",
    ],
}


def test_the_readme_output_paths_paragraph_is_these_sentences_each_with_its_tests():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("Output paths follow one policy")
    paragraph = " ".join(text[start : text.index("\n\n", start)].split())
    assert re.split(r"(?<=\.)\s+(?=[A-Z`])", paragraph) == list(OUTPUT_PATHS)
    for tests in OUTPUT_PATHS.values():
        assert tests and all(callable(globals().get(name)) for name in tests), tests
