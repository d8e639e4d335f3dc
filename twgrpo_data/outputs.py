"""Where twgrpo may write (issues 10, 25): one output-path policy for every command, and atomic writes.

The policy, as every `--help` states it:

- a file output needs one of the command's suffixes (`-o notes.txt` is a usage error, exit 2); an existing
  file with that suffix is replaced, the command's input never is; `-o -` is refused (a command that can
  write to standard output handles `-` itself);
- a path ending in `/` (or `os.sep`) means *into* that folder, under the command's default file name
  (`-o results/` writes `results/<input>.qai.json` and leaves the rest of `results/` alone);
- a folder output (HF dataset, tiny model, hub preview) goes only into a new or empty folder or one holding
  our `.twgrpo` marker, which lists the files twgrpo wrote there; replacing it removes only those files, and
  anything else in the folder stays (a README.md of the user's is never mistaken for a hub preview, nor a
  `save_to_disk` folder of the user's for ours);
- a run folder (training) is a new or empty folder, or one an earlier run of the same kind wrote; it is
  locked while a run writes it, so a second run on it stops at once;
- writes go to a temporary sibling named `.<target>.twgrpo-tmp-<pid>-<random>`, are fsynced, then renamed
  over the target, so a crash never leaves a half-written output; the next write of the same target removes
  only such temporaries whose process is gone, never a file a user named.

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
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputPathError, OutputWriteError, TwgrpoError

MARKER = ".twgrpo"
"""File inside every folder twgrpo writes: JSON naming its kind and (for outputs) the files twgrpo wrote."""
LOCK = ".lock"
"""Lock file of a run folder, held while a run writes it."""
OUTPUT = "output"
"""Marker kind of a folder output written at once (HF dataset, tiny model, hub preview): replaceable."""
TRAIN_RUN = "training run"
"""Marker kind of a `twgrpo train` output folder: continued by its own runs, never replaced."""

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


# ----------------------------------------------------------------------------------------------------------
# the marker: what twgrpo wrote in a folder


@dataclass(frozen=True)
class Marker:
    """A folder's `.twgrpo` marker: its `kind` and the files twgrpo wrote (relative POSIX path → size and
    modification time in ns, as `git` tells a changed file); `files` is None for a run folder and for the empty
    marker an older twgrpo wrote (see `owned_files`)."""

    kind: str
    files: Mapping[str, tuple[int, int]] | None = None


def read_marker(folder: Path) -> Marker | None:
    """The marker of `folder`, or None when it has none. An empty or unreadable marker (an older twgrpo wrote
    empty ones) is an output marker without a file list."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return Marker(OUTPUT)
    if not isinstance(doc, dict):
        return Marker(OUTPUT)
    files = doc.get("files")
    try:
        listed = {str(name): (int(size), int(mtime)) for name, (size, mtime) in files.items()}
    except (AttributeError, TypeError, ValueError):
        listed = None
    return Marker(str(doc.get("kind", OUTPUT)), listed)


