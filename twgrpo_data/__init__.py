"""twgrpo_data — record schema, readers/writers, QAI, benchmark loaders, video sampling, scoring, cards, hub.

Importing it never imports torch: QAI and the loaders start fast and run without a GPU stack.
"""

from __future__ import annotations

import functools


def installed_version(*distributions: str) -> str | None:
    """The version of the first of `distributions` that is installed, else None. Judged by installed package
    metadata, so a folder that happens to be named like the package does not count."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in distributions:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


@functools.cache
def twgrpo_version() -> str:
    """The installed twgrpo version (`__version__`), read once; "0.0.0+unknown" in a source tree without an
    install."""
    return installed_version("twgrpo") or "0.0.0+unknown"


def __getattr__(name: str) -> str:
    # `__version__` is looked up on first use: reading the installed metadata costs start-up time that
    # commands which never print it (`qai negate`, `--help`) should not pay.
    if name == "__version__":
        return twgrpo_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
