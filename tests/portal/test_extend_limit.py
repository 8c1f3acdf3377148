"""Extend asks first, and never keeps a copy past the maximum lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from staging import runs
from staging.models import AuditEvent, EnvironmentStatus, StagingEnvironment, Trigger
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db


def _aged(days: int, expires_in: timedelta) -> StagingEnvironment:
    environment = make_environment(status=EnvironmentStatus.READY)
    created = timezone.now() - timedelta(days=days)
    StagingEnvironment.objects.filter(pk=environment.pk).update(
        created_at=created, expires_at=timezone.now() + expires_in
    )
    environment.refresh_from_db()
    return environment


def test_extend_shows_the_new_date_before_changing_anything(account_manager_client):
    environment = _aged(2, timedelta(days=5))

    page = account_manager_client.get(reverse("portal:extend", args=[environment.pk]))

    assert b"Yes, keep it 7 more days" in page.content
    environment.refresh_from_db()
    assert not AuditEvent.objects.filter(action="staging.extended").exists()


def test_extend_is_refused_past_the_maximum_lifetime(account_manager_client, settings):
    settings.STAGING_MAX_LIFETIME_DAYS = 30
    environment = _aged(25, timedelta(days=4, hours=12))
    before = environment.expires_at

    page = account_manager_client.get(reverse("portal:extend", args=[environment.pk]))
    account_manager_client.post(reverse("portal:extend", args=[environment.pk]))

    assert b"cannot be kept longer" in page.content
    environment.refresh_from_db()
    assert environment.expires_at == before


def test_extend_offers_only_the_days_left_before_the_limit(account_manager_client, settings):
    settings.STAGING_MAX_LIFETIME_DAYS = 30
    environment = _aged(20, timedelta(days=6, hours=1))

    account_manager_client.post(reverse("portal:extend", args=[environment.pk]))

    environment.refresh_from_db()
    assert environment.expires_at <= runs.latest_expiry(environment)
    assert environment.expires_at > timezone.now() + timedelta(days=9)


def test_thirteen_extensions_never_pass_the_maximum_lifetime(account_manager, settings):
    settings.STAGING_MAX_LIFETIME_DAYS = 30
    environment = make_environment(status=EnvironmentStatus.READY)
    actor = runs.Actor.for_user(account_manager, Trigger.ADMIN)
    refused = 0
    for _ in range(13):
        try:
            runs.extend(environment, actor, days=7)
        except runs.LifetimeExceeded as error:
            refused += 1
            assert error.code == "lifetime_exceeded"
    environment.refresh_from_db()

    assert refused >= 10
    assert environment.expires_at <= environment.created_at + timedelta(days=30)


def test_a_copy_cannot_be_created_for_longer_than_the_maximum_lifetime(account_manager, settings):
    settings.STAGING_MAX_LIFETIME_DAYS = 30
    actor = runs.Actor.for_user(account_manager, Trigger.ADMIN)

    with pytest.raises(runs.LifetimeExceeded):
        runs.start_clone(make_site(), actor, ttl_days=60, gdpr_acknowledged=True)
