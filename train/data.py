"""Training data: records (from `qai convert` or any loader) → TRL prompt rows for TW-GRPO.

Each row is a conversational prompt — `[{"role": "user", "content": [{"type": "video", "video": PATH},
{"type": "text", "text": PROMPT}]}]` — plus the columns the reward functions read (`answer`, the gold
letters) and bookkeeping (`id`, `options`). The video part carries the resolved file path; the trainer
samples its frames (`twgrpo_data.video`) when it builds the model inputs.

The prompt (from `twgrpo_data.prompts`, shared with evaluation) is TW-GRPO's training template (the CLEVRER multi-answer wording, used for mixed single- and
multi-answer data): the question with one "L text" line per option, then the instruction to think in
`<think>` and answer with comma-separated letters in `<answer>`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from twgrpo_data.errors import RecordError, TwgrpoError, VideoError, VideoOutsideRootError
from twgrpo_data.prompts import TRAIN_TEMPLATE, training_text
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input, resolve_source
from twgrpo_data.video import VideoRef

QUESTION_TYPES = ("mixed", "multi", "single")


def record_to_prompt_row(
    record: Record,
    *,
    template: str = TRAIN_TEMPLATE,
    system_prompt: str | None = None,
    video: str | VideoRef | None = None,
) -> dict[str, Any]:
    """One TRL row for `record`; `video` is the located video (a path, or a `VideoRef` with the clip to
    sample; None: a text-only prompt). The clip bounds travel in the video part as `video_start`,
    `video_end` and `frame_fps` (seconds, seconds, frames per second of a frame folder)."""
    ref = VideoRef(path=video) if isinstance(video, str) else video
    content: list[dict[str, Any]] = (
        [
            {
                "type": "video",
                "video": ref.path,
                "video_start": ref.start,
                "video_end": ref.end,
                "frame_fps": ref.frame_fps,
            }
        ]
        if ref
        else []
    )
    content.append({"type": "text", "text": training_text(record, template)})
    # content stays a list of parts in every turn: arrow needs one type per column
    prompt = [{"role": "system", "content": [{"type": "text", "text": system_prompt}]}] if system_prompt else []
    prompt.append({"role": "user", "content": content})
    return {"prompt": prompt, "answer": list(record.answer), "options": list(record.options), "id": record.id}


def select_records(records: Iterable[Record], question_type: str = "mixed") -> list[Record]:
    """Keep all records ("mixed"), only multi-answer ones ("multi") or only single-answer ones ("single")."""
    if question_type not in QUESTION_TYPES:
        raise TwgrpoError(f"question_type must be one of {', '.join(QUESTION_TYPES)}, got {question_type!r}")
    keep = {"mixed": lambda r: True, "multi": lambda r: r.is_multi_answer, "single": lambda r: not r.is_multi_answer}
    return [r for r in records if keep[question_type](r)]


def load_train_dataset(
    path: str | os.PathLike,
    *,
    fmt: str = "auto",
    video_root: str | os.PathLike | None = None,
    question_type: str = "mixed",
    max_samples: int | None = None,
    seed: int = 42,
    template: str = TRAIN_TEMPLATE,
    system_prompt: str | None = None,
    require_video: bool = True,
    allow_outside_video_root: bool = False,
):
    """Read any input `twgrpo_data.sources.open_input` takes (a records/unified file, a benchmark's native files,
    parquet, an HF folder, a Hub dataset) into a `datasets.Dataset` of prompt rows.

    Videos are found as evaluation finds them (`twgrpo_data.benchmarks.locate_video`: the benchmark's
    layouts, and a clip's start/end for STAR and MVBench). Every record's video must exist under
    `video_root` — default: the data file's folder — (checked up front, so a bad path fails before the model
    loads, naming the file, record and field); a path leading outside the root is refused unless
    `allow_outside_video_root`; `require_video=False` allows text-only records.
    `max_samples` shuffles with `seed` and keeps that many (the released script samples 2,000 with seed 42).
    """
    from datasets import Dataset

    from twgrpo_data.benchmarks import default_video_root, locate_video

    file = str(path)
    source = resolve_source(path)  # a Hub dataset → its files in the cache: its videos stay beside them
    video_root = video_root if video_root is not None else default_video_root(source.path)
    records = select_records(open_input(source, fmt).raise_or_skip(False).records, question_type)
    if not records:
        raise TwgrpoError(f"{file}: no {question_type} records to train on")
    rows = []
    for index, record in enumerate(records):
        try:
            video = locate_video(record, video_root, allow_outside=allow_outside_video_root)
        except VideoOutsideRootError as exc:
            raise RecordError(str(exc), file=file, index=index, record_id=record.id, field="video") from None
        except VideoError:  # the record names no video
            video = None
        if video is not None:
            if not Path(video.path).exists():
                raise RecordError(
                    f"video not found: {video.path}", file=file, index=index, record_id=record.id, field="video"
                )
        elif require_video:
            raise RecordError(
                "no video (set require_video=false for text-only training)",
                file=file,
                index=index,
                record_id=record.id,
                field="video",
            )
        rows.append(record_to_prompt_row(record, template=template, system_prompt=system_prompt, video=video))
    dataset = Dataset.from_list(rows)
    if max_samples is not None and max_samples < len(dataset):
        dataset = dataset.shuffle(seed=seed).select(range(max_samples))
    return dataset
