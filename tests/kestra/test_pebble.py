"""The replay's Pebble filters give what Kestra's give."""

from __future__ import annotations

import pytest

from tests.kestra.pebble import slugify


@pytest.mark.parametrize(
    ("text", "kestra"),
    [
        # Kestra drops what is not a letter, digit, "_" or "-" rather than hyphenating it.
        ("v2.1", "v21"),
        ("Spring Sale!", "spring-sale"),
        ("Spring  Sale", "spring-sale"),
        ("Crème brûlée", "creme-brulee"),
        ("snake_case name", "snake-case-name"),
        (" leading and trailing ", "leading-and-trailing"),
        ("a - b", "a-b"),
        ("Ünïcödé", "unicode"),
        ("日本語", ""),
        ("tab\there", "tab-here"),
    ],
)
def test_slugify_gives_what_kestras_slugify_gives(text, kestra):
    assert slugify(text) == kestra
