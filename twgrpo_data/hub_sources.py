"""Benchmarks and datasets read straight from the Hugging Face Hub.

`huggingface_hub` does every download (`snapshot_download` with `allow_patterns`, `hf_hub_download`):
the standard cache (`HF_HOME` / `HF_HUB_CACHE`), `HF_TOKEN` or `hf auth login`, `HF_HUB_OFFLINE=1`
(everything is read from the cache), `HF_ENDPOINT`, its progress bars and its resume of a broken transfer.
This module adds what is particular to benchmarks:

- which files of a benchmark's repository are annotations and which are videos, and how the videos are
  packed (each module's `HUB`, `twgrpo_data.benchmarks.facts.HubSource`);
- video zips unpacked once into `HF_HOME/twgrpo/unpacked/<repo>/<commit>/`, refusing any member that is
  absolute, climbs out with `..` or is a link, so nothing is ever written outside that folder, and archives
  too large for their size (zip bombs), with too many members or with a file where a folder must be;
- only the videos of the selected records (`--limit 4` fetches 4 videos, or the archives holding them);
- data paths that are Hub references: `OWNER/NAME` (when no such local path exists) and
  `hf://datasets/OWNER/NAME[@REVISION][/path]`, resolved to local files in the cache.

No dataset script is ever run: files are downloaded and read by this toolkit's own readers (and by
`datasets`' packaged parquet reader for Hub-layout repositories).

Example:
    >>> data = resolve_benchmark_data("mmvu", limit=4)          # doctest: +SKIP
    >>> data.records_path, data.video_root, data.provenance["repo_id"]   # doctest: +SKIP
    (PosixPath('…/snapshots/<commit>/validation.json'), PosixPath('…/snapshots/<commit>'), 'yale-nlp/MMVU')
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from .errors import HubError, InputFormatError, TwgrpoError
from .progress import SILENT, Progress, tqdm_class
from .record import Record
from .secrets import redact_url, redact_urls

HF_SCHEME = "hf://"
#: `OWNER/NAME`, as the Hub spells dataset ids (a local path wins when one exists).
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".zip", ".mp4")
#: Files of a generic (non-benchmark) dataset repository that the toolkit reads.
RECORD_FILES = ("*.json", "*.jsonl", "*.parquet", "**/*.json", "**/*.jsonl", "**/*.parquet", "README.md")
#: Limits of one archive from the Hub (a zip bomb is refused before anything is written): members, and the total
#: unpacked size against the archive's own size (videos and frames do not compress: real archives are ~1×).
MAX_ARCHIVE_MEMBERS = 200_000
MAX_ARCHIVE_RATIO = 20


@dataclass(frozen=True)
class HubRef:
    """A dataset on the Hub: repository, optional revision and optional path inside it."""

    repo_id: str
    path: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{HF_SCHEME}datasets/{self.repo_id}{rev}" + (f"/{self.path}" if self.path else "")


class BenchmarkData(NamedTuple):
    """Where a benchmark's data was read from: the records file/folder, the video root and the provenance
    recorded in a run's `config.json` (`data_source`). Unpacks as `(records_path, video_root, provenance)`."""

    records_path: Path
    video_root: Path | None
    provenance: dict[str, Any]


# ----------------------------------------------------------------------------------------------------------
# references


def parse_hub_ref(value: str | os.PathLike) -> HubRef | None:
    """A `HubRef` for `hf://datasets/OWNER/NAME[@REV][/path]`, or for `OWNER/NAME` when no such local path
    exists; None for anything else (a local path)."""
    text = str(value)
    if text.startswith("hf:/") and not text.startswith(HF_SCHEME):
        text = HF_SCHEME + text[len("hf:/") :]  # `pathlib.Path` (e.g. a typer Path argument) collapses the '//'
    if text.startswith(HF_SCHEME):
        rest = text[len(HF_SCHEME) :]
        if not rest.startswith("datasets/"):
            raise TwgrpoError(f"{text}: only dataset repositories are read (hf://datasets/OWNER/NAME[/path])")
        parts = [p for p in rest[len("datasets/") :].split("/") if p]
        if ".." in parts:
            raise TwgrpoError(f"{text}: a '..' in a Hub path would leave the repository")
        if len(parts) < 2:
            raise TwgrpoError(f"{text}: expected hf://datasets/OWNER/NAME[/path]")
        name, _, revision = parts[1].partition("@")
        return HubRef(f"{parts[0]}/{name}", "/".join(parts[2:]) or None, revision or None)
    if os.path.exists(os.path.expanduser(text)) or not _REPO_ID.match(text) or text.endswith(_FILE_SUFFIXES):
        return None
    return HubRef(text)


