"""Tests that need vLLM: they run in the second venv (`make test-vllm`) and are not collected elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from twgrpo_eval.backends import VLLM_DISTRIBUTIONS, installed_version

# by installed metadata, so that a folder on sys.path can never pass for the package
collect_ignore_glob = [] if installed_version(*VLLM_DISTRIBUTIONS) else ["test_*.py"]


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> Path:
    """A tiny random text-only Qwen2 with head_dim 64 (what vLLM's CPU attention supports)."""
    from twgrpo_eval.tiny_model import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny") / "Qwen2-tiny", head_dim=64)
