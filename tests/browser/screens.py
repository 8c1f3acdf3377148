"""Screenshots for docs/screenshots, taken by the browser tests when SCREENSHOT_DIR is set
(`SCREENSHOT_DIR=docs/screenshots pytest -m browser`), so they always show the current pages."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page


def snap(page: Page, name: str) -> None:
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
