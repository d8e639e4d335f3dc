"""A training run's output folder: which checkpoint is complete (and which a kill cut off, set aside), loading a
checkpoint's weights through the model's key conversion, the record of the run's settings and the checks
`--resume` and a reused output folder go through."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from twgrpo_data.errors import TwgrpoError

from .config import DEPRECATED_KEYS, TWGRPOConfig, compared_on_resume


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a saved model folder (one file, or the shards its index names)."""
    from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME

    if (folder / SAFE_WEIGHTS_NAME).is_file():
        return [folder / SAFE_WEIGHTS_NAME]
    index = folder / SAFE_WEIGHTS_INDEX_NAME
    if index.is_file():
        shards = json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()
        return [folder / name for name in sorted(set(shards))]
    return []


def load_checkpoint_weights(model: torch.nn.Module, folder: Path) -> None:
    """Load a checkpoint's weights into `model` through the model's own key conversion.

    transformers saves Qwen2.5-VL under its legacy names (`model.layers…`, `visual…`) and renames them on
    `from_pretrained`; this applies the same renaming. A key that is still missing (other than a weight
    tied to a loaded one) or unexpected is an error: resuming from partly loaded weights would train the
    base model silently.
    """
    from safetensors.torch import load_file
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    expected = model.state_dict()
    state = {}
    for file in weight_files(folder):
        for key, tensor in load_file(str(file), device="cpu").items():
            name, converter = rename_source_key(key, renamings, converters, model.base_model_prefix, expected)
            if converter is not None:
                raise TwgrpoError(
                    f"{folder}: weight {key} needs a conversion resuming cannot apply; "
                    "start a new run from this checkpoint as model="
                )
            state[name] = tensor
    result = model.load_state_dict(state, strict=False)
    loaded = {expected[k].data_ptr() for k in state if k in expected}
    missing = [k for k in result.missing_keys if expected[k].data_ptr() not in loaded]
    if missing or result.unexpected_keys:
        parts = [
            f"{len(missing)} missing (first {missing[0]})" if missing else "",
            f"{len(result.unexpected_keys)} unexpected (first {result.unexpected_keys[0]})"
            if result.unexpected_keys
            else "",
        ]
        raise TwgrpoError(f"{folder}: checkpoint weights do not match the model: " + ", ".join(p for p in parts if p))


def _cut_off(path: Path) -> bool:
    """Whether a checkpoint file is shorter than its own structure says (a kill or a full disk mid-write).

    Reads only the ends that describe the file: a `torch.save` zip's central directory (at its end, so a cut
    file has none) and a safetensors header (its byte ranges must reach the file's length exactly).
    """
    import zipfile

    try:
        if path.suffix == ".safetensors":
            size = path.stat().st_size
            with path.open("rb") as f:
                head = f.read(8)
                if len(head) < 8:
                    return True
                header = json.loads(f.read(int.from_bytes(head, "little")))
            end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
            return size != 8 + int.from_bytes(head, "little") + end
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
            return False
        with zipfile.ZipFile(path) as archive:
            last = max(archive.infolist(), key=lambda i: i.header_offset, default=None)
            return last is not None and last.header_offset + last.compress_size > path.stat().st_size
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, UnicodeDecodeError):
        return True


