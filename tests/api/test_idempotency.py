from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from staging.models import IdempotencyRecord, Run
from tests.factories import make_environment, make_site
from tests.fixtures_api import Persona

pytestmark = pytest.mark.django_db

ENVIRONMENTS = "/api/v1/environments/"


def create(persona: Persona, key: str, **body: Any) -> Any:
    return persona.client.post(
        ENVIRONMENTS, {"gdpr_acknowledged": True} | body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_the_same_key_and_body_replays_the_first_answer_without_a_second_run(api_manager):
    site = make_site()
    first = create(api_manager, "key-1", site=site.pk, name="one")
    again = create(api_manager, "key-1", site=site.pk, name="one")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Run.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict(api_manager):
    site = make_site()
    create(api_manager, "key-1", site=site.pk, name="one")
    response = create(api_manager, "key-1", site=site.pk, name="two")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Run.objects.count() == 1


def test_the_same_key_on_another_path_is_a_conflict(api_manager):
    environment = make_environment(status="ready")
    create(api_manager, "key-1", site=make_site().pk)
    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/refresh/", HTTP_IDEMPOTENCY_KEY="key-1"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_belong_to_their_user(api_manager, api_admin):
    site = make_site()
    create(api_manager, "shared", site=site.pk, name="one")
    response = create(api_admin, "shared", site=site.pk, name="two")
    assert response.status_code == 202
    assert Run.objects.count() == 2


def test_a_failed_request_is_not_remembered_so_it_can_be_retried(api_manager):
    site = make_site()
    refused = create(api_manager, "key-1", site=site.pk, ttl_days=365)
    assert refused.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    accepted = create(api_manager, "key-1", site=site.pk)
    assert accepted.status_code == 202


def test_a_key_older_than_a_day_starts_afresh(api_manager):
    site = make_site()
    create(api_manager, "key-1", site=site.pk, name="one")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = create(api_manager, "key-1", site=site.pk, name="one-again")
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response
    assert Run.objects.count() == 2


def test_a_key_that_is_too_long_is_refused(api_manager):
    response = create(api_manager, "k" * 300, site=make_site().pk)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_without_a_key_every_post_acts(api_manager):
    environment = make_environment(status="ready")
    for _ in range(2):
        api_manager.client.post(
            f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": 1}, format="json"
        )
    assert not IdempotencyRecord.objects.exists()
