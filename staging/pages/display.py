"""How runs, environments and audit events read to someone who has never heard of Railway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    StagingEnvironment,
    StepStatus,
)
from staging.plans import PLANNED_STEPS, STEP_LABELS

STEP_STATES: dict[str, str] = {
    "pending": "Waiting",
    StepStatus.RUNNING: "In progress",
    StepStatus.SUCCEEDED: "Done",
    StepStatus.FAILED: "Failed",
    StepStatus.ROLLED_BACK: "Undone",
    StepStatus.ROLLBACK_FAILED: "Could not be undone",
    "skipped": "Not needed",
}

# The colour family of each environment status; the words next to the badge carry the meaning.
BADGE_TONES: dict[str, str] = {
    EnvironmentStatus.CREATING: "busy",
    EnvironmentStatus.REFRESHING: "busy",
    EnvironmentStatus.DELETING: "busy",
    EnvironmentStatus.READY: "ok",
    EnvironmentStatus.FAILED: "bad",
    EnvironmentStatus.NEEDS_ATTENTION: "bad",
    EnvironmentStatus.DELETED: "off",
}

SUCCESS_HEADLINES: dict[str, str] = {
    Operation.CLONE: "Ready",
    Operation.REFRESH: "Ready",
    Operation.TEARDOWN: "Deleted",
}

# What a person can do about each expected failure; the run's own message says what happened.
ADVICE: dict[str, str] = {
    "name_taken": "Choose another name and try again.",
    "railway_name_taken": "Choose another name and try again.",
    "invalid_name": "Choose another name and try again.",
    "run_cancelled": "Nothing was left behind. Start again whenever you are ready.",
    "health_check_failed": (
        "The copy was made but the staging site did not work (no answer, a 'not found' page, "
        "or a redirect to the live site). Try again; if it fails twice, ask the web team to "
        "look at the site."
    ),
    "railway_deployment_failed": (
        "The staging site would not start on Railway; the copy has been removed. Try again; if "
        "it fails twice, ask the web team to look at the site's deployment logs."
    ),
    "variables_not_replicated": (
        "Railway did not copy the site's settings completely, so nothing was copied. Try again; "
        "if it fails twice, tell an administrator."
    ),
    "database_address_mismatch": (
        "The site's database address does not match what Railway reports, so Understudy did "
        "not touch it: tell an administrator."
    ),
    "worker_lost": "The work was interrupted and has been undone. Try again.",
    "railway_rate_limited": "Railway is busy. Wait a few minutes, then try again.",
    "railway_unavailable": "Railway is not answering right now. Try again in a few minutes.",
    "railway_timeout": "Railway took too long. Try again in a few minutes.",
    "railway_unauthorized": "Railway refused Understudy's access: tell an administrator.",
    "site_misconfigured": "The site's settings in Understudy need fixing: tell an administrator.",
    "production_database_not_public": (
        "The production database cannot be reached from outside: tell an administrator."
    ),
}
DEFAULT_ADVICE = "Try again. If it fails again, tell an administrator and mention run #{run}."
ERRORED_ADVICE = (
    "This is a problem in Understudy itself, not something you did. Anything half-made has been "
    "removed. Try again; if it fails again, tell an administrator and mention run #{run}."
)

AUDIT_ACTIONS: dict[str, str] = {
    "staging.clone_requested": "Asked for a staging copy",
    "staging.refresh_requested": "Asked for a refresh from production",
    "staging.teardown_requested": "Asked to delete a staging copy",
    "staging.extended": "Extended a staging copy",
    "staging.run_cancelled": "Cancelled a run",
    "site.imported": "Added a client site from Railway",
}


@dataclass(frozen=True)
class StepLine:
    name: str
    label: str
    state: str

    @property
    def state_label(self) -> str:
        return STEP_STATES.get(self.state, self.state)


@dataclass(frozen=True)
class RunView:
    """A run as the run page shows it."""

    run: Run
    steps: list[StepLine]

    @property
    def neutralised(self) -> list[str]:
        """Names of the live credentials this copy had switched off (never their values)."""
        return [str(name) for name in self.run.metrics.get("neutralised", [])]

    @property
    def not_copied(self) -> str:
        if self.environment.site.is_wordpress:
            return (
                "Not copied: uploaded files, and plugins or themes installed from the WordPress "
                "admin. Images and files are shown from the live site instead."
            )
        return "Not copied: files stored on the live site's disks (Railway volumes)."

    @property
    def needs_attention(self) -> bool:
        return self.environment.status == EnvironmentStatus.NEEDS_ATTENTION

    @property
    def environment(self) -> StagingEnvironment:
        return self.run.environment

    @property
    def headline(self) -> str:
        run = self.run
        if run.status == RunStatus.QUEUED:
            return "Waiting to start"
        if run.status == RunStatus.RUNNING:
            return STEP_LABELS.get(run.current_step, "Working")
        if run.status == RunStatus.SUCCEEDED:
            return SUCCESS_HEADLINES[run.operation]
        if run.status == RunStatus.CANCELLED:
            return "Cancelled"
        return "This did not work"

    @property
    def tone(self) -> str:
        if self.run.status == RunStatus.SUCCEEDED:
            return "ok"
        if self.run.status in (RunStatus.FAILED, RunStatus.ERRORED):
            return "bad"
        if self.run.status == RunStatus.CANCELLED:
            return "off"
        return "busy"

    @property
    def elapsed(self) -> str:
        return format_duration(self.run.duration or timedelta(0))

    @property
    def failed(self) -> bool:
        return self.run.status in (RunStatus.FAILED, RunStatus.ERRORED, RunStatus.CANCELLED)

    @property
    def advice(self) -> str:
        if self.run.status == RunStatus.ERRORED:
            return ERRORED_ADVICE.format(run=self.run.pk)
        return ADVICE.get(self.run.error_code, DEFAULT_ADVICE).format(run=self.run.pk)

    @property
    def show_links(self) -> bool:
        return (
            self.run.status == RunStatus.SUCCEEDED
            and self.run.operation != Operation.TEARDOWN
            and bool(self.environment.url)
        )

    @property
    def wordpress_login_url(self) -> str:
        if not self.environment.site.is_wordpress or not self.environment.url:
            return ""
        return self.environment.url.rstrip("/") + "/wp-login.php"


def describe_run(run: Run) -> RunView:
    """The planned steps in order, each with what its record says so far."""
    records = {step.name: step for step in run.steps.all()}
    lines: list[StepLine] = []
    for step in PLANNED_STEPS.get(run.operation, ()):
        record = records.pop(step.name, None)
        if record is not None:
            state = record.status
        elif run.is_terminal:
            state = "skipped"
        else:
            state = "pending"
        lines.append(StepLine(step.name, step.label, state))
    # Steps the pipeline recorded but this page does not know yet still belong on the list.
    for record in sorted(records.values(), key=lambda r: r.position):
        lines.append(
            StepLine(record.name, record.name.replace("_", " ").capitalize(), record.status)
        )
    return RunView(run, lines)


def format_duration(duration: timedelta) -> str:
    seconds = max(int(duration.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def expiry_phrase(expires_at: datetime, now: datetime | None = None) -> str:
    """``expires in 3 days``, or ``expired`` once the date has passed.

    Rounded to the nearest unit: a copy just extended to 14 days reads "14 days", not the
    "1 week" that truncating 13 days 23 hours would give.
    """
    now = now or timezone.now()
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return "expired"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        count = round(seconds / size)
        if count >= 1:
            return f"expires in {count} {unit}{'' if count == 1 else 's'}"
    return "expires in less than a minute"


def audit_action_label(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action)
