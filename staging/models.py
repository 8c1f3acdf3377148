"""Understudy's domain: client sites, their staging environments, runs and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from staging.errors import AuditEventImmutable, InvalidState


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


class EnvironmentStatus(models.TextChoices):
    CREATING = "creating", "Being created"
    READY = "ready", "Ready"
    REFRESHING = "refreshing", "Refreshing"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Being deleted"
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
        self.status = EnvironmentStatus.DELETED
        self.deleted_at = timezone.now()
        self.save(update_fields=["status", "deleted_at"])


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

    def heartbeat(self) -> None:
        self.heartbeat_at = timezone.now()
        Run.objects.filter(pk=self.pk).update(heartbeat_at=self.heartbeat_at)

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