def _hub_error(exc: BaseException, repo_id: str, endpoint: str) -> HubError:
    """One line for a failed download: gated, missing, offline, or unreachable, and what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return HubError(
            f"{repo_id} is gated: accept its terms at {endpoint}/datasets/{repo_id} while logged in, "
            "then set HF_TOKEN (or run `hf auth login`) with that account"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(f"{repo_id}: no such dataset on {endpoint} (a private one needs HF_TOKEN)")
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"{repo_id}: no such revision on {endpoint}")
    if isinstance(exc, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return HubError(
                f"{repo_id}: not (completely) in the cache and HF_HUB_OFFLINE is set; run once "
                "online (e.g. `twgrpo data fetch`) or unset HF_HUB_OFFLINE"
            )
        return HubError(f"{repo_id}: could not reach {endpoint} and the files are not in the cache")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = _first_line(exc)
    return HubError(
        f"{repo_id}: download from {endpoint} failed" + (f" (HTTP {status})" if status else "") + f": {detail}"
    )


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


@contextlib.contextmanager
def _downloads(repo_id: str) -> Iterator[str]:
    """Yield the endpoint; turn every huggingface_hub / transport failure inside into one `HubError`."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    from .hub import _transport_errors

    endpoint = constants.ENDPOINT
    try:
        yield endpoint
    except (HfHubHTTPError, *_transport_errors(), ValueError) as exc:  # OSError covers offline/cache misses
        if isinstance(exc, HubError):
            raise
        # the endpoint (HF_ENDPOINT) may carry credentials: masked in the message as pip masks them
        raise HubError(redact_urls(str(_hub_error(exc, repo_id, redact_url(endpoint))))) from None


def snapshot(
    repo_id: str,
    patterns: Iterable[str] | None = None,
    *,
    revision: str | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> Path:
    """`snapshot_download` of the dataset files matching `patterns` (all when None) into the standard
    cache; the local snapshot folder (`…/snapshots/<commit>`). With `progress`, huggingface_hub's bars
    (files, bytes) are counted there as tasks named `label: <bar>` instead of being drawn."""
    from huggingface_hub import constants, snapshot_download

    with _downloads(repo_id) as endpoint:
        return Path(
            snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=revision,
                allow_patterns=None if patterns is None else list(patterns),
                cache_dir=constants.HF_HUB_CACHE,
                endpoint=endpoint,
                tqdm_class=None if progress is None else tqdm_class(progress, label),
            )
        )


def planned_downloads(repo_id: str, patterns: Iterable[str], revision: str) -> tuple[int, int]:
    """(files, bytes) that fetching `patterns` would download now (cached files excluded); (0, 0) offline."""
    from huggingface_hub import constants, snapshot_download

    if constants.HF_HUB_OFFLINE:
        return 0, 0
    with _downloads(repo_id) as endpoint:
        plan = snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=revision,
            allow_patterns=list(patterns),
            cache_dir=constants.HF_HUB_CACHE,
            endpoint=endpoint,
            dry_run=True,
            tqdm_class=tqdm_class(SILENT),  # a plan, not a download: no bar
        )
    todo = [f for f in plan if f.will_download]
    return len(todo), sum(f.file_size or 0 for f in todo)


def _commit_of(snapshot_dir: Path) -> str:
    return snapshot_dir.name  # huggingface_hub names snapshot folders by commit hash


