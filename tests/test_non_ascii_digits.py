"""Every door that turns input into a number or an id refuses the digits of other scripts with
its usual validation error: "³" passes ``str.isdigit()`` and then makes ``int()`` raise (a 500
once), while ``int("٣")`` quietly reads 3."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from staging.digits import ascii_float, ascii_int, is_ascii_digits, parse_id
from staging.models import AuditEvent, Run, StagingEnvironment
from tests.factories import make_environment, make_site

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT_THREE = "³"


def arabic(number: int) -> str:
    return str(number).translate(ARABIC_INDIC)


# The helpers


@pytest.mark.parametrize("text", ["0", "7", "123456789012345678"])
def test_ascii_digits_are_an_id(text):
    assert is_ascii_digits(text)
    assert parse_id(text) == int(text)


@pytest.mark.parametrize(
    "text", ["", "³", "٣", "1٣", "²³", "-3", "+3", " 3", "3.0", "1_000", "1234567890123456789"]
)
def test_anything_else_is_no_id(text):
    assert parse_id(text) is None


@pytest.mark.parametrize("text", ["³", "٣", "٣٠", "\uff13"])  # the last: fullwidth 3
def test_numbers_in_other_digits_are_refused(text):
    with pytest.raises(ValueError):
        ascii_int(text)
    with pytest.raises(ValueError):
        ascii_float(text)


def test_ascii_numbers_read_as_int_and_float_do():
    assert ascii_int(" -12 ") == -12
    assert ascii_float("2.5") == 2.5
    with pytest.raises(ValueError):
        ascii_float("nan")


# The API


ENVIRONMENTS = "/api/v1/environments/"


@pytest.fixture(autouse=True)
def _isolated_throttles(isolated_throttles) -> None:
    """The API calls below count their requests from zero."""


@pytest.mark.django_db
@pytest.mark.parametrize("site", [SUPERSCRIPT_THREE, "٣", "id"])
def test_creating_with_a_site_in_other_digits_is_a_validation_error(api_manager, site):
    real = make_site()
    given = arabic(real.pk) if site == "id" else site

    response = api_manager.client.post(
        ENVIRONMENTS, {"site": given, "gdpr_acknowledged": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "site" in response.json()["error"]["details"]
    assert not Run.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("ttl_days", [SUPERSCRIPT_THREE, "٣"])
def test_a_lifetime_in_other_digits_is_a_validation_error(api_manager, ttl_days):
    site = make_site()

    response = api_manager.client.post(
        ENVIRONMENTS,
        {"site": site.pk, "ttl_days": ttl_days, "gdpr_acknowledged": True},
        format="json",
    )

    assert response.status_code == 400
    assert "ttl_days" in response.json()["error"]["details"]
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_listing_by_a_site_id_in_other_digits_matches_no_site(api_manager):
    environment = make_environment()
    site_id = environment.site.pk

    by_ascii = api_manager.client.get(ENVIRONMENTS, {"site": str(site_id)})
    by_arabic = api_manager.client.get(ENVIRONMENTS, {"site": arabic(site_id)})
    by_superscript = api_manager.client.get(ENVIRONMENTS, {"site": SUPERSCRIPT_THREE})

    assert [e["id"] for e in by_ascii.json()["results"]] == [environment.pk]
    assert by_arabic.status_code == 200
    assert by_arabic.json()["results"] == []
    assert by_superscript.status_code == 200
    assert by_superscript.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("days", [SUPERSCRIPT_THREE, "٣"])
def test_extending_by_days_in_other_digits_is_a_validation_error(api_manager, days):
    environment = make_environment()
    expires_at = environment.expires_at

    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": days}, format="json"
    )

    assert response.status_code == 400
    assert "days" in response.json()["error"]["details"]
    environment.refresh_from_db()
    assert environment.expires_at == expires_at


@pytest.mark.django_db
def test_an_environment_id_in_other_digits_in_the_path_is_not_found(api_manager):
    environment = make_environment()

    response = api_manager.client.get(f"{ENVIRONMENTS}{arabic(environment.pk)}/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_filtering_the_audit_by_a_site_in_other_digits_is_a_validation_error(api_admin):
    site = make_site()

    response = api_admin.client.get("/api/v1/audit/", {"site": arabic(site.pk)})

    assert response.status_code == 400
    assert "site" in response.json()["error"]["details"]


@pytest.mark.django_db
def test_a_page_number_in_other_digits_is_not_a_page(api_manager):
    site = make_site()
    for number in range(3):
        make_environment(site, name=f"copy-{number}")

    second = api_manager.client.get(ENVIRONMENTS, {"page": "2", "page_size": "2"})
    arabic_page = api_manager.client.get(ENVIRONMENTS, {"page": "٢", "page_size": "2"})
    arabic_size = api_manager.client.get(ENVIRONMENTS, {"page_size": "٢"})

    assert len(second.json()["results"]) == 1
    assert arabic_page.status_code == 404
    assert arabic_page.json()["error"]["code"] == "not_found"
    # An unreadable page size is the default one, as for page_size=abc.
    assert len(arabic_size.json()["results"]) == 3


# The commands


def run_command(*args: str) -> tuple[int, str]:
    try:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    except CommandError as error:
        return error.returncode, str(error)
    return 0, ""


@pytest.mark.django_db
def test_teardown_of_an_environment_id_in_other_digits_is_bad_usage():
    environment = make_environment()

    assert run_command("teardown_staging", SUPERSCRIPT_THREE)[0] == 2
    assert run_command("teardown_staging", arabic(environment.pk))[0] == 2
    assert run_command("refresh_staging", arabic(environment.pk))[0] == 2
    assert not Run.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("--ttl-days", "٣"),
        ("--ttl-days", SUPERSCRIPT_THREE),
        ("--wait", "--timeout", "٣"),
    ],
)
def test_clone_refuses_numbers_in_other_digits_as_bad_arguments(args):
    make_site(slug="bakery")

    code, message = run_command("clone_staging", "bakery", *args)

    # call_command turns argparse's usage error into a CommandError; the shell sees exit 2.
    assert code == 1
    assert "invalid" in message
    assert not StagingEnvironment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("age", ["٣d", "³h", "99999999d"])
def test_cleanup_refuses_an_age_in_other_digits_or_beyond_the_calendar(age):
    make_environment()

    assert run_command("cleanup_staging", "--older-than", age)[0] == 2
    assert not Run.objects.exists()


# The portal


@pytest.mark.django_db
def test_the_audit_log_refuses_a_client_id_in_other_digits(viewer_client, account_manager):
    site = make_site()
    AuditEvent.objects.create(action="staging.extended", site=site, target_type="site")

    by_ascii = viewer_client.get(reverse("portal:audit"), {"site": str(site.pk)})
    by_arabic = viewer_client.get(reverse("portal:audit"), {"site": arabic(site.pk)})
    by_user = viewer_client.get(reverse("portal:audit"), {"user": arabic(account_manager.pk)})

    assert len(by_ascii.context["page"].object_list) == 1
    assert by_arabic.status_code == 200
    assert "site" in by_arabic.context["form"].errors
    assert list(by_arabic.context["page"].object_list) == []
    assert "user" in by_user.context["form"].errors


@pytest.mark.django_db
def test_an_audit_page_in_other_digits_is_the_first_page(viewer_client):
    response = viewer_client.get(reverse("portal:audit"), {"page": "٢"})

    assert response.status_code == 200
    assert response.context["page"].number == 1


@pytest.mark.django_db
@pytest.mark.parametrize("ttl_days", ["٣", SUPERSCRIPT_THREE])
def test_the_create_form_refuses_a_lifetime_in_other_digits(account_manager_client, ttl_days):
    site = make_site()

    response = account_manager_client.post(
        reverse("portal:create", args=[site.pk]),
        {"name": "spring-sale", "ttl_days": ttl_days, "gdpr_acknowledged": "on"},
    )

    assert response.status_code == 200
    assert "ttl_days" in response.context["form"].errors
    assert not Run.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("ttl_days", ["٣", SUPERSCRIPT_THREE])
def test_the_site_admin_refuses_a_lifetime_in_other_digits(administrator_client, ttl_days):
    site = make_site(staging_ttl_days=7)
    data = {
        "name": site.name,
        "slug": site.slug,
        "railway_project_id": site.railway_project_id,
        "production_environment_id": site.production_environment_id,
        "app_service_id": site.app_service_id,
        "app_service_name": site.app_service_name,
        "database_service_id": site.database_service_id,
        "database_service_name": site.database_service_name,
        "database_engine": site.database_engine,
        "staging_ttl_days": ttl_days,
        "staging_variables": "{}",
        "wordpress_reset_options": "[]",
        "masking_preset": site.masking_preset,
        "masking_rules": "[]",
    }

    response = administrator_client.post(
        reverse("admin:staging_clientsite_change", args=[site.pk]), data
    )

    assert response.status_code == 200
    assert "staging_ttl_days" in response.context["adminform"].form.errors
    site.refresh_from_db()
    assert site.staging_ttl_days == 7
