"""When Python's cyclic garbage collector runs while whole datasets are read, converted and written.

Building ~10^5 records allocates millions of dicts and lists. The data has no reference cycles to find, but
the collector walks its growing heap every time an allocation threshold is crossed (`gc_paused`), and after
it resumes it walks every object it was not told about again (`gc_frozen_results`).

The collector is switched at the command boundary only: the CLI commands that read, convert or write whole
datasets run paused (`@gc_paused()` on the command), and `main` freezes what a command built. Library
functions never switch it, so a program calling `open_input` or `write_records` keeps its own collector
settings; `gc_resumed` only keeps a caller's pause in force across code that switches the collector itself.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


class _State:
    paused = False  # the collector is off because a `gc_paused` block turned it off
    freeze = False  # true inside `gc_frozen_results`


def _pause() -> None:
    gc.disable()
    _State.paused = True


def _end_pause() -> None:
    """Switch the collector back on; inside `gc_frozen_results`, what exists now is left out of its walks."""
    _State.paused = False
    if _State.freeze:
        gc.freeze()
    gc.enable()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole file becomes records (or records a file): a block, or
    (`@gc_paused()`) a CLI command that reads, converts or writes whole datasets.

    Measured on 67,160 records, collections walking the growing heap were about 45% of reading's CPU time.
    Reference counting still frees everything; the collector resumes (and catches up) when the block ends —
    or, inside `gc_frozen_results`, leaves what the block built alone.
    """
    if not gc.isenabled():
        yield
        return
    _pause()
    try:
        yield
    finally:
        _end_pause()


@contextlib.contextmanager
def gc_resumed() -> Iterator[None]:
    """Let the collector run as usual inside a `gc_paused` block, and pause it again afterwards.

    For code that switches the collector on by itself: spaCy's model loader reads its tables through srsly,
    which calls `gc.disable()` and then `gc.enable()` around each one, so a pipeline loaded inside a paused
    block turns the collector back on, with every object built since the pause in its youngest generation,
    for the rest of the block. A collector that the caller (not `gc_paused`) turned off is left off.
    """
    if not _State.paused:
        yield
        return
    _end_pause()
    try:
        yield
    finally:
        _pause()


@contextlib.contextmanager
def gc_frozen_results() -> Iterator[None]:
    """Within this block, the objects that exist when a `gc_paused` block ends go to the collector's permanent
    generation (`gc.freeze`): for one command that loads a dataset and keeps it to its end.

    A resumed collector finds the ~10^6 objects built while it was paused in its youngest generation, and its
    next collections walk every one of them again, as each generation's collection promotes them to the next
    — spaCy's model loading, which re-enables the collector on its own, triggers several. Measured on
    67,160 records, that was about 1.4 s of a 10 s `qai convert`. Frozen objects are still freed by reference
    counting; only a reference cycle frozen with them waits until this block ends and `gc.unfreeze()` hands
    everything back to the collector. It freezes every object of the process, not only the records: for a
    one-shot caller such as the CLI (one command per block), not for library code.
    """
    if _State.freeze:
        yield
        return
    _State.freeze = True
    try:
        yield
    finally:
        _State.freeze = False
        gc.unfreeze()
