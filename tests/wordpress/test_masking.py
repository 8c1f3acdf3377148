# ruff: noqa: S608 - SQL built from fixed test table names, never from input
"""Masking presets on a WordPress/WooCommerce copy, and per-site rules on PostgreSQL and MySQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest

from staging.wordpress import MaskingRule, MaskingRuleInvalid, mask_columns, prepare_wordpress
from tests.fixtures_wordpress import (
    STAGING_URL,
    connect,
    create_wordpress_tables,
    mysql_url,
    seed_options,
)

P = "wpx_"
ADMIN_CAPS = 'a:1:{s:13:"administrator";b:1;}'
CUSTOMER_CAPS = 'a:1:{s:8:"customer";b:1;}'


def build_shop(create_database: Callable[[], str]) -> str:
    name = create_database()
    with connect(name) as connection:
        create_wordpress_tables(connection, P, woocommerce=True)
        seed_options(connection, P)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {P}users (ID, user_login, user_pass, user_nicename, user_email,"
                " display_name) VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (
                        1,
                        "agency-admin",
                        "$P$Badminhash",
                        "agency-admin",
                        "admin@agency.test",
                        "Ada Admin",
                    ),
                    (2, "jane.doe", "$P$Bjanehash", "jane-doe", "jane@customer.test", "Jane Doe"),
                ],
            )
            cursor.executemany(
                f"INSERT INTO {P}usermeta (user_id, meta_key, meta_value) VALUES (%s, %s, %s)",
                [
                    (1, f"{P}capabilities", ADMIN_CAPS),
                    (1, "first_name", "Ada"),
                    (2, f"{P}capabilities", CUSTOMER_CAPS),
                    (2, "first_name", "Jane"),
                    (2, "last_name", "Doe"),
                    (2, "billing_phone", "+44 20 7946 0958"),
                ],
            )
            cursor.execute(
                f"INSERT INTO {P}posts (ID, post_type, post_content, post_title, post_excerpt, to_ping,"  # noqa: E501
                " pinged, post_content_filtered) VALUES (10, 'shop_order', '', '', '', '', '', ''),"
                " (11, 'post', '', '', '', '', '', '')"
            )
            cursor.executemany(
                f"INSERT INTO {P}postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
                [
                    (10, "_billing_email", "jane@customer.test"),
                    (10, "_billing_first_name", "Jane"),
                    (10, "_shipping_address_1", "1 Real Street"),
                    (10, "_customer_ip_address", "203.0.113.9"),
                    (11, "_billing_email", "not-an-order@example.test"),
                ],
            )
            cursor.execute(
                f"INSERT INTO {P}comments (comment_post_ID, comment_author, comment_author_email,"
                " comment_author_IP, comment_content) VALUES (11, 'Jane Doe', 'jane@customer.test',"
                " '198.51.100.7', 'Nice')"
            )
            cursor.execute(
                f"INSERT INTO {P}wc_orders (id, billing_email, ip_address) VALUES (10, 'jane@customer.test', '203.0.113.9')"  # noqa: E501
            )
            cursor.execute(
                f"INSERT INTO {P}wc_order_addresses (order_id, address_type, first_name, email, phone)"  # noqa: E501
                " VALUES (10, 'billing', 'Jane', 'jane@customer.test', '+44 20 7946 0958')"
            )
            cursor.execute(
                f"INSERT INTO {P}wc_customer_lookup (user_id, username, first_name, last_name, email)"  # noqa: E501
                " VALUES (2, 'jane.doe', 'Jane', 'Doe', 'jane@customer.test')"
            )
    return name


def rows(name: str, sql: str) -> list[tuple[object, ...]]:
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_the_wordpress_preset_masks_users_and_comments_but_keeps_admin_logins(
    mysql_database,
) -> None:
    name = build_shop(mysql_database)
    report = prepare_wordpress(mysql_url(name), STAGING_URL, masking="wordpress")

    users = rows(
        name,
        f"SELECT ID, user_login, user_pass, user_email, display_name FROM {P}users ORDER BY ID",
    )
    admin, customer = users
    assert admin[1:3] == ("agency-admin", "$P$Badminhash")
    assert str(admin[3]).endswith("@example.invalid")
    assert customer[1] != "jane.doe" and str(customer[1]).startswith("user-")
    assert str(customer[3]).startswith("user-") and str(customer[3]).endswith("@example.invalid")
    assert str(customer[4]).startswith("User ")
    [comment] = rows(
        name, f"SELECT comment_author, comment_author_email, comment_author_IP FROM {P}comments"
    )
    assert comment[1] == customer[3]  # the same address masks the same way everywhere
    assert str(comment[2]).startswith("10.") and comment[2] != "198.51.100.7"
    assert report.masking is not None
    assert report.masking.columns[f"{P}users.user_email"] == 2
    assert report.masking.columns[f"{P}users.user_login"] == 1
    assert report.masking.columns[f"{P}comments.comment_author_IP"] == 1
    # Orders are left to the woocommerce preset.
    assert ("_billing_email", "jane@customer.test") in rows(
        name, f"SELECT meta_key, meta_value FROM {P}postmeta"
    )


def test_the_site_admin_email_and_a_pending_new_one_are_masked_like_the_users(
    mysql_database,
) -> None:
    name = build_shop(mysql_database)
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {P}options (option_name, option_value) VALUES (%s, %s)",
            [("admin_email", "admin@agency.test"), ("new_admin_email", "owner@shop.test")],
        )

    report = prepare_wordpress(mysql_url(name), STAGING_URL, masking="wordpress")

    options = {
        row[0]: row[1]
        for row in rows(
            name,
            f"SELECT option_name, option_value FROM {P}options "
            "WHERE option_name IN ('admin_email', 'new_admin_email')",
        )
    }
    [admin_user_email] = rows(name, f"SELECT user_email FROM {P}users WHERE ID = 1")
    assert options["admin_email"] == admin_user_email[0]  # same address, same mask
    assert str(options["new_admin_email"]).endswith("@example.invalid")
    assert "owner@shop.test" not in str(options)
    assert report.masking is not None
    assert report.masking.columns[f"{P}options.option_value[admin_email]"] == 1
    assert report.masking.columns[f"{P}options.option_value[new_admin_email]"] == 1


def test_without_a_preset_the_admin_email_is_kept(mysql_database) -> None:
    name = build_shop(mysql_database)
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {P}options (option_name, option_value) VALUES "
            "('admin_email', 'admin@agency.test')"
        )

    prepare_wordpress(mysql_url(name), STAGING_URL)

    assert rows(name, f"SELECT option_value FROM {P}options WHERE option_name = 'admin_email'") == [
        ("admin@agency.test",)
    ]


def test_masking_is_deterministic_across_copies(mysql_database) -> None:
    first, second = build_shop(mysql_database), build_shop(mysql_database)
    for name in (first, second):
        prepare_wordpress(mysql_url(name), STAGING_URL, masking="woocommerce")
    query = f"SELECT user_login, user_email, display_name FROM {P}users ORDER BY ID"
    assert rows(first, query) == rows(second, query)


def test_the_woocommerce_preset_masks_orders_in_postmeta_and_hpos_tables(mysql_database) -> None:
    name = build_shop(mysql_database)
    report = prepare_wordpress(mysql_url(name), STAGING_URL, masking="woocommerce")

    meta = rows(name, f"SELECT post_id, meta_key, meta_value FROM {P}postmeta ORDER BY meta_id")
    order = {key: value for post, key, value in meta if post == 10}
    assert str(order["_billing_email"]).endswith("@example.invalid")
    assert str(order["_billing_first_name"]).startswith("User ")
    assert str(order["_shipping_address_1"]).startswith("masked-")
    assert str(order["_customer_ip_address"]).startswith("10.")
    assert (11, "_billing_email", "not-an-order@example.test") in meta
    [hpos] = rows(name, f"SELECT billing_email, ip_address FROM {P}wc_orders")
    assert hpos[0] == order["_billing_email"]
    [address] = rows(name, f"SELECT first_name, email, phone FROM {P}wc_order_addresses")
    assert str(address[2]).startswith("+1555") and len(str(address[2])) == 12
    [lookup] = rows(name, f"SELECT username, email FROM {P}wc_customer_lookup")
    assert lookup[0] != "jane.doe"
    [phone] = rows(name, f"SELECT meta_value FROM {P}usermeta WHERE meta_key = 'billing_phone'")
    assert phone[0] == address[2]
    assert report.masking is not None
    assert report.masking.columns[f"{P}postmeta.meta_value[_billing_email]"] == 1
    assert report.masking.columns[f"{P}wc_order_addresses.email"] == 1
    assert report.masking.total_rows >= 15


def test_an_unknown_preset_is_refused(mysql_database) -> None:
    name = build_shop(mysql_database)
    with pytest.raises(MaskingRuleInvalid):
        prepare_wordpress(mysql_url(name), STAGING_URL, masking="everything")


# --- rules for any application -----------------------------------------------------------------

POSTGRES_URL = os.environ.get("WORDPRESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture
def postgres_app() -> Iterator[str]:
    name = f"understudy_mask_test_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = f"{POSTGRES_URL}/{name}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE customers (id serial primary key, email text not null, full_name varchar(80),"  # noqa: E501
            " phone text, last_ip inet, notes text, age int)"
        )
        connection.execute(
            "INSERT INTO customers (email, full_name, phone, last_ip, notes, age) VALUES"
            " ('a@real.test', 'Ann Real', '555-0100', '192.0.2.1', 'VIP', 40),"
            " ('b@real.test', NULL, '', NULL, NULL, 30)"
        )
    yield url
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def test_rules_mask_a_postgresql_app_deterministically(postgres_app: str) -> None:
    rules = [
        MaskingRule("customers", "email", "email"),
        MaskingRule("public.customers", "full_name", "name"),
        MaskingRule("customers", "phone", "phone"),
        MaskingRule("customers", "last_ip", "ip"),
        MaskingRule("customers", "notes", "null"),
    ]
    report = mask_columns(postgres_app, rules)
    assert report.columns == {
        "customers.email": 2,
        "customers.full_name": 1,
        "customers.phone": 1,
        "customers.last_ip": 1,
        "customers.notes": 1,
    }
    with psycopg.connect(postgres_app) as connection:
        found = connection.execute(
            "SELECT email, full_name, phone, host(last_ip), notes FROM customers ORDER BY id"
        ).fetchall()
    assert found[0][0].endswith("@example.invalid") and found[0][0] != found[1][0]
    assert found[0][1].startswith("User ") and found[0][2].startswith("+1555")
    assert found[0][3].startswith("10.") and found[0][4] is None
    assert found[1][1:] == (None, "", None, None)


def test_postgres_and_mysql_mask_the_same_value_the_same_way(
    postgres_app: str, mysql_database
) -> None:
    name = mysql_database()
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE customers (id int primary key, email varchar(100), phone varchar(30), ip varchar(40))"  # noqa: E501
        )
        cursor.execute("INSERT INTO customers VALUES (1, 'a@real.test', '555-0100', '192.0.2.1')")
    rules = [MaskingRule("customers", "email", "email"), MaskingRule("customers", "phone", "phone")]
    mask_columns(postgres_app, rules)
    report = mask_columns(mysql_url(name), [*rules, MaskingRule("customers", "ip", "ip")])
    assert report.total_rows == 3
    with psycopg.connect(postgres_app) as pg:
        expected = pg.execute("SELECT email, phone FROM customers WHERE id = 1").fetchone()
    assert rows(name, "SELECT email, phone FROM customers") == [expected]


@pytest.mark.parametrize(
    "rule",
    [
        MaskingRule("customers", "missing", "email"),
        MaskingRule("nope", "email", "email"),
        MaskingRule("customers", "email; DROP TABLE customers", "email"),
        MaskingRule("customers", "email", "shred"),
        MaskingRule("customers", "age", "text"),
        MaskingRule("customers", "email", "null"),
    ],
)
def test_invalid_rules_are_refused_before_anything_changes(
    postgres_app: str, rule: MaskingRule
) -> None:
    with pytest.raises(MaskingRuleInvalid) as raised:
        mask_columns(postgres_app, [MaskingRule("customers", "phone", "phone"), rule])
    assert raised.value.code == "masking_rule_invalid"
    with psycopg.connect(postgres_app) as connection:
        assert connection.execute("SELECT phone FROM customers WHERE id = 1").fetchone() == (
            "555-0100",
        )
