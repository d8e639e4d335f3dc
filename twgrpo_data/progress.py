"""How a long loop tells its progress without drawing anything.

Library code (an evaluation run, a download, a report's frame strips) is handed a `Progress` and opens a task
on it; the command line decides how that looks (`twgrpo_cli.progress.Reporter`: a rich bar on a terminal, a
plain line now and then in a log file). Code that is not watched gets `SILENT`.

Example:
    >>> with SILENT.task("mmvu", total=625, failures=True) as task:
    ...     task.advance(16, failed=1)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol


class ProgressTask(Protocol):
    """One piece of work being counted."""

    def advance(self, n: int = 1, *, failed: int = 0) -> None:
        """`n` more items done, `failed` of them failed."""

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        """Set the items done so far and/or the total (a total learnt late: files found, strips to draw)."""


class Progress(Protocol):
    """What long loops report to: one task per piece of work, opened for as long as it runs."""

    def task(
        self, label: str, total: int | None = None, *, completed: int = 0, unit: str = "it", failures: bool = False
    ) -> contextlib.AbstractContextManager[ProgressTask]:
        """Count `label` from `completed` (items done before, e.g. by a resumed run) towards `total` (None:
        unknown); `unit` names the items ("B" for bytes); `failures`: the task counts failed items too."""


class _SilentTask:
    def advance(self, n: int = 1, *, failed: int = 0) -> None:
        pass

    def update(self, *, completed: int | None = None, total: int | None = None) -> None:
        pass


class _Silent:
    """A `Progress` that shows nothing."""

    @contextlib.contextmanager
    def task(
        self, label: str, total: int | None = None, *, completed: int = 0, unit: str = "it", failures: bool = False
    ) -> Iterator[ProgressTask]:
        yield _SilentTask()


SILENT: Progress = _Silent()

#: `status("writing parquet shards")` → a context manager shown while that one step runs (the CLI's status line).
Status = Callable[[str], contextlib.AbstractContextManager]


def no_status(message: str) -> contextlib.AbstractContextManager:
    """The `Status` of code that is not watched: shows nothing."""
    return contextlib.nullcontext()


def tqdm_class(progress: Progress, label: str | None = None) -> type:
    """A `tqdm` class that draws nothing itself and counts into `progress` instead, for libraries that take a
    `tqdm_class` (huggingface_hub's downloads): a bar they open becomes a task labelled `label` (else the bar's
    own description), in the bar's unit. Of bars open at once in one unit only the first is counted
    (huggingface_hub counts the same bytes twice: received and written)."""
    from tqdm.auto import tqdm

    open_units: set[str] = set()

    class ReportingTqdm(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._task = None
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            unit = str(kwargs.get("unit") or "it")
            if unit in open_units:
                return
            open_units.add(unit)
            self._unit = unit
            self._opened = progress.task(
                (label or str(kwargs.get("desc") or "downloading")) + (" (bytes)" if unit == "B" else ""),
                int(self.total) if self.total else None,
                completed=int(kwargs.get("initial") or 0),
                unit=unit,
            )
            self._task = self._opened.__enter__()

        @property
        def total(self) -> Any:
            return self.__dict__.get("_total")

        @total.setter
        def total(self, value: Any) -> None:  # huggingface_hub grows a byte bar's total as files start
            self.__dict__["_total"] = value
            if self.__dict__.get("_task") is not None:
                self._task.update(total=int(value) if value else None)

        def __iter__(self) -> Iterator[Any]:
            for item in self.iterable:
                yield item
                self.update(1)

        def update(self, n: float | None = 1) -> bool | None:
            if self._task is not None and n:
                self._task.advance(int(n))
            return None

        def close(self) -> None:
            if self.__dict__.get("_task") is not None:
                self._task = None
                open_units.discard(self._unit)
                self._opened.__exit__(None, None, None)

    return ReportingTqdm
