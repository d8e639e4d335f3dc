"""Publishing records to the Hugging Face Hub.

Records become a `datasets.DatasetDict` with the typed features of `twgrpo_data.formats.hf_features()`
(`meta` as a struct when one holds every record's `meta` exactly),
written in the Hub layout that `Dataset.push_to_hub` produces (`data/<split>-00000-of-0000N.parquet` plus
a `README.md` whose YAML holds `configs` and `dataset_info`), with the rendered dataset card as README.

The upload is ONE commit (`HfApi.create_commit` with every file, plus deletions of stale shards from an
earlier push). `push_to_hub` followed by a card upload would need two commits — a failure between them
would leave a repository whose README describes other data — and it would regenerate the card from
whatever README the repository already holds. With one commit the Hub either has the whole new version or
is unchanged, and a dry run writes exactly the files the push would send.

Example:
    >>> result = publish("qai.jsonl", "me/nextgqa-qai", dry_run=True, out="hub_preview")  # doctest: +SKIP
    >>> result.files[0]                                                                     # doctest: +SKIP
    ('README.md', 23145)
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, cards
from .errors import HubError, TwgrpoError
from .formats import atomic_path, detect_format, hub_tables, read_records, to_hf_dataset
from .outputs import is_replaceable_folder
from .record import Record
from .secrets import redact_url, redact_urls

DATA_DIR = "data"
CARD_FILE = "README.md"
DEFAULT_SPLIT = "train"
PREVIEW_ROOT = "hub_preview"
# Split names `datasets` accepts (the pattern of `datasets.naming._split_re`).
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")

#: `status("writing parquet shards")` → a context manager shown while that step runs (the CLI's status line).
Status = Callable[[str], contextlib.AbstractContextManager]


def _no_status(message: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


class LicenceError(HubError):
    """A source's terms forbid publishing a derived copy without the rights holders' permission."""


@dataclass(frozen=True)
class HubFolder:
    """A local folder in the Hub layout: exactly what a push uploads."""

    root: Path
    files: list[str]
    splits: dict[str, int]
    template: str

    def sizes(self) -> list[tuple[str, int]]:
        return [(f, (self.root / f).stat().st_size) for f in self.files]


@dataclass(frozen=True)
class PushResult:
    """What one commit changed on the Hub."""

    repo_id: str
    commit_url: str
    added: list[str]
    deleted: list[str]
    created: bool


@dataclass(frozen=True)
class PublishResult:
    """Outcome of `publish`: the files (with sizes), the push when there was one, and licence notes."""

    repo_id: str
    dry_run: bool
    folder: Path | None
    files: list[tuple[str, int]]
    splits: dict[str, int]
    template: str
    warnings: list[str] = field(default_factory=list)
    push: PushResult | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "repo_id": self.repo_id,
            "dry_run": self.dry_run,
            "folder": None if self.folder is None else str(self.folder),
            "files": [{"path": p, "bytes": n} for p, n in self.files],
            "splits": self.splits,
            "template": self.template,
            "warnings": self.warnings,
        }
        if self.push is not None:
            out.update(commit_url=self.push.commit_url, deleted=self.push.deleted, created=self.push.created)
        return out


# ----------------------------------------------------------------------------------------------------------
# inputs


def check_repo_id(repo_id: str) -> str:
    """Return `repo_id` if it is `owner/name` and valid for the Hub, else raise `HubError`."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    problem = None if repo_id.count("/") == 1 else "it needs exactly one '/'"
    if problem is None:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            problem = str(exc).splitlines()[0]
    if problem:
        raise HubError(f"repo id {repo_id!r} is not OWNER/NAME (e.g. me/nextgqa-qai): {problem}")
    return repo_id


def load_splits(path: str | os.PathLike, split: str | None = None) -> dict[str, list[Record]]:
    """Read `path` (anything `read_records` accepts) as split name → records.

    An HF `save_to_disk` folder holding several splits gives all of them unless `split` picks one; any
    other input becomes the one split `split` (default "train").
    """
    from .hub_sources import resolve_data_path

    if split is not None and not _SPLIT_NAME.match(split):
        raise TwgrpoError(f"split name {split!r} must be letters, digits and '_' (e.g. train, validation)")
    path = resolve_data_path(path)  # a Hub dataset (OWNER/NAME, hf://datasets/…) → its files in the cache
    if split is None and detect_format(path) == "hf":
        from datasets import DatasetDict

        from .hub_sources import load_saved_dataset

        stored = load_saved_dataset(path)
        if isinstance(stored, DatasetDict):
            return {name: read_records(path, split=name).records for name in stored}
    records = read_records(path, split=split).records
    if not records:
        raise TwgrpoError(f"{path}: no records to publish")
    return {split or DEFAULT_SPLIT: records}


