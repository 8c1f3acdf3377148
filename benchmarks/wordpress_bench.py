# ruff: noqa: S608 - SQL built from fixed test table names, never from input
"""How long ``prepare_wordpress`` takes on a ~100 MB WordPress database.

Builds the database inside the local MariaDB (posts with URLs in their content, postmeta with
plain, JSON-escaped and serialized values, serialized options, comments, users), runs the
URL rewrite with the ``woocommerce`` masking preset, prints the figures and drops the database.

    .venv/bin/python -m benchmarks.wordpress_bench [--posts 26000] [--url mysql://root@127.0.0.1:3306]
"""

from __future__ import annotations

import argparse
import secrets
import time
from urllib.parse import urlsplit

import pymysql

from staging.wordpress import prepare_wordpress
from tests.fixtures_wordpress import PRODUCTION_URL, STAGING_URL, create_wordpress_tables

P = "wp_"
# ~2 KB of post content with four links (one to uploads) and a JSON-escaped block attribute.
CONTENT = (
    "CONCAT('<!-- wp:paragraph --><p>Post ', seq, ' ', REPEAT('Lorem ipsum dolor sit amet. ', 50),"
    f" '<a href=\"{PRODUCTION_URL}/shop/item-', seq, '/\">item</a> "
    f"<a href=\"http://client-shop.example/p/', seq, '\">old</a>"
    f"<img src=\"{PRODUCTION_URL}/wp-content/uploads/2024/01/img-', seq, '.jpg\">"
    '<!-- wp:cover {"url":"https:\\\\/\\\\/www.client-shop.example\\\\/c\', seq, \'"} -->'
    "', REPEAT('Consectetur adipiscing elit. ', 20), '</p><!-- /wp:paragraph -->')"
)


def build(connection: pymysql.connections.Connection, posts: int) -> None:
    create_wordpress_tables(connection, P, woocommerce=True)
    url = PRODUCTION_URL
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {P}options (option_name, option_value) VALUES "
            f"('siteurl', %s), ('home', %s), ('blog_public', '1')",
            (url, url),
        )
        cursor.execute(
            f"INSERT INTO {P}options (option_name, option_value) SELECT CONCAT('widget_', seq), "
            'CONCAT(\'a:2:{i:2;a:2:{s:5:"title";s:5:"Links";s:4:"link";s:\', '
            f"LENGTH(CONCAT('{url}/p', seq)), ':\"{url}/p', seq, '\";}}s:12:\"_multiwidget\";i:1;}}') "  # noqa: E501
            "FROM seq_1_to_2000"
        )
        cursor.execute(
            f"INSERT INTO {P}posts (post_author, post_content, post_title, post_excerpt, to_ping, "
            "pinged, post_content_filtered, guid, post_type, post_name) "
            f"SELECT 1, {CONTENT}, CONCAT('Post ', seq), '', '', '', '', "
            f"CONCAT('{url}/?p=', seq), IF(seq % 10 = 0, 'shop_order', 'post'), CONCAT('post-', seq) "  # noqa: E501
            f"FROM seq_1_to_{posts}"
        )
        cursor.execute(
            f"INSERT INTO {P}postmeta (post_id, meta_key, meta_value) "
            f"SELECT seq, '_menu_item_url', CONCAT('{url}/m', seq) FROM seq_1_to_{posts} UNION ALL "
            "SELECT seq, '_elementor_data', CONCAT('[{\"url\":\"https:\\\\/\\\\/www.client-shop.example"  # noqa: E501
            f"\\\\/e', seq, '\"}}]') FROM seq_1_to_{posts} UNION ALL "
            "SELECT seq, '_links', CONCAT('a:1:{i:0;s:', LENGTH(CONCAT('"
            f"{url}/l', seq)), ':\"{url}/l', seq, '\";}}') FROM seq_1_to_{posts} UNION ALL "
            "SELECT seq, '_edit_lock', '1700000000:1' FROM seq_1_to_" + str(posts)
        )
        cursor.execute(
            f"INSERT INTO {P}postmeta (post_id, meta_key, meta_value) "
            "SELECT seq * 10, '_billing_email', CONCAT('buyer', seq, '@mail.test') "
            f"FROM seq_1_to_{posts // 10}"
        )
        cursor.execute(
            f"INSERT INTO {P}users (user_login, user_pass, user_nicename, user_email, display_name) "  # noqa: E501
            "SELECT CONCAT('user', seq), '$P$hash', CONCAT('user', seq), "
            "CONCAT('user', seq, '@mail.test'), CONCAT('User Number ', seq) FROM seq_1_to_5000"
        )
        cursor.execute(
            f"INSERT INTO {P}comments (comment_post_ID, comment_author, comment_author_email, "
            "comment_author_IP, comment_content) SELECT seq, CONCAT('Commenter ', seq), "
            "CONCAT('c', seq, '@mail.test'), '203.0.113.5', "
            f"CONCAT('Thanks! See {url}/c', seq) FROM seq_1_to_{posts}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="mysql://root@127.0.0.1:3306")
    parser.add_argument("--posts", type=int, default=26000)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    name = f"understudy_wp_bench_{secrets.token_hex(4)}"
    server = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        with server.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        server.select_db(name)
        started = time.monotonic()
        build(server, args.posts)
        with server.cursor() as cursor:
            cursor.execute(
                "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s",
                (name,),
            )
            row = cursor.fetchone()
        size = int(row[0]) if row and row[0] is not None else 0
        print(f"built {size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
        report = prepare_wordpress(
            f"{args.url.rstrip('/')}/{name}", STAGING_URL, masking="woocommerce"
        )
        print(f"prepare_wordpress: {report.duration_seconds:.1f} s")
        print(f"rows rewritten: {report.total_rows_rewritten} {report.rows_rewritten}")
        if report.masking is not None:
            print(f"rows masked: {report.masking.total_rows}")
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


if __name__ == "__main__":
    main()
