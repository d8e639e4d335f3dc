"""Publishing records to the Hugging Face Hub (`twgrpo publish`): the records read through the one input door,
checked (no local path of this machine, each source's licence), written in the Hub layout with a rendered card
(`twgrpo_data.hub.layout`) and uploaded in ONE commit (`twgrpo_data.hub.push`).

`push_to_hub` followed by a card upload would need two commits — a failure between them would leave a repository
whose README describes other data — and it would regenerate the card from whatever README the repository already
holds. With one commit the Hub either has the whole new version or is unchanged, and a dry run writes exactly the
files the push would send.

Example:
    >>> result = publish("qai.jsonl", "me/nextgqa-qai", dry_run=True, out="hub_preview")  # doctest: +SKIP
    >>> result.files[0]                                                                     # doctest: +SKIP
    ('README.md', 23145)
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LicenceError, TwgrpoError
from ..io.saved_dataset import is_saved_dataset, load_saved_dataset
from ..record import Record
from ..sources import open_input, resolve_source
from . import cards
from .layout import Status, no_status, write_hub_folder
from .local_paths import check_no_local_paths
from .push import PushResult, check_repo_id, hub_token, push_folder

DEFAULT_SPLIT = "train"
PREVIEW_ROOT = "hub_preview"
# Split names `datasets` accepts (the pattern of `datasets.naming._split_re`).
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


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


def load_splits(path: str | os.PathLike, split: str | None = None) -> dict[str, list[Record]]:
    """Read `path` (any input `twgrpo_data.sources.open_input` takes) as split name → records.

    An HF `save_to_disk` folder holding several splits gives all of them unless `split` picks one; any
    other input becomes the one split `split` (default "train").
    """
    if split is not None and not _SPLIT_NAME.match(split):
        raise TwgrpoError(f"split name {split!r} must be letters, digits and '_' (e.g. train, validation)")
    source = resolve_source(path)  # a Hub dataset (OWNER/NAME, hf://datasets/…) → its files in the cache
    if split is None and is_saved_dataset(source.path):
        from datasets import DatasetDict

        stored = load_saved_dataset(source.path)
        if isinstance(stored, DatasetDict):
            return {name: open_input(source, split=name).raise_or_skip(False).records for name in stored}
    records = open_input(source, split=split).raise_or_skip(False).records
    if not records:
        raise TwgrpoError(f"{source.path}: no records to publish")
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
    status: Status = no_status,
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
