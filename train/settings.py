"""Reading training settings: YAML files and `key=value` overrides, checked against the settings' types and
ranges — without importing TRL, transformers or torch, so a typo costs a fraction of a second.

`TWGRPOConfig` (a TRL `GRPOConfig`, whose import pulls in torch) is described here by a schema: each
setting's name and accepted kinds (`bool`, `int`, `float`, `str`, `null`, `list`, `dict`, `any`, or a choice of
values). `settings_schema.json` holds it for the light check (`precheck`, used by `twgrpo train` before the
heavy imports); `config.load_config` builds the same schema from the dataclass itself, and
`tests/test_train.py` checks that the file is current (regenerate: `python -m twgrpo_train.settings`).
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.json_text import read_text
from twgrpo_data.io.yaml_keys import UniqueKeys
from twgrpo_data.key_values import parse_key_values
from twgrpo_data.pixels import PATCH_AREA

SCHEMA_FILE = Path(__file__).with_name("settings_schema.json")
Schema = dict[str, list[Any]]


class TrainConfigError(TwgrpoError, ValueError):
    """An invalid training configuration (unknown key, bad value, groups split across devices)."""


# Old spellings of settings (issue 13.5): still read, with a one-line note.
DEPRECATED_KEYS = {"num_frames": "frames", "video_min_pixels": "min_pixels", "video_max_pixels": "max_pixels"}
DEPRECATED_VALUES = {("accuracy_reward", "fixed"): "strict"}
# TRL's names for the same settings (its example scripts' `model_name_or_path`, `dataset_name`): read silently.
ALIASES = {"model_name_or_path": "model", "dataset_name": "train_file"}
# Removed settings whose old values would now mean something else: refused with the way to say it today.
REMOVED_KEYS = {
    "weight_mapping": "weight_mapping is gone: alpha is now the paper's α and weights are 1 + alpha·norm (the paper "
    "and the released code map alike; `paper`, (1+alpha)·norm, gave every first completion token weight 0). "
    "An older config's `alpha: A` with `weight_mapping: reference` is `alpha: A−1` (or `max_weight: A`) now",
}
# Lower bounds checked before anything loads: (bound, inclusive).
LOWER_BOUNDS = {
    "frames": (1, True),
    "min_frames": (1, True),
    "max_frames": (1, True),
    "sample_fps": (0, False),
    "model_fps": (0, False),
    "min_pixels": (PATCH_AREA, True),
    "max_completion_length": (1, True),
    "num_generations": (2, True),
    "per_device_train_batch_size": (1, True),
    "gradient_accumulation_steps": (1, True),
    "weight_chunk_size": (1, True),
    "max_train_samples": (1, True),
    "learning_rate": (0, True),
    "temperature": (0, False),
    "beta": (0, True),
    "num_train_epochs": (0, False),
    "top_k": (0, True),
    "save_steps": (0, False),
    "logging_steps": (0, False),
    "top_p": (0, False),
    "min_p": (0, True),
    "epsilon": (0, True),
    "epsilon_high": (0, True),
    "repetition_penalty": (0, False),
    "max_grad_norm": (0, True),
    "weight_decay": (0, True),
    "warmup_steps": (0, True),
}
# Upper bounds: (bound, inclusive). `epsilon` clips the ratio to [1 − ε, 1 + ε_high], so ε < 1.
UPPER_BOUNDS = {"top_p": (1, True), "min_p": (1, True), "epsilon": (1, False)}
# Fields holding data paths: relative values are taken relative to the YAML file that sets them.
_CONFIG_RELATIVE = ("train_file", "video_root")


class _ConfigLoader(UniqueKeys, yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false, so `save_strategy: no` stays the string "no"; a key given twice
    is an error (`UniqueKeys`)."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass: plain data only


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["alpha=1.4", "model=/m"]` → `{"alpha": 1.4, "model": "/m"}`; values are read as YAML scalars/lists."""
    return parse_key_values(
        pairs,
        lambda value: _yaml(value) if value.strip() else None,
        lambda pair: TrainConfigError(f"override {pair!r} is not key=value"),
    )


def _deprecated(old: str, new: str) -> None:
    print(f"note: {old} is deprecated, use {new}", file=sys.stderr)


def _union_members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def _as(value: Any, kind: Any) -> tuple[bool, Any]:
    """Whether `value` (as YAML read it) is of schema kind `kind`, and the value converted to it."""
    if kind == "any":
        return True, value
    if isinstance(kind, list):  # a choice of values (a Literal or an enum)
        return value in kind, value
    if kind == "null":
        return value is None, value
    if value is None:
        return False, value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "float":
        if isinstance(value, bool):
            return False, value
        if isinstance(value, str):  # YAML 1.1 reads "1e-6" as a string
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
    if kind == "str":
        return isinstance(value, str), value
    if kind == "list":
        return isinstance(value, (list, tuple)), value
    if kind == "dict":
        return isinstance(value, dict), value
    return True, value


_KIND_NAMES = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string", "null": "null"}


def _typed(key: str, value: Any, kinds: list[Any], source: str) -> Any:
    """`value` checked against the setting's kinds; a mismatch is one line naming the setting."""
    for kind in kinds:
        ok, converted = _as(value, kind)
        if ok:
            return converted
    names = [f"one of {kind}" if isinstance(kind, list) else _KIND_NAMES.get(kind, kind) for kind in kinds]
    raise TrainConfigError(f"{source}: {key} must be {' or '.join(dict.fromkeys(names))}, got {value!r}")


