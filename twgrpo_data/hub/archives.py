"""Video archives from the Hub, unpacked once into `HF_HOME/twgrpo/unpacked/<repo>/<commit>/`: a member that is
absolute, climbs out with `..` or is a link refuses the whole archive, as do zip bombs, archives with too many
members and members that are a file where a folder must be — so nothing is ever written outside that folder."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..errors import HubError
from .download import human_size

#: Limits of one archive from the Hub (a zip bomb is refused before anything is written): members, and the total
#: unpacked size against the archive's own size (videos and frames do not compress: real archives are ~1×).
MAX_ARCHIVE_MEMBERS = 200_000
MAX_ARCHIVE_RATIO = 20


def unpack_root(repo_id: str, commit: str) -> Path:
    """Where a repository's video archives are unpacked: `HF_HOME/twgrpo/unpacked/<repo>/<commit>`."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "twgrpo" / "unpacked" / ("datasets--" + repo_id.replace("/", "--")) / commit


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be unpacked, or None."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if "\\" in name or "\x00" in name:
        return "has a backslash or NUL in its name"
    path = PurePosixPath(name)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    return None


def unpacked_marker(dest: Path, name: str) -> Path:
    """The marker saying archive `name` was unpacked into `dest`: beside `dest`, not in it, so that no archive
    (whose members all land inside `dest`) can write one for itself or for another archive."""
    return dest.parent / f"{dest.name}.unpacked" / (name.replace("/", "--") + ".done")


def _archive_identity(archive: Path) -> str:
    """The archive's size and cache blob name (huggingface_hub names blobs by ETag: the file's hash)."""
    return f"{archive.stat().st_size} {archive.resolve().name}"


def _archive_problem(members: list[zipfile.ZipInfo], root: Path, archive_size: int) -> str | None:
    """Why the archive as a whole must not be unpacked into `root`, or None: too many members, an unpacked size
    far beyond the archive's (a zip bomb) or beyond the free disk space, or a member that is a file where
    another member (or a file already unpacked) needs a folder, or the other way round."""
    if len(members) > MAX_ARCHIVE_MEMBERS:
        return f"has {len(members):,} members (more than {MAX_ARCHIVE_MEMBERS:,})"
    total = sum(info.file_size for info in members)
    if total > MAX_ARCHIVE_RATIO * max(archive_size, 1) + (1 << 20):
        return (
            f"would unpack to {human_size(total)} from {human_size(archive_size)} (more than "
            f"{MAX_ARCHIVE_RATIO}× its size: a zip bomb)"
        )
    existing = next((p for p in [root, *root.parents] if p.exists()), root)
    free = shutil.disk_usage(existing).free
    if total > free:
        return f"would unpack to {human_size(total)}, more than the {human_size(free)} free on that disk"
    files = {PurePosixPath(i.filename).as_posix() for i in members if not i.is_dir()}
    folders = {PurePosixPath(i.filename).as_posix() for i in members if i.is_dir()}
    folders |= {parent.as_posix() for i in members for parent in PurePosixPath(i.filename).parents}
    clash = sorted(files & folders)
    if clash:
        return f"has member {clash[0]!r} both as a file and as a folder of other members"
    for name in sorted(files | folders):
        target = root / name
        if name in files and target.is_dir() or name in folders and target.exists() and not target.is_dir():
            return f"has member {name!r} where {target} already is a {'folder' if target.is_dir() else 'file'}"
    return None


def unpack_archive(archive: Path, dest: Path, *, name: str | None = None) -> int:
    """Unpack the zip `archive` into `dest` once (a marker records it); return the number of files written.

    Every member is checked before anything is written: an absolute path, a `..` component or a link refuses
    the whole archive (`HubError`), as do more than `MAX_ARCHIVE_MEMBERS` members, an unpacked size beyond
    `MAX_ARCHIVE_RATIO` times the archive's or beyond the free disk space, and a member that is a file and a
    folder at once. Files are written to a temporary name inside `dest` and renamed, and the marker (outside
    `dest`, naming the archive's size and hash) is written last, so an interrupted unpack is redone, never
    half-trusted, and no archive can claim to be unpacked.
    """
    label = name or archive.name
    marker = unpacked_marker(dest, label)
    identity = _archive_identity(archive)
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == identity:
        return 0
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HubError(f"{label}: not a readable zip archive ({exc})") from None
    with zf:
        members = zf.infolist()
        for info in members:
            problem = _member_problem(info)
            target = (root / info.filename).resolve()
            if problem is None and root not in target.parents and target != root:
                problem = "resolves outside the unpack folder"
            if problem:
                raise HubError(
                    f"{label}: member {info.filename!r} {problem}; refusing to unpack this archive "
                    "(nothing was written)"
                )
        problem = _archive_problem(members, root, archive.stat().st_size)
        if problem:
            raise HubError(f"{label}: the archive {problem}; refusing to unpack it (nothing was written)")
        written = 0
        root.mkdir(parents=True, exist_ok=True)
        for info in members:
            target = root / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a damaged download, not a bug
                raise HubError(
                    f"{archive}: member {info.filename!r} is corrupt ({exc}); delete the archive and run the command "
                    "again to download it anew"
                ) from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            written += 1
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(identity + "\n", encoding="utf-8")
    return written