def check_licences(uses: Sequence[cards.SourceUse], permission: bool, stated_license: str | None = None) -> list[str]:
    """Refuse sources whose terms forbid a derived copy unless `permission`, and data from no known
    benchmark unless its licence is stated (`stated_license`); return warnings to show.

    Each record's source is decided by its content (`cards.record_source`: the benchmark's own fields, such
    as Video-MME's `videoID`/`duration`/`domain`, then its `source`), never by the file name.
    """
    known = cards.source_table()
    unknown = [u for u in uses if u.key not in known]
    if unknown and stated_license is None:
        what = ", ".join(f"{u.n} with source {u.key!r}" if u.key else f"{u.n} without a source" for u in unknown)
        raise LicenceError(
            f"refusing to publish: records from no benchmark twgrpo knows ({what}; judged by their "
            "fields and `source`). State their licence with --license ID (a Hub licence id, e.g. "
            "cc-by-4.0) if you hold the rights to publish them"
        )
    restricted = cards.restricted_sources(uses)
    if restricted and not permission:
        terms = "; ".join(f"{u.info.name}: {u.info.license_note}" for u in restricted)
        raise LicenceError(
            f"refusing to publish: {terms}. Pass --i-have-permission only if the rights holders "
            "allowed you to publish this derived copy"
        )
    notes = [f"publishing {u.info.name} data under your permission ({u.info.license_note})" for u in restricted]
    notes += [
        f"{u.info.name}: licence unknown ({u.info.license_note}); check its terms before publishing"
        for u in uses
        if u.info.redistribution == "unknown"
    ]
    return notes


# A path inside any text: a `file:` URL, an absolute or home path starting a word (not the path part of an
# http URL), a Windows drive path, a relative path climbing out with '..'.
_PATH_IN_TEXT = re.compile(
    r"file:[^\s\"'<>]*"
    r"|(?<![\w.:/\\~-])(?:~[\w.-]*)?/[^\s\"'<>|,;()\[\]{}]+"
    r"|(?<![\w])[A-Za-z]:[\\/][^\s\"'<>|,;]*"
    r"|(?<![\w.])\.\.(?=[\\/])[^\s\"'<>|,;]*"
)


def _path_problem(found: str) -> str | None:
    """Why a path found in a record's text must not be published, or None (e.g. TW-GRPO's "/MMVU/videos/…",
    which names no folder of this machine, or a relative path inside the video root)."""
    if found.startswith("file:"):
        return "a file: URL"
    if found.startswith(".."):
        return "a relative path that climbs out with '..'"
    if found.startswith(("/", "~")) or re.match(r"[A-Za-z]:[\\/]", found):
        folder = os.path.dirname(os.path.expanduser(found))
        if folder not in ("", "/") and _is_local_folder(folder):
            return "a local absolute path"
    return None


@functools.lru_cache(maxsize=4096)
def _is_local_folder(folder: str) -> bool:
    return os.path.isdir(folder)


def _string_paths(text: str, where: tuple, found: list[tuple[str, str, str]]) -> None:
    """Add `(where, path, why)` for each path of this machine inside `text` to `found`."""
    if "/" in text or "\\" in text or "file:" in text:  # most texts: one test
        found += [(".".join(map(str, where)), path, why) for path, why in _text_paths(text)]


@functools.lru_cache(maxsize=1 << 16)
def _text_paths(text: str) -> tuple[tuple[str, str], ...]:
    """`(path, why)` of each path of this machine inside `text` (cached: video paths repeat across questions)."""
    matches = (m.group(0) for m in _PATH_IN_TEXT.finditer(text))
    return tuple((path, why) for path in matches if (why := _path_problem(path)) is not None)


