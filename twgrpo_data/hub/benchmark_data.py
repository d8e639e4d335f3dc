"""A benchmark's data from its Hugging Face repository: which files are annotations and which are videos, and how
the videos are packed (each module's `HUB`, `twgrpo_data.benchmarks.facts.HubSource`); only the videos of the
selected records are fetched (`--limit 4` fetches 4 videos, or the archives holding them).

Example:
    >>> data = resolve_benchmark_data("mmvu", limit=4)          # doctest: +SKIP
    >>> data.records_path, data.video_root, data.provenance["repo_id"]   # doctest: +SKIP
    (PosixPath('…/snapshots/<commit>/validation.json'), PosixPath('…/snapshots/<commit>'), 'yale-nlp/MMVU')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..benchmarks import benchmark_video_root, get_benchmark, load_benchmark
from ..errors import HubError, TwgrpoError
from ..progress import SILENT, Progress, tqdm_class
from ..record import Record
from .archives import unpack_archive, unpack_root, unpacked_marker
from .download import commit_of, hub_errors, human_size, planned_downloads, repo_files, snapshot


class BenchmarkData(NamedTuple):
    """Where a benchmark's data was read from: the records file/folder, the video root and the provenance
    recorded in a run's `config.json` (`data_source`). Unpacks as `(records_path, video_root, provenance)`."""

    records_path: Path
    video_root: Path | None
    provenance: dict[str, Any]


def _hub_of(name: str):
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
    commit = commit_of(snap)
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
    archives = repo_files(snap, hub.video_archives, hub.repo_id, commit)
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
            with hub_errors(hub.repo_id) as endpoint:
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
        "commit": commit_of(snap),
        "path": data.relative_to(snap).as_posix(),
    }
    root = None
    if videos and hub.has_videos:
        records = load_benchmark(name, data).records
        selected = records if limit is None else records[:limit]
        root = fetch_videos(name, data, selected, announce=announce, progress=progress)
        provenance["videos"] = len({r.video for r in selected if r.video})
    return BenchmarkData(data, root, provenance)
