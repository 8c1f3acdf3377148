from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from staging.models import AuditEvent, ClientSite, Run, RunStep, StagingEnvironment


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Records written by the pipeline or the audit log: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClientSite)
class ClientSiteAdmin(admin.ModelAdmin[ClientSite]):
    list_display = ["name", "database_engine", "is_wordpress", "railway_project_id"]
    list_filter = ["database_engine", "is_wordpress"]
    search_fields = ["name", "slug", "railway_project_id"]
    prepopulated_fields = {"slug": ["name"]}


class RunInline(admin.TabularInline[Run, StagingEnvironment]):
    model = Run
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "operation",
        "status",
        "progress_percent",
        "error_code",
        "created_at",
    )
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StagingEnvironment)
class StagingEnvironmentAdmin(admin.ModelAdmin[StagingEnvironment]):
    list_display = ["name", "site", "status", "url", "expires_at", "created_by"]
    list_filter = ["status", "site"]
    search_fields = ["name", "site__name", "railway_environment_id"]
    readonly_fields = [
        "railway_environment_id",
        "status",
        "url",
        "created_by",
        "created_at",
        "last_refreshed_at",
        "deleted_at",
        "database_size_bytes",
    ]
    inlines = [RunInline]


class RunStepInline(admin.TabularInline[RunStep, Run]):
    model = RunStep
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "position",
        "name",
        "status",
        "started_at",
        "finished_at",
        "log",
        "created",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "environment", "operation", "status", "progress_percent", "created_at"]
    list_filter = ["operation", "status", "trigger"]
    inlines = [RunStepInline]


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdmin):
    list_display = ["run", "position", "name", "status", "started_at"]
    list_filter = ["name", "status"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_label", "action", "site_label", "target_label", "source"]
    list_filter = ["action", "source", "actor_type"]
    search_fields = ["actor_label", "site_label", "target_label", "action"]
    date_hierarchy = "created_at"