def _optimizer_files(folder: Path, world_size: int) -> list[Path] | str:
    """The optimizer-state files of a checkpoint in any layout the Trainer writes, or what is missing.

    Plain/DDP: `optimizer.pt`. DeepSpeed: `latest` names `global_stepN/`, which holds every rank's
    `zero_pp_rank_R_mp_rank_00_optim_states.pt` and the model states (`mp_rank_00_model_states.pt`, or one per
    rank under ZeRO-3). FSDP (accelerate's names): `optimizer.bin` (full state), the sharded folder
    `optimizer_0/` (a `.metadata` index) or `optimizer_0_rankR.bin` per rank (FSDP1's local state).
    """
    if (folder / "optimizer.pt").is_file():
        return [folder / "optimizer.pt"]
    if (folder / "optimizer.bin").is_file():
        return [folder / "optimizer.bin"]
    if (folder / "optimizer_0").is_dir():
        index = folder / "optimizer_0" / ".metadata"
        return [index] if index.is_file() else "optimizer_0/.metadata"
    if (folder / "optimizer_0_rank0.bin").is_file():  # FSDP1 LOCAL_STATE_DICT: one file per rank
        return [folder / f"optimizer_0_rank{r}.bin" for r in range(world_size)]
    if (folder / "latest").is_file():
        tag = (folder / "latest").read_text(encoding="utf-8").strip()
        states = folder / tag
        optim = [states / f"zero_pp_rank_{r}_mp_rank_00_optim_states.pt" for r in range(world_size)]
        model = [states / "mp_rank_00_model_states.pt"]
        if not model[0].is_file():
            model = [states / f"zero_pp_rank_{r}_mp_rank_00_model_states.pt" for r in range(world_size)]
        missing = [p for p in optim + model if not p.is_file()]
        return f"{tag}/{missing[0].name}" if missing else optim + model
    return "optimizer state (optimizer.pt, or DeepSpeed's / FSDP's own)"


def _model_files(folder: Path) -> list[Path]:
    """The checkpoint's model weights: safetensors (the Trainer's save) or FSDP's own files."""
    files = weight_files(folder)
    if not files and (folder / "pytorch_model_fsdp.bin").is_file():
        files = [folder / "pytorch_model_fsdp.bin"]
    if not files and (folder / "pytorch_model_fsdp_0" / ".metadata").is_file():
        files = [folder / "pytorch_model_fsdp_0" / ".metadata"]
    if not files and (folder / "pytorch_model_fsdp_rank0.bin").is_file():  # FSDP1 LOCAL_STATE_DICT
        files = sorted(folder.glob("pytorch_model_fsdp_rank*.bin"))
    return files


def checkpoint_problem(folder: Path, world_size: int = 1) -> str | None:
    """Why a checkpoint cannot continue its run exactly, or None when everything it needs is there and whole.

    `Trainer` writes the model, then optimizer and scheduler, then each process's RNG state, and
    `trainer_state.json` last: without a readable `trainer_state.json` the save did not finish. A finished save
    may still lack a file (`save_only_model`, a file deleted by hand) or hold one cut short (a full disk).
    """
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json"
    if _cut_off(state):
        return "trainer_state.json is cut off"
    weights = _model_files(folder)
    if not weights:
        return "no model weights"
    optimizer = _optimizer_files(folder, world_size)
    if isinstance(optimizer, str):
        return f"no {optimizer}"
    rng = [folder / "rng_state.pth"] if world_size <= 1 else [folder / f"rng_state_{r}.pth" for r in range(world_size)]
    for path in [*weights, *optimizer, folder / "scheduler.pt", *rng]:
        if not path.is_file():
            return f"no {path.relative_to(folder)}"
        if path.name != ".metadata" and _cut_off(path):
            return f"{path.relative_to(folder)} is cut off"
    return None


def _set_aside(folder: Path) -> Path:
    """Rename a damaged checkpoint out of the Trainer's way (`checkpoint-N.damaged`, numbered if taken)."""
    target, n = folder.with_name(folder.name + ".damaged"), 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{folder.name}.damaged-{n}")
    folder.rename(target)
    return target


