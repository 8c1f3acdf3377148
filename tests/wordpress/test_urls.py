"""The URL pairs: every form of the production URL, in an order that is safe to apply."""

from __future__ import annotations

import pytest

from staging.wordpress import StagingUrlInvalid, replace_in_value, url_replacements
from staging.wordpress.prepare import rewrite_pairs

STAGING = "https://shop-staging.up.railway.app"


def test_it_covers_http_https_www_json_escaped_and_url_encoded_forms() -> None:
    pairs = dict(url_replacements("https://shop.example/", STAGING))
    assert pairs["http://shop.example"] == STAGING
    assert pairs["https://www.shop.example"] == STAGING
    assert pairs["http:\\/\\/www.shop.example"] == "https:\\/\\/shop-staging.up.railway.app"
    assert pairs["https%3A%2F%2Fshop.example"] == "https%3A%2F%2Fshop-staging.up.railway.app"
    assert len(pairs) == 12


def test_it_orders_the_pairs_longest_first() -> None:
    lengths = [len(search) for search, _ in url_replacements("https://shop.example", STAGING)]
    assert lengths == sorted(lengths, reverse=True)


def test_it_keeps_the_path_of_a_site_in_a_subdirectory() -> None:
    pairs = dict(url_replacements("https://shop.example/blog", STAGING))
    assert pairs["https:\\/\\/shop.example\\/blog"] == "https:\\/\\/shop-staging.up.railway.app"


def test_it_refuses_a_staging_url_that_contains_the_production_url() -> None:
    with pytest.raises(StagingUrlInvalid):
        url_replacements("http://shop.example", "http://shop.example.staging.test")
    with pytest.raises(StagingUrlInvalid):
        url_replacements("https://shop.example", "ftp://elsewhere")


def test_the_rewrite_pairs_leave_uploads_on_production_in_every_form() -> None:
    pairs = rewrite_pairs(["https://shop.example"], STAGING)
    text = (
        "https://shop.example/wp-content/uploads/a.jpg https://shop.example/about "
        "https:\\/\\/www.shop.example\\/wp-content\\/uploads\\/b.jpg "
        "http%3A%2F%2Fshop.example%2Fwp-content%2Fuploads%2Fc.jpg"
    )
    assert replace_in_value(text, pairs) == (
        "https://shop.example/wp-content/uploads/a.jpg https://shop-staging.up.railway.app/about "
        "https:\\/\\/www.shop.example\\/wp-content\\/uploads\\/b.jpg "
        "http%3A%2F%2Fshop.example%2Fwp-content%2Fuploads%2Fc.jpg"
    )
