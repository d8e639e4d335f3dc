"""Headless Chromium for the HTML report tests, driven by Playwright for Python.

The browser is the system's (Debian's `chromium` package, or `$TWGRPO_CHROMIUM`), never a Playwright
download. Without it, or without the `playwright` package, every test here is skipped with the reason
(`make test`); `make test-browser` installs both, sets `TWGRPO_REQUIRE_BROWSER` and runs them, so there a
missing browser is an error, not a silent skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[2] / "build" / "browser"  # screenshots, for a person to look at


def _chromium() -> str | None:
    given = os.environ.get("TWGRPO_CHROMIUM")
    if given:
        return given
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.browser)
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install 'twgrpo[browser]'; make test-browser)"
    if reason is None and _chromium() is None:
        reason = "no chromium on PATH (apt-get install chromium; make test-browser)"
    if reason and ours and os.environ.get("TWGRPO_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"TWGRPO_REQUIRE_BROWSER is set but {reason}")  # `make test-browser` never skips
    if reason:
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A report opened in a fresh laptop-sized page, with its console messages and script errors."""

    def __init__(self, browser, path: Path):
        self.messages: list[tuple[str, str]] = []
        self.page = browser.new_page(viewport={"width": 1366, "height": 768})
        self.page.on("console", lambda m: self.messages.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.messages if kind in ("error", "pageerror")]

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        BUILD.mkdir(parents=True, exist_ok=True)
        path = BUILD / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def open_page(browser):
    pages = []

    def open_(path: Path) -> Page:
        pages.append(Page(browser, path))
        return pages[-1]

    yield open_
    for p in pages:
        p.page.close()