def _repo_files(snapshot_dir: Path, patterns: Iterable[str], repo_id: str, commit: str) -> list[str]:
    """Repository files matching `patterns`: listed on the Hub, or (offline) the ones in the cache."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import filter_repo_objects

    if constants.HF_HUB_OFFLINE:
        names = [p.relative_to(snapshot_dir).as_posix() for p in snapshot_dir.rglob("*") if p.is_file()]
    else:
        with _downloads(repo_id) as endpoint:
            names = [
                f.path
                for f in HfApi(endpoint=endpoint).list_repo_tree(
                    repo_id, repo_type="dataset", revision=commit, recursive=True
                )
                if hasattr(f, "size")
            ]
    return sorted(filter_repo_objects(names, allow_patterns=list(patterns)))


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


# ----------------------------------------------------------------------------------------------------------
# archives


def unpack_root(repo_id: str, commit: str) -> Path:
    """Where a repository's video archives are unpacked: `HF_HOME/twgrpo/unpacked/<repo>/<commit>`."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "twgrpo" / "unpacked" / ("datasets--" + repo_id.replace("/", "--")) / commit


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be unpacked, or None."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if "\\" in name or "\x00" in name:
        return "has a backslash or NUL in its name"
    path = PurePosixPath(name)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    return None


def unpacked_marker(dest: Path, name: str) -> Path:
    """The marker saying archive `name` was unpacked into `dest`: beside `dest`, not in it, so that no archive
    (whose members all land inside `dest`) can write one for itself or for another archive."""
    return dest.parent / f"{dest.name}.unpacked" / (name.replace("/", "--") + ".done")


def _archive_identity(archive: Path) -> str:
    """The archive's size and cache blob name (huggingface_hub names blobs by ETag: the file's hash)."""
    return f"{archive.stat().st_size} {archive.resolve().name}"


def _archive_problem(members: list[zipfile.ZipInfo], root: Path, archive_size: int) -> str | None:
    """Why the archive as a whole must not be unpacked into `root`, or None: too many members, an unpacked size
    far beyond the archive's (a zip bomb) or beyond the free disk space, or a member that is a file where
    another member (or a file already unpacked) needs a folder, or the other way round."""
    if len(members) > MAX_ARCHIVE_MEMBERS:
        return f"has {len(members):,} members (more than {MAX_ARCHIVE_MEMBERS:,})"
    total = sum(info.file_size for info in members)
    if total > MAX_ARCHIVE_RATIO * max(archive_size, 1) + (1 << 20):
        return (
            f"would unpack to {human_size(total)} from {human_size(archive_size)} (more than "
            f"{MAX_ARCHIVE_RATIO}× its size: a zip bomb)"
        )
    existing = next((p for p in [root, *root.parents] if p.exists()), root)
    free = shutil.disk_usage(existing).free
    if total > free:
        return f"would unpack to {human_size(total)}, more than the {human_size(free)} free on that disk"
    files = {PurePosixPath(i.filename).as_posix() for i in members if not i.is_dir()}
    folders = {PurePosixPath(i.filename).as_posix() for i in members if i.is_dir()}
    folders |= {parent.as_posix() for i in members for parent in PurePosixPath(i.filename).parents}
    clash = sorted(files & folders)
    if clash:
        return f"has member {clash[0]!r} both as a file and as a folder of other members"
    for name in sorted(files | folders):
        target = root / name
        if name in files and target.is_dir() or name in folders and target.exists() and not target.is_dir():
            return f"has member {name!r} where {target} already is a {'folder' if target.is_dir() else 'file'}"
    return None


def unpack_archive(archive: Path, dest: Path, *, name: str | None = None) -> int:
    """Unpack the zip `archive` into `dest` once (a marker records it); return the number of files written.

    Every member is checked before anything is written: an absolute path, a `..` component or a link refuses
    the whole archive (`HubError`), as do more than `MAX_ARCHIVE_MEMBERS` members, an unpacked size beyond
    `MAX_ARCHIVE_RATIO` times the archive's or beyond the free disk space, and a member that is a file and a
    folder at once. Files are written to a temporary name inside `dest` and renamed, and the marker (outside
    `dest`, naming the archive's size and hash) is written last, so an interrupted unpack is redone, never
    half-trusted, and no archive can claim to be unpacked.
    """
    label = name or archive.name
    marker = unpacked_marker(dest, label)
    identity = _archive_identity(archive)
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == identity:
        return 0
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HubError(f"{label}: not a readable zip archive ({exc})") from None
    with zf:
        members = zf.infolist()
        for info in members:
            problem = _member_problem(info)
            target = (root / info.filename).resolve()
            if problem is None and root not in target.parents and target != root:
                problem = "resolves outside the unpack folder"
            if problem:
                raise HubError(
                    f"{label}: member {info.filename!r} {problem}; refusing to unpack this archive "
                    "(nothing was written)"
                )
        problem = _archive_problem(members, root, archive.stat().st_size)
        if problem:
            raise HubError(f"{label}: the archive {problem}; refusing to unpack it (nothing was written)")
        written = 0
        root.mkdir(parents=True, exist_ok=True)
        for info in members:
            target = root / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged download, not a bug
                raise HubError(
                    f"{archive}: member {info.filename!r} is corrupt ({exc}); delete the archive and run the command "
                    "again to download it anew"
                ) from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            written += 1
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(identity + "\n", encoding="utf-8")
    return written


