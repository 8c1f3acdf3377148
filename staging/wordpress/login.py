"""A staging-only WordPress administrator, made or renewed in the staging database.

After masking nobody can reset a password by e-mail, and account managers do not know the
client's: one click gives them a login of their own. Its password is random, returned once,
and stored only as the hash WordPress checks. The user lives in the staging database only, so
a refresh (which replaces that database with production's) and a teardown remove it.

The hash is phpass's portable one (``$P$``), which every WordPress from 2.5 writes up to 6.7 and
which 6.8 and later still accept (they rehash it to bcrypt at the first login).
https://developer.wordpress.org/reference/functions/wp_check_password/
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

from .connection import connect_mysql, parse_database_url, quote_mysql
from .site import find_site

USERNAME = "understudy-login"
EMAIL = "understudy-login@example.invalid"
DISPLAY_NAME = "Understudy (staging only)"
# WordPress's own: PasswordHash(8, true) → 2**8 MD5 rounds, written as "B".
PHPASS_LOG2_ROUNDS = 8
ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ADMINISTRATOR = 'a:1:{s:13:"administrator";b:1;}'


@dataclass(frozen=True)
class WordPressLogin:
    username: str
    password: str
    user_id: int
    renewed: bool


def _encode64(data: bytes, count: int) -> str:
    """phpass's base64 variant (its own alphabet, little-endian groups)."""
    output = []
    i = 0
    while True:
        value = data[i]
        i += 1
        output.append(ITOA64[value & 0x3F])
        if i < count:
            value |= data[i] << 8
        output.append(ITOA64[(value >> 6) & 0x3F])
        if i >= count:
            break
        i += 1
        if i < count:
            value |= data[i] << 16
        output.append(ITOA64[(value >> 12) & 0x3F])
        if i >= count:
            break
        i += 1
        output.append(ITOA64[(value >> 18) & 0x3F])
        if i >= count:
            break
    return "".join(output)


def phpass_hash(password: str, salt: bytes | None = None) -> str:
    """The portable phpass hash WordPress's ``wp_hash_password`` wrote before 6.8."""
    setting = "$P$" + ITOA64[PHPASS_LOG2_ROUNDS + 5] + _encode64(salt or secrets.token_bytes(6), 6)
    return setting + _encode64(_phpass_digest(password, setting), 16)


def phpass_check(password: str, stored: str) -> bool:
    if not stored.startswith(("$P$", "$H$")) or len(stored) != 34:
        return False
    expected = stored[:12] + _encode64(_phpass_digest(password, stored[:12]), 16)
    return secrets.compare_digest(expected, stored)


def _phpass_digest(password: str, setting: str) -> bytes:
    rounds = 1 << ITOA64.index(setting[3])
    salt = setting[4:12].encode()
    secret = password.encode()
    digest = hashlib.md5(salt + secret).digest()  # noqa: S324 - phpass's algorithm, as WordPress
    for _ in range(rounds):
        digest = hashlib.md5(digest + secret).digest()  # noqa: S324
    return digest


def create_login(database_url: str) -> WordPressLogin:
    """Make the staging administrator, or give it a new password if it exists."""
    address = parse_database_url(database_url)
    password = secrets.token_urlsafe(18)
    hashed = phpass_hash(password)
    with closing(connect_mysql(address)) as connection:
        prefix = find_site(connection, address.masked).table_prefix
        users, usermeta = quote_mysql(f"{prefix}users"), quote_mysql(f"{prefix}usermeta")
        with connection.cursor() as cursor:
            connection.begin()
            cursor.execute(
                f"SELECT ID FROM {users} WHERE user_login = %s FOR UPDATE",  # noqa: S608
                (USERNAME,),
            )
            row = cursor.fetchone()
            if row is not None:
                user_id = int(row[0])
                cursor.execute(
                    f"UPDATE {users} SET user_pass = %s, user_activation_key = '' "  # noqa: S608
                    "WHERE ID = %s",
                    (hashed, user_id),
                )
            else:
                cursor.execute(
                    f"INSERT INTO {users} (user_login, user_pass, user_nicename, "  # noqa: S608
                    "user_email, user_url, user_registered, user_activation_key, user_status, "
                    "display_name) VALUES (%s, %s, %s, %s, '', %s, '', 0, %s)",
                    (
                        USERNAME,
                        hashed,
                        USERNAME,
                        EMAIL,
                        datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                        DISPLAY_NAME,
                    ),
                )
                user_id = int(cursor.lastrowid)
            # The role lives in meta keys named after the table prefix (wp_capabilities).
            roles = {f"{prefix}capabilities": ADMINISTRATOR, f"{prefix}user_level": "10"}
            cursor.execute(
                f"DELETE FROM {usermeta} WHERE user_id = %s AND meta_key IN (%s, %s)",  # noqa: S608
                (user_id, *roles),
            )
            cursor.executemany(
                f"INSERT INTO {usermeta} (user_id, meta_key, meta_value) "  # noqa: S608
                "VALUES (%s, %s, %s)",
                [(user_id, key, value) for key, value in roles.items()],
            )
            connection.commit()
    return WordPressLogin(USERNAME, password, user_id, renewed=row is not None)
