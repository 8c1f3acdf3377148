# ruff: noqa: S608 - SQL built from fixed test table names, never from input
"""prepare_wordpress on a real MariaDB copy of a small WordPress site with the prefix ``wpx_``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from staging.wordpress import (
    DEFAULT_RESET_OPTIONS,
    WordPressNotFound,
    WordPressPrefixAmbiguous,
    detect_site,
    prepare_wordpress,
    replace_in_value,
)
from staging.wordpress.prepare import rewrite_pairs
from staging.wordpress.serialized import PhpArray, PhpObject, php_serialize
from tests.fixtures_wordpress import (
    PRODUCTION_URL,
    STAGING_URL,
    connect,
    create_wordpress_tables,
    mysql_url,
    seed_options,
)
from tests.wordpress.php import run_reference, unserializes

P = "wpx_"
UPLOAD = f"{PRODUCTION_URL}/wp-content/uploads/2024/05/shoe.jpg"
WIDGET = php_serialize(
    PhpArray(
        {
            2: PhpArray(
                {b"title": b"Links", b"text": f'<a href="{PRODUCTION_URL}/shop">Shop</a>'.encode()}
            ),
            b"_multiwidget": 1,
            b"nested": php_serialize(PhpArray({0: b"http://client-shop.example/old"})),
        }
    )
).decode()
THEME_MODS = php_serialize(
    PhpObject(b"stdClass", {b"logo": UPLOAD.encode(), b"link": f"{PRODUCTION_URL}/".encode()})
).decode()


def build_site(create_database: Callable[[], str]) -> str:
    name = create_database()
    with connect(name) as connection:
        create_wordpress_tables(connection, P)
        seed_options(connection, P)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {P}options (option_name, option_value) VALUES (%s, %s)",
                [
                    ("widget_text", WIDGET),
                    ("theme_mods_shop", THEME_MODS),
                    ("wp_mail_smtp", 'a:1:{s:4:"mail";a:1:{s:6:"mailer";s:4:"smtp";}}'),
                    ("wordpress_api_key", "abc123"),
                    ("jetpack_options", "a:0:{}"),
                ],
            )
            posts = [
                (
                    f'<p>Visit <a href="{PRODUCTION_URL}/shop/">the shop</a>.</p>'
                    f'<img src="{UPLOAD}"> <a href="http://client-shop.example/a">a</a>',
                    "Welcome",
                    f"{PRODUCTION_URL}/?p=1",
                    "post",
                ),
                (
                    '<!-- wp:cover {"url":"https:\\/\\/www.client-shop.example\\/wp-content\\/uploads\\/c.jpg",'  # noqa: E501
                    '"href":"https:\\/\\/www.client-shop.example\\/about"} -->',
                    "Blocks",
                    f"{PRODUCTION_URL}/?p=2",
                    "page",
                ),
                ("No links here", "Plain", f"{PRODUCTION_URL}/?p=3", "post"),
                (
                    '<a href="//client-shop.example/faq/">FAQ</a> '
                    '<a href="//www.client-shop.example/">home</a> '
                    '<img src="//client-shop.example/wp-content/uploads/p.jpg">',
                    "Protocol-relative",
                    f"{PRODUCTION_URL}/?p=4",
                    "post",
                ),
                (
                    '<a href="//client-shop.example.partner.com/">partner</a> '
                    '<a href="https://www.client-shop.examples.org/">other</a> '
                    '<a href="//www.client-shop.example/contact/">contact</a>',
                    "Look-alikes next to the real host",
                    f"{PRODUCTION_URL}/?p=5",
                    "post",
                ),
                (
                    '<a href="//client-shop.example.partner.com/">only a look-alike</a>',
                    "Look-alike only",
                    f"{PRODUCTION_URL}/?p=6",
                    "post",
                ),
            ]
            cursor.executemany(
                f"INSERT INTO {P}posts (post_content, post_title, guid, post_type, post_excerpt,"
                " to_ping, pinged, post_content_filtered) VALUES (%s, %s, %s, %s, '', '', '', '')",
                posts,
            )
            cursor.executemany(
                f"INSERT INTO {P}postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
                [
                    (1, "_menu_item_url", f"{PRODUCTION_URL}/contact"),
                    (1, "_elementor_data", '[{"url":"https:\\/\\/www.client-shop.example\\/x"}]'),
                    (
                        2,
                        "_links",
                        php_serialize(PhpArray({0: f"{PRODUCTION_URL}/é".encode()})).decode(),
                    ),
                    (2, "_redirect", "https%3A%2F%2Fwww.client-shop.example%2Fcart"),
                    (3, "_plain", None),
                    (4, "_block", '{"href":"\\/\\/client-shop.example\\/faq\\/"}'),
                    (4, "_next", "next=%2F%2Fclient-shop.example%2Fcart%2F"),
                    (
                        5,
                        "_links",
                        php_serialize(
                            PhpArray(
                                {
                                    0: b"//client-shop.example/faq/",
                                    1: b"//client-shop.example.partner.com/",
                                }
                            )
                        ).decode(),
                    ),
                ],
            )
    return name


def snapshot(name: str) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with connect(name) as connection, connection.cursor() as cursor:
        for table in ("options", "posts", "postmeta"):
            cursor.execute(f"SELECT * FROM {P}{table} ORDER BY 1")
            tables[table] = list(cursor.fetchall())
    return tables


def test_it_detects_the_table_prefix_and_the_production_url(mysql_database) -> None:
    name = build_site(mysql_database)
    site = detect_site(mysql_url(name))
    assert (site.table_prefix, site.site_url, site.home_url) == (P, PRODUCTION_URL, PRODUCTION_URL)


def test_it_refuses_a_database_without_wordpress(mysql_database) -> None:
    with pytest.raises(WordPressNotFound) as raised:
        detect_site(mysql_url(mysql_database()))
    assert raised.value.code == "wordpress_not_found"


def test_it_refuses_a_database_with_two_installations(mysql_database) -> None:
    name = mysql_database()
    with connect(name) as connection:
        for prefix in ("wp_", "blog_"):
            create_wordpress_tables(connection, prefix)
            seed_options(connection, prefix)
    with pytest.raises(WordPressPrefixAmbiguous) as raised:
        detect_site(mysql_url(name))
    assert raised.value.details["table_prefixes"] == ["blog_", "wp_"]


def test_it_rewrites_every_form_of_the_url_but_keeps_guid_and_uploads(mysql_database, php) -> None:
    name = build_site(mysql_database)
    before = snapshot(name)

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    after = snapshot(name)
    posts = {row[0]: row for row in after["posts"]}
    content = posts[1][4]
    assert f'href="{STAGING_URL}/shop/"' in content
    assert f'src="{UPLOAD}"' in content
    assert f'href="{STAGING_URL}/a"' in content
    assert "https:\\/\\/client-shop-staging.up.railway.app\\/about" in posts[2][4]
    assert "https:\\/\\/www.client-shop.example\\/wp-content\\/uploads\\/c.jpg" in posts[2][4]
    assert [row[18] for row in after["posts"]] == [row[18] for row in before["posts"]]
    options = {row[1]: row[2] for row in after["options"]}
    assert options["siteurl"] == options["home"] == STAGING_URL
    assert options["blog_public"] == "0"
    meta = {row[2]: row[3] for row in after["postmeta"]}
    assert meta["_redirect"] == "https%3A%2F%2Fclient-shop-staging.up.railway.app%2Fcart"
    assert report.table_prefix == P
    assert report.production_url == PRODUCTION_URL
    assert report.rows_rewritten == {f"{P}options": 4, f"{P}posts": 4, f"{P}postmeta": 7}
    # Primary keys never change and no row appears or disappears (reset options aside).
    assert [row[0] for row in after["posts"]] == [row[0] for row in before["posts"]]
    assert [row[0] for row in after["postmeta"]] == [row[0] for row in before["postmeta"]]
    serialized = [options["widget_text"], options["theme_mods_shop"], meta["_links"]]
    assert all(unserializes(php, serialized))


def test_it_rewrites_protocol_relative_links_once_and_leaves_look_alike_hosts(
    mysql_database, php
) -> None:
    name = build_site(mysql_database)

    prepare_wordpress(mysql_url(name), STAGING_URL)

    after = snapshot(name)
    posts = {row[5]: row[4] for row in after["posts"]}
    staging_relative = "//client-shop-staging.up.railway.app"
    assert posts["Protocol-relative"] == (
        f'<a href="{staging_relative}/faq/">FAQ</a> <a href="{staging_relative}/">home</a> '
        '<img src="//client-shop.example/wp-content/uploads/p.jpg">'
    )
    assert posts["Look-alikes next to the real host"] == (
        '<a href="//client-shop.example.partner.com/">partner</a> '
        '<a href="https://www.client-shop.examples.org/">other</a> '
        f'<a href="{staging_relative}/contact/">contact</a>'
    )
    assert posts["Look-alike only"] == (
        '<a href="//client-shop.example.partner.com/">only a look-alike</a>'
    )
    meta = {(row[1], row[2]): row[3] for row in after["postmeta"]}
    assert meta[(4, "_block")] == '{"href":"\\/\\/client-shop-staging.up.railway.app\\/faq\\/"}'
    assert meta[(4, "_next")] == "next=%2F%2Fclient-shop-staging.up.railway.app%2Fcart%2F"
    links = meta[(5, "_links")]
    assert (
        links
        == php_serialize(
            PhpArray(
                {0: f"{staging_relative}/faq/".encode(), 1: b"//client-shop.example.partner.com/"}
            )
        ).decode()
    )
    assert all(unserializes(php, [links]))


def test_the_database_rewrite_equals_wp_clis_replacer_on_every_cell(mysql_database, php) -> None:
    name = build_site(mysql_database)
    before = snapshot(name)
    prepare_wordpress(mysql_url(name), STAGING_URL, reset_options=(), adjustments=())
    after = snapshot(name)
    pairs = rewrite_pairs([PRODUCTION_URL], STAGING_URL)
    assert any("//client-shop.example.partner.com/" in row[4] for row in after["posts"])
    text_columns = {
        "options": [1, 2, 3],
        "posts": [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 20, 21],
        "postmeta": [2, 3],
    }
    cases = []
    for table, columns in text_columns.items():
        for old_row, new_row in zip(before[table], after[table], strict=True):
            for column in columns:
                old, new = old_row[column], new_row[column]
                if table == "options" and old_row[1] == "blog_public":
                    continue
                if isinstance(old, str):
                    assert new == replace_in_value(old, pairs, host_boundaries=True)
                    cases.append((old, pairs, new))
    verdicts = run_reference(php, cases, host_boundaries=True)
    for (old, _, new), verdict in zip(cases, verdicts, strict=True):
        assert new == verdict["reference"], old


def test_it_resets_the_listed_options_and_reports_them(mysql_database) -> None:
    name = build_site(mysql_database)
    report = prepare_wordpress(mysql_url(name), STAGING_URL)
    assert report.options_reset == ["jetpack_options", "wordpress_api_key"]
    assert report.options_adjusted == ["wp_mail_smtp"]
    assert set(report.options_reset) <= set(DEFAULT_RESET_OPTIONS)
    options = {row[1] for row in snapshot(name)["options"]}
    assert not options & set(DEFAULT_RESET_OPTIONS)


def test_it_resets_options_by_prefix_when_asked(mysql_database) -> None:
    name = build_site(mysql_database)
    report = prepare_wordpress(mysql_url(name), STAGING_URL, reset_options=["widget_*", "missing"])
    assert report.options_reset == ["widget_text"]


def test_running_it_twice_changes_nothing_more(mysql_database) -> None:
    name = build_site(mysql_database)
    prepare_wordpress(mysql_url(name), STAGING_URL)
    first = snapshot(name)
    report = prepare_wordpress(mysql_url(name), STAGING_URL)
    assert report.rows_rewritten == {}
    assert snapshot(name) == first


def test_it_skips_tables_without_a_primary_key_like_wp_cli(mysql_database) -> None:
    name = build_site(mysql_database)
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {P}plugin_log (line text)")
        cursor.execute(f"INSERT INTO {P}plugin_log VALUES (%s)", (PRODUCTION_URL,))
    report = prepare_wordpress(mysql_url(name), STAGING_URL)
    assert report.tables_skipped == [f"{P}plugin_log"]
