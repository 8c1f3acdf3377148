"""Personas of the API tests: an account manager, a api_viewer and an api_admin, each with a
token and a client that sends it, and a client without credentials."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from staging import roles
from staging.models import ApiToken


@dataclass
class Persona:
    user: User
    token: ApiToken
    key: str
    client: APIClient


def make_persona(username: str, *, group: str | None = None, superuser: bool = False) -> Persona:
    if superuser:
        user = User.objects.create_superuser(username, f"{username}@example.com", "x")
    else:
        user = User.objects.create_user(username, f"{username}@example.com", "x")
    if group:
        user.groups.add(Group.objects.get(name=group))
    token, key = ApiToken.issue(user, f"{username}'s laptop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return Persona(user, token, key, client)


@pytest.fixture
def api_manager(db) -> Persona:
    return make_persona("ana", group=roles.ACCOUNT_MANAGERS)


@pytest.fixture
def api_viewer(db) -> Persona:
    return make_persona("victor", group=roles.VIEWERS)


@pytest.fixture
def api_admin(db) -> Persona:
    return make_persona("ada", superuser=True)


@pytest.fixture
def api_anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def isolated_throttles(settings) -> None:
    """Throttle counters in Redis under a prefix of this test's own, so tests do not share them.

    On the Redis database just below the job queue's, which other tests empty at will.
    """
    base, _, number = settings.REDIS_URL.rpartition("/")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{base}/{int(number or 0) - 1}",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
