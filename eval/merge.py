"""`twgrpo eval merge`: the N shard runs of one evaluation (`--shard K/N`) → one run folder.

Each machine (a Slurm array task, say) evaluates a deterministic 1/N of the records (`--shard K/N`, split by
a hash of the id); merging checks that the shards measured the same thing (every protocol setting and the
data fingerprint agree, each of 1..N is there once, no item is in two shards) and that together they hold
exactly the selection: each shard's `samples.jsonl` has every item its run selected (a copy cut short on the
way from a cluster node does not pass as complete), and — when the data file is readable here with the same
fingerprint — the merged ids are exactly the records the N shards select. It writes one run whose
`results.json` equals an unsharded run's apart from timings: the metrics do not depend on item order, and
`samples.jsonl` is written in the data file's record order when the file can be read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError, TwgrpoError
from twgrpo_data.outputs import atomic_write_json, atomic_write_text, resolve_run_folder
from twgrpo_data.record import Record

from .config import shard_of
from .inputs import in_shard, load_eval_records, records_fingerprint
from .run_folder import CONFIG, PROMPTS, PROTOCOL_KEYS, RESULTS, SAMPLES, read_samples, write_results


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFormatError(f"{path.parent}: no {path.name} (not a finished twgrpo eval run folder)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path}: invalid JSON ({exc.msg})") from None


def _data_records(config: dict[str, Any]) -> list[Record] | None:
    """The records of the data file the shards read, when it is readable here and its content is the one they
    evaluated (same fingerprint); else None."""
    try:
        records, _ = load_eval_records(config["bench"], config["data"])
    except (TwgrpoError, OSError, KeyError):
        return None
    return records if records_fingerprint(records) == config.get("data_fingerprint") else None


def _selection(records: Sequence[Record], config: dict[str, Any], n: int) -> list[str]:
    """The ids the N shard runs select from `records`: each shard's part, then its --limit."""
    limit = config.get("limit")
    ids: list[str] = []
    for k in range(1, n + 1):
        part = [r.id for r in records if in_shard(r.id, k, n)]
        ids += part[:limit] if limit is not None else part
    return ids


def _missing(expected: Sequence[str], found: Iterable[str]) -> str | None:
    """'3 of 30 selected items are missing (e.g. 'q7', 'q9', 'q12')', or None when none is."""
    gone = [i for i in expected if i not in set(found)]
    if not gone:
        return None
    shown = ", ".join(repr(i) for i in gone[:5]) + (", …" if len(gone) > 5 else "")
    return f"{len(gone)} of {len(expected)} selected item(s) are missing ({shown})"


def merge_runs(shards: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Merge shard run folders into `out` (a new or empty folder); returns the merged results."""
    folders = [Path(s) for s in shards]
    out = Path(out)
    if (out / CONFIG).exists() or (out / SAMPLES).exists():
        raise TwgrpoError(f"{out} already holds a run; merge into a new --out")
    out = resolve_run_folder(out, "merged eval run", inputs=folders, option="--out")
    configs = [_read_json(f / CONFIG) for f in folders]
    results = [_read_json(f / RESULTS) for f in folders]
    parts = _shard_parts(folders, configs)
    _check_alike_and_complete(folders, configs, results)
    lines = _shard_lines(folders, parts, results)
    n, first = parts[0][1], configs[0]
    records = _data_records(first)
    if records is not None:
        problem = _missing(_selection(records, first, n), lines)
        if problem is not None:
            raise TwgrpoError(f"the shards are incomplete: {problem}; re-run those shards' commands to finish them")
        order = {r.id: i for i, r in enumerate(records)}
        ids = sorted(lines, key=lambda i: order.get(i, len(order)))
    else:
        ids = list(lines)
    selected = sum(r["run"]["selected"] for r in results)
    complete = len(ids) == selected and (records is None or set(ids) == set(_selection(records, first, n)))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SAMPLES, "".join(json.dumps(lines[i], ensure_ascii=False) + "\n" for i in ids))
    merged_at = _write_config_and_prompts(out, folders, configs)
    run = results[0]["run"]
    run_info = {
        **{key: run[key] for key in ("bench", "model", "backend", "prompt", "parser")},
        "selected": selected,
        "complete": complete,
        "session": {"merged_at": merged_at, "shards": n},
    }
    return write_results(out, first["parser"], run_info)


def _shard_parts(folders: Sequence[Path], configs: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """Each run's `(K, N)`, checked to be the N shards of one split, each once."""
    parts = []
    for folder, config in zip(folders, configs):
        part = shard_of(config.get("shard"))
        if part is None:
            raise TwgrpoError(f"{folder}: not a shard run (no --shard K/N in its config.json)")
        parts.append(part)
    n = parts[0][1]
    if any(total != n for _, total in parts):
        raise TwgrpoError(f"the runs are shards of different splits: {sorted({p[1] for p in parts})} parts")
    ks = sorted(k for k, _ in parts)
    if ks != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(ks))
        dup = sorted({k for k in ks if ks.count(k) > 1})
        raise TwgrpoError(
            f"need each of the {n} shards exactly once"
            + (f"; missing {missing}" if missing else "")
            + (f"; given twice {dup}" if dup else "")
        )
    return parts


