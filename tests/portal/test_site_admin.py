"""The site's admin page: its staging settings, grouped, explained and checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from staging.models import ClientSite
from staging.wordpress import DEFAULT_RESET_OPTIONS
from tests.factories import make_site

pytestmark = pytest.mark.django_db


def change_url(site: ClientSite) -> str:
    return reverse("admin:staging_clientsite_change", args=[site.pk])


def form_data(site: ClientSite, **changes: Any) -> dict[str, Any]:
    """The change form as the browser posts it, JSON fields as typed in their text boxes."""
    data: dict[str, Any] = {
        "name": site.name,
        "slug": site.slug,
        "production_url": site.production_url,
        "is_wordpress": "on" if site.is_wordpress else "",
        "railway_project_id": site.railway_project_id,
        "production_environment_id": site.production_environment_id,
        "app_service_id": site.app_service_id,
        "app_service_name": site.app_service_name,
        "database_service_id": site.database_service_id,
        "database_service_name": site.database_service_name,
        "database_engine": site.database_engine,
        "staging_ttl_days": site.staging_ttl_days or "",
        "staging_variables": json.dumps(site.staging_variables),
        "wordpress_reset_options": json.dumps(site.wordpress_reset_options),
        "masking_preset": site.masking_preset,
        "masking_rules": json.dumps(site.masking_rules),
    }
    for field, value in changes.items():
        data[field] = value if isinstance(value, str) else json.dumps(value)
    if data["is_wordpress"] == "":
        del data["is_wordpress"]
    return data


def errors_of(response: Any, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def test_the_page_groups_the_staging_settings_and_lists_the_default_reset_options(
    administrator_client: Client,
) -> None:
    site = make_site(staging_variables={"SMTP_HOST": "mailpit"})

    response = administrator_client.get(change_url(site))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="fieldset-heading">Railway</h2>' in html
    assert 'class="fieldset-heading">Staging copies</h2>' in html
    for option in DEFAULT_RESET_OPTIONS:
        assert f"<code>{option}</code>" in html
    assert "Staging overrides" in html
    assert "&quot;SMTP_HOST&quot;: &quot;mailpit&quot;" in html


def test_valid_staging_settings_are_saved(administrator_client: Client) -> None:
    site = make_site()

    response = administrator_client.post(
        change_url(site),
        form_data(
            site,
            staging_ttl_days="3",
            staging_variables={"SMTP_HOST": "mailpit", "STRIPE_SECRET_KEY": "sk_test_123"},
            wordpress_reset_options=["wp_mail_smtp", "mailchimp_*"],
            masking_preset="wordpress",
        ),
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    site.refresh_from_db()
    assert site.staging_ttl_days == 3
    assert site.staging_variables == {"SMTP_HOST": "mailpit", "STRIPE_SECRET_KEY": "sk_test_123"}
    assert site.wordpress_reset_options == ["wp_mail_smtp", "mailchimp_*"]


def test_emptied_boxes_save_as_no_variables_and_the_default_options(
    administrator_client: Client,
) -> None:
    site = make_site(staging_variables={"A": "1"}, wordpress_reset_options=["mailgun"])

    response = administrator_client.post(
        change_url(site), form_data(site, staging_variables="", wordpress_reset_options="")
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.staging_variables, site.wordpress_reset_options) == ({}, [])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("staging_variables", "{not json", "Enter a valid JSON."),
        ("staging_variables", ["SMTP_HOST"], "Enter an object of names and values"),
        ("staging_variables", {"1SMTP": "x"}, "'1SMTP' is not a variable name"),
        ("staging_variables", {"SMTP PORT": "x"}, "'SMTP PORT' is not a variable name"),
        ("staging_variables", {"SMTP_PORT": 25}, "The value of SMTP_PORT must be text: write it"),
        ("staging_variables", {"RAILWAY_PUBLIC_DOMAIN": "x"}, "is set by Railway itself"),
        ("wordpress_reset_options", {"wp_mail_smtp": True}, "Enter a list of option names"),
        ("wordpress_reset_options", ["wp_mail_smtp", 3], "3 is not an option name"),
        ("wordpress_reset_options", ["mail smtp"], "'mail smtp' is not an option name"),
        ("wordpress_reset_options", ["mail*chimp"], "* only at the end"),
        ("wordpress_reset_options", ["*"], "A lone * would reset every option"),
        ("wordpress_reset_options", ["siteurl"], "siteurl would reset an option WordPress needs"),
        ("wordpress_reset_options", ["wp_*"], "wp_* would reset an option WordPress needs"),
        ("wordpress_reset_options", ["wpx_user_roles"], "would reset an option WordPress needs"),
    ],
)
def test_a_mistake_in_the_staging_settings_is_named_under_its_field(
    administrator_client: Client, field: str, value: Any, message: str
) -> None:
    site = make_site(staging_variables={"KEEP": "me"})

    response = administrator_client.post(change_url(site), form_data(site, **{field: value}))

    assert response.status_code == 200
    assert any(message in error for error in errors_of(response, field)), errors_of(response, field)
    site.refresh_from_db()
    assert site.staging_variables == {"KEEP": "me"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"table": "customers"}, "Enter a list of rules"),
        ([{"table": "customers", "column": "email"}], "Rule 1 needs exactly the keys"),
        (
            [{"table": "customers", "column": "email", "kind": "email", "extra": 1}],
            "Rule 1 needs exactly the keys",
        ),
        (
            [
                {"table": "customers", "column": "email", "kind": "email"},
                {"table": "customers; DROP", "column": "email", "kind": "email"},
            ],
            "Rule 2: table and column are plain names",
        ),
        (
            [{"table": "customers", "column": "email", "kind": ["email"]}],
            "Rule 1: kind ['email'] is not one of",
        ),
        (
            [{"table": "customers", "column": "email", "kind": "scramble"}],
            "Rule 1: kind 'scramble' is not one of email, ip, name, null, phone, text",
        ),
    ],
)
def test_masking_rules_must_name_a_table_a_column_and_a_known_kind(
    administrator_client: Client, rules: Any, message: str
) -> None:
    site = make_site(is_wordpress=False, database_engine="postgres")

    response = administrator_client.post(change_url(site), form_data(site, masking_rules=rules))

    assert any(message in error for error in errors_of(response, "masking_rules")), errors_of(
        response, "masking_rules"
    )


def test_masking_rules_on_a_non_wordpress_site_are_saved(administrator_client: Client) -> None:
    site = make_site(is_wordpress=False, database_engine="postgres")
    rules = [
        {"table": "customers", "column": "email", "kind": "email"},
        {"table": "billing.invoices", "column": "memo", "kind": "text"},
    ]

    response = administrator_client.post(change_url(site), form_data(site, masking_rules=rules))

    assert response.status_code == 302
    site.refresh_from_db()
    assert site.masking_rules == rules


def test_a_wordpress_site_is_masked_by_a_preset_and_other_sites_by_rules(
    administrator_client: Client,
) -> None:
    wordpress = make_site()
    other = make_site(is_wordpress=False, database_engine="postgres")
    rule = [{"table": "wp_users", "column": "user_email", "kind": "email"}]

    with_rules = administrator_client.post(
        change_url(wordpress), form_data(wordpress, masking_rules=rule)
    )
    with_preset = administrator_client.post(
        change_url(other), form_data(other, masking_preset="wordpress")
    )

    assert "choose a masking preset" in errors_of(with_rules, "masking_rules")[0]
    assert "list masking rules instead" in errors_of(with_preset, "masking_preset")[0]


def test_the_model_check_refuses_bad_settings_outside_the_admin_too() -> None:
    site = make_site()
    site.staging_variables = {"SMTP_PORT": 25}
    site.staging_ttl_days = 0

    with pytest.raises(ValidationError) as raised:
        site.full_clean()

    assert set(raised.value.message_dict) == {"staging_variables", "staging_ttl_days"}


SECRET_VALUE = "sk_test_51Hsecretvalue0f0verride"


@pytest.fixture
def site_with_overrides() -> ClientSite:
    return make_site(staging_variables={"STRIPE_SECRET_KEY": SECRET_VALUE, "SMTP_HOST": "mailpit"})


@pytest.mark.parametrize("persona", ["viewer_client", "account_manager_client"])
def test_only_the_names_of_the_overrides_are_shown_to_anyone_but_administrators(
    request: pytest.FixtureRequest, persona: str, site_with_overrides: ClientSite
) -> None:
    page = request.getfixturevalue(persona).get(change_url(site_with_overrides))

    assert page.status_code == 200
    text = page.content.decode()
    assert "STRIPE_SECRET_KEY" in text
    assert "SMTP_HOST" in text
    assert SECRET_VALUE not in text
    assert "mailpit" not in text


def test_administrators_see_and_edit_the_override_values(
    administrator_client: Client, site_with_overrides: ClientSite
) -> None:
    assert (
        SECRET_VALUE in administrator_client.get(change_url(site_with_overrides)).content.decode()
    )


def test_the_portal_pages_and_the_api_never_show_override_values(
    viewer_client: Client,
    account_manager_client: Client,
    api_manager: Any,
    site_with_overrides: ClientSite,
) -> None:
    pages = [
        viewer_client.get(reverse("portal:dashboard")),
        account_manager_client.get(reverse("portal:dashboard")),
        account_manager_client.get(reverse("portal:create", args=[site_with_overrides.pk])),
        api_manager.client.get("/api/v1/sites/"),
        api_manager.client.get(f"/api/v1/sites/{site_with_overrides.pk}/"),
    ]

    assert [page.status_code for page in pages] == [200] * len(pages)
    assert all(SECRET_VALUE not in page.content.decode() for page in pages)
