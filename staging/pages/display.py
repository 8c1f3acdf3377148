"""How runs, environments and audit events read to someone who has never heard of Railway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
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

# What a person who has never heard of Railway can do about each expected failure. Every code
# of docs/errors.md has its line (tests/portal/test_advice.py); the technical message stays
# behind the run page's "details" toggle for the web team.
ADVICE: dict[str, str] = {
    # Starting work
    "invalid_name": "Choose another name: lowercase letters, digits and single hyphens.",
    "name_taken": "Choose another name, or delete the old copy with this name first.",
    "invalid_lifetime": "Choose how many days the copy should live from the list.",
    "lifetime_exceeded": (
        "A staging copy cannot be kept longer than the maximum lifetime. If the work is not "
        "finished, create a new copy: it starts from today's production data."
    ),
    "run_in_progress": "Something is already happening to this copy. Wait for it, then try again.",
    "wordpress_login_unavailable": "Wait until the copy is ready, then ask for the login again.",
    "invalid_state": "The copy changed in the meantime. Go back to the client sites, look again.",
    "gdpr_acknowledgement_required": (
        "Tick the box that says you know the copy contains customers' personal data."
    ),
    "idempotency_key_reused": "The program that asked repeated a request: tell the web team.",
    "invalid_idempotency_key": "The program that asked sent a bad request: tell the web team.",
    "request_too_large": "What was sent is far too large. Reload the page and try again.",
    "audit_immutable": "The audit log cannot be changed. Nothing to do.",
    # While a run works
    "site_misconfigured": (
        "The client's site changed on Railway since it was added to Understudy: ask an "
        "administrator to import it again."
    ),
    "production_database_not_public": (
        "The live site's database cannot be reached from outside Railway: ask an administrator "
        "to turn on its TCP proxy."
    ),
    "source_unreachable": (
        "The live site's database did not answer. Check that the live site works, wait a few "
        "minutes and try again; if it fails twice, tell an administrator."
    ),
    "copy_tool_missing": "Understudy's server lacks a tool it needs: " + "tell an administrator.",
    "copy_tool_too_old": "Understudy's server needs a newer database tool: "
    + "tell an administrator.",
    "copy_tool_incompatible": "Understudy's server needs another database tool: "
    + "tell an administrator.",
    "unsupported_database": "Understudy cannot copy this kind of database: "
    + "tell an administrator.",
    "engine_mismatch": (
        "The copy's database is not the same kind as the live one: ask an administrator to "
        "import the site again."
    ),
    "target_is_source": (
        "Understudy refused to write because the copy pointed at the live database. The live "
        "site is untouched. Tell an administrator at once."
    ),
    "staging_target_not_marked": (
        "Understudy refused to write into a database it did not create. Nothing was changed: "
        + "tell an administrator."
    ),
    "target_unreachable": "The copy's database did not answer. "
    + "Try again; if it fails twice, tell an administrator.",
    "copy_failed": "Copying the data kept failing. "
    + "Try again; if it fails twice, tell an administrator.",
    "copy_timeout": (
        "Copying the data took too long. Try again outside busy hours; if it fails twice, "
        "tell an administrator."
    ),
    "copy_cancelled": "The copy was cancelled and nothing was left behind. Start again when ready.",
    "copy_verification_failed": (
        "The copied data did not match the live site's, probably because the live site was "
        "busy. Try again outside busy hours."
    ),
    "variables_not_replicated": (
        "Railway did not copy the site's settings completely, so nothing was copied. "
        + "Try again; if it fails twice, tell an administrator."
    ),
    "database_address_mismatch": (
        "The site's database address does not match what Railway reports, so Understudy did "
        "not touch it: " + "tell an administrator."
    ),
    "staging_database_not_ready": "The copy's database did not start in time. "
    + "Try again; if it fails twice, tell an administrator.",
    "wordpress_not_found": (
        "No WordPress was found in the copied data: ask an administrator whether this site is "
        "really WordPress."
    ),
    "wordpress_prefix_ambiguous": "The site has several WordPress installations: "
    + "tell an administrator.",
    "masking_rule_invalid": "The site's rules for hiding personal data need fixing: "
    + "tell an administrator.",
    "staging_url_invalid": "Understudy made a bad address for the copy: "
    + "tell an administrator.",
    "database_url_invalid": "Understudy could not read the copy's database address: "
    + "tell an administrator.",
    "database_unreachable": "The copy's database stopped answering. "
    + "Try again; if it fails twice, tell an administrator.",
    "health_check_failed": (
        "The copy was made but the staging site did not work (no answer, a 'not found' page, "
        "or a redirect to the live site). Try again; if it fails twice, ask the web team to "
        "look at the site."
    ),
    "not_created_by_understudy": (
        "Understudy did not make this copy on Railway, so it does not delete it: "
        + "tell an administrator."
    ),
    "run_cancelled": "Nothing was left behind. Start again whenever you are ready.",
    "portal_database_unavailable": (
        "Understudy lost its own records for a while and undid the work. Try again in a few "
        "minutes."
    ),
    "worker_lost": "The work was interrupted and has been undone. Try again.",
    "internal_error": (
        "This is a problem in Understudy itself, not something you did. Try again; if it fails "
        "again, tell an administrator and mention run #{run}."
    ),
    # Railway
    "railway_unauthorized": "Railway refused Understudy's access: " + "tell an administrator.",
    "railway_project_token": "Understudy is set up with the wrong kind of Railway key: "
    + "tell an administrator.",
    "railway_not_found": (
        "The site is no longer where Understudy expects it on Railway: ask an administrator to "
        "import it again."
    ),
    "railway_name_taken": "Railway already has a copy with this name. Choose another name.",
    "railway_rate_limited": "Railway is busy. Wait a few minutes, then try again.",
    "railway_unavailable": "Railway is not answering right now. Try again in a few minutes.",
    "railway_deployment_failed": (
        "The staging site would not start on Railway; the copy has been removed. Try again; if "
        "it fails twice, ask the web team to look at the site's deployment logs on Railway."
    ),
    "railway_timeout": "Railway took too long. Try again in a few minutes.",
    "railway_error": "Railway refused the request. "
    + "Try again; if it fails twice, tell an administrator.",
    # Added with the trust boundary, the operators' commands and the live API
    "database_address_refused": (
        "The site's database address points somewhere Understudy may not go. Nothing was "
        "copied: tell an administrator, who will check the site's database settings on Railway."
    ),
    "copy_stalled": (
        "A database stopped answering in the middle of the copy; everything was undone. Try "
        "again later; if it happens again, tell an administrator."
    ),
    "railway_unexpected_response": (
        "Railway answered in a way Understudy did not expect. Try again in a few minutes; if it "
        "keeps happening, tell an administrator."
    ),
    "reconciliation_refused": (
        "The tidy-up left this copy alone because it changed meanwhile. Nothing was deleted."
    ),
    "event_streams_busy": "The live view is busy. The page keeps checking by itself.",
    "portal_unreachable": "Understudy could not be reached. Try again in a few minutes.",
    "bad_usage": "The command was typed in a way it does not accept: see its --help.",
    "site_not_found": "There is no client site with that name in Understudy.",
    "environment_not_found": "There is no staging copy with that name or number.",
    "wait_timed_out": (
        "The work is still going on: it was only the waiting that stopped. Look at the run."
    ),
    "command_failed": "The command could not finish. Its message says why.",
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
    "staging.expiry_warned": "Warned its creator that a staging copy expires soon",
    "staging.clone_succeeded": "A staging copy was made",
    "staging.clone_failed": "Making a staging copy did not work",
    "staging.clone_errored": "Making a staging copy did not work (Understudy problem)",
    "staging.clone_cancelled": "Making a staging copy was cancelled",
    "staging.refresh_succeeded": "A staging copy was refreshed",
    "staging.refresh_failed": "Refreshing a staging copy did not work",
    "staging.refresh_errored": "Refreshing a staging copy did not work (Understudy problem)",
    "staging.refresh_cancelled": "Refreshing a staging copy was cancelled",
    "staging.teardown_succeeded": "A staging copy and its data were deleted",
    "staging.teardown_failed": "Deleting a staging copy did not work",
    "staging.teardown_errored": "Deleting a staging copy did not work (Understudy problem)",
    "staging.teardown_cancelled": "Deleting a staging copy was cancelled",
    "staging.wordpress_login_created": "Made a WordPress login on a staging copy",
    "staging.run_reaped": "Undid a run whose worker had stopped",
    "staging.run_requeued": "Queued again a run whose job was lost",
    "staging.reconciled_attention_deleted": "Railway finally deleted a copy that needed attention",
    "staging.reconciled_missing_marked_deleted": "Noted a copy Railway no longer has as deleted",
    "staging.reconciled_orphan_deleted": "Deleted a leftover copy on Railway",
    "staging.run_cancelled": "Cancelled a run",
    "site.imported": "Added a client site from Railway",
    "api_token.created": "Created an API token",
    "api_token.revoked": "Revoked an API token",
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
    def waiting_reason(self) -> str:
        return waiting_reason(self.run) if self.run.status == RunStatus.QUEUED else ""

    @property
    def failed(self) -> bool:
        return self.run.status in (RunStatus.FAILED, RunStatus.ERRORED, RunStatus.CANCELLED)

    @property
    def what_happened(self) -> str:
        """In plain words; the technical message is behind the details toggle."""
        if self.run.status == RunStatus.CANCELLED:
            return "It was cancelled, and anything already made was removed."
        failed = next((line for line in self.steps if line.state == StepStatus.FAILED), None)
        where = f" at the step “{failed.label}”" if failed else ""
        if self.run.status == RunStatus.ERRORED:
            return f"Understudy ran into a problem of its own{where}."
        return f"It stopped{where}, and what had been done was undone."

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


# What the dashboard says while a run is queued or running, whatever the environment's own
# status still is (a queued refresh leaves it "ready" until the worker starts it).
ACTIVE_RUN_STATES: dict[tuple[str, str], str] = {
    (Operation.CLONE, RunStatus.QUEUED): "Waiting to be created",
    (Operation.CLONE, RunStatus.RUNNING): "Being created",
    (Operation.REFRESH, RunStatus.QUEUED): "Refresh waiting to start",
    (Operation.REFRESH, RunStatus.RUNNING): "Refreshing",
    (Operation.TEARDOWN, RunStatus.QUEUED): "Deletion waiting to start",
    (Operation.TEARDOWN, RunStatus.RUNNING): "Being deleted",
}
BUSY_STATUSES = frozenset(
    {EnvironmentStatus.CREATING, EnvironmentStatus.REFRESHING, EnvironmentStatus.DELETING}
)
ATTENTION_STATUSES = frozenset({EnvironmentStatus.FAILED, EnvironmentStatus.NEEDS_ATTENTION})


@dataclass(frozen=True)
class EnvironmentState:
    """One staging copy as the dashboard shows it: its state in words, its colour, and whether
    anything may be started on it now."""

    environment: StagingEnvironment
    active_run: Run | None
    latest_run_id: int | None
    now: datetime

    @property
    def label(self) -> str:
        if self.active_run is not None:
            return ACTIVE_RUN_STATES.get(
                (self.active_run.operation, self.active_run.status),
                self.environment.get_status_display(),
            )
        return str(self.environment.get_status_display())

    @property
    def tone(self) -> str:
        if self.active_run is not None:
            return "busy"
        return BADGE_TONES.get(self.environment.status, "off")

    @property
    def is_busy(self) -> bool:
        return self.active_run is not None or self.environment.status in BUSY_STATUSES

    @property
    def is_ready(self) -> bool:
        return not self.is_busy and self.environment.status == EnvironmentStatus.READY

    @property
    def needs_attention(self) -> bool:
        return self.environment.status == EnvironmentStatus.NEEDS_ATTENTION

    @property
    def has_problem(self) -> bool:
        return not self.is_busy and self.environment.status in ATTENTION_STATUSES

    @property
    def expiry(self) -> str:
        return expiry_phrase(self.environment.expires_at, self.now)

    @property
    def waiting_reason(self) -> str:
        if self.active_run is None or self.active_run.status != RunStatus.QUEUED:
            return ""
        return waiting_reason(self.active_run)


def waiting_reason(run: Run) -> str:
    """Why a queued run has not started, from the same limits ``lifecycle.admit`` applies."""
    if run.operation == Operation.TEARDOWN:
        # Deletions are never held back by the limits: only a free worker is missing.
        return "It starts as soon as a worker is free."
    copying = Run.objects.filter(
        status=RunStatus.RUNNING, operation__in=[Operation.CLONE, Operation.REFRESH]
    )
    site = run.environment.site
    on_site = copying.filter(environment__site=site.pk).count()
    if on_site >= settings.STAGING_MAX_CLONES_PER_SITE:
        if on_site == 1:
            return f"Another copy of {site} is being made; yours starts when it is done."
        return f"{on_site} copies of {site} are being made; yours starts when one is done."
    running = copying.count()
    if running >= settings.STAGING_MAX_CLONES:
        ahead = Run.objects.filter(
            status=RunStatus.QUEUED,
            operation__in=[Operation.CLONE, Operation.REFRESH],
            created_at__lt=run.created_at,
        ).count()
        made = f"{running} copies are being made"
        if ahead == 0:
            return f"{made}; yours is next."
        waiting = "1 is" if ahead == 1 else f"{ahead} are"
        return f"{made}; {waiting} waiting before yours."
    return "It starts as soon as a worker is free."


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


RUN_STATUS_TONES: dict[str, str] = {
    RunStatus.QUEUED: "busy",
    RunStatus.RUNNING: "busy",
    RunStatus.SUCCEEDED: "ok",
    RunStatus.FAILED: "bad",
    RunStatus.ERRORED: "bad",
    RunStatus.CANCELLED: "off",
}
RUN_STATUS_WORDS: dict[str, str] = {
    RunStatus.QUEUED: "Waiting",
    RunStatus.RUNNING: "In progress",
    RunStatus.SUCCEEDED: "Worked",
    RunStatus.FAILED: "Did not work",
    RunStatus.ERRORED: "Did not work",
    RunStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class RunLine:
    """One line of a history: what was done, when, by whom, and how it ended."""

    run: Run

    @property
    def what(self) -> str:
        return str(self.run.get_operation_display())

    @property
    def outcome(self) -> str:
        return RUN_STATUS_WORDS.get(self.run.status, self.run.status)

    @property
    def tone(self) -> str:
        return RUN_STATUS_TONES.get(self.run.status, "off")

    @property
    def by(self) -> str:
        user = self.run.triggered_by
        if user is not None:
            return user.get_username()
        return str(self.run.get_trigger_display())

    @property
    def duration(self) -> str:
        duration = self.run.duration
        return format_duration(duration) if duration is not None else ""


def run_line(run: Run) -> RunLine:
    return RunLine(run)
