"""twgrpo_data — record schema, readers/writers, QAI, benchmark loaders, video sampling, scoring, cards, hub.

Importing it never imports torch: QAI and the loaders start fast and run without a GPU stack.
"""

from __future__ import annotations

import functools


@functools.cache
def installed_version() -> str:
    """The installed twgrpo version (`__version__`), read once from the package metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("twgrpo")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    # `__version__` is looked up on first use: reading the installed metadata costs start-up time that
    # commands which never print it (`qai negate`, `--help`) should not pay.
    if name == "__version__":
        return installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
