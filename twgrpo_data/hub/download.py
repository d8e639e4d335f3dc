"""Hub references and downloads with `huggingface_hub`: the standard cache (`HF_HOME` / `HF_HUB_CACHE`), `HF_TOKEN` or
`hf auth login`, `HF_HUB_OFFLINE=1` (everything read from the cache), `HF_ENDPOINT`, its progress bars and its
resume of a broken transfer; every failure becomes one `HubError` line saying what to do. No dataset script is ever
run: files are downloaded and read by this toolkit's own readers.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import HubError, TwgrpoError
from ..progress import SILENT, Progress, tqdm_class
from ..secrets import redact_url, redact_urls

HF_SCHEME = "hf://"
#: `OWNER/NAME`, as the Hub spells dataset ids (a local path wins when one exists).
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".zip", ".mp4")


@dataclass(frozen=True)
class HubRef:
    """A dataset on the Hub: repository, optional revision and optional path inside it."""

    repo_id: str
    path: str | None = None
    revision: str | None = None

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{HF_SCHEME}datasets/{self.repo_id}{rev}" + (f"/{self.path}" if self.path else "")


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
    detail = first_line(exc)
    return HubError(
        f"{repo_id}: download from {endpoint} failed" + (f" (HTTP {status})" if status else "") + f": {detail}"
    )


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (its type's name when it has none)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


@contextlib.contextmanager
def hub_errors(repo_id: str) -> Iterator[str]:
    """Yield the endpoint; turn every huggingface_hub / transport failure inside into one `HubError`."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    endpoint = constants.ENDPOINT
    try:
        yield endpoint
    except (HfHubHTTPError, *transport_errors(), ValueError) as exc:  # OSError covers offline/cache misses
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

    with hub_errors(repo_id) as endpoint:
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
    with hub_errors(repo_id) as endpoint:
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


def commit_of(snapshot_dir: Path) -> str:
    """The commit a cache snapshot folder holds."""
    return snapshot_dir.name  # huggingface_hub names snapshot folders by commit hash


def repo_files(snapshot_dir: Path, patterns: Iterable[str], repo_id: str, commit: str) -> list[str]:
    """Repository files matching `patterns`: listed on the Hub, or (offline) the ones in the cache."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import filter_repo_objects

    if constants.HF_HUB_OFFLINE:
        names = [p.relative_to(snapshot_dir).as_posix() for p in snapshot_dir.rglob("*") if p.is_file()]
    else:
        with hub_errors(repo_id) as endpoint:
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


def transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the Hub call failed". `HfHubHTTPError`, `requests`' errors and offline mode are
    OSErrors; the HTTP client's own connection errors (httpx2 in huggingface_hub 2.x, httpx in 1.x) are not."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(module).HTTPError)
    return tuple(errors)


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence `datasets`' own tqdm bars (the CLI shows one rich status line instead)."""
    import datasets

    was_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