def _local_paths(value: Any) -> list[tuple[str, str, str]]:
    """`(where, path, why)` for every path of this machine inside `value` (strings at any depth of dicts and
    lists; `where` is the key path). Walked with a stack, not recursion: 10^5 records' `meta` stay cheap."""
    found: list[tuple[str, str, str]] = []
    if isinstance(value, str):
        _string_paths(value, (), found)
        return found
    stack = [((), value)] if isinstance(value, (dict, list, tuple)) else []
    while stack:
        where, container = stack.pop()
        for key, item in container.items() if isinstance(container, dict) else enumerate(container):
            if isinstance(item, str):
                _string_paths(item, (*where, key), found)
            elif isinstance(item, (dict, list, tuple)):
                stack.append(((*where, key), item))
    return found


def check_no_local_paths(splits: Mapping[str, Sequence[Record]]) -> None:
    """Refuse records that point into this machine — an absolute path whose folder exists here, a `file:` URL or
    a relative path climbing out with `..`, in `id`, `video`, `source` or anywhere in `meta` (also inside longer
    text): published records must not reveal it. Every record is checked before anything is written; the error
    names the first record and field and counts the others."""
    found: list[tuple[str, str, str, str, str]] = []
    hits: list[tuple[str, str, str]] = []
    for records in splits.values():
        for record in records:
            for name, value in (("id", record.id), ("video", record.video), ("source", record.source)):
                if value and ("/" in value or "\\" in value or "file:" in value):
                    _string_paths(value, (), hits)
                    found += [(record.id, name, *hit) for hit in hits]
                    hits.clear()
            if record.meta:
                found += [(record.id, "meta", *hit) for hit in _local_paths(record.meta)]
    if found:
        record_id, name, where, path, why = found[0]
        at = f", at {where}" if where else ""
        more = f"; {len(found) - 1} more path(s) in the records" if len(found) > 1 else ""
        raise TwgrpoError(
            f"record {record_id!r}, field {name!r}: holds {why} ({path}{at}){more}; publish paths relative to the "
            "video root instead (nothing was written or uploaded)"
        )


# ----------------------------------------------------------------------------------------------------------
# the Hub layout


