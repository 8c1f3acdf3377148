"""Who may do what. Roles are Django groups holding permissions, so the admin, the portal and
the API all ask the same question: ``user.has_perm(...)``.

- Account managers: see everything, create, refresh, extend and delete staging copies.
- Viewers: see everything, change nothing.
- Administrators (superusers): also manage sites, users and API tokens.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, PermissionsMixin

ACCOUNT_MANAGERS = "Account managers"
VIEWERS = "Viewers"

OPERATE = "staging.operate_stagingenvironment"
VIEW_PERMISSIONS = (
    "view_clientsite",
    "view_stagingenvironment",
    "view_run",
    "view_runstep",
    "view_auditevent",
)
GROUP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    VIEWERS: VIEW_PERMISSIONS,
    ACCOUNT_MANAGERS: (*VIEW_PERMISSIONS, "operate_stagingenvironment"),
}

User = AbstractBaseUser | AnonymousUser


def _has_perm(user: User, permission: str) -> bool:
    return isinstance(user, PermissionsMixin) and user.is_active and user.has_perm(permission)


def can_view(user: User) -> bool:
    return _has_perm(user, "staging.view_stagingenvironment")


def can_operate(user: User) -> bool:
    return _has_perm(user, OPERATE)


def can_administer(user: User) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))