# ----------------------------------------------------------------------------------------------------------
# benchmarks


def _hub_of(name: str):
    from .benchmarks import get_benchmark

    hub = get_benchmark(name).HUB
    if hub is None:
        raise TwgrpoError(
            f"{name} is not distributed on the Hugging Face Hub; download it from "
            f"{get_benchmark(name).SOURCE.homepage} and pass its path"
        )
    return hub


def fetch_annotations(name: str, *, split: str | None = None, revision: str | None = None) -> Path:
    """Download benchmark `name`'s annotation files; the path its loader reads (in the snapshot).
    `split` replaces the module's `DEFAULT_SPLIT` in the annotation patterns that name one."""
    from .benchmarks import get_benchmark

    module = get_benchmark(name)
    hub = _hub_of(name)
    patterns = list(hub.annotations)
    if split is not None and module.DEFAULT_SPLIT:
        patterns = [p.replace(module.DEFAULT_SPLIT, split) for p in patterns]
    snap = snapshot(hub.repo_id, patterns, revision=revision or hub.revision)
    data = snap / hub.data_path
    if split is not None and module.DEFAULT_SPLIT and hub.data_path != ".":
        data = snap / hub.data_path.replace(module.DEFAULT_SPLIT, split)
    if not data.exists():
        raise HubError(f"{hub.repo_id}: no {data.relative_to(snap).as_posix()} in the repository (patterns {patterns})")
    return data


def fetch_videos(
    name: str,
    data_path: Path,
    records: list[Record] | None = None,
    *,
    announce: Callable[[str], None] = lambda line: None,
    progress: Progress = SILENT,
) -> Path:
    """Download the videos of `records` (every video of the benchmark when None) next to the annotations
    at `data_path` (same commit); return the video root the records' `video` paths are relative to.

    Plain video files are fetched one by one (only the wanted ones); archives are fetched and unpacked once:
    the ones `archive_of` names for the wanted videos, or (no mapping) in order until none is missing.
    `announce` gets one line saying how much will be downloaded before anything is; files, bytes and
    archives are counted on `progress` tasks.
    """
    hub = _hub_of(name)
    if not hub.has_videos:
        raise TwgrpoError(f"{hub.repo_id} has no videos on the Hub")
    snap = _snapshot_dir(data_path)
    commit = _commit_of(snap)
    root = snap if hub.video_files is not None else unpack_root(hub.repo_id, commit)
    wanted = None if records is None else sorted({r.video for r in records if r.video})
    missing = None if wanted is None else [v for v in wanted if not (root / v).exists()]
    if missing == []:
        return root
    if hub.video_files is not None:
        patterns = [hub.video_files] if missing is None else missing
        files, size = planned_downloads(hub.repo_id, patterns, commit)
        announce(f"{hub.repo_id}: downloading {files} video file(s), {human_size(size)}")
        snapshot(hub.repo_id, patterns, revision=commit, progress=progress, label=f"{name} videos")
        return root
    archives = _repo_files(snap, hub.video_archives, hub.repo_id, commit)
    if missing is not None and hub.archive_of is not None:
        needed = {hub.archive_of(v) for v in missing}
        archives = [a for a in archives if a in needed]
    todo = [a for a in archives if not unpacked_marker(root, a).is_file()]
    files, size = planned_downloads(hub.repo_id, todo, commit) if todo else (0, 0)
    announce(
        f"{hub.repo_id}: {len(todo)} video archive(s) to unpack, {files} to download ({human_size(size)})"
        + ("" if missing is None or hub.archive_of is not None else "; stopping once the wanted videos are in")
    )
    from huggingface_hub import constants, hf_hub_download

    with progress.task(f"{name} video archives", len(todo)) as task:
        for archive in todo:
            with _downloads(hub.repo_id) as endpoint:
                local = hf_hub_download(
                    hub.repo_id,
                    archive,
                    repo_type="dataset",
                    revision=commit,
                    cache_dir=constants.HF_HUB_CACHE,
                    endpoint=endpoint,
                    tqdm_class=tqdm_class(progress, archive),
                )
            unpack_archive(Path(local), root, name=archive)
            task.advance(1)
            if missing is not None and all((root / v).exists() for v in missing):
                break
    return root


