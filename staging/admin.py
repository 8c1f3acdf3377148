from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from staging import roles, runs
from staging.addresses import client_ip
from staging.errors import UnderstudyError
from staging.models import AuditEvent, ClientSite, Run, RunStep, StagingEnvironment, Trigger
from staging.pages.forms import AsciiIntegerField
from staging.wordpress import DEFAULT_RESET_OPTIONS
from staging.wordpress.masking import MASKING_KINDS

# One of staging.runs' entry points, applied to each selected environment by a bulk action.
EnvironmentChange = Callable[[StagingEnvironment, runs.Actor], object]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Records written by the pipeline or the audit log: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IndentedJSONField(forms.JSONField):
    """JSON shown indented, one item a line, so a person can edit it in a text box."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


def _reset_options_help() -> str:
    defaults = format_html_join(
        ", ", "<code>{}</code>", ((name,) for name in DEFAULT_RESET_OPTIONS)
    )
    return format_html(
        "WordPress options deleted on every staging copy, so plugins lose production's keys "
        '(a list, e.g. <code>["wp_mail_smtp", "mailchimp_*"]</code>; a name ending in * resets '
        "every option starting with the rest). Empty uses the defaults: {}.",
        defaults,
    )


class ClientSiteForm(forms.ModelForm[ClientSite]):
    """The site's staging settings as JSON; ``ClientSite.clean`` checks their shapes and names
    each mistake, so it is shown under the field that has it."""

    production_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", label="Production URL"
    )
    staging_variables = IndentedJSONField(
        required=False,
        label="Staging overrides",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text=(
            "Variables set on the staging app before it starts, replacing production's: an "
            'object of names and text values, e.g. {"SMTP_HOST": "mailpit", '
            '"STRIPE_SECRET_KEY": "sk_test_…"}.'
        ),
    )
    isolation_extra_names = IndentedJSONField(
        required=False,
        label="Also blank on staging",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=(
            "Variables blanked on staging besides the built-in rules (docs/security.md): a list "
            'of names or patterns, e.g. ["ACME_API_KEY", "PARTNER_*"].'
        ),
    )
    isolation_allowed = IndentedJSONField(
        required=False,
        label="Keep as production",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=(
            "Variables the built-in rules would neutralise but staging keeps as production has "
            'them: a list of names or patterns, e.g. ["SENTRY_DSN"].'
        ),
    )
    wordpress_reset_options = IndentedJSONField(
        required=False,
        label="WordPress options to reset",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text=_reset_options_help(),
    )
    masking_rules = IndentedJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text=(
            "For sites that are not WordPress: columns whose personal data is masked on staging, "
            'a list like [{"table": "customers", "column": "email", "kind": "email"}]; kinds: '
            f"{', '.join(sorted(MASKING_KINDS))}."
        ),
    )

    class Meta:
        model = ClientSite
        field_classes = {"staging_ttl_days": AsciiIntegerField}
        fields = [
            "name",
            "slug",
            "production_url",
            "is_wordpress",
            "railway_project_id",
            "production_environment_id",
            "app_service_id",
            "app_service_name",
            "database_service_id",
            "database_service_name",
            "database_engine",
            "staging_ttl_days",
            "staging_variables",
            "isolation_extra_names",
            "isolation_allowed",
            "wordpress_reset_options",
            "masking_preset",
            "masking_rules",
        ]

    def clean_isolation_extra_names(self) -> Any:
        value = self.cleaned_data["isolation_extra_names"]
        return [] if value is None else value

    def clean_isolation_allowed(self) -> Any:
        value = self.cleaned_data["isolation_allowed"]
        return [] if value is None else value

    def clean_staging_variables(self) -> Any:
        # An emptied box means "none", not JSON null (the columns are NOT NULL).
        value = self.cleaned_data["staging_variables"]
        return {} if value is None else value

    def clean_wordpress_reset_options(self) -> Any:
        value = self.cleaned_data["wordpress_reset_options"]
        return [] if value is None else value

    def clean_masking_rules(self) -> Any:
        value = self.cleaned_data["masking_rules"]
        return [] if value is None else value


@admin.register(ClientSite)
class ClientSiteAdmin(admin.ModelAdmin[ClientSite]):
    form = ClientSiteForm
    list_display = ["name", "database_engine", "is_wordpress", "railway_project_id"]
    list_filter = ["database_engine", "is_wordpress"]
    search_fields = ["name", "slug", "railway_project_id"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "production_url", "is_wordpress"]}),
        (
            "Railway",
            {
                "fields": [
                    "railway_project_id",
                    "production_environment_id",
                    ("app_service_id", "app_service_name"),
                    ("database_service_id", "database_service_name"),
                    "database_engine",
                ]
            },
        ),
        (
            "Staging copies",
            {
                "fields": [
                    "staging_ttl_days",
                    "staging_variables",
                    "isolation_extra_names",
                    "isolation_allowed",
                    "wordpress_reset_options",
                    "masking_preset",
                    "masking_rules",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: ClientSite | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if roles.can_see_secrets(request.user):
            return fieldsets
        # Override values are often credentials (test payment keys, SMTP passwords): others see
        # which variables are overridden, not their values.
        return [
            (
                name,
                {
                    **options,
                    "fields": [
                        "staging_variable_names" if field == "staging_variables" else field
                        for field in options["fields"]
                    ],
                },
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ClientSite | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not roles.can_see_secrets(request.user):
            readonly.append("staging_variable_names")
        return readonly

    def get_exclude(self, request: HttpRequest, obj: ClientSite | None = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not roles.can_see_secrets(request.user):
            # The form declares the field, so leaving it out of the fieldsets is not enough.
            exclude.append("staging_variables")
        return exclude

    @admin.display(description="Staging overrides")
    def staging_variable_names(self, site: ClientSite) -> str:
        names = sorted(site.staging_variables or {})
        if not names:
            return "None"
        return f"{', '.join(names)} (values are shown to administrators only)"


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
    actions = ["refresh_selected", "extend_selected", "delete_selected_environments"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return roles.can_operate(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would orphan the Railway environment; "Delete" tears it down instead.
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A row added here would have no run, no audit event and no Railway environment: copies
        # are made from the portal's "Create staging" (staging.runs.start_clone), linked above
        # the list instead.
        return False

    @admin.action(description="Refresh from production", permissions=["operate"])
    def refresh_selected(
        self, request: HttpRequest, queryset: QuerySet[StagingEnvironment]
    ) -> TemplateResponse | None:
        return self._confirm_or_run(
            request,
            queryset,
            "refresh_selected",
            "Refresh from production?",
            "The staging data of these copies will be replaced by a fresh copy of production; "
            "changes made on staging will be lost. The fresh copies hold production personal "
            "data again: confirming acknowledges that it will be handled accordingly.",
            "Yes, refresh them",
            lambda environment, actor: runs.start_refresh(
                environment, actor, gdpr_acknowledged=True
            ),
        )

    @admin.action(description="Extend by 7 days", permissions=["operate"])
    def extend_selected(self, request: HttpRequest, queryset: QuerySet[StagingEnvironment]) -> None:
        self._each(request, queryset, lambda environment, actor: runs.extend(environment, actor))
        return None

    @admin.action(description="Delete the staging copies", permissions=["operate"])
    def delete_selected_environments(
        self, request: HttpRequest, queryset: QuerySet[StagingEnvironment]
    ) -> TemplateResponse | None:
        return self._confirm_or_run(
            request,
            queryset,
            "delete_selected_environments",
            "Delete these staging copies?",
            "These staging copies and all their data will be deleted; their links stop working. "
            "This cannot be undone; production is not touched.",
            "Yes, delete them",
            lambda environment, actor: runs.start_teardown(environment, actor),
            button_class="button--danger",
        )

    def _confirm_or_run(
        self,
        request: HttpRequest,
        queryset: QuerySet[StagingEnvironment],
        action: str,
        title: str,
        warning: str,
        button: str,
        start: EnvironmentChange,
        button_class: str = "button--primary",
    ) -> TemplateResponse | None:
        if request.POST.get("confirmed") == "yes":
            self._each(request, queryset, start)
            return None
        return TemplateResponse(
            request,
            "staging/bulk_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "warning": warning,
                "button": button,
                "button_class": button_class,
                "action": action,
                "environments": queryset.select_related("site"),
            },
        )

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[StagingEnvironment],
        change: EnvironmentChange,
    ) -> None:
        """Apply ``change`` through ``staging.runs`` to each environment; one refusal does not
        stop the others, and each is reported in words."""
        actor = runs.Actor.for_user(
            request.user,  # type: ignore[arg-type]
            Trigger.ADMIN,
            ip_address=client_ip(request),
        )
        done = 0
        for environment in queryset.select_related("site"):
            try:
                change(environment, actor)
            except UnderstudyError as error:
                self.message_user(request, f"{environment}: {error.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                f"Done for {done} staging cop{'y' if done == 1 else 'ies'}.",
                messages.SUCCESS,
            )


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

    def get_fields(self, request: HttpRequest, obj: AuditEvent | None = None) -> Any:
        fields = super().get_fields(request, obj)
        if roles.can_see_secrets(request.user):
            return fields
        return [field for field in fields if field != "ip_address"]


# API tokens (staging/api/admin.py) register themselves when imported.
from staging.api import admin as _api_admin  # noqa: E402, F401
