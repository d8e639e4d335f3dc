"""The one progress reporter of every command (a `twgrpo_data.progress.Progress`).

On a terminal it draws rich bars. When stderr is a file or a pipe (`twgrpo eval … 2>err.log &`, a Slurm job) it
prints plain lines instead — `mmvu · tiny 480/625 · 3.1 it/s · failed 2 · ETA 0:47` — one each time another
twentieth of the work is done (at most one per sixth of the interval) and at least one per interval while the
work runs, so a batch that hangs shows as lines whose count stops moving, and a last line when the work ends.
The interval is 30 s; `TWGRPO_PROGRESS_INTERVAL=SECONDS` changes it (0: a line at every update), as
`TQDM_MININTERVAL` does for tqdm.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from twgrpo_data.errors import UsageError
from twgrpo_data.progress import SILENT, ProgressTask

from .output import err_console

INTERVAL_ENV = "TWGRPO_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0
STEPS = 20  # a plain line per twentieth of the work (rate-limited by the interval)


def progress_interval() -> float:
    """Seconds between plain progress lines: `$TWGRPO_PROGRESS_INTERVAL`, else 30."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{INTERVAL_ENV}={text!r}: expected seconds (a number >= 0)")
    return value


def clock(seconds: float) -> str:
    """`0:47`, `12:03`, `1:02:03`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def amount(n: float, unit: str) -> str:
    """A count in its unit: bytes as `1.2 GB`, anything else as a plain number."""
    return decimal(int(n)) if unit == "B" else f"{int(n)}"


def rate_text(rate: float | None, unit: str) -> str:
    if rate is None:
        return f"– {unit}/s"
    if unit == "B":
        return f"{decimal(int(rate))}/s"
    return f"{rate:.2f} {unit}/s" if rate < 10 else f"{rate:.1f} {unit}/s"


class Reporter:
    """Progress for people: a rich bar on a terminal, plain lines in a log file, nothing when disabled.

    Example:
        >>> reporter = Reporter(enabled=True)
        >>> with reporter.task("inverting", total=3358) as task:   # doctest: +SKIP
        ...     task.advance(100)
    """

    def __init__(self, console: Console | None = None, *, enabled: bool = True, interval: float | None = None):
        self.console = console or err_console
        self.enabled = enabled
        self.interval = progress_interval() if interval is None else interval
        self._bars: Progress | None = None
        self._open = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def task(
        self, label: str, total: int | None = None, *, completed: int = 0, unit: str = "it", failures: bool = False
    ) -> Iterator[ProgressTask]:
        if not self.enabled:
            with SILENT.task(label, total) as quiet:
                yield quiet
        elif self.console.is_terminal:
            with self._shared_bars() as bars:
                task_id = bars.add_task(label, total=total, completed=completed, unit=unit, failures=failures, failed=0)
                yield _BarTask(bars, task_id)
        else:
            plain = PlainTask(self.console, label, total, completed, unit, failures, self.interval)
            try:
                yield plain
            finally:
                plain.close()

    @contextlib.contextmanager
    def _shared_bars(self) -> Iterator[Progress]:
        """One rich display for every task open at once (a download's file and byte bars run together)."""
        with self._lock:
            if self._bars is None:
                self._bars = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    _CountColumn(),
                    _RateColumn(),
                    _FailedColumn(),
                    TimeElapsedColumn(),
                    TextColumn("ETA"),
                    _RemainingColumn(),
                    console=self.console,
                )
                self._bars.start()
            self._open += 1
            bars = self._bars
        try:
            yield bars
        finally:
            with self._lock:
                self._open -= 1
                if self._open == 0:
                    bars.stop()
                    self._bars = None


class _BarTask:
    def __init__(self, bars: Progress, task_id) -> None:
        self.bars, self.task_id = bars, task_id

    def advance(self, n: int = 1, *, failed: int = 0) -> None:
        task = self.bars.tasks[self.task_id]
        self.bars.update(self.task_id, advance=n, failed=task.fields["failed"] + failed)

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        changes = {k: v for k, v in (("completed", completed), ("total", total)) if v is not None}
        self.bars.update(self.task_id, **changes)


class PlainTask:
    """A task as plain lines on a console that is not a terminal (see the module docstring for when)."""

    def __init__(
        self,
        console: Console,
        label: str,
        total: int | None,
        completed: int,
        unit: str,
        failures: bool,
        interval: float,
        clock_fn=time.monotonic,
    ) -> None:
        self.console, self.label, self.total, self.unit, self.failures = console, label, total, unit, failures
        self.interval, self._now = interval, clock_fn
        self.completed = self.start_completed = completed
        self.failed = 0
        self.started = self.last_line = self._now()
        self.printed: str | None = None
        self.printed_count: int | None = None
        self._next_mark = self._mark_after(completed)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._beat = None
        if interval > 0:
            self._beat = threading.Thread(target=self._heartbeat, name=f"progress {label}", daemon=True)
            self._beat.start()

    def _mark_after(self, done: int) -> float:
        if not self.total:
            return math.inf
        step = max(1, math.ceil(self.total / STEPS))
        return (done // step + 1) * step

    def advance(self, n: int = 1, *, failed: int = 0) -> None:
        with self._lock:
            self.completed += n
            self.failed += failed
            self._after_change()

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = total
            if completed is not None:
                self.completed = completed
            if total is not None:
                self._next_mark = min(self._next_mark, self._mark_after(self.completed))
            self._after_change()

    def _after_change(self) -> None:
        if self.interval == 0:
            self._print()
        elif self.completed >= self._next_mark and self._now() - self.last_line >= self.interval / 6:
            self._print()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._now() - self.last_line >= self.interval * 0.99:
                    self._print()

    def line(self, final: bool = False) -> str:
        """`label 480/625 · 3.10 it/s · failed 2 · ETA 0:47` (at the end: the time taken instead of the ETA)."""
        elapsed = self._now() - self.started
        done = self.completed - self.start_completed
        rate = done / elapsed if done > 0 and elapsed > 0 else None
        count = amount(self.completed, self.unit) + (f"/{amount(self.total, self.unit)}" if self.total else "")
        parts = [f"{self.label} {count}", rate_text(rate, self.unit)]
        if self.failures:
            parts.append(f"failed {self.failed}")
        if final or (self.total and self.completed >= self.total):
            parts.append(f"took {clock(elapsed)}")
        elif self.total:
            remaining = max(0, self.total - self.completed)
            parts.append(f"ETA {clock(remaining / rate)}" if rate else "ETA –")
        return " · ".join(parts)

    def _print(self, final: bool = False) -> None:
        text = self.line(final)
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.printed, self.printed_count, self.last_line = text, self.completed, self._now()
        self._next_mark = self._mark_after(self.completed)

    def close(self) -> None:
        """Stop the heartbeat; a last line when lines were printed and the count moved since the last one."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._lock:
            if self.printed is not None and self.printed_count != self.completed:
                self._print(final=True)


class _CountColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "it")
        total = "" if task.total is None else f"/{amount(task.total, unit)}"
        return Text(amount(task.completed, unit) + total, style="progress.download")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(rate_text(task.finished_speed or task.speed, task.fields.get("unit", "it")), "progress.data.speed")


class _FailedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if not task.fields.get("failures"):
            return Text("")
        failed = task.fields.get("failed", 0)
        return Text(f"failed {failed}", style="yellow" if failed else "")


class _RemainingColumn(ProgressColumn):
    max_refresh = 0.5

    def render(self, task: Task) -> Text:
        remaining = task.time_remaining
        return Text("–" if remaining is None else clock(remaining), style="progress.remaining")
