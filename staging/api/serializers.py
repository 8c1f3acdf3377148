"""What the API shows and accepts. Output serializers read annotated querysets (views.py), so
that a list costs the same number of queries whatever its length."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from staging.digits import parse_id
from staging.models import (
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    Run,
    RunStatus,
    RunStep,
    StagingEnvironment,
)
from staging.plans import STEP_LABELS
from staging.runs import MAX_TTL_DAYS


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable error code, e.g. name_taken.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    details = serializers.DictField(help_text="Field errors or other specifics.")


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


class SiteSerializer(serializers.ModelSerializer[ClientSite]):
    production_url = serializers.SerializerMethodField()
    ttl_days = serializers.IntegerField(read_only=True, help_text="Days a staging copy lives.")
    environments_count = serializers.IntegerField(
        read_only=True, help_text="Staging environments that are not deleted."
    )

    class Meta:
        model = ClientSite
        fields = [
            "id",
            "slug",
            "name",
            "database_engine",
            "is_wordpress",
            "production_url",
            "ttl_days",
            "environments_count",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_production_url(self, site: ClientSite) -> str | None:
        return site.production_url or None


class SiteSummarySerializer(serializers.ModelSerializer[ClientSite]):
    class Meta:
        model = ClientSite
        fields = ["id", "slug", "name"]
        read_only_fields = fields


class RunSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)


class EnvironmentSerializer(serializers.ModelSerializer[StagingEnvironment]):
    site = SiteSummarySerializer(read_only=True)
    url = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, help_text="A username."
    )
    expired = serializers.SerializerMethodField()
    latest_run = serializers.SerializerMethodField()

    class Meta:
        model = StagingEnvironment
        fields = [
            "id",
            "site",
            "name",
            "status",
            "url",
            "expires_at",
            "expired",
            "created_at",
            "created_by",
            "last_refreshed_at",
            "latest_run",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, environment: StagingEnvironment) -> str | None:
        return environment.url or None

    def get_expired(self, environment: StagingEnvironment) -> bool:
        return environment.is_expired(self.context.get("now"))

    @extend_schema_field(RunSummarySerializer(allow_null=True))
    def get_latest_run(self, environment: StagingEnvironment) -> dict[str, Any] | None:
        # Annotated by the views' queryset: reading environment.runs here would cost a query
        # per row.
        run_id = getattr(environment, "latest_run_id", None)
        if run_id is None:
            return None
        return {"id": run_id, "status": environment.latest_run_status}  # type: ignore[attr-defined]


class StepSerializer(serializers.ModelSerializer[RunStep]):
    label = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = RunStep
        fields = ["name", "label", "status", "started_at", "finished_at"]
        read_only_fields = fields

    def get_label(self, step: RunStep) -> str:
        return STEP_LABELS.get(step.name, step.name)


class RunErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


class RunSerializer(serializers.ModelSerializer[Run]):
    environment: serializers.PrimaryKeyRelatedField[StagingEnvironment] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    steps = StepSerializer(many=True, read_only=True)
    error = serializers.SerializerMethodField()
    staging_url = serializers.SerializerMethodField()
    metrics = serializers.DictField(read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "environment",
            "operation",
            "status",
            "trigger",
            "progress_percent",
            "current_step",
            "steps",
            "error",
            "staging_url",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "metrics",
        ]
        read_only_fields = fields

    @extend_schema_field(RunErrorSerializer(allow_null=True))
    def get_error(self, run: Run) -> dict[str, str] | None:
        if not run.error_code:
            return None
        return {"code": run.error_code, "message": run.error_message}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_staging_url(self, run: Run) -> str | None:
        return run.environment.url or None


class EnvironmentWithRunSerializer(serializers.Serializer[Any]):
    environment: EnvironmentSerializer = EnvironmentSerializer()
    run: RunSerializer = RunSerializer()


class RunOnlySerializer(serializers.Serializer[Any]):
    run: RunSerializer = RunSerializer()


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    site: serializers.PrimaryKeyRelatedField[ClientSite] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_type",
            "actor_label",
            "action",
            "source",
            "site",
            "site_label",
            "target_type",
            "target_id",
            "target_label",
            "ip_address",
            "details",
        ]
        read_only_fields = fields


# Input


class AsciiIntegerField(serializers.IntegerField):
    """DRF's integer, without the digits of other scripts that ``int()`` reads ("٣" is 3)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")
        return super().to_internal_value(data)


class EnvironmentCreateSerializer(serializers.Serializer[Any]):
    site = serializers.CharField(max_length=60, help_text="The site's id or slug.")
    name = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Lowercase letters, digits and hyphens; a dated name is chosen if omitted.",
    )
    ttl_days = AsciiIntegerField(
        required=False,
        allow_null=True,
        help_text=f"Days before it is torn down (1 to {MAX_TTL_DAYS}); the site's default if "
        "omitted.",
    )
    gdpr_acknowledged = serializers.BooleanField(
        default=False,
        help_text="Must be true unless the site masks personal data: the copy holds "
        "production personal data.",
    )

    def validate_site(self, value: str) -> ClientSite:
        site_id = parse_id(value)
        lookup = {"slug": value} if site_id is None else {"pk": site_id}
        site = ClientSite.objects.filter(**lookup).first()
        if site is None:
            raise serializers.ValidationError(f"No site has the id or slug '{value}'.")
        return site


class ExtendSerializer(serializers.Serializer[Any]):
    days = AsciiIntegerField(
        default=7, help_text=f"Days to add to the expiry (1 to {MAX_TTL_DAYS})."
    )


class RefreshSerializer(serializers.Serializer[Any]):
    gdpr_acknowledged = serializers.BooleanField(
        default=False,
        help_text="Must be true unless the site masks personal data: the fresh copy holds "
        "production personal data again.",
    )


class EnvironmentFilterSerializer(serializers.Serializer[Any]):
    site = serializers.CharField(required=False, max_length=60, help_text="A site's id or slug.")
    status = serializers.ChoiceField(
        choices=EnvironmentStatus.choices,
        required=False,
        help_text="Only this status; without it, deleted environments are left out.",
    )
    expired = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: past their expiry and not deleted; false: not yet expired.",
    )


class AuditFilterSerializer(serializers.Serializer[Any]):
    action = serializers.CharField(required=False, max_length=64)
    site = AsciiIntegerField(required=False, min_value=1, max_value=2**62)
    target_type = serializers.CharField(required=False, max_length=32)
    target_id = serializers.CharField(required=False, max_length=64)


def now_context() -> dict[str, Any]:
    """One ``now`` for a whole page, so every row is judged expired against the same instant."""
    return {"now": timezone.now()}
