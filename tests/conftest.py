"""Shared fixtures. Fixture modules of each part are listed in ``pytest_plugins``."""

from __future__ import annotations

pytest_plugins: list[str] = []