def to_dataset_dict(splits: Mapping[str, Sequence[Record]]):
    """Split name → records as a `datasets.DatasetDict` with `hf_features()`; `meta` is a struct the Dataset
    Viewer can filter whenever one stores every split's `meta` exactly (`formats.meta_column`), else JSON."""
    from datasets import DatasetDict

    tables, meta = hub_tables(splits)
    return DatasetDict({name: to_hf_dataset(splits[name], meta, table=table) for name, table in tables.items()})


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """Silence `datasets`' own tqdm bars (the CLI shows one rich status line instead)."""
    import datasets

    was_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _write_shards(dataset, split: str, root: Path, max_shard_size: int | str | None) -> list[str]:
    """Write one split as parquet shards named as `push_to_hub` names them; return their relative paths."""
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    limit = convert_file_size_to_int(max_shard_size or config.MAX_SHARD_SIZE)
    # Same shard count rule as `Dataset.push_to_hub` (in-memory Arrow size over the limit, plus one), but
    # never more shards than rows: an empty parquet shard helps no one.
    n = min(int(dataset.data.nbytes / limit) + 1, max(len(dataset), 1))
    (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rel = f"{DATA_DIR}/{split}-{i:05d}-of-{n:05d}.parquet"
        dataset.shard(num_shards=n, index=i, contiguous=True).to_parquet(str(root / rel))
        paths.append(rel)
    return paths


def hub_metadata(dataset_dict, download_size: int) -> dict[str, Any]:
    """The card's `dataset_info` and `configs`, built by `datasets`' own classes exactly as `push_to_hub`
    writes them, so `load_dataset(repo_id)` finds the splits and typed features."""
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    splits = SplitDict()
    for name, ds in dataset_dict.items():
        splits.add(SplitInfo(name=name, num_bytes=ds.data.nbytes, num_examples=len(ds)))
    dataset_size = sum(ds.data.nbytes for ds in dataset_dict.values())
    info = DatasetInfo(
        features=next(iter(dataset_dict.values())).features,
        splits=splits,
        download_size=download_size,
        dataset_size=dataset_size,
    )
    data = DatasetCardData()
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    MetadataConfigs(
        {"default": {"data_files": [{"split": name, "path": f"{DATA_DIR}/{name}-*"} for name in dataset_dict]}}
    ).to_dataset_card_data(data)
    return data.to_dict()


def _replaceable(out: Path) -> bool:
    """Only a new or empty folder, or an earlier output of twgrpo (its marker lists the files to replace), is
    written; a README.md and data/ of the user's are not a preview."""
    return not out.exists() or (out.is_dir() and is_replaceable_folder(out))


def write_hub_folder(
    splits: Mapping[str, Sequence[Record]],
    out: str | os.PathLike,
    *,
    repo_id: str,
    card: str | Path | None = None,
    report: cards.QaiReport | None = None,
    max_shard_size: int | str | None = None,
    stated_license: str | None = None,
    stats: cards.DatasetStats | None = None,
    status: Status = _no_status,
) -> HubFolder:
    """Write the parquet shards and the rendered card to `out` (atomically: a crash keeps the old folder).

    `card` is a template name or file (default: `cards.choose_template`); `max_shard_size` as in
    `push_to_hub` ("500MB" default); `stats`: `cards.DatasetStats.from_splits(splits)` when the caller has
    it already; `status` shows each slow step (building the table, writing shards, rendering the card).
    """
    import pyarrow

    out = Path(out)
    if not _replaceable(out):
        raise TwgrpoError(
            f"{out}: exists and is not a hub preview folder that twgrpo wrote (no .twgrpo marker); choose a new or "
            "empty folder"
        )
    stats = cards.DatasetStats.from_splits(splits) if stats is None else stats
    template = str(card) if card is not None else cards.choose_template(stats)
    with status(f"building the Arrow table of {stats.n_records:,} records"):
        dataset_dict = to_dataset_dict(splits)
    # the card's example row shows `meta` as the shards store it: a struct, or JSON text
    meta_struct = not pyarrow.types.is_string(next(iter(dataset_dict.values())).data.schema.field("meta").type)
    with atomic_path(out, directory=True) as tmp, _quiet_datasets():
        with status(f"writing parquet shards to {out}"):
            files = [rel for n, ds in dataset_dict.items() for rel in _write_shards(ds, n, tmp, max_shard_size)]
        download_size = sum((tmp / rel).stat().st_size for rel in files)
        with status("rendering the dataset card"):
            rendered = cards.render_card(
                splits,
                repo_id=repo_id,
                template=template,
                report=report,
                hub_metadata=hub_metadata(dataset_dict, download_size),
                stated_license=stated_license,
                stats=stats,
                meta_struct=meta_struct,
            )
        (tmp / CARD_FILE).write_text(str(rendered), encoding="utf-8")
    return HubFolder(
        root=out, files=[CARD_FILE, *files], splits={n: len(r) for n, r in splits.items()}, template=template
    )


# ----------------------------------------------------------------------------------------------------------
# pushing


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the Hub call failed". `HfHubHTTPError`, `requests`' errors and offline mode are
    OSErrors; the HTTP client's own connection errors (httpx2 in huggingface_hub 2.x, httpx in 1.x) are not."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(module).HTTPError)
    return tuple(errors)


def _describe(exc: BaseException) -> str:
    """One line for a failed Hub call: the HTTP status and the server's message when there is one."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status == 401:
        return "the token was rejected (HTTP 401): set HF_TOKEN or run `hf auth login` again"
    if status == 403:
        return "the token has no write access to this repository (HTTP 403)"
    message = getattr(exc, "server_message", None) or next(
        (line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__
    )
    return redact_urls(f"HTTP {status}: {message}" if status else message)  # an endpoint URL may carry a password


def hub_token(token: str | None = None) -> str:
    """`token`, else huggingface_hub's own (`HF_TOKEN`, then the `hf auth login` file); `HubError` when
    there is none or offline mode is on."""
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise HubError("HF_HUB_OFFLINE is set: unset it to publish (or use --dry-run); nothing was uploaded")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded")
    return token


def push_folder(
    folder: HubFolder,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    """Upload `folder` to the dataset repository `repo_id` in one commit; stale `data/` files are deleted.

    The token comes from `token` or huggingface_hub's usual sources (`HF_TOKEN`, `hf auth login`); the
    endpoint from `endpoint` or `HF_ENDPOINT`. Every failure is a one-line `HubError` that says what is
    on the Hub afterwards (nothing is ever half-committed).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    check_repo_id(repo_id)
    api = HfApi(endpoint=endpoint, token=hub_token(token))
    failures = _transport_errors()
    try:
        existing = api.repo_info(repo_id, repo_type="dataset")
    except RepositoryNotFoundError:
        existing = None
    except failures as exc:
        raise HubError(
            f"{repo_id}: could not reach {redact_url(api.endpoint)}: {_describe(exc)}; nothing was uploaded"
        ) from None
    if existing is not None and private and not existing.private:
        raise HubError(
            f"{repo_id} exists and is public; --private does not change an existing repository "
            "(make it private on the Hub first); nothing was uploaded"
        )
    step, created = "create the repository", False
    try:
        if existing is None:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            created = True
        step = "list the repository's files"
        remote = api.list_repo_files(repo_id, repo_type="dataset") if existing is not None else []
        stale = sorted(f for f in remote if f.startswith(f"{DATA_DIR}/") and f not in folder.files)
        operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder.root / f)) for f in folder.files]
        operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
        step = "commit"
        total = sum(folder.splits.values())
        info = api.create_commit(
            repo_id,
            operations,
            repo_type="dataset",
            commit_message=commit_message or f"Upload {total} records with twgrpo {__version__}",
        )
    except (*failures, ValueError) as exc:  # ValueError: the Hub rejected README.md's metadata
        state = (
            "the repository was created empty"
            if created
            else ("the repository is unchanged" if existing is not None else "no repository was created")
        )
        raise HubError(f"{repo_id}: could not {step}: {_describe(exc)}; nothing was committed ({state})") from None
    return PushResult(
        repo_id=repo_id,
        commit_url=redact_url(info.commit_url),
        added=list(folder.files),
        deleted=stale,
        created=created,
    )