def _snapshot_dir(path: Path) -> Path:
    """The `snapshots/<commit>` folder `path` lies in."""
    for parent in [path, *path.parents]:
        if parent.parent.name == "snapshots":
            return parent
    raise TwgrpoError(f"{path}: not inside a Hugging Face cache snapshot")


def resolve_benchmark_data(
    name: str,
    limit: int | None = None,
    videos: bool = True,
    *,
    split: str | None = None,
    announce: Callable[[str], None] = lambda line: None,
    progress: Progress = SILENT,
) -> BenchmarkData:
    """The data of benchmark `name` when no path is given: its local `DEFAULT_PATH` if present (the video root
    is then the top folder of that path, `benchmark_video_root`), else its Hub repository — the annotations,
    and with `videos` the videos of the first `limit` records only.

    Example: `twgrpo eval --bench mmvu` without `--data` calls this.
    """
    from .benchmarks import benchmark_video_root, get_benchmark, load_benchmark

    module = get_benchmark(name)
    local = Path(module.DEFAULT_PATH)
    if local.exists():
        return BenchmarkData(local, benchmark_video_root(name), {"kind": "local", "path": str(local.resolve())})
    hub = _hub_of(name)
    data = fetch_annotations(name, split=split)
    snap = _snapshot_dir(data)
    provenance: dict[str, Any] = {
        "kind": "hub",
        "repo_id": hub.repo_id,
        "revision": hub.revision,
        "commit": _commit_of(snap),
        "path": data.relative_to(snap).as_posix(),
    }
    root = None
    if videos and hub.has_videos:
        records = load_benchmark(name, data).records
        selected = records if limit is None else records[:limit]
        root = fetch_videos(name, data, selected, announce=announce, progress=progress)
        provenance["videos"] = len({r.video for r in selected if r.video})
    return BenchmarkData(data, root, provenance)


# ----------------------------------------------------------------------------------------------------------
# data paths


def resolve_data_path(path: str | os.PathLike, *, bench: str | None = None) -> Path:
    """A local path for a data argument: unchanged when it is local; for a Hub reference, the downloaded
    file or folder. A benchmark's own repository downloads only its annotation files; another dataset
    repository its record files (JSON, JSON Lines, parquet). A repository in the Hub layout that
    `twgrpo publish` writes (`data/<split>-*.parquet` + README) is converted once into a `save_to_disk`
    folder, so every reader (and `--split`) takes it."""
    ref = parse_hub_ref(path)
    if ref is None:
        return Path(path)
    if not str(path).startswith("hf:"):
        # a bare OWNER/NAME is often a mistyped local path: one quick look at the Hub (no download retries)
        # decides, and a miss reads as the missing path it probably is
        try:
            _check_repo(ref.repo_id, ref.revision)
        except HubError as exc:
            raise InputFormatError(f"{path}: no such file or folder (nor a Hub dataset: {exc})") from None
    from .benchmarks import BENCHMARKS

    hub = next(
        (
            m.HUB
            for n, m in BENCHMARKS.items()
            if m.HUB is not None and m.HUB.repo_id == ref.repo_id and (bench is None or n == bench)
        ),
        None,
    )
    if ref.path is not None:
        patterns = [ref.path, f"{ref.path}/**"]
    else:
        patterns = list(hub.annotations) if hub is not None else list(RECORD_FILES)
    snap = snapshot(ref.repo_id, patterns, revision=ref.revision or (hub.revision if hub else None))
    target = snap / ref.path if ref.path else (snap / hub.data_path if hub is not None else snap)
    if not target.exists():
        raise HubError(f"{ref}: no such file or folder in the repository")
    if target.is_dir() and hub is None and bench is None:
        return _as_saved_dataset(target, ref.repo_id)
    return target


