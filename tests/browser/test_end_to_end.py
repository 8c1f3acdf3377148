"""The whole story in Chromium, with the real pipeline: a real RQ worker, the Railway sandbox and
the local database servers. An account manager creates staging for the demo WordPress site,
watches it become ready, opens it, extends it and deletes it."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from staging.models import EnvironmentStatus, Run, RunStatus, StagingEnvironment
from tests.fixtures_browser import log_in
from tests.fixtures_pipeline import Worker, site_for

pytestmark = pytest.mark.browser

# Generous: the worker clones a real MariaDB database through the sandbox.
PIPELINE_TIMEOUT_SECONDS = 180
# A worker that has not taken a queued run by then is not going to.
PICKUP_TIMEOUT_SECONDS = 30


def wait_until_run_ends(run_id: int, worker: Worker) -> Run:
    """Wait on the database rather than only the page, to fail early and show the worker's log."""
    started = time.monotonic()
    while time.monotonic() - started < PIPELINE_TIMEOUT_SECONDS:
        run = Run.objects.get(pk=run_id)
        if run.is_terminal:
            return run
        if run.status == RunStatus.QUEUED and time.monotonic() - started > PICKUP_TIMEOUT_SECONDS:
            pytest.fail(f"The worker never took run {run_id}. Its log:\n{_tail(worker)}")
        time.sleep(0.5)
    pytest.fail(f"Run {run_id} did not end in {PIPELINE_TIMEOUT_SECONDS} s:\n{_tail(worker)}")


def _tail(worker: Worker) -> str:
    log: Path = worker.log
    return log.read_text(errors="replace")[-3000:]


def run_id_of(page: Page) -> int:
    match = re.search(r"/admin/runs/(\d+)/$", page.url)
    assert match, page.url
    return int(match.group(1))


@pytest.fixture
def demo_bakery(railway_sandbox, transactional_db):
    bakery = next(p for p in railway_sandbox.seed_demo() if p.name == "Bakery Co")
    return site_for(bakery, slug="bakery-co", is_wordpress=True)


def test_an_account_manager_creates_opens_extends_and_deletes_staging(
    page: Page,
    live_server,
    account_manager,
    demo_bakery,
    rq_worker,
):
    name = f"e2e-{secrets.token_hex(3)}"
    log_in(page, live_server.url, account_manager.username)

    page.get_by_role("link", name="Create staging for Bakery Co").click()
    page.get_by_label("Name of the staging copy").fill(name)
    expect(page.locator("#name-feedback")).to_have_text("This name is free.")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Create staging").click()

    page.wait_for_url(re.compile(r"/admin/runs/\d+/$"))
    clone = wait_until_run_ends(run_id_of(page), rq_worker)
    assert clone.status == RunStatus.SUCCEEDED, f"{clone.error_code}: {clone.error_message}"
    expect(page.locator("[data-run-status]")).to_have_text("Ready")
    expect(page.locator("progress")).to_have_attribute("value", "100")
    environment = StagingEnvironment.objects.get(site=demo_bakery, name=name)
    assert environment.status == EnvironmentStatus.READY
    expect(page.get_by_role("button", name="Log in to WordPress")).to_be_visible()

    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open the staging site").click()
    staging_site = opened.value
    expect(staging_site.get_by_role("heading", name="Bakery Co")).to_be_visible()
    expect(staging_site.locator(".siteurl")).to_contain_text(environment.url.rstrip("/"))
    staging_site.close()

    page.get_by_role("link", name="Back to the client sites").click()
    page.get_by_role("link", name=f"Extend by 7 days ({name})").click()
    page.get_by_role("button", name="Yes, keep it 7 more days").click()
    expect(page.get_by_text(f"{name} now expires in 14 days")).to_be_visible()

    page.get_by_role("link", name=f"Delete {name}").click()
    page.get_by_role("button", name="Yes, delete it").click()
    page.wait_for_url(re.compile(r"/admin/runs/\d+/$"))
    teardown = wait_until_run_ends(run_id_of(page), rq_worker)
    assert teardown.status == RunStatus.SUCCEEDED, teardown.error_message
    expect(page.locator("[data-run-status]")).to_have_text("Deleted")
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED

    page.get_by_role("link", name="Back to the client sites").click()
    expect(page.get_by_text(name, exact=True)).to_have_count(0)
