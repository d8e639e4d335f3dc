"""Secrets stay out of run folders, published files, logs and messages (issues 18.1 and 31).

Run folders are shared, attached to papers and rendered as reports, and error lines are pasted into bug
reports, so a credential must never reach `config.json`, `samples.jsonl`, a card, progress output or an error
message — wherever it came from: a flag (`--api-key`), a `--backend-arg`, a config file, the environment
(`OPENAI_API_KEY`, `HF_TOKEN`) or the user-info part of a URL (`--api-base http://user:pw@host/v1`,
`HF_ENDPOINT`). Two complementary tools:

- by **name**: a setting whose name ends in key/token/secret/password/pwd/passphrase/auth/authorization/
  bearer/credential/cookie/signature is recorded as `"<redacted>"` (so the folder still shows it was given);
- by **value**: URLs lose their password as pip shows them (`http://user:****@host`, `http://****@host` for
  a bare token) and the values of secret-named query parameters (`?api_key=****`); and every secret value in
  use is replaced by `"<redacted>"` in any text we write or print (`scrub`), including text a server sent back.

`secrets_in_use(settings)` collects those values from a command's settings and from the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
#: What replaces a password in a URL (pip's spelling).
URL_MASK = "****"
# Names that END in one of these words (`api_key`, `hf_token`, `X-API-Key`, `Authorization`, `basic_auth`), so
# engine settings such as `max_num_batched_tokens` or `tokenizer_mode` stay readable.
SECRET_NAME = re.compile(
    r"(key|token|secret|password|passwd|pwd|passphrase|auth|authori[sz]ation|bearer|credentials?|cookie|signature)$",
    re.IGNORECASE,
)
# Shorter values are too likely to occur in ordinary text to be scrubbed meaningfully (and are no secrets).
MIN_SECRET_CHARS = 4
# Environment variables are many and not all secret-named ones hold secrets (`HF_HUB_DISABLE_IMPLICIT_TOKEN=true`,
# `PWD` is the working folder): only values this long that are not a flag word count.
MIN_ENV_SECRET_CHARS = 8
_NOT_SECRETS = {"true", "false", "yes", "no", "on", "off", "none", "null", "empty"}
_NOT_SECRET_ENV = {"PWD", "OLDPWD"}
# A URL inside longer text (an error message): scheme, '//', and everything up to a space or a quote.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def is_secret_name(name: str) -> bool:
    """Whether a setting called `name` holds a secret (`api_key`, `hf_token`, `Authorization`…)."""
    return bool(SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """`url` with its password and secret-named query values masked, as pip shows URLs:
    `http://user:pw@host/v1?api_key=k&n=1` → `http://user:****@host/v1?api_key=****&n=1`; a user name alone
    (a token, `https://TOKEN@host`) becomes `****`. Anything that is not a URL is returned unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{quote(user, safe='%')}:{URL_MASK}@{host}" if colon else f"{URL_MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, URL_MASK if is_secret_name(k) and v else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """Every URL inside `text` (e.g. an error message) passed through `redact_url`."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def url_secrets(url: str) -> list[str]:
    """The secret parts of one URL: its password (or a bare user token) and its secret-named query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if not parts.scheme or not parts.netloc:
        return []
    found = []
    if "@" in parts.netloc:
        user, colon, password = parts.netloc.rpartition("@")[0].partition(":")
        found.append(password if colon else user)
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if is_secret_name(k)]
    return [s for s in found if len(s) >= MIN_SECRET_CHARS]


def redact(value: Any) -> Any:
    """`value` with every secret-named setting (at any depth of dicts and lists) replaced by `"<redacted>"` and
    every URL's credentials masked (`redact_url`)."""
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_setting(k, v) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_urls(value)
    return value


def _is_secret_setting(name: Any, value: Any) -> bool:
    return is_secret_name(str(name)) and value not in (None, "") and not isinstance(value, bool)


def secret_values(value: Any) -> list[str]:
    """The secret strings inside `value`: the values of secret-named settings and the credentials of URLs
    (at any depth of dicts and lists), for `scrub`."""
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
    elif isinstance(value, str) and "://" in value:
        for url in _URL_IN_TEXT.findall(value):
            found += url_secrets(url)
    return found


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret values in the environment: secret-named variables (`OPENAI_API_KEY`, `HF_TOKEN`, …) and the
    credentials of URL-valued ones (`HF_ENDPOINT`, `HTTPS_PROXY`, …)."""
    env = os.environ if environ is None else environ
    found = []
    for name, value in env.items():
        if name in _NOT_SECRET_ENV or len(value) < MIN_SECRET_CHARS:
            continue
        if is_secret_name(name):
            if len(value) >= MIN_ENV_SECRET_CHARS and value.strip().lower() not in _NOT_SECRETS:
                found.append(value)
        elif "://" in value:
            found += secret_values(value)
    return found


def secrets_in_use(*settings: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value a command may hold: those in its `settings` (flags, config) and in the environment."""
    found = [s for value in settings for s in secret_values(value)]
    return list(dict.fromkeys(found + environment_secrets(environ)))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL's credentials masked (`redact_url`) and each secret value replaced by `"<redacted>"`."""
    text = redact_urls(text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return text
