"""Check the wheels `make gpu-wheels` downloaded for the GPU machine, and report what will travel there.

Every dependency of every carried runtime wheel (`Requires-Dist` without an extra, markers evaluated for CPython 3.12
on Linux x86_64) must be satisfied by another carried wheel or by a distribution of the machine's image
(`scripts/gpu-image.txt`; versions are checked where the image's version is known); the build wheels
(`FOLDER/build`, for building twgrpo in an isolated environment there) must need only each other. One version per
distribution (pip refuses two in one install). The size of what travels — the repository's files that git
tracks or does not ignore, plus the wheels folder — must stay under the device tool's 64 MiB.

    python scripts/gpu_wheels.py .gpu-wheels          # exit 1 naming each problem
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

LIMIT_MIB = 64
# The GPU image's interpreter, for evaluating environment markers.
TARGET_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}
MIB = 2**20


def read_image(path: Path) -> dict[str, Version | None]:
    """Distribution name → known version (None when only its presence is known) from an image list file."""
    image: dict[str, Version | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for item in line.split("#", 1)[0].split():
            name, _, version = item.partition("==")
            image[canonicalize_name(name)] = Version(version) if version else None
    return image


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The unconditional requirements of a wheel, for the target interpreter."""
    with zipfile.ZipFile(wheel) as zf:
        metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        headers = HeaderParser().parsestr(zf.read(metadata).decode("utf-8"))
    reqs = [Requirement(r) for r in headers.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(TARGET_ENV)]


def check(wheels: list[Path], image: dict[str, Version | None]) -> list[str]:
    """Problems with carrying `wheels` to a machine holding `image` (empty when none)."""
    problems = []
    carried: dict[str, Version] = {}
    for wheel in wheels:
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if name in carried:
            problems.append(f"{wheel.name}: a second version of {name} (also {carried[name]}); keep one")
        carried[name] = version
    for wheel in wheels:
        for req in wheel_requirements(wheel):
            name = canonicalize_name(req.name)
            if name in carried:
                have, where = carried[name], "carried"
            elif name in image:
                have, where = image[name], "in the image"
            else:
                problems.append(f"{wheel.name}: needs {req}, which is neither carried nor in the image")
                continue
            if have is not None and not req.specifier.contains(have, prereleases=True):
                problems.append(f"{wheel.name}: needs {req}, but {name} {have} is {where}")
    return problems


def repo_bytes(repo: Path) -> int:
    """Bytes of the files that travel with the working tree: tracked, or untracked and not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        check=True,
        capture_output=True,
    ).stdout
    return sum((repo / f).stat().st_size for f in out.decode().split("\0") if f and (repo / f).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the carried folder (.gpu-wheels)")
    parser.add_argument(
        "--image",
        type=Path,
        default=Path(__file__).with_name("gpu-image.txt"),
        help="the GPU image's distributions (default scripts/gpu-image.txt)",
    )
    args = parser.parse_args(argv)
    runtime = sorted(args.folder.glob("*.whl"))
    if not runtime:
        print(f"{args.folder}: no wheels; run `make gpu-wheels`", file=sys.stderr)
        return 1
    problems = check(runtime, read_image(args.image))
    # twgrpo is built there in an isolated environment holding only the build wheels
    problems += check(sorted((args.folder / "build").glob("*.whl")), {})
    for wheel in runtime:
        print(f"  {wheel.stat().st_size / MIB:7.2f} MiB  {wheel.name}")
    carried = sum(f.stat().st_size for f in args.folder.rglob("*") if f.is_file())
    repo = repo_bytes(Path(__file__).resolve().parent.parent)
    total = carried + repo
    print(
        f"{args.folder}: {carried / MIB:.1f} MiB (wheels, build wheels, videos) + repository {repo / MIB:.1f} MiB "
        f"= {total / MIB:.1f} MiB of the {LIMIT_MIB} MiB that may travel"
    )
    if total > LIMIT_MIB * MIB:
        problems.append(f"{total / MIB:.1f} MiB would travel, over the {LIMIT_MIB} MiB limit")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
