"""Benchmarks and datasets read straight from the Hugging Face Hub.

`huggingface_hub` does every download (`snapshot_download` with `allow_patterns`, `hf_hub_download`):
the standard cache (`HF_HOME` / `HF_HUB_CACHE`), `HF_TOKEN` or `hf auth login`, `HF_HUB_OFFLINE=1`
(everything is read from the cache), `HF_ENDPOINT`, its progress bars and its resume of a broken transfer.
This module adds what is particular to benchmarks:

- which files of a benchmark's repository are annotations and which are videos, and how the videos are
  packed (each module's `HUB`, `twgrpo_data.benchmarks.facts.HubSource`);
- video zips unpacked once into `HF_HOME/twgrpo/unpacked/<repo>/<commit>/`, refusing any member that is
  absolute, climbs out with `..` or is a link, so nothing is ever written outside that folder;
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

HF_SCHEME = "hf://"
#: `OWNER/NAME`, as the Hub spells dataset ids (a local path wins when one exists).
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".zip", ".mp4")
#: Files of a generic (non-benchmark) dataset repository that the toolkit reads.
RECORD_FILES = ("*.json", "*.jsonl", "*.parquet", "**/*.json", "**/*.jsonl", "**/*.parquet", "README.md")
UNPACKED_MARKERS = ".twgrpo-unpacked"


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
    detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return HubError(
        f"{repo_id}: download from {endpoint} failed" + (f" (HTTP {status})" if status else "") + f": {detail}"
    )


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
        raise _hub_error(exc, repo_id, endpoint) from None


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


def unpack_archive(archive: Path, dest: Path, *, name: str | None = None) -> int:
    """Unpack the zip `archive` into `dest` once (a marker records it); return the number of files written.

    Every member is checked before anything is written: an absolute path, a `..` component or a link
    refuses the whole archive (`HubError`). Files are written to a temporary name inside `dest` and
    renamed, and the marker is written last, so an interrupted unpack is redone, never half-trusted.
    """
    label = name or archive.name
    marker = dest / UNPACKED_MARKERS / (label.replace("/", "--") + ".done")
    if marker.is_file():
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
    marker.write_text(f"{written} files\n", encoding="utf-8")
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
    todo = [a for a in archives if not (root / UNPACKED_MARKERS / (a.replace("/", "--") + ".done")).is_file()]
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
    """The data of benchmark `name` when no path is given: its local `DEFAULT_PATH` if present, else its
    Hub repository — the annotations, and with `videos` the videos of the first `limit` records only.

    Example: `twgrpo eval --bench mmvu` without `--data` calls this.
    """
    from .benchmarks import get_benchmark, load_benchmark

    module = get_benchmark(name)
    local = Path(module.DEFAULT_PATH)
    if local.exists():
        return BenchmarkData(local, None, {"kind": "local", "path": str(local.resolve())})
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
    from datasets import load_dataset

    from .hub import _quiet_datasets

    with _quiet_datasets():
        # `datasets`' packaged parquet reader, driven by the README's `configs`: no dataset script runs
        loaded = load_dataset(str(folder))
        with atomic_path(out, directory=True) as tmp:
            loaded.save_to_disk(str(tmp))
    return out
