"""The README's command tour runs as written (issue 13.7): every line, in order, in a scratch folder laid out
like the repository (`examples/` and `../shared` beside it), except lines marked `# placeholder`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO, SHARED

PLACEHOLDER = "# placeholder"


def tour_commands(readme: str) -> list[tuple[str, bool]]:
    """`(command, is_placeholder)` for each command of the first bash block under "## Command tour"."""
    section = readme.split("## Command tour", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    commands, pending = [], ""
    for line in block.splitlines():
        if pending:
            line, pending = pending + " " + line.strip(), ""
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip()
            continue
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            commands.append((stripped, PLACEHOLDER in stripped))
    return commands


def test_tour_parser_reads_continuations_and_placeholders():
    text = "## Command tour\n```bash\n# c\ntwgrpo a \\\n   --b c\ntwgrpo d  # placeholder: x\n```\n"
    assert tour_commands(text) == [("twgrpo a --b c", False), ("twgrpo d  # placeholder: x", True)]


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    commands = tour_commands((REPO / "README.md").read_text(encoding="utf-8"))
    runnable = [c for c, placeholder in commands if not placeholder]
    assert len(runnable) >= 20, "the command tour lost its commands"
    (tmp_path / "shared").symlink_to(SHARED)
    work = tmp_path / "repo"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
    }
    for command in runnable:
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"README command failed: {command}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, command
    # run from a checkout, the tour leaves nothing git would list (issue 32.8): its outputs go under runs/
    left = sorted(p.name for p in work.iterdir() if p.name != "examples")
    assert left == ["runs"], left
    ignored = subprocess.run(["git", "check-ignore", "-q", "runs/tiny"], cwd=REPO)
    assert ignored.returncode == 0, "runs/ is not ignored by .gitignore"


def card_excerpt(readme: str) -> list[str]:
    """The lines of the card excerpt under "## Publishing"."""
    section = readme.split("## Publishing", 1)[1]
    return re.search(r"```markdown\n(.*?)```", section, re.DOTALL).group(1).splitlines()


@pytest.mark.slow
def test_the_card_excerpt_is_what_publish_writes(tmp_path):
    """The Publishing section's commands, run as written: every line of its card excerpt is in the card
    `publish --dry-run` writes, in the same order (issue 32.6)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Publishing", 1)[1]
    commands = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1).splitlines()[:2]
    assert commands[1].startswith("twgrpo publish") and "--dry-run --out hub_preview" in commands[1]
    (tmp_path / "shared").symlink_to(SHARED)
    work = tmp_path / "repo"
    work.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        proc = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    card = (work / "hub_preview" / "README.md").read_text(encoding="utf-8").splitlines()
    position = 0
    for line in card_excerpt(readme):
        assert line in card[position:], f"not in the card (in this order): {line!r}"
        position = card.index(line, position) + 1


def layout_blocks(readme: str) -> dict[str, str]:
    """The text of each folder's entry in the README's "## Layout" block (`eval/` → its lines)."""
    block = re.search(r"```\n(.*?)```", readme.split("## Layout", 1)[1], re.DOTALL).group(1)
    entries: dict[str, str] = {}
    folder = None
    for line in block.splitlines():
        head = re.match(r"^(\S+/)\s", line)
        if head:
            folder = head.group(1)
        entries[folder] = entries.get(folder, "") + line + "\n"
    return entries


def test_the_layout_names_every_module_of_eval_and_cli_and_only_modules_that_exist():
    """The README's layout stays true (issue 26.6): each module of eval/ and cli/ is named, and every `name.py`
    the layout names for a package exists there."""
    entries = layout_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    for folder in ("twgrpo_data/", "eval/", "train/", "cli/"):
        named = set(re.findall(r"\b([a-z_]+\.py)\b", entries[folder]))
        assert named, folder
        missing = sorted(n for n in named if not any((REPO / folder).rglob(n)))
        assert not missing, f"the layout names {missing} under {folder}, which do not exist"
    for folder in ("eval/", "cli/"):
        modules = {p.name for p in (REPO / folder).glob("*.py")} - {"__init__.py", "__main__.py"}
        unnamed = sorted(m for m in modules if m not in entries[folder])
        assert not unnamed, f"{folder} modules missing from the README's layout: {unnamed}"
