"""The steps of each operation and their labels have one source, the pipeline's plans: the
portal's pages and the API show the same words for the same step."""

from __future__ import annotations

import pytest

from staging.api.serializers import StepSerializer
from staging.models import Operation, RunStatus, RunStep
from staging.pages.display import describe_run
from staging.pipeline import PLANS
from staging.plans import PLANNED_STEPS, STEP_LABELS
from tests.factories import make_run


def test_every_operation_lists_the_pipelines_steps_in_order():
    for operation, plan in PLANS.items():
        assert [s.name for s in PLANNED_STEPS[operation]] == [s.name for s in plan.steps]


def test_every_step_has_a_label_of_its_own():
    labels = [step.label for steps in PLANNED_STEPS.values() for step in steps]

    assert all(label.strip() for label in labels)
    assert len(set(STEP_LABELS.values())) == len(STEP_LABELS)


@pytest.mark.django_db
def test_the_pages_and_the_api_label_a_step_alike():
    run = make_run(operation=Operation.CLONE, status=RunStatus.RUNNING)
    record = RunStep.objects.create(run=run, name="copy_database", position=6)

    page_labels = {line.name: line.label for line in describe_run(run).steps}
    api_label = StepSerializer(record).data["label"]

    assert api_label == page_labels["copy_database"] == "Copying the production data"
