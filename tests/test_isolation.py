"""The built-in isolation rules: which copied variables a staging copy never keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from staging.isolation import MAIL_SINK_HOST, PROTECTED_PATTERNS, RULES, is_protected, neutralise

# Shapes of real credentials, assembled so no scanner mistakes this file for a leak.
STRIPE_LIVE_SECRET = "sk_" + "live_" + "51Habcdefghijklmnopqrstuv"
STRIPE_LIVE_PUBLISHABLE = "pk_" + "live_" + "51Habcdefghijklmnopqrstuv"
STRIPE_TEST_SECRET = "sk_" + "test_" + "51Habcdefghijklmnopqrstuv"
SENDGRID_KEY = "SG." + "abcdefghijklmnopqrstuv" + ".ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
SLACK_HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
SENTRY_DSN = "https://0123456789abcdef0123456789abcdef@o12345.ingest.sentry.io/678901"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
TWILIO_SID = "AC" + "0123456789abcdef0123456789abcdef"


def test_it_blanks_stripe_live_keys_and_webhook_secrets_by_name() -> None:
    result = neutralise(
        {
            "STRIPE_SECRET_KEY": STRIPE_LIVE_SECRET,
            "STRIPE_PUBLISHABLE_KEY": STRIPE_LIVE_PUBLISHABLE,
            "STRIPE_WEBHOOK_SECRET": "whsec_" + "abcdefghijklmnopqrstuvwx",
        }
    )
    assert result.replacements == {
        "STRIPE_SECRET_KEY": "",
        "STRIPE_PUBLISHABLE_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
    }


def test_it_keeps_a_payment_key_that_is_visibly_a_test_key() -> None:
    result = neutralise({"STRIPE_SECRET_KEY": STRIPE_TEST_SECRET, "MOLLIE_API_KEY": "test_abc"})
    assert result.replacements == {}


def test_it_finds_a_live_key_under_an_innocent_name_by_its_shape() -> None:
    result = neutralise(
        {
            "CHECKOUT_CONFIG": f'{{"key": "{STRIPE_LIVE_SECRET}"}}',
            "NOTIFY": SLACK_HOOK,
            "ERRORS": SENTRY_DSN,
            "UPLOADER_ID": AWS_KEY_ID,
            "SMS_ACCOUNT": TWILIO_SID,
            "OUTBOX_KEY": SENDGRID_KEY,
            "SITE_TITLE": "Bakery & Co",
        }
    )
    assert result.names == [
        "CHECKOUT_CONFIG",
        "ERRORS",
        "NOTIFY",
        "OUTBOX_KEY",
        "SMS_ACCOUNT",
        "UPLOADER_ID",
    ]


def test_it_switches_payment_providers_to_their_sandbox_rather_than_blanking_the_mode() -> None:
    result = neutralise(
        {
            "PAYPAL_MODE": "live",
            "BRAINTREE_ENVIRONMENT": "production",
            "SQUARE_ENVIRONMENT": "production",
            "ADYEN_ENVIRONMENT": "LIVE",
            "PAYPAL_CLIENT_SECRET": "EFxyz-live-secret",
            "BRAINTREE_PRIVATE_KEY": "abc123",
            "BRAINTREE_ACCESS_TOKEN": "access_token$production$abc$def",
        }
    )
    assert result.replacements == {
        "PAYPAL_MODE": "sandbox",
        "BRAINTREE_ENVIRONMENT": "sandbox",
        "SQUARE_ENVIRONMENT": "sandbox",
        "ADYEN_ENVIRONMENT": "TEST",
        "PAYPAL_CLIENT_SECRET": "",
        "BRAINTREE_PRIVATE_KEY": "",
        "BRAINTREE_ACCESS_TOKEN": "",
    }


def test_a_payment_mode_already_in_the_sandbox_is_left_alone() -> None:
    assert neutralise({"PAYPAL_MODE": "sandbox", "ADYEN_ENVIRONMENT": "TEST"}).names == []


def test_it_recognises_mollie_square_and_adyen_live_credentials() -> None:
    result = neutralise(
        {
            "PAYMENTS_A": "live_" + "abcdefghijklmnopqrstuvwxyz0123",
            "PAYMENTS_B": "sq0atp-" + "abcdefghijklmnopqrstuv",
            "ADYEN_API_KEY": "AQEyhmfxK4",
            "CHECKOUT_ENDPOINT": "https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com",
        }
    )
    assert result.names == ["ADYEN_API_KEY", "CHECKOUT_ENDPOINT", "PAYMENTS_A", "PAYMENTS_B"]


def test_it_points_mail_hosts_at_a_sink_and_blanks_mail_credentials() -> None:
    result = neutralise(
        {
            "SMTP_HOST": "smtp.postmarkapp.com",
            "EMAIL_HOST": "smtp.sendgrid.net",
            "EMAIL_HOST_USER": "apikey",
            "EMAIL_HOST_PASSWORD": "hunter2",
            "MAIL_USERNAME": "shop@example.com",
            "MAIL_PASSWORD": "hunter2",
            "SMTP_URL": "smtp://user:pw@smtp.example.com:587",
            "MAIL_FROM_ADDRESS": "shop@example.com",
            "MAIL_PORT": "587",
        }
    )
    assert result.replacements == {
        "SMTP_HOST": MAIL_SINK_HOST,
        "EMAIL_HOST": MAIL_SINK_HOST,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "SMTP_URL": "",
    }
    assert MAIL_SINK_HOST.endswith(".invalid")


def test_it_switches_framework_mail_transports_to_ones_that_send_nothing() -> None:
    result = neutralise(
        {
            "MAIL_MAILER": "smtp",
            "MAILER_DSN": "smtp://user:pw@smtp.example.com:587",
            "EMAIL_URL": "smtp+tls://user:pw@smtp.example.com:587",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        }
    )
    assert result.replacements == {
        "MAIL_MAILER": "log",
        "MAILER_DSN": "null://null",
        "EMAIL_URL": "consolemail://",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    }


def test_a_mail_transport_that_already_sends_nothing_is_not_listed() -> None:
    assert neutralise({"MAIL_MAILER": "log", "MAILER_DSN": "null://null"}).names == []


def test_it_blanks_the_keys_of_mail_providers() -> None:
    result = neutralise(
        {
            "SENDGRID_API_KEY": "x1",
            "MAILGUN_SECRET": "x2",
            "POSTMARK_TOKEN": "x3",
            "AWS_SES_SECRET_ACCESS_KEY": "x4",
            "MANDRILL_KEY": "x5",
            "MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us21",
            "MAILGUN_DOMAIN": "mg.example.com",
        }
    )
    assert result.names == [
        "AWS_SES_SECRET_ACCESS_KEY",
        "MAILCHIMP_API_KEY",
        "MAILGUN_SECRET",
        "MANDRILL_KEY",
        "POSTMARK_TOKEN",
        "SENDGRID_API_KEY",
    ]


def test_it_blanks_sms_credentials() -> None:
    result = neutralise(
        {
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
            "VONAGE_API_SECRET": "x",
            "NEXMO_API_KEY": "x",
            "MESSAGEBIRD_ACCESS_KEY": "x",
            "TWILIO_FROM_NUMBER": "+15005550006",
        }
    )
    assert result.names == [
        "MESSAGEBIRD_ACCESS_KEY",
        "NEXMO_API_KEY",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "VONAGE_API_SECRET",
    ]


def test_it_blanks_webhooks_by_name_and_by_address() -> None:
    result = neutralise(
        {
            "ORDERS_WEBHOOK_URL": "https://example.com/hook",
            "SLACK_WEBHOOK": "https://example.com/other",
            "ALERTS": "https://discord.com/api/webhooks/123/abc",
            "SLACK_BOT_TOKEN": "xoxb-0000-0000-abcdefghijkl",
        }
    )
    assert result.names == ["ALERTS", "ORDERS_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK"]


def test_it_blanks_analytics_ids_and_error_reporting_including_public_build_variables() -> None:
    result = neutralise(
        {
            "GA_MEASUREMENT_ID": "G-ABC123DEF4",
            "NEXT_PUBLIC_GTM_ID": "GTM-K9X2LM",
            "TRACKING": "UA-12345678-1",
            "SEGMENT_WRITE_KEY": "abc",
            "SENTRY_DSN": SENTRY_DSN,
            "NEXT_PUBLIC_SENTRY_DSN": SENTRY_DSN,
            "SENTRY_AUTH_TOKEN": "sntrys_abc",
            "SENTRY_ENVIRONMENT": "production",
        }
    )
    assert result.names == [
        "GA_MEASUREMENT_ID",
        "NEXT_PUBLIC_GTM_ID",
        "NEXT_PUBLIC_SENTRY_DSN",
        "SEGMENT_WRITE_KEY",
        "SENTRY_AUTH_TOKEN",
        "SENTRY_DSN",
        "TRACKING",
    ]


def test_it_blanks_object_storage_credentials_but_keeps_bucket_names() -> None:
    result = neutralise(
        {
            "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_STORAGE_BUCKET_NAME": "shop-media",
            "R2_SECRET_ACCESS_KEY": "x",
            "CLOUDFLARE_API_TOKEN": "x",
            "GS_CREDENTIALS": "x",
            "UPLOADS_SERVICE_ACCOUNT": '{"type": "service_account", "private_key": "..."}',
            "AZURE_STORAGE_CONNECTION_STRING": "AccountName=shop;AccountKey=" + "a" * 40,
        }
    )
    assert "AWS_STORAGE_BUCKET_NAME" not in result.replacements
    assert result.names == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        "CLOUDFLARE_API_TOKEN",
        "GS_CREDENTIALS",
        "R2_SECRET_ACCESS_KEY",
        "UPLOADS_SERVICE_ACCOUNT",
    ]


def test_it_never_touches_railway_or_database_variables_whatever_they_hold() -> None:
    variables = {
        "RAILWAY_PUBLIC_DOMAIN": "shop.up.railway.app",
        "RAILWAY_SECRET": STRIPE_LIVE_SECRET,
        "DATABASE_URL": "postgresql://u:p@host/db",
        "PGPASSWORD": "p",
        "MYSQLPASSWORD": "p",
        "MYSQL_ROOT_PASSWORD": "p",
        "MARIADB_PASSWORD": "p",
        "WORDPRESS_DB_PASSWORD": "p",
        "DB_PASSWORD": "p",
        "REDIS_URL": "redis://default:p@host:6379",
    }
    assert neutralise(variables, extra_names=["*PASSWORD*", "*_URL", "RAILWAY_*"]).names == []
    assert all(is_protected(name) for name in variables)


def test_the_allow_list_wins_over_the_built_in_rules_and_the_site_additions() -> None:
    variables = {
        "STRIPE_PUBLISHABLE_KEY": STRIPE_LIVE_PUBLISHABLE,
        "GA_MEASUREMENT_ID": "G-ABC123DEF4",
        "SENTRY_DSN": SENTRY_DSN,
    }
    result = neutralise(
        variables, allowed=["STRIPE_PUBLISHABLE_KEY", "ga_*"], extra_names=["SENTRY_*"]
    )
    assert result.names == ["SENTRY_DSN"]
    assert neutralise(variables, allowed=["SENTRY_DSN"], extra_names=["SENTRY_*"]).names == [
        "GA_MEASUREMENT_ID",
        "STRIPE_PUBLISHABLE_KEY",
    ]


def test_a_site_can_add_its_own_names_and_patterns_which_are_blanked() -> None:
    result = neutralise(
        {"LOYALTY_API_KEY": "k", "CRM_TOKEN": "t", "CRM_REGION": "eu", "SITE_TITLE": "Bakery"},
        extra_names=["LOYALTY_API_KEY", "crm_*"],
    )
    assert result.replacements == {"LOYALTY_API_KEY": "", "CRM_TOKEN": "", "CRM_REGION": ""}


def test_ordinary_application_variables_are_kept() -> None:
    variables = {
        "SITE_TITLE": "Bakery & Co",
        "APP_ENV": "production",
        "PORT": "8080",
        "MAIL_FROM_ADDRESS": "shop@example.com",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "S3_BUCKET": "shop-media",
        "SENTRY_ENVIRONMENT": "production",
        "WORDPRESS_TABLE_PREFIX": "wp_",
        "LIVE_CHAT_ENABLED": "true",
    }
    assert neutralise(variables).names == []


def test_names_are_sorted_and_hold_no_value_and_replacements_no_production_value() -> None:
    variables = {
        "ZAPIER_HOOK_URL": "https://hooks.zapier.com/hooks/catch/1/abc/",
        "MAIL_PASSWORD": "hunter2-secret",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "STRIPE_SECRET_KEY": STRIPE_LIVE_SECRET,
    }
    result = neutralise(variables)
    assert result.names == sorted(variables)
    assert set(result.names) == set(result.replacements)
    shown = " ".join(result.names) + " " + " ".join(result.replacements.values())
    for value in variables.values():
        assert value not in shown


def test_the_result_cannot_be_changed_after_the_fact() -> None:
    result = neutralise({"STRIPE_SECRET_KEY": STRIPE_LIVE_SECRET})
    with pytest.raises(AttributeError):
        result.names = []  # type: ignore[misc]


def test_every_rule_and_protected_pattern_is_in_the_security_documentation() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    section = text.split("## What a staging copy never keeps", 1)[1].split("\n## ", 1)[0]
    for rule in RULES:
        assert rule.what in section, rule.what
    for pattern in PROTECTED_PATTERNS:
        assert f"`{pattern}`" in section, pattern