def write_marker(folder: Path, kind: str, files: Iterable[str] | None = None) -> None:
    """Mark `folder` as twgrpo's: its kind and, for an output, the files written there (with their size and
    modification time, so that a file the user edits later is theirs)."""
    from . import __version__

    doc: dict[str, Any] = {"written_by": f"twgrpo {__version__}", "kind": kind}
    if files is not None:
        doc["files"] = {rel: _stamp(folder / rel) for rel in sorted(files)}
    (folder / MARKER).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _stamp(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return st.st_size, st.st_mtime_ns


def _tree(folder: Path) -> tuple[list[str], list[str]]:
    """(files, empty folders) under `folder` as relative POSIX paths; a symlink counts as a file, the marker
    and a run's lock are left out."""
    files, empty = [], []
    for root, dirs, names in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in list(dirs):
            if (Path(root) / name).is_symlink():
                dirs.remove(name)
                names.append(name)
        if not dirs and not names and rel != Path("."):
            empty.append(rel.as_posix())
        files += [(rel / n).as_posix() for n in names if rel != Path(".") or n not in (MARKER, LOCK)]
    return sorted(files), sorted(empty)


def owned_files(folder: Path, marker: Marker) -> set[str]:
    """The files of `folder` that twgrpo wrote and nobody changed since: those its marker lists, with the size
    and modification time it recorded. An older twgrpo's empty marker lists none; it was created after every
    file of its write, so the files whose inode changed no later than it are that write's (a file copied in or
    edited since is the user's)."""
    present, _ = _tree(folder)
    if marker.files is not None:
        return {rel for rel in present if marker.files.get(rel) == _stamp(folder / rel)}
    stamp = (folder / MARKER).lstat().st_ctime_ns
    return {rel for rel in present if (folder / rel).lstat().st_ctime_ns <= stamp}


def is_replaceable_folder(path: Path) -> bool:
    """An empty folder, or one that holds an output marker (only the files it lists are ever replaced)."""
    try:
        empty = not any(path.iterdir())
    except OSError:
        return False
    if empty:
        return True
    marker = read_marker(path)
    return marker is not None and marker.kind == OUTPUT


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
    refuse_stdout(text, spec.what, option)
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
    if is_folder:
        _refuse_cwd(target, option, text, into)
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


def resolve_run_folder(
    path: str | os.PathLike,
    kind: str,
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
    legacy: Iterable[str] = (),
    option: str = "-o/--out",
) -> Path:
    """Apply the policy to a run folder (`kind`, e.g. `TRAIN_RUN`): a new or empty folder, or one whose marker
    says an earlier run of this kind wrote it (or, from before markers, that holds one of the files named in
    `legacy`); never the current folder, a file, `-` or one of `inputs` (or a folder holding one). A trailing
    '/' changes nothing: the run folder is the folder named."""
    text = os.fspath(path)
    refuse_stdout(text, kind, option)
    target = Path(text)
    _refuse_cwd(target, option, text, "")
    if target.is_dir():
        names = {p.name for p in target.iterdir()} - {LOCK}
        marker = read_marker(target)
        ours = marker.kind == kind if marker is not None else bool(names & set(legacy))
        if names and not ours:
            raise OutputPathError(
                f"{option} {text}: an existing folder that does not hold a twgrpo {kind}; refusing to write into "
                "it (give a new or empty folder)"
            )
    elif target.exists() or target.is_symlink():
        raise OutputPathError(f"{option} {text}: is an existing file; the {kind} is a folder")
    for item in inputs:
        if item is not None:
            _check_not_input(target, Path(item), True, option, text)
    check_writable(target)
    return target


def refuse_stdout(text: str, what: str, option: str) -> None:
    """`-o -` names standard output, never a folder called `-`: refused where a command cannot write there."""
    if text == "-":
        raise OutputPathError(f"{option} -: the {what} cannot go to standard output; give a path")


def _refuse_cwd(target: Path, option: str, text: str, into: str) -> None:
    if target.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise OutputPathError(f"{option} {text}: is the current folder or one above it; give a new path{into}")


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


# ----------------------------------------------------------------------------------------------------------
# run folders: one run at a time


def acquire_folder_lock(folder: Path, command: str, option: str = "--out"):
    """Hold `folder`'s lock (a `filelock.FileLock`, released by the caller) or stop at once, naming the
    command that holds it: two runs never write one folder."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise TwgrpoError(
            f"{folder} is being written by another {command} (lock {folder / LOCK}); wait for it or pass another "
            f"{option}"
        ) from None
    return lock


@contextlib.contextmanager
def run_folder(folder: Path, kind: str, command: str, option: str, *, main: bool = True) -> Iterator[Path]:
    """Create and lock the run folder `folder` (checked by `resolve_run_folder`) for one run, and mark it as a
    `kind` folder. A start that fails before the run wrote anything leaves no new folder behind. Only the
    `main` process of a multi-process launch locks and marks it (the others write into it under that lock)."""
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    if not main:
        yield folder
        return
    lock = acquire_folder_lock(folder, command, option)
    try:
        if read_marker(folder) is None:
            write_marker(folder, kind)
        yield folder
    except BaseException:
        if created and {p.name for p in folder.iterdir()} <= {LOCK, MARKER}:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        lock.release()


# ----------------------------------------------------------------------------------------------------------
# temporaries


_TEMP_TAGS = ("twgrpo-tmp", "twgrpo-old")
_TEMP = re.compile(r"^\.(?P<name>.+)\.twgrpo-(tmp|old)-(?P<pid>\d+)-[a-z0-9_]{8}$")


def _temporary(target: Path, tag: str) -> Path:
    """A new empty folder beside `target` named `.<target>.<tag>-<pid>-<random>`: a name no user chooses,
    which says whose process made it."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}-{os.getpid()}-", dir=target.parent))


