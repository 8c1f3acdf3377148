"""The URL rewrite of a whole WordPress database, done inside the database where it can be.

Per table (like WP-CLI: only tables with a primary key, only ``*text``/``varchar`` columns,
never primary keys, ``guid`` or ``user_pass``):

1. rows whose text columns hold the production host only in values that cannot be PHP-serialized,
   and never directly followed by another host-name character, are rewritten by one ``UPDATE``
   of nested ``REPLACE`` calls, the same ordered pairs that ``replace_in_value`` applies;
2. the other rows (some column starts like a serialized value and holds the host, or holds a
   URL search string followed by a name character, such as ``//shop.example.org`` next to
   ``//shop.example``, which plain ``REPLACE`` cannot tell apart) are read by primary key,
   rewritten with ``replace_in_value`` (host boundaries on) and written back through a
   temporary table with one joined ``UPDATE``.

The two sets of rows are disjoint, so the count per table is of rows changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from .connection import IDENTIFIER
from .serialized import needs_host_boundary, replace_in_value

TEXT_TYPES = frozenset({"varchar", "tinytext", "text", "mediumtext", "longtext"})
NEVER_REWRITTEN = frozenset({"guid", "user_pass"})
# The first two characters of every value PHP's unserialize can accept.
_SERIALIZED_HEADS = "('a:','O:','C:','s:','S:','i:','d:','b:','r:','R:','E:','N;')"
_WRITE_BATCH = 500


@dataclass(frozen=True)
class TableColumns:
    name: str
    primary_key: list[str]
    text_columns: list[str]


@dataclass(frozen=True)
class RewriteResult:
    rows_rewritten: dict[str, int]
    tables_skipped: list[str]


def describe_table(connection: Connection[Cursor], table: str) -> TableColumns:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )
        rows = [(str(name), str(kind).lower(), str(key)) for name, kind, key in cursor.fetchall()]
    primary_key = [name for name, _, key in rows if key == "PRI"]
    text_columns = [
        name
        for name, kind, key in rows
        if kind in TEXT_TYPES and key != "PRI" and name not in NEVER_REWRITTEN
    ]
    return TableColumns(table, primary_key, text_columns)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Characters a search string may hold to be written as a literal in MySQL's three regular
# expression dialects (Henry Spencer's in 5.7, ICU in 8, PCRE in MariaDB); "." and "\\" are
# bracketed, which all three read as the literal character.
_PLAIN_IN_REGEX = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/%-_~")


def followed_by_name_regex(pairs: Sequence[tuple[str, str]]) -> str | None:
    """A MySQL ``REGEXP`` that finds any bounded search string followed by a character that
    could continue a host name; ``None`` when a search holds a character not safe to write.

    The database compares without case where the column's collation does: that finds more
    rows, which then take the exact path in Python, never fewer.
    """
    bounded = {search for search, _ in pairs if needs_host_boundary(search)}
    # "https://shop.example" followed by a letter is "//shop.example" followed by one.
    shortest = sorted(s for s in bounded if not any(s != o and s.endswith(o) for o in bounded))
    alternatives: list[str] = []
    for search in shortest:
        literal = ""
        for character in search:
            if character == ".":
                literal += "[.]"
            elif character == "\\":
                literal += "[\\\\]"
            elif character in _PLAIN_IN_REGEX:
                literal += character
            else:
                return None
        alternatives.append(literal)
    if not alternatives:
        return None
    return f"({'|'.join(alternatives)})[A-Za-z0-9_~.-]"


def _replace_expression(column: str, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    expression = column
    params: list[str] = []
    for search, replacement in pairs:
        expression = f"REPLACE({expression}, %s, %s)"
        params += [search, replacement]
    return expression, params


def rewrite_table(
    connection: Connection[Cursor],
    table: TableColumns,
    pairs: Sequence[tuple[str, str]],
    needle: str,
) -> int:
    """Rows of ``table`` changed by applying ``pairs``; ``needle`` is in every search string."""
    quoted = {name: f"`{name}`" for name in [*table.primary_key, *table.text_columns]}
    like = f"%{escape_like(needle)}%"
    followed = followed_by_name_regex(pairs)
    contains = [f"{quoted[c]} LIKE BINARY %s" for c in table.text_columns]
    # Rows that need Python: a serialized-looking value holding the host, or a URL followed by
    # a name character (REPLACE would rewrite //shop.example inside //shop.example.org).
    needs_python: list[str] = []
    python_params: list[str] = []
    for column in table.text_columns:
        value = quoted[column]
        if followed is None:
            needs_python.append(f"COALESCE({value} LIKE BINARY %s, 0)")
            python_params.append(like)
        else:
            needs_python.append(
                f"COALESCE({value} LIKE BINARY %s AND (LEFT({value}, 2) IN {_SERIALIZED_HEADS} "
                f"OR {value} REGEXP %s), 0)"
            )
            python_params += [like, followed]
    likes = [like] * len(table.text_columns)
    table_sql = f"`{table.name}`"

    assignments: list[str] = []
    params: list[str] = []
    for column in table.text_columns:
        expression, expression_params = _replace_expression(quoted[column], pairs)
        assignments.append(
            f"{quoted[column]} = IF(LEFT({quoted[column]}, 2) IN {_SERIALIZED_HEADS}, "
            f"{quoted[column]}, {expression})"
        )
        params += expression_params
    update = (
        f"UPDATE {table_sql} SET {', '.join(assignments)} "  # noqa: S608 - names checked
        f"WHERE ({' OR '.join(contains)}) AND NOT ({' OR '.join(needs_python)})"
    )
    with connection.cursor() as cursor:
        changed = cursor.execute(update, [*params, *likes, *python_params])
        changed += _rewrite_in_python(
            cursor, table, quoted, pairs, needle, " OR ".join(needs_python), python_params
        )
    return changed


def _rewrite_in_python(
    cursor: Cursor,
    table: TableColumns,
    quoted: dict[str, str],
    pairs: Sequence[tuple[str, str]],
    needle: str,
    condition: str,
    condition_params: list[str],
) -> int:
    keys = table.primary_key
    columns = table.text_columns
    selected = ", ".join(quoted[name] for name in [*keys, *columns])
    cursor.execute(
        f"SELECT {selected} FROM `{table.name}` WHERE {condition}",  # noqa: S608 - names checked
        condition_params,
    )
    changed_rows: list[tuple[object, ...]] = []
    for row in cursor.fetchall():
        key_values, values = row[: len(keys)], row[len(keys) :]
        new_values = [
            replace_in_value(value, pairs, host_boundaries=True)
            if isinstance(value, str) and needle in value
            else value
            for value in values
        ]
        if new_values != list(values):
            changed_rows.append((*key_values, *new_values))
    if not changed_rows:
        return 0
    # One joined UPDATE instead of a round trip per row: on Railway's TCP proxy each round
    # trip costs tens of milliseconds.
    temporary = "`understudy_rewrite`"
    cursor.execute(f"DROP TEMPORARY TABLE IF EXISTS {temporary}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {temporary} "  # noqa: S608 - names checked
        f"SELECT {selected} FROM `{table.name}` WHERE 1 = 0"
    )
    placeholders = ", ".join(["%s"] * (len(keys) + len(columns)))
    insert = f"INSERT INTO {temporary} ({selected}) VALUES ({placeholders})"  # noqa: S608
    for start in range(0, len(changed_rows), _WRITE_BATCH):
        cursor.executemany(insert, changed_rows[start : start + _WRITE_BATCH])
    join = " AND ".join(f"t.{quoted[k]} <=> s.{quoted[k]}" for k in keys)
    assignments = ", ".join(f"t.{quoted[c]} = s.{quoted[c]}" for c in columns)
    cursor.execute(
        f"UPDATE `{table.name}` t JOIN {temporary} s ON {join} SET {assignments}"  # noqa: S608
    )
    cursor.execute(f"DROP TEMPORARY TABLE {temporary}")
    return len(changed_rows)


def rewrite_database(
    connection: Connection[Cursor],
    tables: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    needle: str,
) -> RewriteResult:
    rows: dict[str, int] = {}
    skipped: list[str] = []
    for name in tables:
        if not IDENTIFIER.match(name):
            skipped.append(name)
            continue
        table = describe_table(connection, name)
        # Like WP-CLI: without a primary key a changed row cannot be addressed.
        if not table.primary_key or not all(
            IDENTIFIER.match(c) for c in [*table.primary_key, *table.text_columns]
        ):
            skipped.append(name)
            continue
        if not table.text_columns:
            continue
        changed = rewrite_table(connection, table, pairs, needle)
        if changed:
            rows[name] = changed
    return RewriteResult(rows, skipped)
