"""The run folder of `twgrpo eval` (DESIGN §6): its files, how a session claims it, resumes it and writes it.

    config.json     every setting used (resolved prompt style and parser included, at the top level), the
                    prompt template and its hash, the video sampling arguments, the model path, seed, a content
                    fingerprint of the data and, per session (start, resume), the package versions and the
                    backend's own settings. Secrets are `"<redacted>"`; the raw argument list is not kept.
    prompts.json    the full prompt template (system message + user template) once per distinct template
    samples.jsonl   one line per answered item, appended and flushed (fsync) after every batch: id, question,
                    options, gold, prompt_hash, frame_indices, frame_timestamps, output (raw), parsed, strict,
                    soft, format, error, category, plus video, frames, fps, usage, seconds
    results.json    `twgrpo_data.metrics.summarize` of `samples.jsonl` — computed by re-scoring the file
                    itself, so `twgrpo eval rescore RUN/samples.jsonl` reproduces it exactly
    .lock           held while a run writes the folder: a second run on the same folder stops at once

A folder without config.json that holds files is someone else's and is refused; a start that fails before the
model loaded leaves the folder as it was (a folder it created is removed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import platform
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from twgrpo_data import installed_version
from twgrpo_data.errors import InputFormatError, OutputPathError, TwgrpoError
from twgrpo_data.io.json_text import read_jsonl
from twgrpo_data.io.jsonl_log import append_jsonl, cut_torn_tail
from twgrpo_data.outputs import LOCK, acquire_folder_lock, atomic_write_json

from .backends import VLLM_DISTRIBUTIONS
from .protocol import OFFICIAL_PARSER
from .rescore import rescore_log

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
CONFIG = "config.json"
PROMPTS = "prompts.json"
# Settings that define what a run measures: resuming into a folder whose config differs in one of them
# would mix two protocols in one samples.jsonl, so it is refused. The data is compared by content
# (`data_fingerprint`), not by path; the prompt by its template's hash, so an edited template is a new
# protocol. (Batch size, workers, limit, video root, secrets and engine options only change how fast, or how
# much, is evaluated.)
PROTOCOL_KEYS = (
    "bench",
    "model",
    "backend",
    "protocol",
    "data_fingerprint",
    "prompt",
    "prompt_template_hash",
    "parser",
    "frames",
    "sample_fps",
    "model_fps",
    "min_pixels",
    "max_pixels",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
    "shard",
    "allow_text_only",
    "subtitles",
    "judge_model",
)
# What a folder written before a protocol key existed measured for it (so it still resumes).
PROTOCOL_KEY_DEFAULTS = {"subtitles": False}
# package → its distribution names
VERSION_PACKAGES = {name: (name,) for name in ("twgrpo", "torch", "transformers", "openai", "decord", "av", "numpy")}
VERSION_PACKAGES["vllm"] = VLLM_DISTRIBUTIONS


class RunFolder:
    """A run folder claimed by one session: created if needed and locked (`.lock`) until `release`.

    Until `written` is set (config.json is on disk), a failure puts the folder back as it was: a folder this
    session created is removed, a `.lock` it made is deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        self.had_lock = (path / LOCK).exists()
        self.lock = acquire_folder_lock(path, "twgrpo eval", "--out")
        self.written = False

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    def release(self) -> None:
        self.lock.release()

    def abandon(self) -> None:
        """Release the folder after a failure, leaving it as it was when nothing of this session was written."""
        if not self.written and not self.had_lock:  # a refused --out (someone's folder) keeps no .lock of ours;
            (self.path / LOCK).unlink(missing_ok=True)  # removed while still held, so no other run holds this file
        self.lock.release()
        if self.created and not self.written:
            shutil.rmtree(self.path, ignore_errors=True)  # nothing of this run is in it: leave no folder behind

    @classmethod
    @contextlib.contextmanager
    def claim(cls, path: Path) -> Iterator[RunFolder]:
        """`with RunFolder.claim(out) as folder:` — the folder stays locked after the block unless it raised
        (then it is abandoned); the caller releases it once the results are written."""
        folder = cls(path)
        try:
            yield folder
        except BaseException:
            folder.abandon()
            raise


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that change numbers, for config.json."""
    return {
        "python": platform.python_version(),
        **{name: installed_version(*dists) for name, dists in VERSION_PACKAGES.items()},
    }


def read_samples(path: Path) -> dict[str, dict[str, Any]]:
    """The last line per id of a run's samples.jsonl. A final line cut short by a kill is removed first."""
    if not path.exists():
        return {}
    cut_torn_tail(path)
    return {str(row.get("id")): row for row in read_jsonl(path)}


