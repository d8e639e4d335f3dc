"""Names people type, checked before any work starts: a misspelt benchmark or folder gets "did you mean …?"
(difflib's closest match, or the same name in another case), and a model reference that is neither a folder
here nor a Hub id (`OWNER/NAME`) is refused at once — loading it would spend a minute in Hub retries first.

Example:
    >>> close_match("mmvuu", ["mmvu", "mvbench"])
    'mmvu'
    >>> did_you_mean("MMVU", ["mmvu", "mvbench"])
    '; did you mean mmvu?'
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import TwgrpoError

# A Hub model id as `from_pretrained` resolves it: OWNER/NAME (letters, digits, '-', '_', '.')
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells: the same word in another case, else difflib's closest one
    (similarity ≥ 0.6), else None."""
    choices = list(choices)
    same = [c for c in choices if c.lower() == word.lower()]
    if same:
        return same[0]
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`"; did you mean X?"` for the closest of `choices`, or "" when none is close."""
    match = close_match(word, choices)
    return f"; did you mean {match}?" if match else ""


def _folders(path: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())
    except OSError:
        return []


def check_model_reference(model: str, option: str = "--model") -> None:
    """Refuse a model that is neither an existing path nor a Hub id, offering the local folder it misspells.

    `runs/tinyy` is refused too when `runs` is a folder here that holds a close match (`runs/tiny`): it is far
    more likely a typo than a Hub repository named after a local folder.
    """
    path = Path(model).expanduser()
    if path.exists():
        return
    parent = path.parent
    match = close_match(path.name, _folders(parent)) if path.name else None
    written = Path(model).parent  # the suggestion keeps the folder as the user wrote it
    suggestion = "" if match is None else f"; did you mean {match if str(written) == '.' else written / match}?"
    if model.startswith(("/", "./", "../", "~")) or not HUB_ID.fullmatch(model):
        raise TwgrpoError(f"{option} {model}: no such model folder, and not a Hub id (OWNER/NAME){suggestion}")
    if match:
        raise TwgrpoError(f"{option} {model}: no such model folder in {parent}{suggestion}")
