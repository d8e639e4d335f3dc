"""The output-path policy (`twgrpo_data.outputs`) as functions: which paths are refused, which folders may
be replaced, default names, and the cleanup of temporaries a killed write left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twgrpo_data.errors import OutputPathError, OutputWriteError
from twgrpo_data.outputs import (
    LEGACY_TEMP_AGE_S,
    MARKER,
    REPORT,
    OutputSpec,
    atomic_path,
    atomic_write_text,
    clean_stale_temporaries,
    default_output_name,
    is_replaceable_folder,
    records_spec,
    resolve_output,
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


def test_replaceable_folders(tmp_path):
    def folder(name, files):
        root = tmp_path / name
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("x")
        root.mkdir(exist_ok=True)
        return root

    assert is_replaceable_folder(folder("empty", []))
    assert is_replaceable_folder(folder("hf", ["dataset_info.json", "state.json", "data-00000-of-00001.arrow"]))
    assert is_replaceable_folder(
        folder(
            "hfdict",
            ["dataset_dict.json", "train/state.json", "train/dataset_info.json", "train/data-00000-of-00001.arrow"],
        )
    )
    assert is_replaceable_folder(folder("preview", ["README.md", "data/train-00000-of-00001.parquet"]))
    assert not is_replaceable_folder(folder("user_data", ["data/thesis.docx"]))
    assert not is_replaceable_folder(folder("readme_and_data", ["README.md", "data/notes.txt"]))
    assert not is_replaceable_folder(folder("hf_plus", ["dataset_info.json", "state.json", "mine.txt"]))


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
    stale = tmp_path / f".out.json.{dead_pid}.abcd1234.tmp"
    live = tmp_path / f".out.json.{os.getpid()}.efgh5678.tmp"
    legacy_old = tmp_path / ".out.json.k2j4h6g8.tmp"
    legacy_new = tmp_path / ".out.json.zzzz9999.tmp"
    other = tmp_path / f".other.json.{dead_pid}.abcd1234.tmp"
    for p in (stale, live, legacy_old, legacy_new, other):
        p.mkdir()
    old = time.time() - LEGACY_TEMP_AGE_S - 10
    os.utime(legacy_old, (old, old))
    removed = clean_stale_temporaries(tmp_path / "out.json")
    assert sorted(removed) == sorted([stale, legacy_old])
    assert live.exists() and legacy_new.exists() and other.exists()
    atomic_write_text(tmp_path / "other.json", "{}\n")  # the next write of a target cleans its own
    assert not other.exists()
