"""Secrets stay out of run folders, logs and messages: `twgrpo_data.secrets`, under the name the evaluation
code (runner, backends, judges) has always imported it by."""

from __future__ import annotations

from twgrpo_data.secrets import (
    MIN_SECRET_CHARS,
    REDACTED,
    SECRET_NAME,
    URL_MASK,
    environment_secrets,
    is_secret_name,
    redact,
    redact_url,
    redact_urls,
    scrub,
    secret_values,
    secrets_in_use,
    url_secrets,
)

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "SECRET_NAME",
    "URL_MASK",
    "environment_secrets",
    "is_secret_name",
    "redact",
    "redact_url",
    "redact_urls",
    "scrub",
    "secret_values",
    "secrets_in_use",
    "url_secrets",
]
