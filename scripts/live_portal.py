"""Run a command against a live, throwaway Understudy portal.

    .venv/bin/python scripts/live_portal.py [--keep-throttles] -- COMMAND [ARGS...]

Creates a PostgreSQL database, migrates it, seeds an account manager and a viewer (each with an
API token) and two sites (globex with three ready staging environments), starts
`manage.py runserver` on a free port, then runs COMMAND with:

    UNDERSTUDY_URL           http://127.0.0.1:PORT
    UNDERSTUDY_TOKEN         the account manager's token
    UNDERSTUDY_VIEWER_TOKEN  the viewer's token
    UNDERSTUDY_SITE          a site's slug
    UNDERSTUDY_CORS_ORIGIN   an origin in the portal's CORS allowlist

and cleans everything up (server, database, the jobs it queued) whatever happens. The exit code
is COMMAND's. No worker runs, so runs stay queued unless the command changes them (e.g. cancels).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import redis
from rq import Queue

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
ADMIN_DATABASE_URL = os.environ.get(
    "LIVE_PORTAL_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
# Its own Redis database, so the jobs it queues can be removed without touching anyone else's.
REDIS_URL = os.environ.get("LIVE_PORTAL_REDIS_URL", "redis://127.0.0.1:6379/13")
CORS_ORIGIN = "http://localhost:5173"

SEED = """
import json
from datetime import timedelta
from django.contrib.auth.models import Group, User
from django.utils import timezone
from staging import roles
from staging.models import ApiToken, ClientSite, StagingEnvironment

def person(name, group):
    user = User.objects.create_user(name, f"{name}@example.com", "not-used")
    user.groups.add(Group.objects.get(name=group))
    return ApiToken.issue(user, "live portal")[1]

for slug, engine in (("acme", "postgres"), ("globex", "mariadb")):
    ClientSite.objects.create(
        name=slug.title(), slug=slug, railway_project_id=f"project-{slug}",
        production_environment_id=f"production-{slug}", app_service_id=f"app-{slug}",
        database_service_id=f"db-{slug}", database_engine=engine, is_wordpress=engine != "postgres",
    )
for name in ("ready-one", "ready-two", "ready-three"):
    StagingEnvironment.objects.create(
        site=ClientSite.objects.get(slug="globex"), name=name, status="ready",
        url=f"https://{name}.example.com", expires_at=timezone.now() + timedelta(days=7),
    )
print(json.dumps({
    "manager": person("live-manager", roles.ACCOUNT_MANAGERS),
    "viewer": person("live-viewer", roles.VIEWERS),
}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"live_portal: the server exited ({server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a local http URL)
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SystemExit(f"live_portal: {url} did not answer within {timeout:.0f}s")


def main(argv: list[str]) -> int:
    keep_throttles = "--keep-throttles" in argv
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    database = f"understudy_live_{os.getpid()}_{secrets.token_hex(3)}"
    port = free_port()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": os.environ.get("LIVE_PORTAL_SETTINGS", "portal.settings"),
        "DATABASE_URL": f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{database}",
        "REDIS_URL": REDIS_URL,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "CORS_ALLOWED_ORIGINS": CORS_ORIGIN,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    if not keep_throttles:
        env |= {"API_THROTTLE_USER": "100000/min", "API_THROTTLE_ANON": "100000/min"}

    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    server: subprocess.Popen[bytes] | None = None
    # Closed in the finally block, which also stops the server that writes to it.
    server_log = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        manage = [str(PYTHON), str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED], env=env, check=True, cwd=ROOT, capture_output=True
        )
        keys = json.loads(seeded.stdout.decode().strip().splitlines()[-1])
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/api/schema/", server)
        run_env = env | {
            "UNDERSTUDY_URL": url,
            "UNDERSTUDY_TOKEN": keys["manager"],
            "UNDERSTUDY_VIEWER_TOKEN": keys["viewer"],
            "UNDERSTUDY_SITE": "acme",
            "UNDERSTUDY_CORS_ORIGIN": CORS_ORIGIN,
        }
        returncode = subprocess.run(command, env=run_env, cwd=Path.cwd()).returncode
        if returncode:
            # The server's log only matters when something failed.
            server_log.seek(0)
            tail = server_log.read().decode(errors="replace").splitlines()[-100:]
            print("live_portal: the server's last log lines:", *tail, sep="\n", file=sys.stderr)
        return returncode
    except subprocess.CalledProcessError as error:
        output = (error.stderr or b"").decode(errors="replace")
        print(f"live_portal: {' '.join(error.cmd[1:3])} failed\n{output}", file=sys.stderr)
        return 1
    finally:
        server_log.close()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        Queue("default", connection=redis.Redis.from_url(REDIS_URL)).delete(delete_jobs=True)
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