def load_saved_dataset(path: str | os.PathLike):
    """`datasets.load_from_disk(path)` of a `save_to_disk` folder whose own files stay inside it.

    `load_from_disk` joins the split names of `dataset_dict.json` and the `_data_files` names of each
    `state.json` to the folder, so a received folder naming `/…/other.arrow` or `../../…` would read an Arrow
    file elsewhere on this machine (another dataset of the cache) — and `publish` would upload it. Such a folder
    is refused (`InputFormatError` naming the file and the name) before anything is read.
    """
    from datasets import load_from_disk

    folder = Path(path)
    dict_file = folder / "dataset_dict.json"
    parts = [folder]
    if dict_file.is_file():
        splits = _json_field(dict_file, "splits")
        parts = [folder / _plain_name(name, dict_file, "splits") for name in splits]
    for part in parts:
        state = part / "state.json"
        if state.is_file():
            for entry in _json_field(state, "_data_files"):
                _plain_name(entry.get("filename") if isinstance(entry, dict) else entry, state, "_data_files")
    return load_from_disk(str(folder))


def _json_field(path: Path, key: str) -> list:
    from .formats import parse_json, read_text

    try:
        value = parse_json(read_text(path), path)
    except ValueError as exc:  # json.JSONDecodeError
        raise InputFormatError(f"{path}: invalid JSON ({exc})") from None
    value = value.get(key, []) if isinstance(value, dict) else None
    if not isinstance(value, list):
        raise InputFormatError(f"{path}: {key!r} is not a list")
    return value


def _plain_name(name: Any, where: Path, key: str) -> str:
    """`name` if it is a file or folder name inside the dataset folder (no separator, not `..`)."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InputFormatError(
            f"{where}: {key} names {name!r}, not a file of this folder; refusing to read outside the dataset"
        )
    return name


def _check_repo(repo_id: str, revision: str | None) -> None:
    """`HubError` unless `repo_id` is a dataset on the Hub (or, offline, in the cache)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.constants import REPO_ID_SEPARATOR

    if constants.HF_HUB_OFFLINE:
        cached = Path(constants.HF_HUB_CACHE) / f"datasets{REPO_ID_SEPARATOR}{repo_id.replace('/', REPO_ID_SEPARATOR)}"
        if not cached.is_dir():
            raise HubError(f"{repo_id}: not in the cache and HF_HUB_OFFLINE is set")
        return
    with _downloads(repo_id) as endpoint:
        HfApi(endpoint=endpoint).repo_info(repo_id, repo_type="dataset", revision=revision)


