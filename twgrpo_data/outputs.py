"""Where twgrpo may write (issue 10): one output-path policy for every command, and atomic writes.

The policy, as every `--help` states it:

- a file output needs one of the command's suffixes (`-o notes.txt` is a usage error, exit 2); an existing
  file with that suffix is replaced, the command's input never is;
- a path ending in `/` (or `os.sep`) means *into* that folder, under the command's default file name
  (`-o results/` writes `results/<input>.qai.json` and leaves the rest of `results/` alone);
- a folder output (HF dataset, tiny model, hub preview) replaces an existing folder only when twgrpo wrote
  it (it holds our `.twgrpo` marker, or only the files an HF `save_to_disk` / hub preview writes) or when
  it is empty; any other existing folder is refused with one line;
- writes go to a temporary sibling (named after the target and our process id), are fsynced, then renamed
  over the target, so a crash never leaves a half-written output; the temporaries of a run that was killed
  are removed when the next run writes the same target.

Usage errors (a path the policy refuses) raise `OutputPathError` (exit 2); a path that cannot be written
(read-only folder, a parent that is a file, a full disk) raises `OutputWriteError` (exit 1).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputPathError, OutputWriteError

MARKER = ".twgrpo"
"""Empty file inside every folder twgrpo writes: the folder may be replaced by a later run."""

# what `Dataset.save_to_disk` / `DatasetDict.save_to_disk` and a hub preview (README.md + data/) leave
_HF_FILES = re.compile(r"^(dataset_info\.json|state\.json|dataset_dict\.json|data-\d+-of-\d+\.arrow)$")
_HUB_PREVIEW = {"README.md", "data"}

POLICY_HELP = (
    "A PATH ending in '/' writes into that folder under the default name; an existing folder that "
    "twgrpo did not write is never replaced."
)


@dataclass(frozen=True)
class OutputSpec:
    """What one output option accepts.

    `suffixes` are the file suffixes it writes (empty for a folder-only output); `folder` says a path
    without one of them is a folder output; `default_name` is used for `-o DIR/` (None: not allowed).
    """

    what: str
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    default_name: str | None = None

    def describe(self) -> str:
        kinds = list(self.suffixes) + (["no suffix for a folder"] if self.folder and self.suffixes else [])
        return ", ".join(kinds)


def is_replaceable_folder(path: Path) -> bool:
    """An empty folder, one with our marker, or one holding only HF `save_to_disk` / hub-preview files."""
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    if not names or MARKER in names:
        return True
    return _is_hub_preview(path, names) or _only_hf_files(path)


def _is_hub_preview(path: Path, names: set[str]) -> bool:
    """README.md plus data/ holding only parquet shards: what `publish --dry-run` writes."""
    if not names <= _HUB_PREVIEW or "README.md" not in names:
        return False
    data = path / "data"
    return not data.exists() or all(p.is_file() and p.suffix == ".parquet" for p in data.iterdir())


def _only_hf_files(path: Path) -> bool:
    """Every entry is a file `save_to_disk` writes (a DatasetDict: split folders holding such files)."""
    entries = list(path.iterdir())
    if not any(e.name in ("state.json", "dataset_dict.json") for e in entries):
        return False
    for entry in entries:
        if entry.is_dir():
            if not all(sub.is_file() and _HF_FILES.match(sub.name) for sub in entry.iterdir()):
                return False
        elif not _HF_FILES.match(entry.name):
            return False
    return True


def resolve_output(
    path: str | os.PathLike,
    spec: OutputSpec,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    folder: bool | None = None,
    option: str = "-o/--out",
) -> Path:
    """Apply the policy to `path` for `spec`; return the checked path to write.

    `folder` forces a folder (True) or file (False) output, e.g. from `--to hf`; `inputs` are the files
    the command reads, which it must never write over.
    """
    text = os.fspath(path)
    target = Path(text)
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        if spec.default_name is None:
            raise OutputPathError(f"{option} {text}: names a folder; give the {spec.what} file name")
        target = target / spec.default_name
    is_folder = folder if folder is not None else spec.folder and (not spec.suffixes or not target.suffix)
    into = f" or '{text.rstrip('/')}/' to write into it" if spec.default_name else ""
    if not is_folder and target.is_dir():
        raise OutputPathError(f"{option} {text}: is an existing folder; give a file name{into}")
    if not is_folder and target.suffix.lower() not in spec.suffixes:
        raise OutputPathError(
            f"{option} {text}: unknown suffix {target.suffix or '(none)'!r} for the {spec.what}; "
            f"expected {spec.describe()}"
        )
    if is_folder and target.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise OutputPathError(f"{option} {text}: is the current folder or one above it; give a new path{into}")
    if target.is_dir():
        if not is_replaceable_folder(target):
            raise OutputPathError(
                f"{option} {text}: an existing folder that twgrpo did not write; refusing to "
                f"replace it (give a new path{into})"
            )
    elif target.exists() or target.is_symlink():
        if is_folder:
            raise OutputPathError(f"{option} {text}: is an existing file; the {spec.what} is a folder")
    for item in inputs:
        _check_not_input(target, Path(item), is_folder, option, text)
    check_writable(target)
    return target


def _check_not_input(target: Path, source: Path, is_folder: bool, option: str, text: str) -> None:
    """Refuse writing over an input, or a folder output that holds an input (replacing it would delete the
    input). Writing *into* an input folder (a plot into its run folder) is fine."""
    try:
        out, src = target.resolve(), source.resolve()
    except OSError:
        return
    if out == src:
        raise OutputPathError(f"{option} {text}: is the input {source}; choose another output path")
    if is_folder and out in src.parents:
        raise OutputPathError(f"{option} {text}: holds {source}, which this command reads; choose another output path")


def check_writable(target: Path) -> None:
    """Fail now, with one line, when `target` cannot be created: its nearest existing parent is a file or
    not writable (permissions, read-only filesystem)."""
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputWriteError(f"{target}: cannot write: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputWriteError(f"{target}: cannot write: folder {parent} is not writable")
    if target.exists() and not target.is_dir() and not os.access(target, os.W_OK):
        raise OutputWriteError(f"{target}: cannot write: the file is read-only")


_TEMP = re.compile(r"^\.(?P<name>.+?)(\.(?P<pid>\d+))?\.[a-z0-9_]{8}\.(tmp|old)$")
LEGACY_TEMP_AGE_S = 3600.0
"""Temporaries named without a process id (written by twgrpo before 0.2) are removed once this old."""


def clean_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporaries an interrupted write of `target` left (their process is gone); return them."""
    parent = target.parent
    if not parent.is_dir():
        return []
    removed = []
    for entry in parent.glob(f".{glob.escape(target.name)}.*"):
        m = _TEMP.match(entry.name)
        if m is None or m.group("name") != target.name:
            continue
        if m.group("pid") is not None:
            if _alive(int(m.group("pid"))):
                continue
        elif time.time() - entry.stat().st_mtime < LEGACY_TEMP_AGE_S:
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------------------------------
# atomic writes


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False, marker: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is fsynced and renamed over `target`.

    A crash leaves the old `target` untouched, so re-running on its own output never corrupts it. A folder
    output gets our marker (unless `marker` is False: a folder whose layout is recognised, like a hub
    preview, whose every file is uploaded) and replaces only a folder `is_replaceable_folder` accepts. Any OS error while
    writing becomes an `OutputWriteError` naming `target`.
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if directory and target.is_dir() and not is_replaceable_folder(target):
            raise OutputPathError(f"{target}: an existing folder that twgrpo did not write; refusing to replace it")
        clean_stale_temporaries(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
        work = tmp / target.name
        if directory:
            work.mkdir()
        yield work
        if directory and marker:
            (work / MARKER).touch()
        _fsync_tree(work)
        if directory and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        raise OutputWriteError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    """fsync every file under `path` (or `path` itself) so the rename never publishes unwritten data."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on a folder; the data itself is synced
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(target: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(target, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


# ----------------------------------------------------------------------------------------------------------
# the outputs of the commands (one place, so `--help` and the checks agree)

RECORDS = ".json (unified), .jsonl (records), .parquet, or no suffix for an HF dataset folder"
RECORDS_SUFFIXES = (".json", ".jsonl", ".parquet")
REPORT = OutputSpec("report", (".json",), default_name="report.json")
HTML_PAGE = OutputSpec("HTML page", (".html",), default_name="report.html")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def records_spec(default_name: str) -> OutputSpec:
    return OutputSpec("records", RECORDS_SUFFIXES, folder=True, default_name=default_name)


def default_output_name(input_path: str | os.PathLike, tag: str, suffix: str) -> str:
    """`val.v1.json` + 'qai' → `val.v1.qai.json`: the whole stem is kept, so inputs never share a default
    (and `x.qai.json` defaults to `x.qai.qai.json`, never to itself)."""
    name = Path(os.fspath(input_path).rstrip("/")).name
    stem = name[: -len(Path(name).suffix)] if Path(name).suffix.lower() in (*RECORDS_SUFFIXES, ".csv", ".txt") else name
    return f"{stem}.{tag}{suffix}"