def clean_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporaries an interrupted write of `target` left (named by `_temporary`, their process
    gone); return them. Nothing else is touched, whatever its name."""
    parent = target.parent
    if not parent.is_dir():
        return []
    removed = []
    for tag in _TEMP_TAGS:
        for entry in parent.glob(f".{glob.escape(target.name)}.{tag}-*"):
            m = _TEMP.match(entry.name)
            if m is None or m.group("name") != target.name or _alive(int(m.group("pid"))):
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
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is fsynced and renamed over `target`.

    A crash leaves the old `target` untouched, so re-running on its own output never corrupts it. A folder
    output gets our marker listing every file written, and goes only where `is_replaceable_folder` allows:
    replacing an earlier output removes only the files twgrpo wrote there, the user's files stay (they are
    hard-linked, or copied, into the new folder before the swap, so that a crash at any moment loses none of
    them); a file of the user's where the new output has one stops the write before anything changes. Any OS
    error while writing becomes an `OutputWriteError` naming `target`.
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if directory and target.is_dir() and not is_replaceable_folder(target):
            raise OutputPathError(f"{target}: an existing folder that twgrpo did not write; refusing to replace it")
        clean_stale_temporaries(target)
        tmp = _temporary(target, "twgrpo-tmp")
        work = tmp / target.name
        if directory:
            work.mkdir()
        yield work
        if directory:
            write_marker(work, OUTPUT, _tree(work)[0])
        _fsync_tree(work)
        if directory and target.exists():
            _keep_users_files(target, work)
            old = _temporary(target, "twgrpo-old")
            os.replace(target, old / target.name)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        raise OutputWriteError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    except Exception as exc:
        failure = _library_write_failure(exc)
        if failure is None:
            raise
        raise OutputWriteError(f"{target}: cannot write: {failure}") from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _keep_users_files(old: Path, new: Path) -> None:
    """Carry every file and empty folder of `old` that twgrpo did not write into `new` (a hard link, or a copy
    where the filesystem has none): the swap that follows then keeps them. Raises `OutputPathError` when the
    new output has a file of that name."""
    marker = read_marker(old)
    owned = owned_files(old, marker) if marker is not None else set()
    files, empty = _tree(old)
    for rel in [f for f in files if f not in owned] + empty:
        dest = new / rel
        if _blocked(dest, new, folder=rel in empty):
            raise OutputPathError(
                f"{old}: holds {rel}, which twgrpo did not write (or which was changed since) and the new "
                "output would replace; move it away or choose another path"
            )
        if rel in empty:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(old / rel, dest, follow_symlinks=False)
        except OSError:
            shutil.copy2(old / rel, dest, follow_symlinks=False)


def _blocked(dest: Path, root: Path, *, folder: bool) -> bool:
    """Whether the new output under `root` has a file where `dest` (a user's file, or `folder`) or one of its
    folders goes, or a folder where the user's file goes."""
    for path in (dest, *dest.parents):
        if path == root:
            return False
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return True
        if path == dest and path.exists() and not folder:
            return True
    return False


def _library_write_failure(exc: BaseException) -> str | None:
    """The I/O failure inside a library's own writer (safetensors reports a full disk as `SafetensorError`,
    not `OSError`), or None for any other exception."""
    safetensors = sys.modules.get("safetensors")
    if safetensors is not None and isinstance(exc, getattr(safetensors, "SafetensorError", ())):
        text = str(exc)
        if "I/O error" in text:
            return text.split("I/O error:", 1)[1].strip()
    return None


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
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: "\\udc80" in a JSON input, undecodable stdin bytes
        raise OutputWriteError(
            f"{target}: cannot write {text[exc.start]!r} at character {exc.start}: a lone surrogate, not text "
            "(from a \\uD800-\\uDFFF escape or bytes that are not UTF-8 in the input); fix the input"
        ) from None
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


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


def default_output_path(input_path: str | os.PathLike, tag: str, suffix: str) -> Path:
    """Where a command writes when no output is given: `default_output_name` beside a local input (so inputs of
    the same name in two folders never share one output), in the current folder for a Hub dataset."""
    source = Path(os.fspath(input_path).rstrip("/"))
    name = default_output_name(input_path, tag, suffix)
    return source.parent / name if source.exists() else Path(name)


def default_output_name(input_path: str | os.PathLike, tag: str, suffix: str) -> str:
    """`val.v1.json` + 'qai' → `val.v1.qai.json`: the whole stem is kept, so inputs never share a default
    (and `x.qai.json` defaults to `x.qai.qai.json`, never to itself)."""
    name = Path(os.fspath(input_path).rstrip("/")).name
    stem = name[: -len(Path(name).suffix)] if Path(name).suffix.lower() in (*RECORDS_SUFFIXES, ".csv", ".txt") else name
    return f"{stem}.{tag}{suffix}"
