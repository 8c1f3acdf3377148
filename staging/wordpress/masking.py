"""Deterministic masking of personal data, done by ``UPDATE`` statements in the database.

Every masked value is derived from a SHA-256 of a salt and the original value, so the same input
always gives the same output (refreshes are stable, the same e-mail address masks the same way in
every table) and nothing of the original can be read back without the salt.

| kind  | result                                   |
| ----- | ---------------------------------------- |
| email | ``user-<12 hex>@example.invalid``        |
| name  | ``User <8 hex>``                         |
| phone | ``+1555`` and 7 digits                   |
| text  | ``masked-<10 hex>``                      |
| ip    | ``10.x.y.z`` (three bytes of the hash)   |
| null  | ``NULL`` (the column must accept it)     |

Empty and ``NULL`` values stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field

import psycopg
from pymysql.connections import Connection
from pymysql.cursors import Cursor

from .connection import (
    IDENTIFIER,
    connect_mysql,
    connect_postgres,
    parse_database_url,
)
from .errors import MaskingRuleInvalid

DEFAULT_SALT = "understudy"
MASKING_KINDS = frozenset({"email", "name", "phone", "text", "ip", "null"})
PRESETS = ("wordpress", "woocommerce")
_ROLE = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class MaskingRule:
    table: str
    column: str
    kind: str


@dataclass(frozen=True)
class MaskingReport:
    preset: str
    columns: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.columns.values())


def _mysql_expression(kind: str, column: str) -> str:
    """The masked value of ``column``; every ``%s`` stands for the salt."""
    digest = f"SHA2(CONCAT(%s, {column}), 256)"
    if kind == "email":
        return f"CONCAT('user-', LEFT({digest}, 12), '@example.invalid')"
    if kind == "name":
        return f"CONCAT('User ', LEFT({digest}, 8))"
    if kind == "login":
        return f"CONCAT('user-', LEFT({digest}, 12))"
    if kind == "phone":
        return f"CONCAT('+1555', LPAD(CONV(LEFT({digest}, 8), 16, 10) MOD 10000000, 7, '0'))"
    if kind == "text":
        return f"CONCAT('masked-', LEFT({digest}, 10))"
    if kind == "ip":
        octets = ", '.', ".join(
            f"CONV(SUBSTRING({digest}, {start}, 2), 16, 10)" for start in (1, 3, 5)
        )
        return f"CONCAT('10.', {octets})"
    if kind == "blank":
        return "''"
    raise ValueError(kind)


def _postgres_expression(kind: str, column: str) -> str:
    digest = f"encode(sha256(convert_to(%s || {column}::text, 'UTF8')), 'hex')"

    def byte(start: int) -> str:
        return f"(('x' || substr({digest}, {start}, 2))::bit(8)::int)::text"

    if kind == "email":
        return f"'user-' || left({digest}, 12) || '@example.invalid'"
    if kind == "name":
        return f"'User ' || left({digest}, 8)"
    if kind == "phone":
        number = f"mod(('x' || left({digest}, 8))::bit(32)::bigint, 10000000)"
        return f"'+1555' || lpad({number}::text, 7, '0')"
    if kind == "text":
        return f"'masked-' || left({digest}, 10)"
    if kind == "ip":
        return f"'10.' || {byte(1)} || '.' || {byte(3)} || '.' || {byte(5)}"
    raise ValueError(kind)


def mask_mysql_column(
    cursor: Cursor,
    table: str,
    column: str,
    kind: str,
    salt: str,
    *,
    where: str = "",
    params: Sequence[object] = (),
    join: str = "",
) -> int:
    target = f"m.`{column}`"
    if kind == "null":
        assignment, values = f"{target} = NULL", []
        condition = f"{target} IS NOT NULL"
    else:
        expression = _mysql_expression(kind, target)
        assignment = f"{target} = {expression}"
        values = [salt] * expression.count("%s")
        condition = f"{target} <> ''"
    sql = (
        f"UPDATE `{table}` m {join} SET {assignment} "  # noqa: S608 - names checked by callers
        f"WHERE {condition}{' AND ' + where if where else ''}"
    )
    return int(cursor.execute(sql, [*values, *params]))


# --- WordPress presets -------------------------------------------------------------------------

_USER_COLUMNS = (("user_email", "email"), ("user_nicename", "login"), ("display_name", "name"))
_USER_META = (
    ("first_name", "name"),
    ("last_name", "name"),
    ("nickname", "name"),
    ("description", "blank"),
)
_COMMENT_COLUMNS = (
    ("comment_author", "name"),
    ("comment_author_email", "email"),
    ("comment_author_url", "blank"),
    ("comment_author_IP", "ip"),
)
_ADDRESS_FIELDS = (
    ("first_name", "name"),
    ("last_name", "name"),
    ("company", "name"),
    ("address_1", "text"),
    ("address_2", "text"),
    ("city", "text"),
    ("postcode", "text"),
    ("email", "email"),
    ("phone", "phone"),
)
_ORDER_META = (
    *((f"_billing_{name}", kind) for name, kind in _ADDRESS_FIELDS),
    *((f"_shipping_{name}", kind) for name, kind in _ADDRESS_FIELDS),
    ("_billing_address_index", "text"),
    ("_shipping_address_index", "text"),
    ("_customer_ip_address", "ip"),
    ("_customer_user_agent", "blank"),
)
_CUSTOMER_META = tuple(
    (f"{group}_{name}", kind) for group in ("billing", "shipping") for name, kind in _ADDRESS_FIELDS
)
_OPTION_EMAILS = ("admin_email", "new_admin_email")
_ORDER_POST_TYPES = ("shop_order", "shop_order_placehold", "shop_subscription")
_HPOS_COLUMNS = {
    "wc_orders": (("billing_email", "email"), ("ip_address", "ip"), ("user_agent", "blank")),
    "wc_order_addresses": _ADDRESS_FIELDS,
    "wc_customer_lookup": (
        ("username", "login"),
        ("first_name", "name"),
        ("last_name", "name"),
        ("email", "email"),
        ("city", "text"),
        ("postcode", "text"),
    ),
}


def _columns_of(cursor: Cursor, table: str) -> set[str]:
    cursor.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    return {str(row[0]) for row in cursor.fetchall()}


def mask_wordpress(
    connection: Connection[Cursor],
    prefix: str,
    preset: str,
    *,
    keep_logins_of: str = "administrator",
    salt: str = DEFAULT_SALT,
) -> MaskingReport:
    """Apply a preset (``wordpress`` or ``woocommerce``) to the installation with ``prefix``."""
    if preset not in PRESETS:
        raise MaskingRuleInvalid(
            f"Unknown masking preset {preset!r}; use one of {', '.join(PRESETS)}.",
            details={"preset": preset},
        )
    if not _ROLE.match(keep_logins_of) or not IDENTIFIER.match(prefix or "x"):
        raise MaskingRuleInvalid(f"Unusable role {keep_logins_of!r} or prefix {prefix!r}.")
    counts: dict[str, int] = {}
    users, usermeta = f"{prefix}users", f"{prefix}usermeta"
    comments, posts, postmeta = f"{prefix}comments", f"{prefix}posts", f"{prefix}postmeta"
    with connection.cursor() as cursor:
        # Users holding the kept role keep user_login and user_pass, so they can still log in
        # by user name; their e-mail and names are masked like everyone's.
        kept = (
            f"m.ID NOT IN (SELECT user_id FROM `{usermeta}` "  # noqa: S608 - checked names
            "WHERE meta_key = %s AND meta_value LIKE %s)"
        )
        kept_params = [f"{prefix}capabilities", f'%"{keep_logins_of}"%']
        for column, kind in _USER_COLUMNS:
            counts[f"{users}.{column}"] = mask_mysql_column(cursor, users, column, kind, salt)
        counts[f"{users}.user_login"] = mask_mysql_column(
            cursor, users, "user_login", "login", salt, where=kept, params=kept_params
        )
        counts[f"{users}.user_url"] = mask_mysql_column(cursor, users, "user_url", "blank", salt)
        meta = _USER_META + (_CUSTOMER_META if preset == "woocommerce" else ())
        for key, kind in meta:
            counts[f"{usermeta}.meta_value[{key}]"] = mask_mysql_column(
                cursor, usermeta, "meta_value", kind, salt, where="m.meta_key = %s", params=[key]
            )
        for column, kind in _COMMENT_COLUMNS:
            counts[f"{comments}.{column}"] = mask_mysql_column(cursor, comments, column, kind, salt)
        # The site's contact address is usually a person's, and WordPress mails it.
        options = f"{prefix}options"
        for name in _OPTION_EMAILS:
            counts[f"{options}.option_value[{name}]"] = mask_mysql_column(
                cursor,
                options,
                "option_value",
                "email",
                salt,
                where="m.option_name = %s",
                params=[name],
            )
        if preset == "woocommerce":
            order_types = ", ".join(["%s"] * len(_ORDER_POST_TYPES))
            for key, kind in _ORDER_META:
                counts[f"{postmeta}.meta_value[{key}]"] = mask_mysql_column(
                    cursor,
                    postmeta,
                    "meta_value",
                    kind,
                    salt,
                    join=f"JOIN `{posts}` p ON p.ID = m.post_id",
                    where=f"m.meta_key = %s AND p.post_type IN ({order_types})",
                    params=[key, *_ORDER_POST_TYPES],
                )
            for suffix, columns in _HPOS_COLUMNS.items():
                table = f"{prefix}{suffix}"
                present = _columns_of(cursor, table)
                for column, kind in columns:
                    if column in present:
                        counts[f"{table}.{column}"] = mask_mysql_column(
                            cursor, table, column, kind, salt
                        )
    return MaskingReport(preset=preset, columns=counts)


# --- Rules for any application -----------------------------------------------------------------

_MYSQL_TEXT = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})
_POSTGRES_TEXT = frozenset({"text", "character varying", "character", "citext", "inet"})


def _check_rule(rule: MaskingRule) -> tuple[str | None, str]:
    parts = rule.table.split(".")
    if (
        rule.kind not in MASKING_KINDS
        or len(parts) > 2
        or not all(IDENTIFIER.match(part) for part in [*parts, rule.column])
    ):
        raise MaskingRuleInvalid(
            f"The masking rule {rule.table}.{rule.column} ({rule.kind}) is not valid: tables and "
            f"columns are plain names, kinds are {', '.join(sorted(MASKING_KINDS))}.",
            details={"table": rule.table, "column": rule.column, "kind": rule.kind},
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _unknown_column(rule: MaskingRule, why: str) -> MaskingRuleInvalid:
    return MaskingRuleInvalid(
        f"The masking rule for {rule.table}.{rule.column} cannot be applied: {why}.",
        details={"table": rule.table, "column": rule.column, "kind": rule.kind},
    )


def _mask_mysql(
    connection: Connection[Cursor], rules: Sequence[MaskingRule], salt: str
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        checked: list[tuple[MaskingRule, str]] = []
        for rule in rules:
            schema, table = _check_rule(rule)
            if schema is not None:
                raise _unknown_column(rule, "MySQL rules name a table of the database itself")
            cursor.execute(
                "SELECT DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE "
                "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
                (table, rule.column),
            )
            found = cursor.fetchone()
            if found is None:
                raise _unknown_column(rule, "no such table or column")
            if str(found[0]).lower() not in _MYSQL_TEXT:
                raise _unknown_column(rule, f"the column holds {found[0]}, not text")
            if rule.kind == "null" and found[1] != "YES":
                raise _unknown_column(rule, "the column does not accept NULL")
            checked.append((rule, table))
        for rule, table in checked:
            key = f"{table}.{rule.column}"
            counts[key] = counts.get(key, 0) + mask_mysql_column(
                cursor, table, rule.column, rule.kind, salt
            )
    return counts


def _mask_postgres(
    connection: psycopg.Connection[tuple[object, ...]], rules: Sequence[MaskingRule], salt: str
) -> dict[str, int]:
    counts: dict[str, int] = {}
    checked: list[tuple[MaskingRule, str, str, str]] = []
    for rule in rules:
        schema, table = _check_rule(rule)
        row = connection.execute(
            "SELECT c.table_schema, c.data_type, c.is_nullable, c.udt_name "
            "FROM information_schema.columns c WHERE c.table_schema = "
            "COALESCE(%s, current_schema()) AND c.table_name = %s AND c.column_name = %s",
            (schema, table, rule.column),
        ).fetchone()
        if row is None:
            raise _unknown_column(rule, "no such table or column")
        found_schema, data_type, nullable, udt = (str(value) for value in row)
        kind_of_column = udt if data_type == "USER-DEFINED" else data_type
        if kind_of_column not in _POSTGRES_TEXT:
            raise _unknown_column(rule, f"the column holds {kind_of_column}, not text")
        if kind_of_column == "inet" and rule.kind not in ("ip", "null"):
            raise _unknown_column(rule, "an inet column can only be masked as ip or null")
        if rule.kind == "null" and nullable != "YES":
            raise _unknown_column(rule, "the column does not accept NULL")
        checked.append((rule, found_schema, table, kind_of_column))
    with connection.transaction():
        for rule, schema, table, kind_of_column in checked:
            if not IDENTIFIER.match(schema):
                raise _unknown_column(rule, "the schema name is not a plain name")
            column = f'"{rule.column}"'
            target = f'"{schema}"."{table}"'
            if rule.kind == "null":
                sql = f"UPDATE {target} SET {column} = NULL WHERE {column} IS NOT NULL"  # noqa: S608
                params = []
            else:
                expression = _postgres_expression(rule.kind, column)
                if kind_of_column == "inet":
                    expression = f"({expression})::inet"
                sql = (
                    f"UPDATE {target} SET {column} = {expression} "  # noqa: S608 - names checked
                    f"WHERE {column} IS NOT NULL AND {column}::text <> ''"
                )
                params = [salt] * expression.count("%s")
            cursor = connection.execute(sql.encode(), params)
            key = f"{table}.{rule.column}"
            counts[key] = counts.get(key, 0) + max(cursor.rowcount, 0)
    return counts


def mask_columns(
    database_url: str, rules: Sequence[MaskingRule], *, salt: str = DEFAULT_SALT
) -> MaskingReport:
    """Mask each ``table.column`` of a PostgreSQL or MySQL/MariaDB database as its rule says.

    Every rule is checked against the database's catalogue before anything is changed.
    """
    address = parse_database_url(database_url)
    if address.family == "postgres":
        with closing(connect_postgres(address)) as pg:
            counts = _mask_postgres(pg, rules, salt)
    else:
        with closing(connect_mysql(address)) as my:
            counts = _mask_mysql(my, rules, salt)
    return MaskingReport(preset="rules", columns=counts)
