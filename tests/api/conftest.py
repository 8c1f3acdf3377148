from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_throttles(isolated_throttles) -> None:
    """Every API test counts its requests from zero."""