def _checked(values: dict[str, Any], source: str, schema: Schema) -> dict[str, Any]:
    """Reject unknown keys (suggesting the closest name), map old spellings, check every value's type."""
    out = {}
    for key, value in values.items():
        if key in DEPRECATED_KEYS:
            _deprecated(key, DEPRECATED_KEYS[key])
            key = DEPRECATED_KEYS[key]
        key = ALIASES.get(key, key)
        if key in REMOVED_KEYS:
            raise TrainConfigError(f"{source}: {REMOVED_KEYS[key]}")
        if key not in schema:
            close = difflib.get_close_matches(key, schema, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TrainConfigError(f"{source}: unknown setting {key!r}{hint}")
        if isinstance(value, str) and (key, value) in DEPRECATED_VALUES:
            _deprecated(f"{key}={value}", f"{key}={DEPRECATED_VALUES[key, value]}")
            value = DEPRECATED_VALUES[key, value]
        if value is None and "null" not in schema[key]:
            continue  # `key: null` leaves a setting that cannot be None at its default ("set it elsewhere")
        out[key] = _typed(key, value, schema[key], source)
    return out


def _kind_name(kind: Any) -> Any:
    """A type hint member as a schema kind: a name, or the list of allowed values (a `Literal` or an enum)."""
    origin = typing.get_origin(kind) or kind
    if kind is Any:
        return "any"
    if kind is type(None):
        return "null"
    if kind in (bool, int, float, str):
        return kind.__name__
    if origin in (list, tuple):
        return "list"
    if origin is dict:
        return "dict"
    if typing.get_origin(kind) is typing.Literal:
        return list(typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [member.value for member in kind]
    return "any"  # a type this check does not know: the dataclass decides


def schema_of(cls: type) -> Schema:
    """The schema (setting → accepted kinds) of a settings dataclass such as `TWGRPOConfig`."""
    from dataclasses import fields

    hints = typing.get_type_hints(cls)
    return {f.name: [_kind_name(k) for k in _union_members(hints[f.name])] for f in fields(cls) if f.init}


def load_schema() -> Schema:
    """The schema stored beside this module (see the module docstring)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def read_settings(path: str | os.PathLike | None, overrides: list[str] | None, schema: Schema) -> dict[str, Any]:
    """The settings of a YAML file (or nothing) plus `key=value` overrides (which win), checked against `schema`:
    unknown keys, old spellings, types, ranges, the alpha/max_weight pair, the required model and data."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            loaded = _yaml(read_text(path))  # read_text: one line for a missing, unreadable or non-UTF-8 file
        except yaml.YAMLError as exc:
            raise TrainConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"{path}: expected a mapping of settings at the top level")
        loaded = _checked(loaded, str(path), schema)
        for key in _CONFIG_RELATIVE:
            value = str(loaded.get(key) or "")
            if value and not value.startswith("hf://") and not Path(os.path.expanduser(value)).is_absolute():
                loaded[key] = str((path.parent / loaded[key]).resolve())
        values.update(loaded)
    given = _checked(parse_overrides(overrides or []), "override", schema)
    if "alpha" in given and "max_weight" not in given:
        values.pop("max_weight", None)  # an override of one of the pair replaces the config's choice
    if "max_weight" in given and "alpha" not in given:
        values.pop("alpha", None)
    values.update(given)
    if values.get("alpha") is not None and values.get("max_weight") is not None:
        if not math.isclose(values["alpha"] + 1.0, values["max_weight"], abs_tol=1e-12):
            raise TrainConfigError(
                f"alpha = {values['alpha']} and max_weight = {values['max_weight']} disagree (max_weight is "
                "1 + alpha, the released code's `alpha`); set one of them"
            )
    for required in ("model", "train_file"):
        if not values.get(required):
            raise TrainConfigError(f"{required} is not set (in the config or as {required}=…)")
    check_ranges(values)
    return values


def check_range(name: str, value: Any) -> None:
    """One setting's value against the finite-number rule and its bounds (`LOWER_BOUNDS`, `UPPER_BOUNDS`)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise TrainConfigError(f"{name} must be a finite number, got {value}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if name in LOWER_BOUNDS:
        bound, inclusive = LOWER_BOUNDS[name]
        if not (value >= bound if inclusive else value > bound):
            raise TrainConfigError(f"{name} must be {'≥' if inclusive else '>'} {bound}, got {value}")
    if name in UPPER_BOUNDS:
        bound, inclusive = UPPER_BOUNDS[name]
        if not (value <= bound if inclusive else value < bound):
            raise TrainConfigError(f"{name} must be {'≤' if inclusive else '<'} {bound}, got {value}")


def check_ranges(values: dict[str, Any]) -> None:
    for name, value in values.items():
        check_range(name, value)


def precheck(path: str | os.PathLike | None, overrides: list[str] | None) -> None:
    """`read_settings` against the stored schema: every check that needs no heavy import, before any."""
    read_settings(path, overrides, load_schema())


if __name__ == "__main__":  # python -m twgrpo_train.settings: rewrite settings_schema.json from TWGRPOConfig
    from twgrpo_train.config import TWGRPOConfig

    SCHEMA_FILE.write_text(json.dumps(schema_of(TWGRPOConfig), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
