"""production_links: what the health check reports as links from staging to production."""

from __future__ import annotations

from staging.wordpress import production_links

HOST = "shop.example"


def test_it_finds_a_production_link_in_every_spelling() -> None:
    page = (
        '<a href="https://shop.example/about/">a</a> <a href="http://www.shop.example/b">b</a> '
        '<a href="//shop.example/faq/">faq</a> '
        '<script>var s = {"url":"https:\\/\\/shop.example\\/cart\\/"};</script> '
        '<a href="/login?redirect_to=https%3A%2F%2Fshop.example%2Fmy-account%2F">in</a>'
    )
    assert production_links(page, HOST) == [
        "//shop.example/about/",
        "//www.shop.example/b",
        "//shop.example/faq/",
        "\\/\\/shop.example\\/cart\\/",
        "%2F%2Fshop.example%2Fmy-account%2F",
    ]


def test_uploads_on_production_are_not_reported_in_any_spelling() -> None:
    page = (
        '<img src="https://shop.example/wp-content/uploads/2026/01/a.png"> '
        '<img src="//www.shop.example/wp-content/uploads/b.png"> '
        '{"src":"https:\\/\\/shop.example\\/wp-content\\/uploads\\/c.png"} '
        "u=https%3A%2F%2Fshop.example%2Fwp-content%2Fuploads%2Fd.png"
    )
    assert production_links(page, HOST) == []


def test_look_alike_hosts_and_plain_mentions_are_not_production_links() -> None:
    page = (
        '<a href="//shop.example.partner.com/">p</a> <a href="https://shop.examples.org/">o</a> '
        '<a href="https://myshop.example/">m</a> <p>Visit shop.example in person.</p> '
        '<a href="https://shop-staging.up.railway.app/about/">staging</a>'
    )
    assert production_links(page, HOST) == []


def test_guids_in_feeds_and_the_rest_api_are_identifiers_not_links() -> None:
    feed = '<guid isPermaLink="false">https://shop.example/?p=1</guid>'
    rest = '[{"id":1,"guid":{"rendered":"https:\\/\\/shop.example\\/?p=1"}}]'
    assert production_links(feed + rest, HOST) == []


def test_a_host_with_a_port_matches_only_that_port_and_without_one_any_port() -> None:
    page = '<a href="http://shop.example:8080/a">a</a> <a href="http://shop.example:9090/b">b</a>'
    assert production_links(page, "shop.example:8080") == ["//shop.example:8080/a"]
    assert production_links(page, HOST) == ["//shop.example:8080/a", "//shop.example:9090/b"]


def test_hosts_compare_without_case_and_a_www_production_host_matches_the_bare_one() -> None:
    page = '<a href="HTTPS://Shop.Example/About/">a</a>'
    assert production_links(page, "www.shop.example") == ["//Shop.Example/About/"]


def test_each_link_is_reported_once_and_the_list_is_limited() -> None:
    page = " ".join(f'<a href="//shop.example/p{i}/">x</a>' for i in range(30))
    page += ' <a href="//shop.example/p0/">again</a>'
    links = production_links(page, HOST, limit=5)
    assert links == [f"//shop.example/p{i}/" for i in range(5)]
