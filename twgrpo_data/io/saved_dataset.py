"""Folders written by `datasets`' `save_to_disk` (one dataset or a `DatasetDict`), read so that a received folder
cannot make twgrpo read files outside it (issue 31)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, TwgrpoError
from .json_text import parse_json, read_text


def is_saved_dataset(path: Path) -> bool:
    """A folder written by `datasets`' `save_to_disk` (one dataset or a `DatasetDict`)."""
    return path.is_dir() and any((path / n).is_file() for n in ("dataset_info.json", "dataset_dict.json", "state.json"))


def saved_dataset_columns(path: Path) -> set[str]:
    """Column names of a `save_to_disk` folder (of its first split); empty when it is not one."""
    if not is_saved_dataset(path):
        return set()
    from datasets import DatasetDict

    ds = _load_named(path)
    ds = next(iter(ds.values())) if isinstance(ds, DatasetDict) else ds
    return set(ds.column_names)


def read_saved_rows(path: Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a `save_to_disk` folder (a Hub dataset saved locally, e.g. lmms-lab's Video-MME);
    a `DatasetDict` gives `split`, or its only split."""
    from datasets import DatasetDict

    ds = _load_named(path)
    if isinstance(ds, DatasetDict):
        if split is None and len(ds) != 1:
            raise InputFormatError(f"{path}: dataset has splits {list(ds)}; choose one")
        ds = ds[split or next(iter(ds))]
    return ds.to_list()


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


def _load_named(path: Path):
    """`load_saved_dataset`, whose failures name the folder (`datasets`' errors name no file)."""
    try:
        return load_saved_dataset(path)
    except TwgrpoError:
        raise
    except Exception as exc:
        raise InputFormatError(f"{path}: unreadable save_to_disk folder ({exc})") from None


def _json_field(path: Path, key: str) -> list:
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