def _check_alike_and_complete(
    folders: Sequence[Path], configs: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]
) -> None:
    """Every shard measured what the first did (each protocol setting but the shard) and finished its run."""
    first = configs[0]
    for folder, config in zip(folders[1:], configs[1:]):
        diffs = [k for k in PROTOCOL_KEYS if k != "shard" and config.get(k) != first.get(k)]
        if diffs:
            raise TwgrpoError(f"{folder} measured something else than {folders[0]} ({', '.join(diffs)} differ)")
    for folder, res in zip(folders, results):
        if not res.get("run", {}).get("complete"):
            raise TwgrpoError(f"{folder}: the shard run is incomplete; re-run its command to finish it first")


def _shard_lines(
    folders: Sequence[Path], parts: Sequence[tuple[int, int]], results: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`id → samples.jsonl line` of all shards, each shard's lines checked to be its own and all it selected."""
    lines: dict[str, dict[str, Any]] = {}
    for folder, (k, n), res in zip(folders, parts, results):
        rows = read_samples(folder / SAMPLES)
        outside = next((i for i in rows if not in_shard(i, k, n)), None)
        if outside is not None:
            raise TwgrpoError(f"{folder}: item {outside!r} does not belong to shard {k}/{n}")
        if len(rows) != res["run"].get("selected"):
            raise TwgrpoError(
                f"{folder}: samples.jsonl holds {len(rows)} item(s) but the run selected {res['run'].get('selected')} "
                "(a copy cut short?); copy the folder again or re-run its command to finish it"
            )
        for item_id, row in rows.items():
            if item_id in lines:
                raise TwgrpoError(f"item {item_id!r} is in two shards (the second: {folder})")
            lines[item_id] = row
    return lines


def _write_config_and_prompts(out: Path, folders: Sequence[Path], configs: Sequence[dict[str, Any]]) -> str:
    """The merged run's prompts.json (every shard's templates) and config.json (the first shard's settings, one
    session naming the shards and keeping theirs); returns when it was merged."""
    prompts: dict[str, Any] = {}
    for folder in folders:
        if (folder / PROMPTS).is_file():
            prompts.update(_read_json(folder / PROMPTS))
    if prompts:
        atomic_write_json(out / PROMPTS, prompts)
    merged_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    config_doc = {
        **configs[0],
        "shard": None,
        "out": str(out),
        "sessions": [
            {
                "merged_at": merged_at,
                "merged_from": [str(f) for f in folders],
                "shard_sessions": {c["shard"]: c.get("sessions", []) for c in configs},
            }
        ],
    }
    atomic_write_json(out / CONFIG, config_doc)
    return merged_at
