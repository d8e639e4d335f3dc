"""What a run folder's files hold, checked where they are read (issue 31): run folders are shared, so a received
one may be damaged or crafted, and a string where a number belongs must stop `eval report` / `eval compare` with
one line naming the file and field — not somewhere inside a page or a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twgrpo_data.errors import InputFormatError

from .run_folder import CONFIG, RESULTS

# What a run's files hold where the page reads them (a received folder may be damaged or crafted): "number" is
# an int or float (not a bool), "[number]" a list of them, "[text]" a list of strings; None is always allowed.
_SAMPLE_FIELDS = {
    "strict": "number",
    "soft": "number",
    "question": "text",
    "options": "[text]",
    "gold": "[text]",
    "parsed": "text",
    "output": "text",
    "error": "text",
    "category": "text",
    "video": "text",
    "frame_indices": "[number]",
    "frame_timestamps": "[number]",
}


def sample_problem(row: dict[str, Any]) -> str | None:
    """`field 'x': why` when a samples.jsonl line has a field of another type than the runner writes, or None."""
    for key, kind in _SAMPLE_FIELDS.items():
        problem = _type_problem(row.get(key), kind)
        if problem:
            return f"field {key!r}: {problem}"
    return None


_METRIC_FIELDS = {
    "n": "number",
    "accuracy": "number",
    "soft_accuracy": "number",
    "accuracy_ci95": "[number]",
    "soft_accuracy_ci95": "[number]",
    "n_failed": "number",
    "format_rate": "number",
    "mean_output_chars": "number",
}


def _type_problem(value: Any, kind: str) -> str | None:
    """Why `value` is not of `kind` ("number", "text", "object", or a list of one: "[number]"…), or None."""
    if value is None:
        return None

    def is_number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    checks = {
        "number": (is_number, "a number"),
        "text": (lambda v: isinstance(v, str), "text"),
        "object": (lambda v: isinstance(v, dict), "an object"),
        "[number]": (lambda v: isinstance(v, list) and all(is_number(x) for x in v), "a list of numbers"),
        "[text]": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
        "[object]": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list of objects"),
    }
    ok, what = checks[kind]
    return None if ok(value) else f"{json.dumps(value)[:60]} is not {what}"


def check_run_files(folder: Path, results: Any, settings: Any) -> None:
    """Refuse (one line naming the file and field) a run whose results.json or config.json does not have the
    shape the runner writes — a string where a number belongs, a list where an object does — instead of
    failing somewhere inside a page or a table."""
    results_path, config_path = folder / RESULTS, folder / CONFIG
    for path, doc in ((results_path, results), (config_path, settings)):
        if not isinstance(doc, dict):
            raise InputFormatError(f"{path}: not a JSON object")
    categories = results.get("by_category")
    blocks = {"": results, "single": results.get("single"), "multi": results.get("multi")}
    if isinstance(categories, dict):
        blocks.update({f"by_category.{c}": b for c, b in categories.items()})
    checks = [
        (results_path, "run", results.get("run"), "object"),
        (results_path, "by_category", categories, "object"),
        (config_path, "video_sampling", settings.get("video_sampling"), "object"),
        (config_path, "sessions", settings.get("sessions"), "[object]"),
    ]
    for where, block in blocks.items():
        checks.append((results_path, where or "(top)", block, "object"))
        if isinstance(block, dict):
            checks += [(results_path, f"{where}.{k}".lstrip("."), block.get(k), t) for k, t in _METRIC_FIELDS.items()]
    for path, field_name, value, kind in checks:
        problem = _type_problem(value, kind)
        if problem:
            raise InputFormatError(f"{path}: field {field_name!r}: {problem}")
