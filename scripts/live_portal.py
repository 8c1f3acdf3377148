"""Run a command against a live, throwaway Understudy portal.

    .venv/bin/python scripts/live_portal.py [--keep-throttles] [--with-worker] -- COMMAND [ARGS...]

Creates a PostgreSQL database, migrates it, seeds an account manager and a viewer (each with an
API token) and two sites (globex with three ready staging environments), starts
`manage.py runserver` on a free port, then runs COMMAND with:

    UNDERSTUDY_URL           http://127.0.0.1:PORT
    UNDERSTUDY_TOKEN         the account manager's token
    UNDERSTUDY_VIEWER_TOKEN  the viewer's token
    UNDERSTUDY_SITE          a site's slug
    UNDERSTUDY_CORS_ORIGIN   an origin in the portal's CORS allowlist

and cleans everything up (server, database, the jobs it queued) whatever happens. The exit code
is COMMAND's. Without --with-worker no worker runs, so runs stay queued unless the command
changes them (e.g. cancels).

--with-worker also starts the Railway sandbox with its demo client projects (real local
PostgreSQL and MariaDB databases, deployments that take a second), imports them as client sites
as an administrator would, and starts an RQ worker, so that a clone really runs to the end; then

    UNDERSTUDY_WORKER_SITE   the slug of a demo site a worker can clone

Its databases are dropped at the end too.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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
        except OSError:  # URLError, a refused connection, a timeout while it starts
            time.sleep(0.2)
    raise SystemExit(f"live_portal: {url} did not answer within {timeout:.0f}s")


# The sandbox's demo projects, imported as client sites (as `serve_demo` does).
IMPORT_SANDBOX_SITES = """
import io
import json
from railway_sandbox.management.commands.serve_demo import Command
from staging.models import ClientSite
Command().register_demo_sites(io.StringIO())
print(json.dumps(sorted(ClientSite.objects.exclude(slug__in=["acme", "globex"])
                        .values_list("slug", flat=True))))
"""

DROP_SANDBOX_DATABASES = """
import os
from django.conf import settings
from railway_sandbox.server import Sandbox
Sandbox(os.environ["LIVE_PORTAL_SANDBOX_STATE"], postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
        mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL).drop_all_databases()
"""


def wait_for_sandbox(url: str, sandbox: subprocess.Popen[bytes], timeout: float = 120) -> None:
    # Seeding the demo databases takes a few seconds on a busy machine.
    wait_until_up(url, sandbox, timeout)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def main(argv: list[str]) -> int:
    keep_throttles = "--keep-throttles" in argv
    with_worker = "--with-worker" in argv[: argv.index("--")] if "--" in argv else False
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
    scratch = Path(tempfile.mkdtemp(prefix="understudy-live-"))
    sandbox_state = scratch / "railway-sandbox.json"
    if with_worker:
        sandbox_port = free_port()
        env |= {
            # No RAILWAY_API_TOKEN: the portal and the worker talk to this sandbox.
            "RAILWAY_API_TOKEN": "",
            "RAILWAY_API_URL": f"http://127.0.0.1:{sandbox_port}/graphql/v2",
            "RAILWAY_SANDBOX_PORT": str(sandbox_port),
            "STAGING_URL_TEMPLATE": f"http://{{domain}}:{sandbox_port}",
            "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES": "true",
        }

    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    server: subprocess.Popen[bytes] | None = None
    helpers: list[subprocess.Popen[bytes]] = []
    # Closed in the finally block, which also stops the server that writes to it.
    server_log = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        manage = [str(PYTHON), str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED], env=env, check=True, cwd=ROOT, capture_output=True
        )
        keys = json.loads(seeded.stdout.decode().strip().splitlines()[-1])
        worker_env: dict[str, str] = {}
        if with_worker:
            sandbox = subprocess.Popen(
                [
                    *manage,
                    "railway_sandbox",
                    "--seed",
                    "demo",
                    "--port",
                    str(sandbox_port),
                    "--state",
                    str(sandbox_state),
                    "--deploy-seconds",
                    "1",
                ],
                env=env,
                cwd=ROOT,
                stdout=server_log,
                stderr=subprocess.STDOUT,
            )
            helpers.append(sandbox)
            wait_for_sandbox(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", sandbox)
            imported = subprocess.run(
                [*manage, "shell", "-c", IMPORT_SANDBOX_SITES],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            slugs = json.loads(imported.stdout.decode().strip().splitlines()[-1])
            helpers.append(
                subprocess.Popen(
                    [*manage, "rqworker", "default"],
                    env=env,
                    cwd=ROOT,
                    stdout=server_log,
                    stderr=subprocess.STDOUT,
                )
            )
            worker_env = {"UNDERSTUDY_WORKER_SITE": slugs[0]}
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/api/schema/", server)
        run_env = (
            env
            | {
                "UNDERSTUDY_URL": url,
                "UNDERSTUDY_TOKEN": keys["manager"],
                "UNDERSTUDY_VIEWER_TOKEN": keys["viewer"],
                "UNDERSTUDY_SITE": "acme",
                "UNDERSTUDY_CORS_ORIGIN": CORS_ORIGIN,
            }
            | worker_env
        )
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
        for process in [*helpers, *([server] if server else [])]:
            stop(process)
        server_log.close()
        if sandbox_state.exists():
            subprocess.run(
                [
                    str(PYTHON),
                    str(ROOT / "manage.py"),
                    "shell",
                    "-c",
                    DROP_SANDBOX_DATABASES,
                ],
                env=env | {"LIVE_PORTAL_SANDBOX_STATE": str(sandbox_state)},
                cwd=ROOT,
                check=False,
            )
        shutil.rmtree(scratch, ignore_errors=True)
        Queue("default", connection=redis.Redis.from_url(REDIS_URL)).delete(delete_jobs=True)
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
