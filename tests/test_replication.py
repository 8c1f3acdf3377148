"""Comparing a duplicate's variables with production's: what may differ, and what may not."""

from __future__ import annotations

from staging.replication import DATABASE, DOMAINS, NEUTRALISED, OVERRIDES, RAILWAY, compare

PRODUCTION = {
    "DATABASE_URL": "${{Postgres.DATABASE_URL}}",
    "SECRET_KEY": "abc",
    "STRIPE_SECRET_KEY": "sk_live_1",
    "MAIL_URL": "smtp://u:p@smtp.mailgun.org:587",
    "CALLBACK": "https://app-production-1a2b.up.railway.app/hook",
    "RAILWAY_DEPLOYMENT_DRAINING_SECONDS": "10",
}


def test_an_identical_copy_is_replicated():
    assert compare("app", PRODUCTION, dict(PRODUCTION)).replicated


def test_a_missing_or_changed_variable_is_not_replicated_and_named():
    staging = dict(PRODUCTION)
    del staging["SECRET_KEY"]
    staging["DATABASE_URL"] = "postgresql://elsewhere/db"

    result = compare("app", PRODUCTION, staging)

    assert (result.missing, result.different) == (["SECRET_KEY"], ["DATABASE_URL"])
    assert "MISSING: SECRET_KEY" in result.describe()
    assert "abc" not in result.describe()


def test_expected_differences_are_listed_with_their_reason():
    staging = dict(PRODUCTION)
    staging["CALLBACK"] = "https://app-staging-9f9f.up.railway.app/hook"
    staging["RAILWAY_DEPLOYMENT_DRAINING_SECONDS"] = "0"
    del staging["STRIPE_SECRET_KEY"]
    staging["MAIL_URL"] = "smtp://sink:1025"

    result = compare(
        "app", PRODUCTION, staging, overrides={"MAIL_URL"}, neutralised={"STRIPE_SECRET_KEY"}
    )

    assert result.replicated
    assert result.expected == {
        RAILWAY: ["RAILWAY_DEPLOYMENT_DRAINING_SECONDS"],
        DOMAINS: ["CALLBACK"],
        OVERRIDES: ["MAIL_URL"],
        NEUTRALISED: ["STRIPE_SECRET_KEY"],
    }


def test_a_database_service_has_its_own_credentials_but_not_fewer_variables():
    production = {"POSTGRES_PASSWORD": "one", "PGPORT": "5432"}

    differs = compare(
        "Postgres",
        production,
        {"POSTGRES_PASSWORD": "two", "PGPORT": "5432"},
        database_service=True,
    )
    lacks = compare("Postgres", production, {"POSTGRES_PASSWORD": "two"}, database_service=True)

    assert differs.replicated and differs.expected == {DATABASE: ["POSTGRES_PASSWORD"]}
    assert lacks.missing == ["PGPORT"]
