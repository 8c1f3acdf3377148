"""Understudy's domain: client sites, their staging environments, runs and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from staging.errors import AuditEventImmutable, InvalidState
from staging.wordpress.connection import IDENTIFIER
from staging.wordpress.masking import MASKING_KINDS


class DatabaseEngine(models.TextChoices):
    POSTGRES = "postgres", "PostgreSQL"
    MYSQL = "mysql", "MySQL"
    MARIADB = "mariadb", "MariaDB"


class MaskingPreset(models.TextChoices):
    NONE = "", "No masking"
    WORDPRESS = "wordpress", "WordPress users and comments"
    WOOCOMMERCE = "woocommerce", "WordPress and WooCommerce customers"


class ClientSite(models.Model):
    """A client's production site on Railway, the source of every staging copy."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    railway_project_id = models.CharField(max_length=64)
    production_environment_id = models.CharField(max_length=64)
    app_service_id = models.CharField(max_length=64)
    app_service_name = models.CharField(max_length=200, blank=True)
    database_service_id = models.CharField(max_length=64)
    database_service_name = models.CharField(max_length=200, blank=True)
    database_engine = models.CharField(max_length=16, choices=DatabaseEngine.choices)
    is_wordpress = models.BooleanField(default=False)
    production_url = models.URLField(blank=True)
    staging_ttl_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days a staging copy lives before it is torn down; empty uses the default.",
    )
    masking_preset = models.CharField(
        max_length=32, choices=MaskingPreset.choices, blank=True, default=MaskingPreset.NONE
    )
    masking_rules = models.JSONField(
        default=list, blank=True, help_text='Extra rules, e.g. [{"column": "users.email"}].'
    )
    staging_variables = models.JSONField(
        default=dict, blank=True, help_text="Variables set on every staging copy, e.g. mail sink."
    )
    isolation_extra_names = models.JSONField(
        default=list,
        blank=True,
        help_text="Variables also blanked on staging besides the built-in rules "
        '(names or patterns, e.g. ["ACME_API_KEY", "PARTNER_*"]).',
    )
    isolation_allowed = models.JSONField(
        default=list,
        blank=True,
        help_text="Variables staging keeps as production has them, though the built-in rules "
        'would neutralise them (names or patterns, e.g. ["SENTRY_DSN"]).',
    )
    wordpress_reset_options = models.JSONField(
        default=list,
        blank=True,
        help_text="WordPress options emptied on staging; empty uses the default list.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def ttl_days(self) -> int:
        return self.staging_ttl_days or settings.STAGING_TTL_DAYS

    @property
    def masks_personal_data(self) -> bool:
        """Whether copies of this site have their personal data masked (a preset or rules), so
        that starting one needs no acknowledgement that it holds production personal data."""
        return bool(self.masking_preset or self.masking_rules)

    def clean(self) -> None:
        """The staging settings are JSON typed by hand: each problem is named with its item,
        so the admin page (and anything else calling ``full_clean``) says what to fix."""
        errors: dict[str, list[str]] = {
            "staging_variables": _staging_variable_errors(self.staging_variables),
            "isolation_extra_names": _name_pattern_errors(self.isolation_extra_names),
            "isolation_allowed": _name_pattern_errors(self.isolation_allowed),
            "wordpress_reset_options": _reset_option_errors(self.wordpress_reset_options),
            "masking_rules": _masking_rule_errors(self.masking_rules),
            "staging_ttl_days": (
                ["A staging copy lives at least 1 day; leave empty for the default."]
                if self.staging_ttl_days == 0
                else []
            ),
        }
        # PrepareSite applies a preset to WordPress and rules to anything else, never both.
        if self.is_wordpress and self.masking_rules:
            errors["masking_rules"].append(
                "Masking rules are for sites that are not WordPress; choose a masking preset."
            )
        if not self.is_wordpress and self.masking_preset:
            errors["masking_preset"] = [
                "Masking presets are for WordPress sites; list masking rules instead."
            ]
        if any(errors.values()):
            raise ValidationError({field: found for field, found in errors.items() if found})


# Railway's variable names; RAILWAY_* are Railway's own and cannot be overridden.
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options WordPress cannot run without: resetting them breaks the copy rather than defusing it.
# The roles option is named after the table prefix (wp_user_roles, wpx_user_roles, ...).
_ESSENTIAL_OPTIONS = (
    "siteurl",
    "home",
    "blog_public",
    "template",
    "stylesheet",
    "active_plugins",
    "db_version",
    "wp_user_roles",
)


def _staging_variable_errors(value: object) -> list[str]:
    if not isinstance(value, dict):
        return ['Enter an object of names and values, e.g. {"SMTP_HOST": "mailpit"}.']
    errors = []
    for name, variable in value.items():
        if not _VARIABLE_NAME.match(name):
            errors.append(
                f"{name!r} is not a variable name: use letters, digits and underscores, "
                "not starting with a digit."
            )
        elif name.upper().startswith("RAILWAY_"):
            errors.append(f"{name} is set by Railway itself and cannot be overridden.")
        if not isinstance(variable, str):
            errors.append(f'The value of {name} must be text: write it in quotes, e.g. "1".')
    return errors


_NAME_PATTERN = re.compile(r"^[A-Za-z_*?][A-Za-z0-9_*?]*$")


def _name_pattern_errors(value: object) -> list[str]:
    if not isinstance(value, list):
        return ['Enter a list of variable names, e.g. ["ACME_API_KEY", "PARTNER_*"].']
    return [
        f"{name!r} is not a variable name or pattern: letters, digits, underscores and *."
        for name in value
        if not isinstance(name, str) or not _NAME_PATTERN.match(name)
    ]


def _reset_option_errors(value: object) -> list[str]:
    if not isinstance(value, list):
        return ['Enter a list of option names, e.g. ["wp_mail_smtp", "mailchimp_*"].']
    errors = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{name!r} is not an option name: write each name in quotes.")
            continue
        prefix = name.removesuffix("*")
        if any(c.isspace() for c in name) or "*" in prefix or len(name) > 191:
            errors.append(
                f"{name!r} is not an option name: no spaces, at most 191 characters, "
                "and * only at the end."
            )
        elif not prefix:
            errors.append("A lone * would reset every option; name a prefix, e.g. mailchimp_*.")
        elif name.endswith("user_roles") or any(
            option == name or (name.endswith("*") and option.startswith(prefix))
            for option in _ESSENTIAL_OPTIONS
        ):
            errors.append(f"{name} would reset an option WordPress needs to run; remove it.")
    return errors


def _masking_rule_errors(value: object) -> list[str]:
    if not isinstance(value, list):
        return [
            'Enter a list of rules, e.g. [{"table": "customers", "column": "email", '
            '"kind": "email"}].'
        ]
    kinds = ", ".join(sorted(MASKING_KINDS))
    errors = []
    for number, rule in enumerate(value, start=1):
        if not isinstance(rule, dict) or set(rule) != {"table", "column", "kind"}:
            errors.append(f"Rule {number} needs exactly the keys table, column and kind.")
            continue
        table, column, kind = rule["table"], rule["column"], rule["kind"]
        names = [*str(table).split("."), str(column)]
        if not all(isinstance(part, str) for part in (table, column)) or not all(
            IDENTIFIER.match(part) for part in names
        ):
            errors.append(
                f"Rule {number}: table and column are plain names (a table may be "
                "schema.table), e.g. customers and email."
            )
        elif len(names) > 3:
            errors.append(f"Rule {number}: {table} has too many dots; use schema.table.")
        if not isinstance(kind, str) or kind not in MASKING_KINDS:
            errors.append(f"Rule {number}: kind {kind!r} is not one of {kinds}.")
    return errors


class EnvironmentStatus(models.TextChoices):
    CREATING = "creating", "Being created"
    READY = "ready", "Ready"
    REFRESHING = "refreshing", "Refreshing"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Being deleted"
    # A delete Railway refused (a rollback or a teardown that could not finish): the copy may
    # still hold production data on Railway, so it stays listed until Railway confirms.
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    DELETED = "deleted", "Deleted"

    @classmethod
    def live(cls) -> frozenset[EnvironmentStatus]:
        """Statuses of an environment that exists, or may exist, on Railway."""
        return frozenset(set(cls) - {cls.DELETED})


class StagingEnvironment(models.Model):
    """One staging copy of a client site."""

    site = models.ForeignKey(ClientSite, on_delete=models.PROTECT, related_name="environments")
    name = models.CharField(max_length=64)
    railway_environment_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=EnvironmentStatus.choices, default=EnvironmentStatus.CREATING
    )
    url = models.URLField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Set when its creator was warned of the coming deletion, so the warning goes once per
    # expiry date; cleared by an extension, which sets a new date.
    expiry_warning_sent_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    database_size_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("operate_stagingenvironment", "Can create, refresh, extend and delete staging copies"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                condition=~Q(status=EnvironmentStatus.DELETED),
                name="unique_live_staging_name_per_site",
                violation_error_message="A staging environment of this site already has this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"

    def is_expired(self, now: Any = None) -> bool:
        return self.status != EnvironmentStatus.DELETED and self.expires_at <= (
            now or timezone.now()
        )

    def extend(self, days: int) -> None:
        """Push the expiry ``days`` further, counted from now if it has already passed."""
        if self.status == EnvironmentStatus.DELETED:
            raise InvalidState("A deleted staging environment cannot be extended.")
        if days < 1:
            raise ValueError("days must be positive")
        self.expires_at = max(self.expires_at, timezone.now()) + timedelta(days=days)
        self.save(update_fields=["expires_at"])

    def mark_deleted(self) -> None:
        """Only once Railway has confirmed the delete (or no longer has the environment)."""
        self.status = EnvironmentStatus.DELETED
        self.deleted_at = timezone.now()
        self.url = ""
        self.save(update_fields=["status", "deleted_at", "url"])

    def created_railway_environment_ids(self) -> list[str]:
        """The Railway environments the runs of this copy recorded as created: the only ones
        Understudy may delete for it (never one found by name)."""
        return created_railway_environment_ids(RunStep.objects.filter(run__environment=self))


class Operation(models.TextChoices):
    CLONE = "clone", "Create"
    REFRESH = "refresh", "Refresh from production"
    TEARDOWN = "teardown", "Delete"


class Trigger(models.TextChoices):
    ADMIN = "admin", "Portal"
    API = "api", "API"
    COMMAND = "command", "Command"
    KESTRA = "kestra", "Kestra"
    SCHEDULE = "schedule", "Schedule"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ERRORED = "errored", "Errored"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def active(cls) -> frozenset[RunStatus]:
        return frozenset({cls.QUEUED, cls.RUNNING})

    @classmethod
    def terminal(cls) -> frozenset[RunStatus]:
        return frozenset({cls.SUCCEEDED, cls.FAILED, cls.ERRORED, cls.CANCELLED})


class Run(models.Model):
    """One execution of an operation (clone, refresh, teardown) on a staging environment."""

    environment = models.ForeignKey(
        StagingEnvironment, on_delete=models.CASCADE, related_name="runs"
    )
    operation = models.CharField(max_length=16, choices=Operation.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    current_step = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    rq_job_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]),
                name="one_active_run_per_environment",
                violation_error_message="This staging environment already has a run in progress.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.environment} (#{self.pk})"

    @property
    def is_active(self) -> bool:
        return self.status in RunStatus.active()

    @property
    def is_terminal(self) -> bool:
        return self.status in RunStatus.terminal()

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def start(self) -> None:
        # Conditional on the stored status, so a cancel that lands meanwhile is not overwritten.
        now = timezone.now()
        started = Run.objects.filter(pk=self.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
        )
        if not started:
            self.refresh_from_db(fields=["status"])
            raise InvalidState(f"Run {self.pk} is {self.status}, not queued.")
        self.status = RunStatus.RUNNING
        self.started_at = self.heartbeat_at = now

    def finish(self, status: RunStatus, error_code: str = "", error_message: str = "") -> None:
        if status not in RunStatus.terminal():
            raise ValueError(f"{status} is not a terminal status")
        if self.is_terminal:
            raise InvalidState(f"Run {self.pk} has already ended ({self.status}).")
        if status == RunStatus.SUCCEEDED and error_code:
            raise ValueError("a succeeded run has no error code")
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.finished_at = timezone.now()
        if status == RunStatus.SUCCEEDED:
            self.progress_percent = 100
        self.save(
            update_fields=[
                "status",
                "error_code",
                "error_message",
                "finished_at",
                "progress_percent",
            ]
        )


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Undone"
    ROLLBACK_FAILED = "rollback_failed", "Could not be undone"


