"""A generic dataset repository on the Hub → local record files (DESIGN §2): JSON, JSON Lines or parquet files, and
the Hub layout `twgrpo publish` writes (`data/<split>-*.parquet` + README), converted once into a `save_to_disk`
folder so every reader (and `--split`) takes it. The data files of a Hub-layout repository are listed by twgrpo
itself, and a path its README configures is confined to the downloaded snapshot (issue 31).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from ..benchmarks import BENCHMARKS
from ..errors import HubError, InputFormatError
from ..io.readers import is_interchange
from ..outputs import atomic_path
from .download import HubRef, first_line, hub_errors, quiet_datasets, snapshot

#: Files of a generic (non-benchmark) dataset repository that the toolkit reads.
RECORD_FILES = ("*.json", "*.jsonl", "*.parquet", "**/*.json", "**/*.jsonl", "**/*.parquet", "README.md")


def download_dataset(given: str, ref: HubRef, *, bench: str | None = None) -> tuple[Path, str | None]:
    """The local file or folder (in the cache) of the Hub dataset `ref`, which the user wrote as `given`, and the
    benchmark whose repository it is (None for any other dataset). `bench` names the benchmark the data is read
    as, when the caller knows it.

    A benchmark's own repository downloads only its annotation files; another dataset repository its record
    files (JSON, JSON Lines, parquet). A repository in the Hub layout that `twgrpo publish` writes
    (`data/<split>-*.parquet` + README) is converted once into a `save_to_disk` folder, so every reader (and
    `--split`) takes it."""
    if not given.startswith("hf:"):
        # a bare OWNER/NAME is often a mistyped local path: one quick look at the Hub (no download retries)
        # decides, and a miss reads as the missing path it probably is
        try:
            _check_repo(ref.repo_id, ref.revision)
        except HubError as exc:
            raise InputFormatError(f"{given}: no such file or folder (nor a Hub dataset: {exc})") from None
    name, hub = next(
        (
            (n, m.HUB)
            for n, m in BENCHMARKS.items()
            if m.HUB is not None and m.HUB.repo_id == ref.repo_id and (bench is None or n == bench)
        ),
        (None, None),
    )
    if ref.path is not None:
        patterns = [ref.path, f"{ref.path}/**"]
    else:
        patterns = list(hub.annotations) if hub is not None else list(RECORD_FILES)
    snap = snapshot(ref.repo_id, patterns, revision=ref.revision or (hub.revision if hub else None))
    target = snap / ref.path if ref.path else (snap / hub.data_path if hub is not None else snap)
    if not target.exists():
        raise HubError(f"{ref}: no such file or folder in the repository")
    if target.is_dir() and hub is None and (bench is None or _holds_records(target)):
        return _as_saved_dataset(target, ref.repo_id), None
    return target, name


def _holds_records(folder: Path) -> bool:
    """Whether the parquet shards of a downloaded folder hold twgrpo's records (a `twgrpo publish` layout), which
    every benchmark reads as such, rather than a benchmark's native tables (read by its own loader)."""
    shards = sorted(folder.rglob("*.parquet"))
    return bool(shards) and is_interchange(shards[0])


def _check_repo(repo_id: str, revision: str | None) -> None:
    """`HubError` unless `repo_id` is a dataset on the Hub (or, offline, in the cache)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.constants import REPO_ID_SEPARATOR

    if constants.HF_HUB_OFFLINE:
        cached = Path(constants.HF_HUB_CACHE) / f"datasets{REPO_ID_SEPARATOR}{repo_id.replace('/', REPO_ID_SEPARATOR)}"
        if not cached.is_dir():
            raise HubError(f"{repo_id}: not in the cache and HF_HUB_OFFLINE is set")
        return
    with hub_errors(repo_id) as endpoint:
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

    out = Path(constants.HF_HOME) / "twgrpo" / "datasets" / ("datasets--" + repo_id.replace("/", "--")) / folder.name
    if (out / "dataset_dict.json").is_file():
        return out
    data_files = hub_data_files(folder, repo_id)
    from datasets import load_dataset

    builder = _builder_of(data_files, repo_id)
    with quiet_datasets():
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
        raise HubError(f"{where}: unreadable `configs` ({first_line(exc)})") from None
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
            raise HubError(f"{where}: config {name!r}: {first_line(exc)}") from None
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
            raise HubError(f"{repo_id}: no data files named like a split ({first_line(exc)})") from None
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
