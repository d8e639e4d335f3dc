"""Exceptions a user can cause. Each carries a one-line message the CLI prints without a traceback."""

from __future__ import annotations


class TwgrpoError(Exception):
    """Base class: anything the user can fix (bad input, missing file, missing extra). The CLI exits with
    `exit_code`: 1 for a user error, 2 for a usage error (`UsageError`)."""

    exit_code = 1


class UsageError(TwgrpoError):
    """A bad option value or combination, found before any work starts (exit 2)."""

    exit_code = 2


class OutputPathError(UsageError):
    """An output path the policy refuses: unknown suffix, a folder twgrpo did not write, the input itself."""


class OutputWriteError(TwgrpoError):
    """An output cannot be written: read-only or full filesystem, a parent that is a file, …"""


class InputFormatError(TwgrpoError):
    """A file could not be read as any supported format (bad JSON, unknown layout, …)."""


class RecordError(TwgrpoError):
    """One record is invalid. The message names the file, the record (index and id) and the field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        index: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ):
        self.file, self.index, self.record_id, self.field, self.reason = file, index, record_id, field, message
        super().__init__(format_location(file, index, record_id, field) + message)


class VideoError(TwgrpoError):
    """A video is missing, unreadable or corrupt. Raised per item, never for a whole batch."""


class VideoOutsideRootError(VideoError):
    """A data file's video path leads outside the video root (`../..`, an absolute path elsewhere): data files
    are untrusted, so it is refused unless the user allows it (`--allow-outside-video-root`)."""


class MissingDependencyError(TwgrpoError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str):
        super().__init__(f"{package} is not installed: pip install 'twgrpo[{extra}]'")


class HubError(TwgrpoError):
    """Publishing to the Hugging Face Hub failed (token, repo id, network)."""


class LicenceError(HubError):
    """A source's terms forbid publishing a derived copy without the rights holders' permission."""


def format_location(file: str | None, index: int | None, record_id: str | None, field: str | None) -> str:
    """`file: record 3 (id '4882821564_1'), field 'answer': ` — the prefix every record error starts with."""
    parts = []
    if file:
        parts.append(str(file))
    where = []
    if index is not None:
        where.append(f"record {index}" + (f" (id {record_id!r})" if record_id is not None else ""))
    elif record_id is not None:
        where.append(f"record id {record_id!r}")
    if field:
        where.append(f"field {field!r}")
    if where:
        parts.append(", ".join(where))
    return ": ".join(parts) + (": " if parts else "")


def require(module: str, extra: str):
    """Import an optional heavy dependency or raise `MissingDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(module.split(".")[0], extra) from exc
