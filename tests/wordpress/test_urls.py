"""The URL pairs: every form of the production URL, in an order that is safe to apply."""

from __future__ import annotations

import pytest

from staging.wordpress import StagingUrlInvalid, replace_in_value, url_replacements
from staging.wordpress.prepare import rewrite_pairs
from staging.wordpress.urls import protect_paths

STAGING = "https://shop-staging.up.railway.app"


def test_it_covers_http_https_www_json_escaped_and_url_encoded_forms() -> None:
    pairs = dict(url_replacements("https://shop.example/", STAGING))
    assert pairs["http://shop.example"] == STAGING
    assert pairs["https://www.shop.example"] == STAGING
    assert pairs["http:\\/\\/www.shop.example"] == "https:\\/\\/shop-staging.up.railway.app"
    assert pairs["https%3A%2F%2Fshop.example"] == "https%3A%2F%2Fshop-staging.up.railway.app"
    assert len(pairs) == 18


def test_it_covers_protocol_relative_urls_in_every_form_and_keeps_them_protocol_relative() -> None:
    pairs = dict(url_replacements("https://shop.example/", STAGING))
    assert pairs["//shop.example"] == "//shop-staging.up.railway.app"
    assert pairs["//www.shop.example"] == "//shop-staging.up.railway.app"
    assert pairs["\\/\\/shop.example"] == "\\/\\/shop-staging.up.railway.app"
    assert pairs["%2F%2Fwww.shop.example"] == "%2F%2Fshop-staging.up.railway.app"


def test_a_url_with_its_scheme_is_rewritten_once_not_again_as_protocol_relative() -> None:
    pairs = rewrite_pairs(["https://shop.example"], "http://shop-staging.test:8080")
    text = 'href="https://shop.example/a" href="//shop.example/b" src="//www.shop.example/c"'
    assert replace_in_value(text, pairs, host_boundaries=True) == (
        'href="http://shop-staging.test:8080/a" href="//shop-staging.test:8080/b" '
        'src="//shop-staging.test:8080/c"'
    )


def test_protocol_relative_links_are_rewritten_in_json_and_url_encoded_spellings() -> None:
    pairs = rewrite_pairs(["https://shop.example"], STAGING)
    text = '{"u":"\\/\\/shop.example\\/faq\\/"} next=%2F%2Fwww.shop.example%2Fcart'
    assert replace_in_value(text, pairs, host_boundaries=True) == (
        '{"u":"\\/\\/shop-staging.up.railway.app\\/faq\\/"} '
        "next=%2F%2Fshop-staging.up.railway.app%2Fcart"
    )


@pytest.mark.parametrize(
    "other",
    [
        "//shop.example.other.com/faq/",
        "//shop.examplehostile.com/",
        "//shop.example-cdn.net/x.js",
        "https://shop.example.org/",
        "http:\\/\\/shop.example.co.uk\\/",
        "https%3A%2F%2Fshop.example.net%2F",
        "%2F%2Fwww.shop.example2.com%2F",
    ],
)
def test_a_host_that_only_starts_with_the_production_host_is_left_alone(other: str) -> None:
    pairs = rewrite_pairs(["https://shop.example"], STAGING)
    text = f"<a href='{other}'>x</a> <a href='//shop.example/faq/'>faq</a>"
    assert replace_in_value(text, pairs, host_boundaries=True) == (
        f"<a href='{other}'>x</a> <a href='//shop-staging.up.railway.app/faq/'>faq</a>"
    )


def test_the_production_host_at_the_end_of_a_sentence_or_of_the_value_is_rewritten() -> None:
    pairs = rewrite_pairs(["https://shop.example"], STAGING)
    assert replace_in_value(
        "Visit https://shop.example. Or //shop.example", pairs, host_boundaries=True
    ) == (f"Visit {STAGING}. Or //shop-staging.up.railway.app")


def test_a_subdirectory_site_is_not_confused_with_a_longer_path() -> None:
    pairs = rewrite_pairs(["https://shop.example/blog"], STAGING)
    text = "https://shop.example/blog/post https://shop.example/blogger //shop.example/blog"
    assert replace_in_value(text, pairs, host_boundaries=True) == (
        f"{STAGING}/post https://shop.example/blogger //shop-staging.up.railway.app"
    )


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
        "http%3A%2F%2Fshop.example%2Fwp-content%2Fuploads%2Fc.jpg "
        "//shop.example/wp-content/uploads/2024/d.jpg "
        "\\/\\/shop.example\\/wp-content\\/uploads\\/e.jpg "
        "%2F%2Fwww.shop.example%2Fwp-content%2Fuploads%2F2024%2Ff.jpg"
    )
    expected = (
        "https://shop.example/wp-content/uploads/a.jpg https://shop-staging.up.railway.app/about "
        "https:\\/\\/www.shop.example\\/wp-content\\/uploads\\/b.jpg "
        "http%3A%2F%2Fshop.example%2Fwp-content%2Fuploads%2Fc.jpg "
        "//shop.example/wp-content/uploads/2024/d.jpg "
        "\\/\\/shop.example\\/wp-content\\/uploads\\/e.jpg "
        "%2F%2Fwww.shop.example%2Fwp-content%2Fuploads%2F2024%2Ff.jpg"
    )
    assert replace_in_value(text, pairs) == expected
    assert replace_in_value(text, pairs, host_boundaries=True) == expected


@pytest.mark.parametrize("staging", [STAGING, "http://shop-staging.test:8080"])
def test_leaving_out_the_pairs_a_protocol_relative_pair_covers_changes_no_text(
    staging: str,
) -> None:
    every_pair = protect_paths(url_replacements("https://www.shop.example", staging))
    fewer = rewrite_pairs(["https://www.shop.example"], staging)
    text = (
        "https://shop.example/a http://www.shop.example/b //shop.example/c "
        "https:\\/\\/www.shop.example\\/d http:\\/\\/shop.example\\/e "
        "https%3A%2F%2Fshop.example%2Ff http%3A%2F%2Fwww.shop.example%2Fg "
        "https://www.shop.example/wp-content/uploads/h.png https://shop.example.org/i"
    )
    assert len(fewer) < len(every_pair)
    assert replace_in_value(text, fewer, host_boundaries=True) == replace_in_value(
        text, every_pair, host_boundaries=True
    )
