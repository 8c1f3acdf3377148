# ruff: noqa: S608 - SQL built from fixed test table names, never from input
"""Mail, payment and backup plugins put in their safe mode on a real MariaDB copy, read by PHP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from staging.isolation import MAIL_SINK_HOST
from staging.wordpress import DEFAULT_RESET_OPTIONS, prepare_wordpress
from staging.wordpress.options import DEFAULT_ADJUSTMENTS
from staging.wordpress.serialized import PhpArray, php_serialize
from tests.fixtures_wordpress import (
    STAGING_URL,
    connect,
    create_wordpress_tables,
    mysql_url,
    seed_options,
)
from tests.wordpress.php import unserialized

P = "wp_"


def php_array(value: object) -> object:
    """A Python literal as the PhpArray PHP would unserialize (lists get integer keys)."""
    if isinstance(value, dict):
        return PhpArray({_key(k): php_array(v) for k, v in value.items()})
    if isinstance(value, list):
        return PhpArray({i: php_array(v) for i, v in enumerate(value)})
    if isinstance(value, str):
        return value.encode()
    return value


def _key(key: object) -> int | bytes:
    return key if isinstance(key, int) else str(key).encode()


def serialized(value: object) -> str:
    return php_serialize(php_array(value)).decode()


PLUGIN_OPTIONS: dict[str, object] = {
    "wp_mail_smtp": {
        "mail": {"mailer": "sendgrid", "from_email": "shop@client.example", "from_name": "Shop"},
        "smtp": {
            "host": "smtp.mailgun.org",
            "port": 587,
            "auth": True,
            "user": "postmaster@mg.client.example",
            "pass": "live-smtp-password",
        },
        "sendgrid": {"api_key": "SG.live-key", "domain": "client.example"},
        "gmail": {"client_id": "live-id", "client_secret": "live-secret"},
    },
    "fluentmail-settings": {
        "connections": {
            "abc123": {
                "title": "Amazon SES",
                "provider_settings": {
                    "provider": "ses",
                    "sender_email": "shop@client.example",
                    "access_key": "AKIA-live",
                    "secret_key": "live-ses-secret",
                },
            }
        },
        "mappings": {"shop@client.example": "abc123"},
        "misc": {"simulate_emails": "no", "log_emails": "yes"},
    },
    "postman_options": {
        "transport_type": "smtp",
        "hostname": "smtp.office365.com",
        "basic_auth_username": "shop@client.example",
        "basic_auth_password": "live-password",
        "sendgrid_api_key": "SG.live",
        "envelope_sender": "shop@client.example",
    },
    "swpsmtp_options": {
        "from_email_field": "shop@client.example",
        "smtp_settings": {
            "host": "smtp.gmail.com",
            "username": "u",
            "password": "p",
            "port": "465",
        },
    },
    "woocommerce_stripe_settings": {
        "enabled": "yes",
        "testmode": "no",
        "publishable_key": "pk_live_abc",
        "secret_key": "sk_live_abc",
        "webhook_secret": "whsec_live",
        "test_publishable_key": "pk_test_abc",
        "test_secret_key": "sk_test_abc",
    },
    "woocommerce-ppcp-settings": {
        "enabled": True,
        "sandbox_on": False,
        "merchant_id": "LIVE-MERCHANT",
        "merchant_email": "payments@client.example",
        "client_id": "LIVE-CLIENT",
        "client_secret": "LIVE-SECRET",
        "client_id_production": "LIVE-CLIENT",
        "client_secret_production": "LIVE-SECRET",
        "client_id_sandbox": "SANDBOX-CLIENT",
        "client_secret_sandbox": "SANDBOX-SECRET",
    },
    "woocommerce_woocommerce_payments_settings": {"enabled": "yes", "test_mode": "no"},
    "woocommerce_paypal_settings": {
        "enabled": "yes",
        "testmode": "no",
        "email": "payments@client.example",
        "api_username": "live_api1.client.example",
        "api_password": "LIVEPASS",
        "api_signature": "LIVESIG",
    },
    "backwpup_jobs": {
        1: {
            "jobid": 1,
            "name": "Nightly",
            "activetype": "wpcron",
            "destinations": ["FOLDER", "S3", "EMAIL"],
            "s3accesskey": "AKIA-live",
            "s3secretkey": "live-s3-secret",
            "s3bucket": "client-backups",
            "emailaddress": "owner@client.example",
            "mailaddresslog": "ops@client.example",
            "ftppass": "live-ftp",
        }
    },
    "updraft_service": ["s3", "email"],
    "updraft_s3": {"accesskey": "AKIA-live", "secretkey": "live", "path": "client-backups"},
}
PLAIN_OPTIONS = {
    "updraft_interval": "daily",
    "updraft_email": "owner@client.example",
    "mailserver_url": "imap.client.example",
    "mailserver_login": "posts@client.example",
    "mailserver_pass": "live-mailbox-password",
    "blogname": "Client shop",
}


def build_site(create_database: Callable[[], str]) -> str:
    name = create_database()
    with connect(name) as connection:
        create_wordpress_tables(connection, P)
        seed_options(connection, P)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {P}options (option_name, option_value) VALUES (%s, %s)",
                [(key, serialized(value)) for key, value in PLUGIN_OPTIONS.items()]
                + [(key, value) for key, value in PLAIN_OPTIONS.items() if key != "blogname"],
            )
    return name


def options_of(name: str) -> dict[str, str]:
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT option_name, option_value FROM {P}options")
        return {str(key): str(value) for key, value in cursor.fetchall()}


def as_php_sees_them(php: str, options: dict[str, str], names: list[str]) -> dict[str, Any]:
    return dict(zip(names, unserialized(php, [options[n] for n in names]), strict=True))


def test_mail_plugins_are_switched_to_not_sending_and_lose_production_credentials(
    mysql_database, php
) -> None:
    name = build_site(mysql_database)

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    mail = ["wp_mail_smtp", "fluentmail-settings", "postman_options", "swpsmtp_options"]
    assert set(mail) <= set(report.options_adjusted)
    seen = as_php_sees_them(php, options_of(name), mail)
    wp_mail_smtp = seen["wp_mail_smtp"]
    assert wp_mail_smtp["general"]["do_not_send"] is True
    assert wp_mail_smtp["mail"] == {
        "mailer": "mail",
        "from_email": "shop@client.example",
        "from_name": "Shop",
    }
    assert wp_mail_smtp["smtp"] == {
        "host": MAIL_SINK_HOST,
        "port": 587,
        "auth": True,
        "user": "",
        "pass": "",
    }
    assert wp_mail_smtp["sendgrid"]["api_key"] == ""
    assert wp_mail_smtp["gmail"] == {"client_id": "", "client_secret": ""}
    fluent = seen["fluentmail-settings"]
    assert fluent["misc"] == {"simulate_emails": "yes", "log_emails": "yes"}
    assert fluent["connections"]["abc123"]["provider_settings"] == {
        "provider": "ses",
        "sender_email": "shop@client.example",
        "access_key": "",
        "secret_key": "",
    }
    post_smtp = seen["postman_options"]
    assert post_smtp["transport_type"] == "default"
    assert post_smtp["hostname"] == MAIL_SINK_HOST
    assert post_smtp["basic_auth_password"] == post_smtp["sendgrid_api_key"] == ""
    easy = seen["swpsmtp_options"]["smtp_settings"]
    assert easy == {"host": MAIL_SINK_HOST, "username": "", "password": "", "port": "465"}


def test_payment_gateways_are_switched_to_test_mode_and_keep_only_test_keys(
    mysql_database, php
) -> None:
    name = build_site(mysql_database)

    prepare_wordpress(mysql_url(name), STAGING_URL)

    gateways = [
        "woocommerce_stripe_settings",
        "woocommerce-ppcp-settings",
        "woocommerce_woocommerce_payments_settings",
        "woocommerce_paypal_settings",
    ]
    seen = as_php_sees_them(php, options_of(name), gateways)
    stripe = seen["woocommerce_stripe_settings"]
    assert stripe["testmode"] == "yes"
    assert stripe["publishable_key"] == stripe["secret_key"] == stripe["webhook_secret"] == ""
    assert (stripe["test_publishable_key"], stripe["test_secret_key"]) == (
        "pk_test_abc",
        "sk_test_abc",
    )
    paypal_payments = seen["woocommerce-ppcp-settings"]
    assert paypal_payments["sandbox_on"] is True
    assert paypal_payments["client_id"] == "SANDBOX-CLIENT"
    assert paypal_payments["client_secret"] == "SANDBOX-SECRET"
    assert paypal_payments["merchant_id"] == paypal_payments["merchant_email"] == ""
    assert paypal_payments["client_id_production"] == ""
    assert paypal_payments["client_secret_production"] == ""
    assert seen["woocommerce_woocommerce_payments_settings"]["test_mode"] == "yes"
    standard = seen["woocommerce_paypal_settings"]
    assert standard["testmode"] == "yes"
    assert standard["api_username"] == standard["api_password"] == standard["api_signature"] == ""


def test_backup_plugins_never_write_to_production_storage(mysql_database, php) -> None:
    name = build_site(mysql_database)

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    options = options_of(name)
    assert not [option for option in options if option.startswith("updraft_")]
    assert {"updraft_service", "updraft_s3", "updraft_interval", "updraft_email"} <= set(
        report.options_reset
    )
    [jobs] = unserialized(php, [options["backwpup_jobs"]])
    assert isinstance(jobs, dict)
    job = jobs["1"]
    assert job["activetype"] == ""
    assert job["destinations"] == ["FOLDER"]
    assert job["s3accesskey"] == job["s3secretkey"] == job["ftppass"] == ""
    assert job["emailaddress"] == job["mailaddresslog"] == ""
    assert job["s3bucket"] == "client-backups"
    assert "backwpup_jobs" in report.options_adjusted


def test_post_via_email_gets_wordpress_defaults_instead_of_production_mailbox(
    mysql_database,
) -> None:
    name = build_site(mysql_database)

    prepare_wordpress(mysql_url(name), STAGING_URL)

    options = options_of(name)
    assert (options["mailserver_url"], options["mailserver_login"], options["mailserver_pass"]) == (
        "mail.example.com",
        "login@example.com",
        "password",
    )


def test_no_production_credential_is_left_in_any_option(mysql_database) -> None:
    name = build_site(mysql_database)

    prepare_wordpress(mysql_url(name), STAGING_URL)

    everything = " ".join(options_of(name).values())
    for secret in (
        "live-smtp-password",
        "SG.live",
        "live-secret",
        "AKIA-live",
        "live-ses-secret",
        "live-password",
        "sk_live_abc",
        "pk_live_abc",
        "whsec_live",
        "LIVE-SECRET",
        "LIVEPASS",
        "live-s3-secret",
        "live-ftp",
        "live-mailbox-password",
    ):
        assert secret not in everything, secret


def test_a_second_run_changes_nothing_more(mysql_database) -> None:
    name = build_site(mysql_database)
    prepare_wordpress(mysql_url(name), STAGING_URL)
    first = options_of(name)

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    assert report.options_adjusted == []
    assert report.options_reset == []
    assert options_of(name) == first


def test_a_plugin_option_that_is_not_the_plugins_shape_is_deleted(mysql_database) -> None:
    name = mysql_database()
    with connect(name) as connection:
        create_wordpress_tables(connection, P)
        seed_options(connection, P)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {P}options (option_name, option_value) VALUES (%s, %s)",
                [
                    ("wp_mail_smtp", "smtp://user:live-password@smtp.client.example"),
                    ("woocommerce_stripe_settings", 's:11:"sk_live_abc";'),
                ],
            )

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    assert report.options_adjusted == ["woocommerce_stripe_settings", "wp_mail_smtp"]
    assert "wp_mail_smtp" not in options_of(name)
    assert "woocommerce_stripe_settings" not in options_of(name)


def test_a_site_without_these_plugins_has_nothing_adjusted(mysql_database) -> None:
    name = mysql_database()
    with connect(name) as connection:
        create_wordpress_tables(connection, P)
        seed_options(connection, P)

    report = prepare_wordpress(mysql_url(name), STAGING_URL)

    assert report.options_adjusted == []


def test_adjusted_options_are_not_in_the_per_site_reset_list() -> None:
    # Deleting first would leave the adjustment nothing to put in test mode.
    adjusted = {adjustment.option for adjustment in DEFAULT_ADJUSTMENTS}
    assert not adjusted & set(DEFAULT_RESET_OPTIONS)
