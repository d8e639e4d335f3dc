"""The output-path policy (`twgrpo_data.outputs`) as functions: which paths are refused, which folders may
be replaced, default names, and the cleanup of temporaries a killed write left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twgrpo_data.errors import OutputPathError, OutputWriteError, TwgrpoError
from twgrpo_data.outputs import (
    LOCK,
    MARKER,
    OUTPUT,
    REPORT,
    TRAIN_RUN,
    OutputSpec,
    atomic_path,
    atomic_write_text,
    clean_stale_temporaries,
    default_output_name,
    default_output_path,
    is_replaceable_folder,
    read_marker,
    records_spec,
    resolve_output,
    resolve_run_folder,
    run_folder,
    write_marker,
)

RECORDS = records_spec("in.qai.json")
MODEL = OutputSpec("model folder", folder=True, default_name="Qwen2.5-VL-tiny")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_suffixes_and_folders(tmp_path):
    assert resolve_output("out.json", RECORDS) == Path("out.json")
    assert resolve_output("out.PARQUET", RECORDS) == Path("out.PARQUET")
    assert resolve_output("hf_out", RECORDS) == Path("hf_out")  # no suffix: an HF folder
    assert resolve_output("Qwen2.5-VL-tiny", MODEL) == Path("Qwen2.5-VL-tiny")  # folder-only: any name
    with pytest.raises(OutputPathError, match="unknown suffix '.txt'"):
        resolve_output("notes.txt", RECORDS)
    with pytest.raises(OutputPathError, match="names a folder"):
        resolve_output("dir/", OutputSpec("plot", (".png",)))


def test_into_folder_uses_the_default_name(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "a.txt").write_text("keep")
    assert resolve_output("r/", RECORDS) == Path("r/in.qai.json")
    assert resolve_output("r/", MODEL) == Path("r/Qwen2.5-VL-tiny")
    assert resolve_output("new/", REPORT) == Path("new/report.json")


def test_existing_folders(tmp_path):
    user = tmp_path / "results"
    user.mkdir()
    (user / "a.txt").write_text("keep")
    with pytest.raises(OutputPathError, match="did not write"):
        resolve_output("results", RECORDS)
    with pytest.raises(OutputPathError, match="existing folder; give a file name"):
        resolve_output("results", OutputSpec("plot", (".png",)))
    with pytest.raises(OutputPathError, match="current folder"):
        resolve_output(".", MODEL)
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "config.json").write_text("{}")
    (ours / MARKER).touch()
    assert resolve_output("ours", MODEL) == Path("ours")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="existing file"):
        resolve_output("file", MODEL)


def _folder(root: Path, files: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    return root


def test_only_empty_or_marked_folders_are_replaceable(tmp_path):
    assert is_replaceable_folder(_folder(tmp_path / "empty", []))
    ours = _folder(tmp_path / "ours", ["data-00000-of-00001.arrow", "notes.txt"])
    write_marker(ours, OUTPUT, ["data-00000-of-00001.arrow"])
    assert is_replaceable_folder(ours)
    (old := _folder(tmp_path / "old", ["config.json"]) / MARKER).touch()  # an older twgrpo's empty marker
    assert is_replaceable_folder(old.parent)
    # layouts twgrpo also writes, but not marked by twgrpo: the user's (issue 25.1)
    assert not is_replaceable_folder(_folder(tmp_path / "readme", ["README.md"]))
    assert not is_replaceable_folder(_folder(tmp_path / "preview", ["README.md", "data/train-00000-of-00001.parquet"]))
    assert not is_replaceable_folder(
        _folder(tmp_path / "hf", ["dataset_info.json", "state.json", "data-00000-of-00001.arrow"])
    )
    run = _folder(tmp_path / "run", ["metrics.jsonl"])
    write_marker(run, TRAIN_RUN)
    assert not is_replaceable_folder(run)  # a training run is continued, never replaced


def test_the_marker_lists_what_twgrpo_wrote(tmp_path):
    with atomic_path(tmp_path / "out", directory=True) as tmp:
        _folder(tmp, ["a.json", "data/b.arrow"])
    assert list(read_marker(tmp_path / "out").files) == ["a.json", "data/b.arrow"]
    assert read_marker(tmp_path / "out").kind == OUTPUT


def test_replacing_an_output_keeps_the_files_the_user_added(tmp_path):
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        _folder(tmp, ["a.json", "data/old.arrow"])
    (out / "NOTES.md").write_text("mine")
    (out / "data" / "mine.csv").write_text("mine too")
    (out / "empty").mkdir()
    inode = (out / "NOTES.md").stat().st_ino
    with atomic_path(out, directory=True) as tmp:
        _folder(tmp, ["a.json", "data/new.arrow"])
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == [MARKER, "NOTES.md", "a.json", "data", "data/mine.csv", "data/new.arrow", "empty"]
    assert (out / "NOTES.md").read_text() == "mine" and (out / "NOTES.md").stat().st_ino == inode  # the same file
    assert list(read_marker(out).files) == ["a.json", "data/new.arrow"]  # the user's files are not claimed
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left


def test_a_users_file_where_the_new_output_has_one_stops_the_write(tmp_path):
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        _folder(tmp, ["a.json"])
    (out / "b.json").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OutputPathError, match="holds b.json, which twgrpo did not write"):
        with atomic_path(out, directory=True) as tmp:
            _folder(tmp, ["a.json", "b.json"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_file_twgrpo_wrote_and_the_user_edited_is_the_users(tmp_path):
    out = tmp_path / "out"
    with atomic_path(out, directory=True) as tmp:
        _folder(tmp, ["card.md", "a.json"])
    (out / "card.md").write_text("my edits")
    with atomic_path(out, directory=True) as tmp:  # the new output has no card.md: the edited one stays
        _folder(tmp, ["a.json"])
    assert (out / "card.md").read_text() == "my edits"
    (out / "a.json").write_text("edited too")
    with pytest.raises(OutputPathError, match="holds a.json, which twgrpo did not write \\(or which was changed"):
        with atomic_path(out, directory=True) as tmp:
            _folder(tmp, ["a.json"])
    assert (out / "a.json").read_text() == "edited too"


def test_an_older_empty_marker_claims_only_files_written_before_it(tmp_path):
    out = _folder(tmp_path / "out", ["dataset_info.json", "state.json"])
    time.sleep(0.02)
    (out / MARKER).touch()
    time.sleep(0.02)
    (out / "added_later.txt").write_text("mine")
    with atomic_path(out, directory=True) as tmp:
        _folder(tmp, ["state.json", "data-00000-of-00001.arrow"])
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER,
        "added_later.txt",
        "data-00000-of-00001.arrow",
        "state.json",
    ]


def test_inputs_are_never_outputs(tmp_path):
    (tmp_path / "val.json").write_text("[]")
    with pytest.raises(OutputPathError, match="is the input"):
        resolve_output("./val.json", RECORDS, inputs=["val.json"])
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "val.json").write_text("[]")
    (tmp_path / "ds" / MARKER).touch()
    with pytest.raises(OutputPathError, match="holds ds/val.json"):
        resolve_output("ds", RECORDS, inputs=["ds/val.json"])
    assert resolve_output("ds/plot.png", OutputSpec("plot", (".png",)), inputs=["ds"]) == Path("ds/plot.png")


def test_unwritable_parent(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputWriteError, match="afile is not a folder"):
        resolve_output("afile/deeper/out.json", RECORDS)


def test_default_names_keep_the_whole_stem():
    assert default_output_name("data/val.v1.json", "qai", ".json") == "val.v1.qai.json"
    assert default_output_name("val.v2.json", "qai", ".json") == "val.v2.qai.json"
    assert default_output_name("x.qai.json", "qai", ".json") == "x.qai.qai.json"
    assert default_output_name("hf_folder/", "qai", "") == "hf_folder.qai"
    assert default_output_name("q.txt", "negated", ".jsonl") == "q.negated.jsonl"


def test_atomic_folder_write_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("keep")
    with pytest.raises(OutputPathError):
        with atomic_path(tmp_path / "mine", directory=True) as tmp:
            (tmp / "x").write_text("y")
    assert (tmp_path / "mine" / "a.txt").read_text() == "keep"
    with atomic_path(tmp_path / "new", directory=True) as tmp:
        (tmp / "x").write_text("y")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [MARKER, "x"]


def test_stale_temporaries(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.json.twgrpo-tmp-{dead_pid}-abcd1234"
    stale_old = tmp_path / f".out.json.twgrpo-old-{dead_pid}-abcd_234"
    live = tmp_path / f".out.json.twgrpo-tmp-{os.getpid()}-efgh5678"
    other = tmp_path / f".other.json.twgrpo-tmp-{dead_pid}-abcd1234"
    for p in (stale, stale_old, live, other):
        p.mkdir()
    # names a user may choose, however old and temporary-looking they are (issue 25.8)
    users = [".out.json.20241201.old", ".out.json.k2j4h6g8.tmp", f".out.json.{dead_pid}.abcd1234.tmp", "out.json.bak"]
    for name in users:
        (tmp_path / name).write_text("mine")
        os.utime(tmp_path / name, (time.time() - 10 * 86400,) * 2)
    removed = clean_stale_temporaries(tmp_path / "out.json")
    assert sorted(removed) == sorted([stale, stale_old])
    assert live.exists() and other.exists() and all((tmp_path / name).exists() for name in users)
    atomic_write_text(tmp_path / "other.json", "{}\n")  # the next write of a target cleans its own
    assert not other.exists()


def test_temporaries_carry_the_process_id_and_twgrpo_in_their_name(tmp_path):
    with atomic_path(tmp_path / "out.json") as tmp:
        (name,) = [p.name for p in tmp_path.iterdir()]
        tmp.write_text("[]")
    assert name.startswith(f".out.json.twgrpo-tmp-{os.getpid()}-")


def test_dash_is_standard_output_never_a_folder(tmp_path):
    for spec in (RECORDS, MODEL, REPORT):
        with pytest.raises(OutputPathError, match="standard output"):
            resolve_output("-", spec)
    with pytest.raises(OutputPathError, match="standard output"):
        resolve_run_folder("-", TRAIN_RUN)
    assert not (tmp_path / "-").exists()


def test_default_output_goes_beside_a_local_input(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "val.json").write_text("[]")
    assert default_output_path("a/val.json", "qai", ".json") == Path("a/val.qai.json")
    assert default_output_path("b/val.json", "qai", ".json") == Path("b/val.qai.json")
    assert default_output_path("hf://datasets/me/x", "qai", ".json") == Path("x.qai.json")  # a Hub dataset: here


def test_run_folders(tmp_path):
    assert resolve_run_folder("new", TRAIN_RUN) == Path("new")
    assert resolve_run_folder(_folder(tmp_path / "empty", []), TRAIN_RUN) == tmp_path / "empty"
    earlier = _folder(tmp_path / "earlier", ["metrics.jsonl"])
    write_marker(earlier, TRAIN_RUN)
    assert resolve_run_folder(earlier, TRAIN_RUN) == earlier
    legacy = _folder(tmp_path / "legacy", ["twgrpo_config.json", "checkpoint-2/x"])
    assert resolve_run_folder(legacy, TRAIN_RUN, legacy=["twgrpo_config.json"]) == legacy
    model = _folder(tmp_path / "model", ["config.json", "model.safetensors"])
    with pytest.raises(OutputPathError, match="does not hold a twgrpo training run"):
        resolve_run_folder(model, TRAIN_RUN)
    tiny = _folder(tmp_path / "tiny", ["config.json"])
    write_marker(tiny, OUTPUT, ["config.json"])  # another kind of twgrpo output
    with pytest.raises(OutputPathError, match="does not hold a twgrpo training run"):
        resolve_run_folder(tiny, TRAIN_RUN)
    with pytest.raises(OutputPathError, match="is the input"):
        resolve_run_folder(earlier, TRAIN_RUN, inputs=[earlier])
    with pytest.raises(OutputPathError, match="current folder"):
        resolve_run_folder(".", TRAIN_RUN)


def test_a_run_folder_is_locked_marked_and_removed_when_the_start_fails(tmp_path):
    out = tmp_path / "run"
    with run_folder(out, TRAIN_RUN, "twgrpo train", "-o"):
        assert read_marker(out).kind == TRAIN_RUN
        with pytest.raises(TwgrpoError, match="being written by another twgrpo train"):
            with run_folder(out, TRAIN_RUN, "twgrpo train", "-o"):
                pass
        (out / "metrics.jsonl").write_text("")
    assert sorted(p.name for p in out.iterdir()) == [LOCK, MARKER, "metrics.jsonl"]
    with pytest.raises(RuntimeError):
        with run_folder(tmp_path / "failed", TRAIN_RUN, "twgrpo train", "-o"):
            raise RuntimeError("no model")
    assert not (tmp_path / "failed").exists()
    with pytest.raises(RuntimeError):  # a folder that existed stays, even when the start fails
        with run_folder(out, TRAIN_RUN, "twgrpo train", "-o"):
            raise RuntimeError("no model")
    assert (out / "metrics.jsonl").exists()