def default_preview_dir(repo_id: str) -> Path:
    """Where a dry run writes when no folder is given: `hub_preview/OWNER/NAME`."""
    return Path(PREVIEW_ROOT, *check_repo_id(repo_id).split("/"))


def publish(
    dataset: str | os.PathLike,
    repo_id: str,
    *,
    card: str | Path | None = None,
    report: str | os.PathLike | None = None,
    private: bool = False,
    split: str | None = None,
    dry_run: bool = False,
    out: str | os.PathLike | None = None,
    permission: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    max_shard_size: int | str | None = None,
    license: str | None = None,
    status: Status = _no_status,
) -> PublishResult:
    """Publish `dataset` to `repo_id`, or with `dry_run` only write what would be uploaded to `out`.

    `out` also keeps a copy of the uploaded files on a real push. Each record's source is judged by its
    content: sources that forbid redistribution (Video-MME) or are non-commercial (TempCompass) raise
    `LicenceError` unless `permission`; records of no known benchmark unless `license` states their licence.
    A record holding an absolute path of this machine (`video`, or any `meta` text) is refused: a card and
    its records never carry local paths. `status` shows each slow step (e.g. the CLI's status line).
    """
    check_repo_id(repo_id)
    if not dry_run:
        token = hub_token(token)  # fail before any work when the push cannot happen
    with status(f"reading {dataset}"):
        splits = load_splits(dataset, split)
    with status("checking the records (local paths, sources, licences)"):
        check_no_local_paths(splits)
        stats = cards.DatasetStats.from_splits(splits)  # computed once: licences, template and card use it
        warnings = check_licences(cards.source_uses(stats, license), permission, license)
    qai_report = cards.load_report(report) if report is not None else None
    keep = dry_run or out is not None
    with contextlib.ExitStack() as stack:
        if keep:
            target = Path(out) if out is not None else default_preview_dir(repo_id)
        else:
            target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twgrpo-publish-"))) / "hub"
        folder = write_hub_folder(
            splits,
            target,
            repo_id=repo_id,
            card=card,
            report=qai_report,
            max_shard_size=max_shard_size,
            stated_license=license,
            stats=stats,
            status=status,
        )
        pushed = None
        if not dry_run:
            with status(f"uploading {len(folder.files)} file(s) to {repo_id}"):
                pushed = push_folder(folder, repo_id, private=private, token=token, endpoint=endpoint)
        return PublishResult(
            repo_id,
            dry_run,
            folder.root if keep else None,
            folder.sizes(),
            folder.splits,
            folder.template,
            warnings,
            pushed,
        )
