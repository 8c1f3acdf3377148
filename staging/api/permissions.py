"""The portal's roles (staging.roles), asked the same way by every API view."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from staging import roles


class FollowsRoles(BasePermission):
    """Viewers read; account managers (and administrators) also change things."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return roles.can_view(request.user)
        return roles.can_operate(request.user)


class IsAdministrator(BasePermission):
    message = "Only administrators may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return roles.can_administer(request.user)