def _as_saved_dataset(folder: Path, repo_id: str) -> Path:
    """A Hub-layout folder (parquet shards listed by the README's `configs`) as a `save_to_disk` folder in
    `HF_HOME/twgrpo/datasets/<repo>/<commit>` (built once); a single records file in it is returned as is."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".parquet")]
    if not any(p.suffix == ".parquet" for p in files):
        if len(files) == 1:
            return files[0]
        raise HubError(
            f"{repo_id}: {len(files)} record files and no parquet shards; name one (hf://datasets/{repo_id}/PATH)"
        )
    from huggingface_hub import constants

    from .formats import atomic_path

    out = Path(constants.HF_HOME) / "twgrpo" / "datasets" / ("datasets--" + repo_id.replace("/", "--")) / folder.name
    if (out / "dataset_dict.json").is_file():
        return out
    data_files = hub_data_files(folder, repo_id)
    from datasets import load_dataset

    from .hub import _quiet_datasets

    builder = _builder_of(data_files, repo_id)
    with _quiet_datasets():
        # `datasets`' packaged reader on files listed here, all inside the snapshot: no dataset script runs, and
        # nothing the README names outside the snapshot is read
        loaded = load_dataset(
            builder, data_files={split: [str(folder / f) for f in names] for split, names in data_files.items()}
        )
        with atomic_path(out, directory=True) as tmp:
            loaded.save_to_disk(str(tmp))
    return out


def _configured_path_problem(path: str) -> str | None:
    """Why a data file path configured in a Hub README must not be read, or None: an absolute path, a path with
    a scheme (`file://`, `https://`, `hf://`, fsspec's `zip://…::…`) or one that climbs out of the snapshot."""
    if "://" in path or "::" in path or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
        return "has a scheme (a URL)"
    if path.startswith(("/", "~", "\\")):
        return "is an absolute path"
    normal = posixpath.normpath(path.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        return "climbs out of the repository ('..')"
    return None


def hub_data_files(folder: Path, repo_id: str) -> dict[str, list[str]]:
    """Split → record files (paths relative to `folder`) of a Hub-layout snapshot folder, every one inside it.

    The README's `configs` (its default config) name them as `datasets` would read them, but a configured path
    that is absolute, has a scheme or climbs out with `..` is refused (`HubError` naming the README and the
    path): `datasets` would read it from anywhere, so a hostile repository could make twgrpo read — and
    `publish` upload — a file of this machine or of any server. The patterns are matched here against the
    snapshot's own files; without `configs`, `datasets`' own split-name patterns (`data/train-*`, …) are.
    """
    from datasets.data_files import get_data_patterns, sanitize_patterns
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard
    from huggingface_hub.utils import filter_repo_objects

    readme = folder / "README.md"
    where = f"{repo_id}: README.md"
    try:
        configs = MetadataConfigs.from_dataset_card_data(DatasetCard.load(readme).data) if readme.is_file() else {}
        name = configs.get_default_config_name() if configs else None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise HubError(f"{where}: unreadable `configs` ({_first_line(exc)})") from None
    if configs and name is None:
        raise HubError(
            f"{where}: configs {sorted(configs)} and none is the default; name a file (hf://datasets/{repo_id}/PATH)"
        )
    if configs:
        config = configs[name]
        data_dir = config.get("data_dir")
        try:
            patterns = sanitize_patterns(config.get("data_files") or "**")
        except ValueError as exc:
            raise HubError(f"{where}: config {name!r}: {_first_line(exc)}") from None
        for value in [data_dir] if data_dir else []:
            problem = _configured_path_problem(str(value))
            if problem:
                raise HubError(f"{where}: config {name!r}: data_dir {value!r} {problem}; refusing to read it")
        if data_dir:
            patterns = {split: [posixpath.join(str(data_dir), p) for p in paths] for split, paths in patterns.items()}
    else:
        try:
            patterns = get_data_patterns(str(folder))
        except Exception as exc:  # noqa: BLE001 — datasets' EmptyDatasetError & co.: no file named like a split
            raise HubError(f"{repo_id}: no data files named like a split ({_first_line(exc)})") from None
    names = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".json", ".jsonl", ".parquet") and not p.name.startswith((".", "_"))
    )
    found: dict[str, list[str]] = {}
    for split, paths in patterns.items():
        for path in paths:
            problem = _configured_path_problem(str(path))
            if problem:
                raise HubError(
                    f"{where}: data file {path!r} (split {split!r}) {problem}; refusing to read outside the "
                    "downloaded repository (nothing was read)"
                )
        matched = sorted(filter_repo_objects(names, allow_patterns=[*paths, *(f"{p}/*" for p in paths)]))
        if not matched:
            raise HubError(f"{where}: split {split!r}: no downloaded record file matches {list(paths)}")
        found[str(split)] = matched
    return found


def _builder_of(data_files: dict[str, list[str]], repo_id: str) -> str:
    """`datasets`' packaged builder for the files: parquet, or json for JSON / JSON Lines."""
    suffixes = {Path(f).suffix for files in data_files.values() for f in files}
    if suffixes == {".parquet"}:
        return "parquet"
    if suffixes <= {".json", ".jsonl"}:
        return "json"
    raise HubError(f"{repo_id}: record files of several kinds ({', '.join(sorted(suffixes))}); name one file")
