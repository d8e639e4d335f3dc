"""The evaluation loop: batches of `(record, sampled video)` → backend → scored samples.jsonl lines.

It reports how far it got through a callback (`advance(n, failed)`, which the runner hands to a
`twgrpo_data.progress.Progress` task) and draws nothing itself: only the CLI draws.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from twgrpo_data.benchmarks.facts import Ask
from twgrpo_data.errors import TwgrpoError, VideoError
from twgrpo_data.prompts import Prompt
from twgrpo_data.record import Record

from .backends import Backend, Request
from .backends.base import Generation
from .protocol import JUDGE_CONCURRENCY, Plan, score_item
from .secrets import scrub

# Stop after this many consecutive batches in which the backend answered nothing (server down, engine dead)
# instead of writing an error line for every remaining item.
MAX_DEAD_BATCHES = 3


def in_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of `size` (the last one shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sample_line(
    record: Record,
    prompt: Prompt,
    generation: Generation,
    plan: Plan,
    video: Any,
    seconds: float,
    template_hash: str | None = None,
    ask: Ask | None = None,
) -> dict[str, Any]:
    """The samples.jsonl line for one answered (or failed) item: what was asked (question, options, the
    prompt's hash; its template is in prompts.json under `template_hash`), which frames were shown, the raw
    output, what was parsed from it and how it scored against the gold. Under an official protocol the line
    also holds what the benchmark's scorer needs (`reference`), the breakdown `kind` and the judge's questions
    and replies (`judgements`), so `twgrpo eval rescore` re-scores it alone; a Video-MME item its `cluster`."""
    from twgrpo_data.benchmarks import cluster_of

    category = record.meta.get("category")
    category = str(category) if category is not None else None
    official = plan.official
    reference = official.reference(record) if official is not None else None
    kind = official.kind(record) if official is not None and official.kind is not None else None
    cluster = cluster_of(record)
    score, judgements = score_item(
        plan,
        record.id,
        generation.text,
        record.answer,
        parser=plan.parser,
        options=record.options,
        category=category,
        error=generation.error,
        reference=reference,
        ask=ask,
        kind=kind,
        cluster=cluster,
    )
    line = {
        "id": record.id,
        "question": record.question,
        "options": list(record.options),
        "gold": list(record.answer),
        "category": category,
        "prompt_hash": prompt.hash,
        "template_hash": template_hash,
        "frame_indices": list(getattr(video, "indices", ()) or []) if video is not None else None,
        "frame_timestamps": list(video.timestamps) if video is not None else None,
        "output": generation.text,
        "parsed": score.parsed,
        "strict": score.strict,
        "soft": score.soft,
        "format": score.format,
        "error": score.error,
        "video": getattr(video, "path", None),
        "frames": getattr(video, "num_frames", None),
        "fps": round(float(video.fps), 6) if video is not None else None,
        "usage": generation.usage,
        "seconds": round(seconds, 4),
    }
    if cluster is not None:
        line["cluster"] = cluster
    if official is not None:
        line.update(kind=kind, reference=reference, judgements=judgements)
    return line


def evaluate_batches(
    batches: Iterable[list[tuple[Record, Any]]],
    backend: Backend,
    prompt_of: Callable[[Record, Any], Prompt],
    plan: Plan,
    write: Callable[[list[dict[str, Any]]], None],
    advance: Callable[[int, int], None] = lambda n, failed: None,
    model_fps: float | None = None,
    template_hash: str | None = None,
    secrets: Iterable[str] = (),
    ask: Ask | None = None,
    answered_before: int = 0,
) -> int:
    """Answer, score and write batches of `(record, VideoFrames | VideoError | None)`; returns items written.

    A `VideoError` fails its item without reaching the backend. `prompt_of(record, video)` is the item's
    prompt; `plan` scores the answers, asking the judge through `ask` where its benchmark does (a batch's
    judge questions run `JUDGE_CONCURRENCY` at a time). `model_fps` replaces the sampling rate the model is
    told. Error texts are scrubbed of `secrets`. Stops with `TwgrpoError` when every item of the first batch
    failed and nothing at all has been answered in the run (`answered_before`: by earlier sessions) — a wrong
    --video-root, a dead server: nothing useful would follow — or when the backend has answered nothing in
    `MAX_DEAD_BATCHES` batches in a row. Once anything was answered, a batch of bad items (missing videos,
    say) is recorded and the run moves on.
    """
    from concurrent.futures import ThreadPoolExecutor

    secrets = list(secrets)
    pool = ThreadPoolExecutor(JUDGE_CONCURRENCY, thread_name_prefix="twgrpo-judge") if ask is not None else None

    def told(video: Any) -> Any:
        return video if video is None or model_fps is None else dataclasses.replace(video, fps=model_fps)

    def line_of(item: tuple[Record, Prompt, Generation, Any, float]) -> dict[str, Any]:
        record, prompt, generation, video, seconds = item
        line = sample_line(record, prompt, generation, plan, video, seconds, template_hash, ask)
        if line["error"] is not None:
            line["error"] = scrub(line["error"], secrets)
        return line

    written, dead = 0, 0
    try:
        for batch in batches:
            prompts = {r.id: prompt_of(r, None if isinstance(v, VideoError) else v) for r, v in batch}
            requests = [Request(r.id, prompts[r.id], told(v)) for r, v in batch if not isinstance(v, VideoError)]
            start = time.perf_counter()
            answers = iter(backend.generate(requests))
            per_item = (time.perf_counter() - start) / max(1, len(requests))
            items, backend_failed = [], 0
            for record, video in batch:
                if isinstance(video, VideoError):
                    generation, video, seconds = Generation(error=f"video: {video}"), None, 0.0
                else:
                    generation, seconds = next(answers), per_item
                    backend_failed += generation.error is not None
                if generation.error is not None:
                    generation = dataclasses.replace(generation, error=scrub(generation.error, secrets))
                items.append((record, prompts[record.id], generation, video, seconds))
            lines = list(pool.map(line_of, items)) if pool is not None else [line_of(i) for i in items]
            failed = sum(line["error"] is not None for line in lines)
            write(lines)
            written += len(lines)
            answered_before += len(lines) - failed
            advance(len(lines), failed)
            if not answered_before:
                raise TwgrpoError(
                    f"every item of the first batch ({len(lines)}) failed, e.g. {lines[0]['id']!r}: "
                    f"{lines[0]['error']}; stopped — fix it and re-run the same command to resume"
                )
            dead = dead + 1 if requests and backend_failed == len(requests) else 0
            if dead >= MAX_DEAD_BATCHES:
                last = next(line["error"] for line in reversed(lines) if line["error"])
                raise TwgrpoError(
                    f"the {backend.name} backend failed on every item of {dead} batches in a row "
                    f"(last: {last}); stopped — fix it and re-run the same command to resume"
                )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return written
