"""API tokens in the portal's admin: administrators only. The key is shown once, in a message
after creation; only its hash is stored."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from staging import audit
from staging.addresses import client_ip
from staging.models import ApiToken, Trigger


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    actions = ["revoke"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued, key = ApiToken.issue(obj.user, obj.name)
        # The admin redirects to this object after saving, so it must be the issued one.
        obj.pk, obj.key_hash, obj.prefix = issued.pk, issued.key_hash, issued.prefix
        obj.created_at = issued.created_at
        audit.record(
            "api_token.created",
            source=Trigger.ADMIN,
            actor=request.user,
            target=issued,
            ip_address=client_ip(request),
            details={"user": issued.user.get_username(), "name": issued.name},
        )
        messages.warning(
            request,
            format_html(
                "The token for {} is <code>{}</code>. Copy it now: it is not stored and will "
                "not be shown again.",
                issued.user.get_username(),
                key,
            ),
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoke()
            revoked += 1
            audit.record(
                "api_token.revoked",
                source=Trigger.ADMIN,
                actor=request.user,
                target=token,
                ip_address=client_ip(request),
                details={"user": token.user.get_username(), "name": token.name},
            )
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
