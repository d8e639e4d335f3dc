"""Secrets stay out of run folders, logs and messages (issue 18.1).

Run folders are shared, attached to papers and rendered as reports, so an API key given to a backend must
never reach `config.json`, `samples.jsonl`, progress output or an error message. A setting whose name says
key/token/secret/password/authorization/credential is recorded as `"<redacted>"` (so the folder still shows
it was given), and its value is scrubbed from any text we write or print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"
# Names that END in one of these words (`api_key`, `hf_token`, `X-API-Key`, `Authorization`), so engine settings
# such as `max_num_batched_tokens` or `tokenizer_mode` stay readable.
SECRET_NAME = re.compile(r"(key|token|secret|password|passwd|authori[sz]ation|credentials?|cookie)$", re.IGNORECASE)
# Shorter values are too likely to occur in ordinary text to be scrubbed meaningfully (and are no secrets).
MIN_SECRET_CHARS = 4


def is_secret_name(name: str) -> bool:
    """Whether a setting called `name` holds a secret (`api_key`, `hf_token`, `Authorization`…)."""
    return bool(SECRET_NAME.search(name))


def redact(value: Any) -> Any:
    """`value` with every secret-named setting (at any depth of dicts and lists) replaced by `"<redacted>"`."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_name(str(k)) and v not in (None, "") else redact(v)) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def secret_values(value: Any) -> list[str]:
    """The string values of the secret-named settings in `value` (for `scrub`)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if is_secret_name(str(k)) and isinstance(v, str) and len(v) >= MIN_SECRET_CHARS:
                found.append(v)
            else:
                found += secret_values(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found += secret_values(v)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret value replaced by `"<redacted>"`."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return text
