"""WordPress options reset on staging, so that a copy cannot act as the production site.

Deleting an option puts its plugin back in its unconfigured state: no API key, no licence, no
connection. A name ending in ``*`` stands for every option that starts with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from .rewrite import escape_like

# (option name, why it is reset on staging)
RESET_OPTION_REASONS: tuple[tuple[str, str], ...] = (
    # Mail: a staging copy must not deliver mail through production's provider account.
    ("wp_mail_smtp", "WP Mail SMTP: mailer and SMTP/API credentials"),
    ("postman_options", "Post SMTP: transport and credentials"),
    ("swpsmtp_options", "Easy WP SMTP: SMTP credentials"),
    ("fluentmail-settings", "FluentSMTP: connections and API keys"),
    ("mailgun", "Mailgun for WordPress: API key and domain"),
    ("wpmandrill", "wpMandrill: Mandrill API key"),
    ("sendgrid_api_key", "SendGrid: API key"),
    ("postmark_settings", "Postmark: server token"),
    ("sparkpost_settings", "SparkPost: API key"),
    ("mc4wp", "Mailchimp for WP: API key (subscriptions would reach the real list)"),
    # Payments: staging must never charge a real card; test keys come from staging overrides.
    ("woocommerce_stripe_settings", "WooCommerce Stripe: live keys and webhook secret"),
    ("woocommerce-ppcp-settings", "WooCommerce PayPal Payments: merchant credentials"),
    ("woocommerce-ppcp-data-settings", "WooCommerce PayPal Payments: merchant data"),
    ("woocommerce_paypal_settings", "WooCommerce PayPal Standard: account and API credentials"),
    ("woocommerce_ppec_paypal_settings", "WooCommerce PayPal Checkout: API credentials"),
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
    ("updraft_service", "UpdraftPlus: remote storage (a staging backup must not overwrite prod's)"),
)

DEFAULT_RESET_OPTIONS: tuple[str, ...] = tuple(name for name, _ in RESET_OPTION_REASONS)


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
