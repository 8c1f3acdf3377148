"""Shared fixtures. Fixture modules of each part are listed in ``pytest_plugins``."""

from __future__ import annotations

pytest_plugins: list[str] = [
    "tests.fixtures_railway",
    "tests.fixtures_wordpress",
    "tests.fixtures_dbcopy",
    "tests.fixtures_api",
    "tests.fixtures_portal",
    "tests.fixtures_pipeline",
    "tests.fixtures_browser",
]
