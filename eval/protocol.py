"""Evaluation protocols: what a run feeds the model, chosen with `--protocol`.

standard          (default) TW-GRPO's prompts, decoding and pixel budget, with frames done right:
                  `--frames` (16) distinct uniform frames, and the model told their real sampling rate.
twgrpo-official   an exact replica of what TW-GRPO's released evaluation scripts really fed the model,
                  accidents included (research: eval_anchors §1.4):
                  - their environment variables were set after qwen-vl-utils was imported, so they never
                    took effect: frames follow the vendored 2 fps rule (at least 4, at most 16, even
                    counts, `linspace(0, total-1, n).round()`), then — `SAMPLE_MODE` stayed "false" — are
                    re-indexed to 16 with `linspace(0, n-1, 16).long()` (truncation: frames repeat;
                    10 distinct frames on CLEVRER's 5.12 s clips);
                  - no frame rate was told to the model, so Qwen2.5-VL assumed 2.0 (we tell it 2.0,
                    which gives the same temporal positions);
                  - prompts use the data file's own `problem` and option strings verbatim (e.g. "A text"
                    lines inside CLEVRER's `problem`), not options rebuilt as "A. text".
                  Both protocols use 153,664 px per frame at most, temperature 0.1, top_p 0.001,
                  4,096 new tokens and honour the checkpoint's `generation_config` (repetition penalty,
                  top_k) in every backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twgrpo_data.prompts import SourceText

PROTOCOLS = ("standard", "twgrpo-official")
OFFICIAL = "twgrpo-official"
# The vendored qwen-vl-utils' constants as they were at import time (environment unset).
OFFICIAL_SAMPLING = {"fps": 2.0, "min_frames": 4, "max_frames": 16, "resample_to": 16}
OFFICIAL_MODEL_FPS = 2.0  # what Qwen2.5-VL assumes when no fps is passed (second_per_grid_ts = 1.0)


def source_texts(path: str | Path) -> dict[str, SourceText]:
    """`id → SourceText` (the file's own `problem` and option strings) of a unified JSON/JSONL data file.

    Records without a `problem` are left out (their prompt is rendered from the record); a native benchmark
    file that is not unified JSON gives `{}`. Ids follow the unified reader: `id`, else `problem_id`, else
    the position in the file.
    """
    p = Path(path)
    if p.suffix not in (".json", ".jsonl") or not p.is_file():
        return {}
    text = p.read_text(encoding="utf-8")
    try:
        rows: Any = json.loads(text)
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not isinstance(rows, list):
        return {}
    out = {}
    for index, raw in enumerate(rows):
        if not isinstance(raw, dict) or not isinstance(raw.get("problem"), str):
            continue
        options = raw.get("options") if isinstance(raw.get("options"), list) else []
        rid = str(raw.get("id", raw.get("problem_id", index)))
        out[rid] = SourceText(raw["problem"], tuple(str(o) for o in options))
    return out


__all__ = ["OFFICIAL", "OFFICIAL_MODEL_FPS", "OFFICIAL_SAMPLING", "PROTOCOLS", "source_texts"]