class RunStep(models.Model):
    """One named step of a run, recorded before it starts so a crash leaves a trace."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True, help_text="What the step did, secrets masked.")
    created = models.JSONField(
        default=dict, blank=True, help_text="Ids of what the step created, for rollback."
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="unique_step_name_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditEventImmutable("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditEventImmutable("Audit events cannot be deleted.")


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "API token"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """An append-only record of who did what. Labels are copied so it outlives its targets."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=16, choices=Trigger.choices)
    site = models.ForeignKey(
        ClientSite, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    site_label = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEventImmutable("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditEventImmutable("Audit events cannot be deleted.")


class ApiToken(models.Model):
    """A named key a program uses to call the API as one user.

    Only the SHA-256 of the key is stored: the key itself is shown once, when it is issued.
    """

    KEY_PREFIX = "us_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'frontend CI'.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=8, editable=False, help_text="The key's first characters, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    for_kestra = models.BooleanField(
        "for Kestra",
        default=False,
        help_text="Calls with this token may say they come from Kestra "
        "(X-Understudy-Source: kestra); other tokens' calls are recorded as API calls.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        import hashlib

        # A key has 240 random bits, so a fast unsalted hash is enough to make a leaked
        # table useless; a slow password hash would cost every API call.
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user: Any, name: str, *, for_kestra: bool = False) -> tuple[ApiToken, str]:
        """A new token and its key; the key cannot be recovered later."""
        import secrets

        key = cls.KEY_PREFIX + secrets.token_urlsafe(30)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=cls.hash_key(key),
            prefix=key[:8],
            for_kestra=for_kestra,
        )
        return token, key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class IdempotencyRecord(models.Model):
    """The response to a POST sent with an ``Idempotency-Key``, replayed when the key returns."""

    LIFETIME = timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"

    @property
    def is_expired(self) -> bool:
        return self.created_at <= timezone.now() - self.LIFETIME


def created_railway_environment_ids(steps: models.QuerySet[RunStep]) -> list[str]:
    """The Railway environment ids these steps recorded as created, oldest first."""
    recorded = steps.filter(created__has_key="railway_environment_id").order_by(
        "run_id", "position"
    )
    ids: list[str] = []
    for created in recorded.values_list("created", flat=True):
        railway_id = str(created["railway_environment_id"])
        if railway_id and railway_id not in ids:
            ids.append(railway_id)
    return ids
