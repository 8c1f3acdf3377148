"""Personas of the portal: an account manager, a viewer and an administrator, each with a
logged-in test client. Roles are the groups of migration 0002, recreated when a transactional
test has flushed them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from staging.roles import ACCOUNT_MANAGERS, GROUP_PERMISSIONS, VIEWERS

PASSWORD = "portal-test-password-4d1e"


def role(name: str) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="staging", codename__in=GROUP_PERMISSIONS[name]
        )
    )
    return group


def make_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    user = User.objects.create_user(
        username, f"{username}@agency.example", PASSWORD, is_staff=True, is_superuser=superuser
    )
    if group:
        user.groups.add(role(group))
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def account_manager(db: None) -> User:
    return make_user("alice", group=ACCOUNT_MANAGERS)


@pytest.fixture
def viewer(db: None) -> User:
    return make_user("victor", group=VIEWERS)


@pytest.fixture
def administrator(db: None) -> User:
    return make_user("ada", superuser=True)


@pytest.fixture
def account_manager_client(account_manager: User) -> Client:
    return logged_in(account_manager)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return logged_in(viewer)


@pytest.fixture
def administrator_client(administrator: User) -> Client:
    return logged_in(administrator)
