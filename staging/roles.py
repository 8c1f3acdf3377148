"""Who may do what. Roles are Django groups holding permissions, so the admin, the portal and
the API all ask the same question: ``user.has_perm(...)``.

- Account managers: see what viewers see; create, refresh, extend and delete staging copies.
- Viewers: see sites, staging copies, runs and the audit log; change nothing.
- Administrators (superusers): also manage sites, users and API tokens, and alone see what may
  be secret or personal: staging override values, the audit log's IP addresses and its export,
  the API's audit log, the job queue's dashboard.

docs/security.md has the table of who may do what, row by row with the function below that
decides it; tests/docs/test_roles_table.py holds the two together.
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


def can_read_audit_log(user: User) -> bool:
    return _has_perm(user, "staging.view_auditevent")


def can_administer(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def can_see_secrets(user: User) -> bool:
    """Staging override values (often credentials), IP addresses in the audit log and the
    audit log's CSV export (which carries them): administrators only."""
    return can_administer(user)
