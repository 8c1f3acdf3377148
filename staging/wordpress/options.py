"""WordPress options changed on staging, so that a copy cannot act as the production site.

Two kinds:

- **Adjusted** (``DEFAULT_ADJUSTMENTS``, always applied): options of mail, payment and backup
  plugins that have a safe mode of their own. The value is unserialized, the plugin's own
  switch is set (WP Mail SMTP's *Do Not Send*, FluentSMTP's *Disable sending all emails*, a
  gateway's test mode, a backup job without a schedule or remote destination), production's
  credentials in it are blanked, and the value is serialized again. A value that does not have
  the plugin's shape is deleted instead: the unconfigured plugin is the safe side.
- **Reset** (``DEFAULT_RESET_OPTIONS``, per site): deleted, which returns each plugin to its
  unconfigured state: no API key, no licence, no connection. A name ending in ``*`` stands for
  every option that starts with the rest.

WordPress core itself cannot be told not to send mail; its ``wp_mail`` falls back to PHP's
``mail()``, which has no ``sendmail`` to hand the message to in Railway's WordPress images.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from staging.isolation import MAIL_SINK_HOST

from .rewrite import escape_like
from .serialized import NotSerialized, PhpArray, looks_serialized, php_serialize, php_unserialize

# Set on a WordPress staging app by the pipeline: core and plugins that ask
# wp_get_environment_type() (WooPayments' dev mode, Jetpack's staging mode, WooCommerce
# Subscriptions) then know they are not production. WordPress reads the environment variable
# itself (wp-includes/load.php), so no wp-config.php change is needed.
STAGING_VARIABLES: Final[dict[str, str]] = {"WP_ENVIRONMENT_TYPE": "staging"}

# (option name, why it is reset on staging)
RESET_OPTION_REASONS: tuple[tuple[str, str], ...] = (
    # Mail: a staging copy must not deliver mail through production's provider account.
    ("mailgun", "Mailgun for WordPress: API key and domain"),
    ("wpmandrill", "wpMandrill: Mandrill API key"),
    ("sendgrid_api_key", "SendGrid: API key"),
    ("postmark_settings", "Postmark: server token"),
    ("sparkpost_settings", "SparkPost: API key"),
    ("mc4wp", "Mailchimp for WP: API key (subscriptions would reach the real list)"),
    # Payments without a test-mode switch worth keeping: staging must never charge a real card.
    ("woocommerce-ppcp-data-settings", "WooCommerce PayPal Payments: merchant data"),
    ("woocommerce_square_credit_card_settings", "WooCommerce Square: gateway settings"),
    ("wc_square_settings", "WooCommerce Square: access tokens"),
    ("gravityformsaddon_gravityformsstripe_settings", "Gravity Forms Stripe: API keys"),
    # Connections to outside services that identify the site.
    ("jetpack_options", "Jetpack: connection (staging would be a clone of the same site)"),
    ("jetpack_private_options", "Jetpack: blog and user tokens"),
    ("wordpress_api_key", "Akismet: API key"),
    ("googlesitekit_credentials", "Site Kit by Google: OAuth client credentials"),
    ("googlesitekit_analytics-4_settings", "Site Kit by Google: Analytics property"),
    ("monsterinsights_site_profile", "MonsterInsights: Analytics connection"),
    ("rg_gforms_key", "Gravity Forms: licence key (activations are counted)"),
    # Backups: a staging backup must never land in (or rotate out) production's backups.
    (
        "updraft_*",
        "UpdraftPlus: remote storage and its credentials (S3, Dropbox, Google Drive, FTP, "
        "e-mail...) and the schedule",
    ),
)

DEFAULT_RESET_OPTIONS: tuple[str, ...] = tuple(name for name, _ in RESET_OPTION_REASONS)


class _Delete:
    """Returned by an adjustment when the value is not what the plugin writes."""


DELETE: Final = _Delete()
PhpValue = object
Adjust = Callable[[PhpValue], PhpValue]


@dataclass(frozen=True)
class OptionAdjustment:
    option: str
    plugin: str
    staging: str
    adjust: Adjust


# Keys of plugin settings that hold a credential or an account's identity.
_MAIL_CREDENTIAL = re.compile(rb"pass|secret|token|key|user|client_id|login", re.IGNORECASE)
_BACKUP_CREDENTIAL = re.compile(
    rb"pass|secret|token|key|user|mailaddress|emailaddress|sas|account", re.IGNORECASE
)


def _blank(value: PhpArray, credential: re.Pattern[bytes]) -> PhpArray:
    """The array with every non-empty string under a credential-like key blanked, at any depth."""
    items: dict[int | bytes, object] = {}
    for key, item in value.items.items():
        if isinstance(item, PhpArray):
            items[key] = _blank(item, credential)
        elif isinstance(key, bytes) and isinstance(item, bytes) and item and credential.search(key):
            items[key] = b""
        else:
            items[key] = item
    return PhpArray(items)


def _section(settings: PhpArray, key: bytes) -> PhpArray:
    section = settings.items.get(key)
    if not isinstance(section, PhpArray):
        section = PhpArray()
        settings.items[key] = section
    return section


def _settings_only(adjust: Callable[[PhpArray], PhpArray]) -> Adjust:
    def checked(value: PhpValue) -> PhpValue:
        return adjust(value) if isinstance(value, PhpArray) else DELETE

    return checked


@_settings_only
def _wp_mail_smtp(settings: PhpArray) -> PhpArray:
    # WP Mail SMTP and Easy WP SMTP 2 share one settings shape (WPMailSMTP\Options).
    settings = _blank(settings, _MAIL_CREDENTIAL)
    _section(settings, b"general").items[b"do_not_send"] = True
    _section(settings, b"mail").items[b"mailer"] = b"mail"
    smtp = settings.items.get(b"smtp")
    if isinstance(smtp, PhpArray) and b"host" in smtp.items:
        smtp.items[b"host"] = MAIL_SINK_HOST.encode()
    return settings


@_settings_only
def _post_smtp(settings: PhpArray) -> PhpArray:
    settings = _blank(settings, _MAIL_CREDENTIAL)
    settings.items[b"transport_type"] = b"default"
    if b"hostname" in settings.items:
        settings.items[b"hostname"] = MAIL_SINK_HOST.encode()
    return settings


@_settings_only
def _easy_wp_smtp_1(settings: PhpArray) -> PhpArray:
    settings = _blank(settings, _MAIL_CREDENTIAL)
    smtp = _section(settings, b"smtp_settings")
    smtp.items[b"host"] = MAIL_SINK_HOST.encode()
    return settings


@_settings_only
def _fluent_smtp(settings: PhpArray) -> PhpArray:
    connections = settings.items.get(b"connections")
    if isinstance(connections, PhpArray):
        settings.items[b"connections"] = _blank(connections, _MAIL_CREDENTIAL)
    _section(settings, b"misc").items[b"simulate_emails"] = b"yes"
    return settings


def _set_test_mode(switch: bytes, value: object, live_keys: tuple[bytes, ...]) -> Adjust:
    @_settings_only
    def adjust(settings: PhpArray) -> PhpArray:
        settings.items[switch] = value
        for key in live_keys:
            if key in settings.items:
                settings.items[key] = b""
        return settings

    return adjust


@_settings_only
def _paypal_payments(settings: PhpArray) -> PhpArray:
    # The plain keys hold the credentials of the current mode; the _sandbox/_production ones
    # what the merchant connected for each.
    settings.items[b"sandbox_on"] = True
    for key in (b"merchant_id", b"merchant_email", b"client_id", b"client_secret"):
        sandbox = settings.items.get(key + b"_sandbox")
        if key in settings.items:
            settings.items[key] = sandbox if isinstance(sandbox, bytes) else b""
        if key + b"_production" in settings.items:
            settings.items[key + b"_production"] = b""
    return settings


@_settings_only
def _backwpup_jobs(jobs: PhpArray) -> PhpArray:
    adjusted: dict[int | bytes, object] = {}
    for job_id, job in jobs.items.items():
        if not isinstance(job, PhpArray):
            adjusted[job_id] = job
            continue
        job = _blank(job, _BACKUP_CREDENTIAL)
        # No schedule: a copy must not start production's jobs on its own.
        job.items[b"activetype"] = b""
        destinations = job.items.get(b"destinations")
        if isinstance(destinations, PhpArray):
            kept = [d for d in destinations.items.values() if d == b"FOLDER"]
            job.items[b"destinations"] = PhpArray(dict(enumerate(kept)))
        adjusted[job_id] = job
    return PhpArray(adjusted)


def _constant(value: bytes) -> Adjust:
    return lambda _: value


DEFAULT_ADJUSTMENTS: tuple[OptionAdjustment, ...] = (
    # Mail
    OptionAdjustment(
        "wp_mail_smtp",
        "WP Mail SMTP",
        f"Do Not Send on, mailer PHP mail(), SMTP host {MAIL_SINK_HOST}, every user, password, "
        "API key, token and client secret blanked",
        _wp_mail_smtp,
    ),
    OptionAdjustment(
        "easy_wp_smtp",
        "Easy WP SMTP 2",
        "as WP Mail SMTP: Do Not Send on, credentials blanked",
        _wp_mail_smtp,
    ),
    OptionAdjustment(
        "swpsmtp_options",
        "Easy WP SMTP 1",
        f"SMTP host {MAIL_SINK_HOST}, user and password blanked",
        _easy_wp_smtp_1,
    ),
    OptionAdjustment(
        "postman_options",
        "Post SMTP",
        f"transport: WordPress default (PHP mail()), host {MAIL_SINK_HOST}, credentials and API "
        "keys blanked",
        _post_smtp,
    ),
    OptionAdjustment(
        "fluentmail-settings",
        "FluentSMTP",
        "Disable sending all emails (simulation) on, credentials of every connection blanked",
        _fluent_smtp,
    ),
    OptionAdjustment(
        "mailserver_url",
        "WordPress core, Post via e-mail",
        "WordPress's default `mail.example.com` (staging must not read production's mailbox)",
        _constant(b"mail.example.com"),
    ),
    OptionAdjustment(
        "mailserver_login",
        "WordPress core, Post via e-mail",
        "WordPress's default `login@example.com`",
        _constant(b"login@example.com"),
    ),
    OptionAdjustment(
        "mailserver_pass",
        "WordPress core, Post via e-mail",
        "WordPress's default `password`",
        _constant(b"password"),
    ),
    # Payments
    OptionAdjustment(
        "woocommerce_stripe_settings",
        "WooCommerce Stripe",
        "test mode on; live publishable key, secret key and webhook secret blanked (test keys "
        "kept)",
        _set_test_mode(b"testmode", b"yes", (b"publishable_key", b"secret_key", b"webhook_secret")),
    ),
    OptionAdjustment(
        "woocommerce-ppcp-settings",
        "WooCommerce PayPal Payments",
        "sandbox on; the current credentials replaced by the sandbox ones (or blanked), the "
        "production ones blanked",
        _paypal_payments,
    ),
    OptionAdjustment(
        "woocommerce_woocommerce_payments_settings",
        "WooPayments",
        "test mode on (and dev mode through `WP_ENVIRONMENT_TYPE=staging`)",
        _set_test_mode(b"test_mode", b"yes", ()),
    ),
    OptionAdjustment(
        "woocommerce_paypal_settings",
        "WooCommerce PayPal Standard",
        "sandbox on, live API user name, password and signature blanked",
        _set_test_mode(b"testmode", b"yes", (b"api_username", b"api_password", b"api_signature")),
    ),
    OptionAdjustment(
        "woocommerce_ppec_paypal_settings",
        "WooCommerce PayPal Checkout",
        "environment sandbox, live API credentials blanked",
        _set_test_mode(
            b"environment",
            b"sandbox",
            (
                b"api_username",
                b"api_password",
                b"api_signature",
                b"api_certificate",
                b"api_subject",
            ),
        ),
    ),
    # Backups
    OptionAdjustment(
        "backwpup_jobs",
        "BackWPup",
        "every job without a schedule, only its local folder as destination, storage keys, "
        "passwords, tokens and e-mail recipients blanked",
        _backwpup_jobs,
    ),
)


def adjust_options(
    connection: Connection[Cursor],
    options_table: str,
    adjustments: Sequence[OptionAdjustment] = DEFAULT_ADJUSTMENTS,
) -> list[str]:
    """Apply each adjustment to its option when present; the names of the options changed."""
    by_name = {adjustment.option: adjustment for adjustment in adjustments}
    if not by_name:
        return []
    placeholders = ", ".join(["%s"] * len(by_name))
    changed: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT option_name, option_value FROM `{options_table}` "  # noqa: S608 - checked name
            f"WHERE option_name IN ({placeholders}) ORDER BY option_name",
            list(by_name),
        )
        for name, raw in cursor.fetchall():
            current = str(raw or "")
            data = current.encode("utf-8", "surrogateescape")
            value: PhpValue = data
            serialized = False
            if looks_serialized(current):
                with contextlib.suppress(NotSerialized):
                    value, serialized = php_unserialize(data), True
            new = by_name[str(name)].adjust(value)
            if new is DELETE:
                cursor.execute(
                    f"DELETE FROM `{options_table}` WHERE option_name = %s",  # noqa: S608
                    (name,),
                )
                changed.append(str(name))
                continue
            written = new if isinstance(new, bytes) and not serialized else php_serialize(new)
            text = written.decode("utf-8", "surrogateescape")
            if text != current:
                cursor.execute(
                    f"UPDATE `{options_table}` SET option_value = %s "  # noqa: S608
                    "WHERE option_name = %s",
                    (text, name),
                )
                changed.append(str(name))
    return changed


def delete_options(
    connection: Connection[Cursor], options_table: str, names: Sequence[str]
) -> list[str]:
    """Delete the named options (``*`` suffix: by prefix); the names that were present."""
    exact = [name for name in names if name and not name.endswith("*")]
    prefixes = [name[:-1] for name in names if name.endswith("*") and len(name) > 1]
    conditions: list[str] = []
    params: list[str] = []
    if exact:
        conditions.append(f"option_name IN ({', '.join(['%s'] * len(exact))})")
        params += exact
    for prefix in prefixes:
        conditions.append("option_name LIKE %s")
        params.append(escape_like(prefix) + "%")
    if not conditions:
        return []
    where = " OR ".join(conditions)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT option_name FROM `{options_table}` WHERE {where} "  # noqa: S608 - checked name
            "ORDER BY option_name",
            params,
        )
        present = [str(row[0]) for row in cursor.fetchall()]
        if present:
            cursor.execute(f"DELETE FROM `{options_table}` WHERE {where}", params)  # noqa: S608
    return present


def discourage_search_engines(connection: Connection[Cursor], options_table: str) -> None:
    with connection.cursor() as cursor:
        changed = cursor.execute(
            f"UPDATE `{options_table}` SET option_value = '0' "  # noqa: S608 - checked name
            "WHERE option_name = 'blog_public'"
        )
        cursor.execute(
            f"SELECT COUNT(*) FROM `{options_table}` WHERE option_name = 'blog_public'"  # noqa: S608
        )
        row = cursor.fetchone()
        if not changed and row is not None and row[0] == 0:
            cursor.execute(
                f"INSERT INTO `{options_table}` (option_name, option_value, autoload) "  # noqa: S608
                "VALUES ('blog_public', '0', 'yes')"
            )
