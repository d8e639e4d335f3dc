"""twgrpo_data — record schema, readers/writers, QAI, benchmark loaders, video sampling, scoring, cards, hub.

Importing it never imports torch: QAI and the loaders start fast and run without a GPU stack.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twgrpo")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
