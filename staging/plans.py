"""The steps each operation goes through, with their plain-language labels: the one list the
pages, the API and the admin show, read from the pipeline's plans so it cannot fall behind."""

from __future__ import annotations

from dataclasses import dataclass

from staging.pipeline import PLANS


@dataclass(frozen=True)
class PlannedStep:
    name: str  # stable: stored on RunStep records
    label: str  # for account managers


PLANNED_STEPS: dict[str, tuple[PlannedStep, ...]] = {
    operation: tuple(PlannedStep(step.name, step.label) for step in plan.steps)
    for operation, plan in PLANS.items()
}
STEP_LABELS: dict[str, str] = {
    step.name: step.label for steps in PLANNED_STEPS.values() for step in steps
}
