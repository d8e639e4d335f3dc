"""Decoding videos ahead of the model, in parallel and in order, with bounded memory: the evaluation loop's
prefetcher (frames from `twgrpo_data.video`)."""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from .errors import VideoError
from .video import VideoFrames, VideoRef, sample_video


def _sample_item(item: Any, settings: dict[str, Any]) -> VideoFrames:
    """Default prefetch loader (module level so that worker processes can unpickle it)."""
    if isinstance(item, VideoRef):
        return item.sample(**settings)
    return sample_video(item, **settings)


def _guarded(load: Callable[[Any], VideoFrames], item: Any) -> VideoFrames | VideoError:
    try:
        return load(item)
    except VideoError as exc:
        return exc


class VideoPrefetcher:
    """Decode videos ahead of the consumer, in parallel, yielding `(item, VideoFrames | VideoError)` in order.

    Items are paths or `VideoRef`s (sampled with `settings`, the `sample_video` keyword arguments), or
    anything `load(item) -> VideoFrames` accepts. At most `queue_size` results are decoded ahead, so memory
    stays bounded however long the input. `processes=True` uses worker processes (then `load` and items must
    pickle); threads are enough for decord, which releases the GIL while decoding. A `VideoError` is
    yielded for its item instead of stopping the stream.

    Example:
        >>> with VideoPrefetcher(paths, workers=2, frames=16) as videos:   # doctest: +SKIP
        ...     for path, frames in videos:
        ...         ...
    """

    def __init__(
        self,
        items: Iterable[Any],
        load: Callable[[Any], VideoFrames] | None = None,
        *,
        workers: int = 2,
        queue_size: int = 4,
        processes: bool = False,
        **settings: Any,
    ):
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be >= 1")
        if load is not None and settings:
            raise ValueError("give either load or sample_video settings, not both")
        self._items = iter(items)
        self._load = load if load is not None else functools.partial(_sample_item, settings=settings)
        self._workers = workers
        self._queue_size = max(queue_size, workers)
        self._processes = processes
        self._executor: Executor | None = None
        self._pending: deque[tuple[Any, Future]] = deque()
        self._lock = threading.Lock()

    def _submit_next(self) -> bool:
        try:
            item = next(self._items)
        except StopIteration:
            return False
        self._pending.append((item, self._executor.submit(_guarded, self._load, item)))
        return True

    def __iter__(self) -> Iterator[tuple[Any, VideoFrames | VideoError]]:
        with self._lock:
            if self._executor is None:
                if self._processes:
                    import multiprocessing

                    # spawn: forking a process that holds decord/ffmpeg threads can deadlock the child
                    self._executor = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
                else:
                    self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="video-prefetch")
        try:
            while len(self._pending) < self._queue_size and self._submit_next():
                pass
            while self._pending:
                item, future = self._pending.popleft()
                result = future.result()
                self._submit_next()
                yield item, result
        finally:
            self.close()

    def close(self) -> None:
        """Cancel what is queued and stop the workers (also done when iteration ends or breaks)."""
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> VideoPrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
