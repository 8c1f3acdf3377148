"""examples/frontend/ in Chromium against a live portal with a real worker: the example's own
Node server holds the API token and uses the TypeScript client; the page lists the sites, creates
a staging copy (with the personal-data acknowledgement ticked), watches it live until it is
ready, offers the link, and deletes it."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from staging.models import ApiToken, EnvironmentStatus, Run, RunStatus, StagingEnvironment
from staging.roles import ACCOUNT_MANAGERS
from tests.fixtures_portal import make_user

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "frontend"
CLIENT = ROOT / "clients" / "typescript"
PIPELINE_TIMEOUT_MS = 180_000


def npm(*args: str, cwd: Path) -> None:
    subprocess.run(["npm", *args, "--no-audit", "--no-fund"], cwd=cwd, check=True, timeout=300)


@pytest.fixture(scope="module")
def built_example() -> Path:
    """The client built (the example depends on it as a local package) and the example
    installed, as a frontend team would."""
    if not (CLIENT / "node_modules").exists():
        npm("ci", cwd=CLIENT)
    subprocess.run(["npm", "run", "build"], cwd=CLIENT, check=True, timeout=300)
    npm("install", cwd=EXAMPLE)
    return EXAMPLE


@pytest.fixture
def example_server(built_example: Path, live_server, transactional_db, tmp_path) -> Iterator[str]:
    user = make_user("frontend-server", group=ACCOUNT_MANAGERS)
    _, token = ApiToken.issue(user, "example frontend")
    log = (tmp_path / "example.log").open("w")
    server = subprocess.Popen(
        ["node", "server.js"],
        cwd=built_example,
        env=os.environ
        | {"UNDERSTUDY_URL": live_server.url, "UNDERSTUDY_TOKEN": token, "PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"the example server did not start: {line!r}"
        yield match.group(0)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_example_creates_watches_opens_and_deletes_a_staging_copy(
    page: Page, example_server: str, ledger_site, rq_worker, sandbox, empty_queue
):
    requests_seen: list[tuple[str, dict[str, str]]] = []
    page.on("request", lambda request: requests_seen.append((request.url, request.headers)))
    page.goto(example_server)

    expect(page.get_by_label("Client site")).to_contain_text(ledger_site.name)
    page.get_by_label("Client site").select_option(ledger_site.slug)
    page.get_by_label("Name (optional)").fill("from-the-frontend")

    # Without the acknowledgement the portal refuses, and the page says why.
    page.get_by_role("button", name="Create staging copy").click()
    expect(page.get_by_role("alert")).to_contain_text("personal data")
    assert not StagingEnvironment.objects.exists()

    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Create staging copy").click()
    expect(page.get_by_role("heading", name="Creating from-the-frontend")).to_be_visible()
    # Live progress: some step is shown before the end.
    expect(page.locator("#step")).to_contain_text("running", timeout=60_000)
    link = page.get_by_role("link", name="Open from-the-frontend")
    expect(link).to_be_visible(timeout=PIPELINE_TIMEOUT_MS)

    environment = StagingEnvironment.objects.get(name="from-the-frontend")
    assert environment.status == EnvironmentStatus.READY
    assert link.get_attribute("href") == environment.url
    run = Run.objects.get(environment=environment, operation="clone")
    assert run.status == RunStatus.SUCCEEDED
    # "Open it": the link serves the copy (the sandbox serves sites by host name on its port).
    served = httpx.get(
        f"http://127.0.0.1:{sandbox.port}/", headers={"Host": httpx.URL(environment.url).host}
    )
    assert served.status_code == 200

    page.get_by_role("button", name="Delete it").click()
    expect(page.locator("#step")).to_have_text("Deleted.", timeout=PIPELINE_TIMEOUT_MS)
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED
    # The browser talked only to the example's server, and never with a token.
    assert requests_seen and all(url.startswith(example_server) for url, _ in requests_seen)
    assert all("authorization" not in headers for _, headers in requests_seen)
