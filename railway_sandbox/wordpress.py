"""A real WordPress for the sandbox's sites: Debian's ``wordpress`` package under PHP's built-in
server, for the tests (tests/wordpress_site/) and for `make run`'s demo.

Debian's package provides the core (/usr/share/wordpress). Its own wp-config.php reads
/etc/wordpress, and PHP resolves symlinks in ``__DIR__``, so the core is hard-linked (or copied)
into a docroot of ours with our wp-config.php (php/), which picks each request's database from
the sandbox's state by the Host header. One ``php -S`` serves production and every staging copy
on one port; ``*.localhost`` names are loopback for browsers and for ``staging.http.fetch``, as
the sandbox's service domains are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

WORDPRESS_CORE = Path(os.environ.get("WORDPRESS_CORE", "/usr/share/wordpress"))
PHP_FILES = Path(__file__).parent / "php"
# The theme is only a Recommends of wordpress, so --no-install-recommends leaves it out.
INSTALL_COMMAND = "apt-get install php-cli php-mysql wordpress wordpress-theme-twentytwentythree"


def unavailable(core: Path = WORDPRESS_CORE) -> str | None:
    """Why a real WordPress cannot be served here (what is missing), or None when it can."""
    php = shutil.which("php")
    if php is None:
        return "php is not installed"
    if not (core / "wp-includes" / "version.php").is_file():
        return f"WordPress is not in {core}"
    if not (core / "wp-content" / "themes" / "twentytwentythree").is_dir():
        return "WordPress has no default theme"
    probe = subprocess.run(
        [php, "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "PHP has no mysqli extension"
    return None


def php_binary() -> str:
    php = shutil.which("php")
    if php is None:
        raise FileNotFoundError(f"php is not installed; {INSTALL_COMMAND}")
    return php


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_docroot(
    docroot: Path, core: Path = WORDPRESS_CORE, extra_files: Iterable[Path] = ()
) -> Path:
    """WordPress's core with our wp-config.php and router.php (and ``extra_files``), afresh."""
    if docroot.exists():
        shutil.rmtree(docroot)
    shutil.copytree(
        core,
        docroot,
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns(".htaccess", "wp-config.php", "languages"),
    )
    for source in [PHP_FILES / "wp-config.php", PHP_FILES / "router.php", *extra_files]:
        shutil.copy(source, docroot / source.name)
    return docroot


def php_environment(
    state_path: Path, mysql_address: str, sandbox_sites_url: str | None = None
) -> dict[str, str]:
    """What wp-config.php reads: the sandbox's state, the MariaDB server, and (for the demo)
    where the sandbox serves the sites that are not WordPress."""
    environment = dict(os.environ) | {
        "UNDERSTUDY_SANDBOX_STATE": str(state_path),
        "UNDERSTUDY_DB_HOST": mysql_address,
        # A browser loads a page's styles and scripts in parallel; one worker would queue them.
        "PHP_CLI_SERVER_WORKERS": "4",
    }
    if sandbox_sites_url:
        environment["UNDERSTUDY_SANDBOX_SITES"] = sandbox_sites_url
    return environment


def start_server(
    docroot: Path, port: int, environment: Mapping[str, str], log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """``php -S 127.0.0.1:port`` on the docroot, listening when this returns."""
    process = subprocess.Popen(
        [php_binary(), "-S", f"127.0.0.1:{port}", "-t", str(docroot), "router.php"],
        cwd=docroot,
        env=dict(environment),
        stdout=log,
        stderr=subprocess.STDOUT,
        # The server forks its workers into this session; stop_server ends them all.
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_server(process)
                raise RuntimeError(f"php -S did not start on port {port}") from None
            time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def run_script(
    docroot: Path, environment: Mapping[str, str], script: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run a PHP script of the docroot (it loads WordPress for the host it is given)."""
    return subprocess.run(
        [php_binary(), script, *arguments],
        cwd=docroot,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
