"""The staging login's password hash is the one WordPress's own phpass writes and checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from staging.wordpress.login import phpass_check, phpass_hash

PHPASS = Path("/usr/share/wordpress/wp-includes/class-phpass.php")


def test_a_known_wordpress_hash_is_checked_as_wordpress_checks_it():
    # Written by WordPress 6.1's PasswordHash(8, true) for the password "x".
    assert phpass_check("x", "$P$B445VdrGh8ZSlVNhD1gMh2GdUKtCJa.")
    assert not phpass_check("y", "$P$B445VdrGh8ZSlVNhD1gMh2GdUKtCJa.")


def test_the_hash_has_wordpress_s_portable_shape():
    hashed = phpass_hash("Earl-Grey 4pm!", salt=b"\x00\x01\x02\x03\x04\x05")
    assert hashed.startswith("$P$B") and len(hashed) == 34
    assert phpass_check("Earl-Grey 4pm!", hashed)


@pytest.mark.parametrize("password", ["plain", "with spaces and 'quotes'", "ünïcödé-€", "x" * 72])
def test_wordpress_s_phpass_accepts_our_hash(password):
    # Debian's wordpress and php-cli, as tests/wordpress_site needs them: missing is a failure.
    assert shutil.which("php") and PHPASS.is_file(), "apt-get install -y wordpress php-cli"
    script = (
        f"require '{PHPASS}'; $h = new PasswordHash(8, true);"
        "exit($h->CheckPassword($argv[1], $argv[2]) ? 0 : 1);"
    )
    done = subprocess.run(
        ["php", "-r", script, password, phpass_hash(password)], check=False, timeout=30
    )
    assert done.returncode == 0
