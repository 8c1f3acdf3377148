"""A clone's Railway calls fit the Hobby plan's budget: at most 40, polling included.

The clone goes through the pipeline, as a worker runs it, against the sandbox running at
Railway's pace: every poll the pipeline makes while Railway applies, deploys and answers is
counted.
"""

from __future__ import annotations

import time
import uuid

import pytest

from staging import lifecycle, runs
from staging.models import RunStatus, Trigger
from staging.railway import RailwayClient
from staging.services import Services
from tests.fixtures_pipeline import site_for
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.pipeline.helpers import clone

pytestmark = pytest.mark.django_db(transaction=True)

# Sandbox time runs 100 times faster than Railway's: a database deploys in ~45 s, a duplicated
# environment applies in ~10 s, and the pipeline's own waits shrink in the same proportion.
SCALE = 0.01
# 1,000 requests an hour on the Hobby plan: 40 a clone leaves room for 25 clones an hour.
BUDGET = 40


def railway_pace_sleep(seconds: float) -> None:
    time.sleep(seconds * SCALE)


@pytest.fixture
def railway_time(sandbox):
    saved = sandbox.deploy_seconds, sandbox.apply_seconds
    sandbox.deploy_seconds, sandbox.apply_seconds = 45 * SCALE, 10 * SCALE
    yield
    sandbox.deploy_seconds, sandbox.apply_seconds = saved


@pytest.fixture
def paced_services(sandbox):
    services = Services(
        railway=RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=railway_pace_sleep),
        url_template=f"http://{{domain}}:{sandbox.port}",
        sleep=railway_pace_sleep,
    )
    yield services
    services.close()


@pytest.mark.parametrize(
    ("project_fixture", "is_wordpress"), [("ledger_project", False), ("wordpress_site", True)]
)
def test_a_clone_makes_at_most_40_railway_calls(
    request,
    sandbox,
    railway_time,
    paced_services,
    job_queue,
    project_fixture,
    is_wordpress,
    record_property,
):
    project = request.getfixturevalue(project_fixture)
    site = site_for(project, slug=f"budget-{project.engine}", is_wordpress=is_wordpress)
    sandbox.reset_calls()

    # Its own name: other tests may leave environments in these session-wide sandbox projects.
    run = clone(site, paced_services, name=f"budget-{uuid.uuid4().hex[:8]}")

    calls = sum(sandbox.calls.values())
    by_operation = dict(sandbox.calls)
    assert run.status == RunStatus.SUCCEEDED, (run.error_code, run.error_message)
    assert calls == paced_services.railway.calls
    teardown = runs.start_teardown(run.environment, runs.Actor.system(Trigger.COMMAND))
    assert lifecycle.run_now(teardown, paced_services)
    assert teardown.status == RunStatus.SUCCEEDED
    record_property("railway_calls_per_clone", calls)
    print(f"\n{project.name}: a clone made {calls} Railway calls: {by_operation}")
    assert 0 < calls <= BUDGET, by_operation
