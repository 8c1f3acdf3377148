"""API tokens in the portal's admin: administrators only. The key is shown once, on the page
that answers its creation (never in a message: messages can end up in a cookie); only its hash is
stored."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from staging import audit
from staging.addresses import client_ip
from staging.models import ApiToken, Trigger

# The key issued while a request is being answered, from save_model to response_add.
_issued_keys: WeakKeyDictionary[HttpRequest, str] = WeakKeyDictionary()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = [
        "name",
        "user",
        "prefix",
        "for_kestra",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "for_kestra"]
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
            return ["user", "name", "for_kestra"]
        return ["user", "name", "for_kestra", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued, key = ApiToken.issue(obj.user, obj.name, for_kestra=obj.for_kestra)
        # The admin's log entry and redirect need the issued object.
        obj.pk, obj.key_hash, obj.prefix = issued.pk, issued.key_hash, issued.prefix
        obj.created_at = issued.created_at
        audit.record(
            "api_token.created",
            source=Trigger.ADMIN,
            actor=request.user,
            target=issued,
            ip_address=client_ip(request),
            details={
                "user": issued.user.get_username(),
                "name": issued.name,
                "for_kestra": issued.for_kestra,
            },
        )
        _issued_keys[request] = key

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        key = _issued_keys.pop(request, None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        # The admin's no-cache headers (admin_view) keep this page out of every cache.
        return TemplateResponse(
            request,
            "admin/staging/apitoken/issued.html",
            {
                **self.admin_site.each_context(request),
                "title": f"API token for {obj.user.get_username()}",
                "opts": self.opts,
                "token": obj,
                "key": key,
            },
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
