"""One commit to the Hub: every file of a Hub-layout folder added and stale `data/` shards of an earlier push
deleted (`HfApi.create_commit`), so the repository either has the whole new version or is unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from ..errors import HubError
from ..secrets import redact_url, redact_urls
from .download import transport_errors
from .layout import DATA_DIR, HubFolder


def check_repo_id(repo_id: str) -> str:
    """Return `repo_id` if it is `owner/name` and valid for the Hub, else raise `HubError`."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    problem = None if repo_id.count("/") == 1 else "it needs exactly one '/'"
    if problem is None:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            problem = str(exc).splitlines()[0]
    if problem:
        raise HubError(f"repo id {repo_id!r} is not OWNER/NAME (e.g. me/nextgqa-qai): {problem}")
    return repo_id


@dataclass(frozen=True)
class PushResult:
    """What one commit changed on the Hub."""

    repo_id: str
    commit_url: str
    added: list[str]
    deleted: list[str]
    created: bool


def _describe(exc: BaseException) -> str:
    """One line for a failed Hub call: the HTTP status and the server's message when there is one."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status == 401:
        return "the token was rejected (HTTP 401): set HF_TOKEN or run `hf auth login` again"
    if status == 403:
        return "the token has no write access to this repository (HTTP 403)"
    message = getattr(exc, "server_message", None) or next(
        (line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__
    )
    return redact_urls(f"HTTP {status}: {message}" if status else message)  # an endpoint URL may carry a password


def hub_token(token: str | None = None) -> str:
    """`token`, else huggingface_hub's own (`HF_TOKEN`, then the `hf auth login` file); `HubError` when
    there is none or offline mode is on."""
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise HubError("HF_HUB_OFFLINE is set: unset it to publish (or use --dry-run); nothing was uploaded")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded")
    return token


def push_folder(
    folder: HubFolder,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    """Upload `folder` to the dataset repository `repo_id` in one commit; stale `data/` files are deleted.

    The token comes from `token` or huggingface_hub's usual sources (`HF_TOKEN`, `hf auth login`); the
    endpoint from `endpoint` or `HF_ENDPOINT`. Every failure is a one-line `HubError` that says what is
    on the Hub afterwards (nothing is ever half-committed).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    check_repo_id(repo_id)
    api = HfApi(endpoint=endpoint, token=hub_token(token))
    failures = transport_errors()
    try:
        existing = api.repo_info(repo_id, repo_type="dataset")
    except RepositoryNotFoundError:
        existing = None
    except failures as exc:
        raise HubError(
            f"{repo_id}: could not reach {redact_url(api.endpoint)}: {_describe(exc)}; nothing was uploaded"
        ) from None
    if existing is not None and private and not existing.private:
        raise HubError(
            f"{repo_id} exists and is public; --private does not change an existing repository "
            "(make it private on the Hub first); nothing was uploaded"
        )
    step, created = "create the repository", False
    try:
        if existing is None:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            created = True
        step = "list the repository's files"
        remote = api.list_repo_files(repo_id, repo_type="dataset") if existing is not None else []
        stale = sorted(f for f in remote if f.startswith(f"{DATA_DIR}/") and f not in folder.files)
        operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder.root / f)) for f in folder.files]
        operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
        step = "commit"
        total = sum(folder.splits.values())
        info = api.create_commit(
            repo_id,
            operations,
            repo_type="dataset",
            commit_message=commit_message or f"Upload {total} records with twgrpo {__version__}",
        )
    except (*failures, ValueError) as exc:  # ValueError: the Hub rejected README.md's metadata
        state = (
            "the repository was created empty"
            if created
            else ("the repository is unchanged" if existing is not None else "no repository was created")
        )
        raise HubError(f"{repo_id}: could not {step}: {_describe(exc)}; nothing was committed ({state})") from None
    return PushResult(
        repo_id=repo_id,
        commit_url=redact_url(info.commit_url),
        added=list(folder.files),
        deleted=stale,
        created=created,
    )