def _checkpoints(out: Path) -> list[Path]:
    """The `checkpoint-N` folders of a run, newest first."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    pattern = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
    found = [(int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := pattern.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def last_complete_checkpoint(out: Path, note=print, world_size: int = 1) -> Path | None:
    """The newest `checkpoint-N` in `out` that can continue the run exactly.

    Newer checkpoints that cannot (torn by a kill, a file missing or cut short) are renamed aside to
    `checkpoint-N.damaged` — never deleted — with a one-line note each, by the main process only. When no
    checkpoint is intact nothing is renamed and None is returned.
    """
    folders = _checkpoints(out) if out.is_dir() else []
    problems = [(folder, checkpoint_problem(folder, world_size)) for folder in folders]
    intact = next((i for i, (_, problem) in enumerate(problems) if problem is None), None)
    if intact is None:
        return None
    for folder, problem in problems[:intact]:
        if int(os.environ.get("RANK", "0")) == 0:
            aside = _set_aside(folder)
            note(
                f"note: {folder.name} is incomplete ({problem}; killed while saving?): moved to {aside.name}, "
                f"resuming from {problems[intact][0].name}"
            )
    return problems[intact][0]


def run_record(config: TWGRPOConfig) -> dict[str, Any]:
    """Every setting of the run as saved in `twgrpo_config.json`, plus the world size."""
    return {**json.loads(config.to_json_string()), "world_size": config.world_size}


def _earlier_record(saved: dict[str, Any]) -> dict[str, Any]:
    """A `twgrpo_config.json` of an earlier version in today's terms (renamed settings, the paper's alpha)."""
    old = dict(saved)
    for before, after in DEPRECATED_KEYS.items():  # runs written before the rename
        if before in old:
            old[after] = old.pop(before)
    if old.get("weight_mapping") == "reference":  # alpha was the maximum weight 1 + α then
        old.pop("weight_mapping")
        if old.get("alpha"):
            old["alpha"] = round(old["alpha"] - 1.0, 12)
    return old


def check_output_dir(out: Path, config: TWGRPOConfig, resume: bool, note=print) -> Path | None:
    """A fresh run never overwrites an earlier one; a resumed run must continue the same run.

    Returns the checkpoint to resume from (None for a fresh run). A fresh run may start over a run that
    stopped before its first complete checkpoint (its torn checkpoints are moved aside, saying so).
    """
    world = config.world_size
    if not resume:
        folders = _checkpoints(out) if out.is_dir() else []
        started = bool(folders) or (out / config.metrics_file).exists()
        if not started:
            return None
        intact = next((f for f in folders if checkpoint_problem(f, world) is None), None)
        if intact is not None or weight_files(out):
            held = intact.name if intact is not None else "a finished model"
            raise TwgrpoError(
                f"{out}: holds an earlier run ({held}); pass --resume to continue it, or give another -o DIR"
            )
        moved = [_set_aside(f).name for f in folders] if int(os.environ.get("RANK", "0")) == 0 else []
        note(
            f"note: {out} holds a run stopped before its first complete checkpoint: starting it over"
            + (f" (moved aside: {', '.join(moved)})" if moved else "")
        )
        return None
    checkpoint = last_complete_checkpoint(out, note=note, world_size=world)
    if checkpoint is None:
        folders = _checkpoints(out) if out.is_dir() else []
        if folders and not (problem := checkpoint_problem(folders[0], world)).startswith("no trainer_state"):
            raise TwgrpoError(
                f"{folders[0]}: cannot continue this run exactly: {problem}"
                + (" (saved with save_only_model?)" if "optimizer" in problem else "")
            )
        raise TwgrpoError(
            f"{out}: no checkpoint to resume from (the run stopped before its first complete save); "
            "run the same command without --resume to start it over"
        )
    saved = out / "twgrpo_config.json"
    if saved.is_file():
        old, new = _earlier_record(json.loads(saved.read_text(encoding="utf-8"))), run_record(config)
        changed = [f"{k}: {old[k]!r} → {new.get(k)!r}" for k in old if compared_on_resume(k) and old[k] != new.get(k)]
        if changed:
            raise TwgrpoError(
                f"{out}: cannot resume with other settings ({'; '.join(changed)}); restore them or "
                "use another output_dir"
            )
    return checkpoint


def finished_step(checkpoint: Path, config: TWGRPOConfig) -> int | None:
    """The step a finished run stopped at, when `checkpoint` already reached the run's end; else None."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    target = config.max_steps if config.max_steps > 0 else state.get("max_steps", 0)
    return state["global_step"] if target and state["global_step"] >= target else None