def check_resumable(out: Path, protocol: dict[str, Any]) -> dict[str, Any] | None:
    """The existing config.json of `out`, after checking it measured the same thing as `protocol`."""
    config_path = out / CONFIG
    if not config_path.exists():
        # A run writes config.json before anything else it keeps, so a folder without one holds someone
        # else's files: they are never mixed with (or mistaken for) a run.
        foreign = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if foreign:
            raise OutputPathError(
                f"--out {out}: holds files that are not a twgrpo run ({', '.join(foreign[:3])}"
                f"{', …' if len(foreign) > 3 else ''}); choose another --out"
            )
        return None
    try:
        old = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{config_path}: invalid JSON ({exc.msg})") from None
    diffs = [
        f"{k}: {old.get(k)!r} → {protocol[k]!r}"
        for k in PROTOCOL_KEYS
        if old.get(k, PROTOCOL_KEY_DEFAULTS.get(k)) != protocol[k]
    ]
    if diffs:
        raise TwgrpoError(
            f"{out} holds a run with other settings ({'; '.join(diffs)}){_why_different(old, protocol)}; resume it "
            "with the same settings or pass a new --out"
        )
    return old


def _why_different(old: dict[str, Any], protocol: dict[str, Any]) -> str:
    why = ""
    if old.get("data_fingerprint") != protocol["data_fingerprint"]:
        why = " — the data's content changed (e.g. corrected gold answers); its old answers would be kept"
    elif old.get("prompt_template_hash") != protocol["prompt_template_hash"]:
        why = " — the prompt template changed; resuming would mix two prompts"
    missing = [k for k in PROTOCOL_KEYS if k not in old and k not in PROTOCOL_KEY_DEFAULTS]
    if missing:
        why += f" (the folder was written by an older twgrpo that did not record {', '.join(missing)})"
    return why


def samples_of(path: Path) -> Path:
    """What `eval rescore` reads for `path`: a run folder's samples.jsonl; a run's results.json or config.json is
    refused with the file to pass instead (they hold numbers and settings, not the outputs)."""
    if path.is_dir():
        if not (path / SAMPLES).is_file():
            raise TwgrpoError(f"{path}: a folder without {SAMPLES} (not a twgrpo eval run folder)")
        return path / SAMPLES
    if path.name in (RESULTS, CONFIG) and (path.parent / SAMPLES).is_file():
        raise TwgrpoError(
            f"{path}: holds a run's {'scores' if path.name == RESULTS else 'settings'}, not its outputs; pass "
            f"{path.parent / SAMPLES} (or the run folder {path.parent})"
        )
    if path.name in (RESULTS, CONFIG):
        raise TwgrpoError(f"{path}: a run's {path.name}, not a log of outputs; pass the run's {SAMPLES}")
    return path


def default_out(bench: str, model: str) -> Path:
    """`runs/BENCH-MODELNAME`: the same command always maps to the same folder, so re-running resumes."""
    name = Path(model.rstrip("/")).name or "model"
    return Path("runs") / f"{bench}-{name}"


def model_path(model: str) -> str:
    """A local model as its absolute path (what config.json records); a Hub id as it is."""
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else model


def append_lines(path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """A writer that appends lines to samples.jsonl in one write and makes them durable (`append_jsonl`)."""
    return functools.partial(append_jsonl, path)


def write_results(out: Path, parser: str, run_info: dict[str, Any]) -> dict[str, Any]:
    """results.json = `run_info` + the re-score of samples.jsonl (the very numbers `twgrpo eval rescore` gives;
    an official protocol's run is re-scored by its benchmark's scorer, named in config.json). A run with no
    samples — an empty shard — has zero items."""
    from twgrpo_data.metrics import summarize

    if not (out / SAMPLES).is_file() or not (out / SAMPLES).stat().st_size:
        summary = {"parser": parser, **summarize([])}
    else:
        summary = rescore_log(out / SAMPLES, None if parser == OFFICIAL_PARSER else parser).summary()
    # the run folder's own file, not its absolute path: a merged shard run and a single run compare equal
    results = {"run": run_info, **summary, "file": SAMPLES}
    atomic_write_json(out / RESULTS, results)
    return results


def write_prompts(out: Path, template_hash: str, style: str, template: dict[str, str | None]) -> None:
    """Add the run's template to prompts.json (`template_hash → {style, system, template}`)."""
    path = out / PROMPTS
    known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if template_hash not in known:
        known[template_hash] = {"style": style, **template}
        atomic_write_json(path, known)
