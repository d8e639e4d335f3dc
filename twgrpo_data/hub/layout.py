"""A local folder in the Hub layout that `Dataset.push_to_hub` produces: `data/<split>-00000-of-0000N.parquet`
shards with the typed features of `twgrpo_data.io.arrow.hf_features()` (`meta` as a struct when one holds every
record's `meta` exactly) and a `README.md` — the rendered dataset card — whose YAML holds `configs` and
`dataset_info`. A dry run writes exactly the files a push sends."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TwgrpoError
from ..io.arrow import hub_tables, to_hf_dataset
from ..outputs import atomic_path, is_replaceable_folder
from ..record import Record
from . import cards
from .download import quiet_datasets

DATA_DIR = "data"
CARD_FILE = "README.md"

#: `status("writing parquet shards")` → a context manager shown while that step runs (the CLI's status line).
Status = Callable[[str], contextlib.AbstractContextManager]


def no_status(message: str) -> contextlib.AbstractContextManager:
    """A `Status` that shows nothing."""
    return contextlib.nullcontext()


@dataclass(frozen=True)
class HubFolder:
    """A local folder in the Hub layout: exactly what a push uploads."""

    root: Path
    files: list[str]
    splits: dict[str, int]
    template: str

    def sizes(self) -> list[tuple[str, int]]:
        return [(f, (self.root / f).stat().st_size) for f in self.files]


def to_dataset_dict(splits: Mapping[str, Sequence[Record]]):
    """Split name → records as a `datasets.DatasetDict` with `hf_features()`; `meta` is a struct the Dataset
    Viewer can filter whenever one stores every split's `meta` exactly (`twgrpo_data.io.meta_column`), else JSON."""
    from datasets import DatasetDict

    tables, meta = hub_tables(splits)
    return DatasetDict({name: to_hf_dataset(splits[name], meta, table=table) for name, table in tables.items()})


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
    status: Status = no_status,
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
    with atomic_path(out, directory=True) as tmp, quiet_datasets():
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
