"""`KEY=VALUE` arguments (training's setting overrides, `eval --backend-arg`): one parser; each caller reads the
values its own way (YAML scalars for training settings, JSON for backend options) and words its own error."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def parse_key_values(
    pairs: Iterable[str], read_value: Callable[[str], Any], bad_pair: Callable[[str], Exception]
) -> dict[str, Any]:
    """`["alpha=1.4", "model=/m"]` → `{"alpha": read_value("1.4"), "model": read_value("/m")}`; keys are stripped,
    a later pair wins, and a pair without `=` or without a key raises `bad_pair(pair)`.

    Example:
        >>> parse_key_values(["a=1", " b = x"], str.strip, ValueError)
        {'a': '1', 'b': 'x'}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise bad_pair(pair)
        out[key.strip()] = read_value(value)
    return out
