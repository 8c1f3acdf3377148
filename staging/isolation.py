"""Which copied variables a staging copy must not keep.

Railway's duplication copies every variable of production, so a fresh staging copy holds
production's live payment keys, mail server, SMS account, webhooks, analytics ids and storage
credentials. ``neutralise`` recognises them, by name and by the shape of their value, and says
what to set instead: a blank, or a value that keeps the application working without reaching
anything live (a mail host that cannot resolve, a framework's log transport, a payment
provider's sandbox switch).

The rules are the table in docs/security.md, *What a staging copy never keeps*; a test keeps the
two in step. Pure Python on purpose: the pipeline, the variable check and the docs test use it
without Django.

Precedence, strongest first:

1. Railway's own variables (``RAILWAY_*``) and database variables are never touched: they are
   expected to differ between environments and the copy needs them.
2. ``allowed`` (a site's allow-list, names or glob patterns) keeps a variable as it is.
3. The built-in rules, in the order of ``RULES``; the first that matches decides the value.
4. ``extra_names`` (a site's additions, names or glob patterns) are blanked.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

# RFC 2606 reserves .invalid: the name can never resolve, so mail sent to it goes nowhere.
MAIL_SINK_HOST = "mail-sink.invalid"

# Variables Railway provides, and the ones a database service exposes to the app (often as
# references such as ${{MySQL.MYSQLHOST}}): they differ between environments by design.
PROTECTED_PATTERNS: tuple[str, ...] = (
    "RAILWAY_*",
    "DATABASE_*",
    "*_DATABASE_URL",
    "PG*",
    "POSTGRES*",
    "MYSQL*",
    "MARIADB*",
    "MONGO*",
    "REDIS*",
    "DB_*",
    "WORDPRESS_DB_*",
)

# Prefixes that front-end build tools require on variables they expose to the browser; the
# rules match the name behind them (NEXT_PUBLIC_SENTRY_DSN is a Sentry DSN).
_PUBLIC_PREFIX = re.compile(
    r"^(?:NEXT_PUBLIC_|NUXT_PUBLIC_|NUXT_ENV_|VITE_|REACT_APP_|GATSBY_|EXPO_PUBLIC_|PUBLIC_)"
)

# A payment credential that shows it is for the provider's test mode is kept: it cannot charge.
_TEST_MODE_VALUE = re.compile(r"^(?:(?:sk|pk|rk)_test_|test_|sandbox-|access_token\$sandbox\$)")

_CREDENTIAL_WORD = r"\w*(?:KEY|SECRET|TOKEN|PASSWORD|PASS|SID|CREDENTIALS?)\w*"


@dataclass(frozen=True)
class Rule:
    """One kind of live credential or endpoint.

    ``names`` are regular expressions matched against the whole upper-cased name (after a
    front-end prefix such as ``NEXT_PUBLIC_``); ``values`` are searched for anywhere in the
    value, so a key under an innocent name is found too. ``when_value`` restricts a name rule
    to values that match it whole (a ``live`` mode switch, not a ``sandbox`` one).
    """

    category: str
    what: str
    replacement: str = ""
    names: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    when_value: str | None = None
    keeps_test_mode: bool = False
    _names: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _values: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _when: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(re.compile(p) for p in self.names))
        object.__setattr__(self, "_values", tuple(re.compile(p) for p in self.values))
        when = re.compile(self.when_value, re.IGNORECASE) if self.when_value else None
        object.__setattr__(self, "_when", when)

    def matches(self, name: str, value: str) -> bool:
        if self.keeps_test_mode and _TEST_MODE_VALUE.match(value.strip()):
            return False
        if any(p.fullmatch(name) for p in self._names) and (
            self._when is None or self._when.fullmatch(value.strip())
        ):
            return True
        return any(p.search(value) for p in self._values)


RULES: tuple[Rule, ...] = (
    # Payment
    Rule(
        "payment",
        "Stripe secret, restricted and publishable live keys, webhook signing secrets",
        names=(r"STRIPE_" + _CREDENTIAL_WORD, r"STRIPE_\w*(?:PUBLISHABLE|PUBLIC)\w*"),
        values=(r"(?<![A-Za-z0-9])(?:sk|rk|pk)_live_[A-Za-z0-9]{8,}", r"\bwhsec_[A-Za-z0-9]{16,}"),
        keeps_test_mode=True,
    ),
    Rule(
        "payment",
        "PayPal and Braintree mode switched to the sandbox",
        replacement="sandbox",
        names=(r"(?:PAYPAL|BRAINTREE)_(?:MODE|ENV|ENVIRONMENT)",),
        when_value=r"live|production",
    ),
    Rule(
        "payment",
        "PayPal client id and secret, Braintree merchant id and keys, live access tokens",
        names=(
            r"PAYPAL_(?:CLIENT_ID|MERCHANT_ID|" + _CREDENTIAL_WORD + r")",
            r"BRAINTREE_(?:MERCHANT_ID|" + _CREDENTIAL_WORD + r")",
        ),
        values=(r"access_token\$production\$",),
        keeps_test_mode=True,
    ),
    Rule(
        "payment",
        "Mollie live API keys",
        names=(r"MOLLIE_" + _CREDENTIAL_WORD,),
        values=(r"(?<![A-Za-z0-9_])live_[A-Za-z0-9]{30,}",),
        keeps_test_mode=True,
    ),
    Rule(
        "payment",
        "Square mode switched to the sandbox",
        replacement="sandbox",
        names=(r"SQUARE_(?:ENV|ENVIRONMENT)",),
        when_value=r"production",
    ),
    Rule(
        "payment",
        "Square access tokens and application secrets",
        names=(r"SQUARE_" + _CREDENTIAL_WORD,),
        values=(r"\bsq0(?:atp|csp)-[A-Za-z0-9_-]{16,}",),
        keeps_test_mode=True,
    ),
    Rule(
        "payment",
        "Adyen mode switched to test",
        replacement="TEST",
        names=(r"ADYEN_(?:ENV|ENVIRONMENT)",),
        when_value=r"live",
    ),
    Rule(
        "payment",
        "Adyen API keys, HMAC keys, passwords and live endpoints",
        names=(r"ADYEN_" + _CREDENTIAL_WORD, r"ADYEN_\w*(?:HMAC|URL|PREFIX)\w*"),
        values=(r"-live\.adyenpayments\.com",),
    ),
    Rule(
        "payment",
        "Razorpay live keys",
        names=(r"RAZORPAY_" + _CREDENTIAL_WORD,),
        values=(r"\brzp_live_[A-Za-z0-9]{8,}",),
        keeps_test_mode=True,
    ),
    # E-mail
    Rule(
        "e-mail",
        "Laravel mail transport switched to the log",
        replacement="log",
        names=(r"MAIL_MAILER", r"MAIL_DRIVER"),
    ),
    Rule(
        "e-mail",
        "Symfony Mailer transport switched to the null transport",
        replacement="null://null",
        names=(r"MAILER_DSN",),
    ),
    Rule(
        "e-mail",
        "Swift Mailer transport switched to the null transport",
        replacement="null://localhost",
        names=(r"MAILER_URL",),
    ),
    Rule(
        "e-mail",
        "Django mail backend switched to the console",
        replacement="django.core.mail.backends.console.EmailBackend",
        names=(r"EMAIL_BACKEND",),
    ),
    Rule(
        "e-mail",
        "django-environ mail URL switched to the console",
        replacement="consolemail://",
        names=(r"EMAIL_URL",),
    ),
    Rule(
        "e-mail",
        "mail server URLs and DSNs (user and password inside)",
        names=(
            r"(?:SMTP|MAIL|EMAIL|MAILER)_(?:SERVER_|SMTP_|TRANSPORT_)?(?:URL|URI|DSN)",
            r"SMTP_\w*(?:URL|URI|DSN)",
            r"EMAIL_SERVER",
        ),
    ),
    Rule(
        "e-mail",
        f"mail server host names, pointed at {MAIL_SINK_HOST}",
        replacement=MAIL_SINK_HOST,
        names=(r"(?:SMTP|MAIL|EMAIL|MAILER)_\w*(?:HOST|HOSTNAME|SERVER)", r"SMTP_ADDRESS"),
    ),
    Rule(
        "e-mail",
        "mail server users and passwords",
        names=(
            r"(?:SMTP|MAIL|EMAIL|MAILER)_\w*(?:USER|USERNAME|LOGIN)",
            r"(?:SMTP|MAIL|EMAIL|MAILER)_" + _CREDENTIAL_WORD,
        ),
    ),
    Rule(
        "e-mail",
        "SendGrid, Mailgun, Postmark, Amazon SES, Mailchimp/Mandrill, Mailjet, SparkPost, "
        "Resend and Brevo keys",
        names=(
            r"(?:SENDGRID|MAILGUN|POSTMARK|SES|AWS_SES|MAILCHIMP|MANDRILL|MAILJET|SPARKPOST"
            r"|RESEND|BREVO|SENDINBLUE)_" + _CREDENTIAL_WORD,
            r"ANYMAIL_\w+",
        ),
        values=(
            r"\bSG\.[\w-]{16,}\.[\w-]{16,}",
            r"\bkey-[0-9a-f]{32}\b",
            r"\b[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}\b",
            r"\b[0-9a-f]{32}-us[0-9]{1,2}\b",
            r"\bmd-[A-Za-z0-9_-]{20,}",
            r"\bxkeysib-[0-9a-f]{32,}",
        ),
    ),
    # SMS
    Rule(
        "SMS",
        "Twilio account SIDs, API keys and auth tokens",
        names=(r"TWILIO_" + _CREDENTIAL_WORD, r"TWILIO_\w*ACCOUNT\w*"),
        values=(r"\b(?:AC|SK)[0-9a-f]{32}\b",),
    ),
    Rule(
        "SMS",
        "Vonage/Nexmo, MessageBird, Plivo, Telnyx, Sinch and ClickSend keys",
        names=(
            r"(?:VONAGE|NEXMO|MESSAGEBIRD|PLIVO|TELNYX|SINCH|CLICKSEND)_" + _CREDENTIAL_WORD,
            r"(?:VONAGE|NEXMO)_APPLICATION_ID",
        ),
    ),
    # Webhooks and chat
    Rule(
        "webhooks",
        "Slack, Discord, Microsoft Teams, Google Chat, Zapier and Make webhook URLs; "
        "names ending in WEBHOOK or WEBHOOK_URL; Slack and Discord tokens",
        names=(
            r"\w*WEBHOOK(?:_URLS?|_URI|S)?",
            r"\w*_HOOK_URL",
            r"(?:SLACK|DISCORD)_" + _CREDENTIAL_WORD,
        ),
        values=(
            r"https?://hooks\.slack\.com/",
            r"https?://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/",
            r"https?://[\w.-]*webhook\.office\.com/",
            r"https?://outlook\.office(?:365)?\.com/webhook",
            r"https?://chat\.googleapis\.com/v1/spaces/",
            r"https?://hooks\.zapier\.com/",
            r"https?://hook\.[\w.-]*\.make\.com/",
            r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        ),
    ),
    # Analytics and error reporting
    Rule(
        "analytics",
        "Google Analytics and Tag Manager ids, Segment write keys, Mixpanel, Amplitude, "
        "PostHog, Hotjar and Meta pixel ids",
        names=(
            r"(?:GA|GA4|GTAG|GOOGLE_ANALYTICS|GOOGLE_TAG_MANAGER|GTM)(?:_\w+)?",
            r"(?:SEGMENT|MIXPANEL|AMPLITUDE|POSTHOG|HOTJAR|FB_PIXEL|META_PIXEL|FACEBOOK_PIXEL)"
            r"(?:_\w+)?",
        ),
        values=(
            r"^\s*(?:UA-[0-9]{4,10}-[0-9]{1,4}|G-[A-Z0-9]{8,12}|GTM-[A-Z0-9]{4,9})\s*$",
            r"\bphc_[A-Za-z0-9]{32,}",
        ),
    ),
    Rule(
        "analytics",
        "Sentry DSNs and auth tokens (staging errors would land in production's project), "
        "Bugsnag, Rollbar, New Relic and Datadog keys",
        names=(
            r"SENTRY_(?:DSN|" + _CREDENTIAL_WORD + r")",
            r"(?:BUGSNAG|ROLLBAR|NEW_RELIC|NEWRELIC|DATADOG|DD)_(?:DSN|" + _CREDENTIAL_WORD + r")",
        ),
        values=(
            r"https://[0-9a-f]{16,}@[\w.-]*(?:sentry\.io|ingest\.sentry\.io)/",
            r"\bsntrys_[A-Za-z0-9+/=_-]{20,}",
        ),
    ),
    # Object storage and cloud credentials
    Rule(
        "object storage",
        "AWS access keys and session tokens (S3 and everything else the key opens)",
        names=(r"AWS_" + _CREDENTIAL_WORD,),
        values=(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",),
    ),
    Rule(
        "object storage",
        "S3-compatible storage keys: S3, Cloudflare R2, DigitalOcean Spaces, Backblaze B2, "
        "Wasabi, MinIO; Cloudflare API tokens",
        names=(
            r"(?:S3|R2|CLOUDFLARE|CF|SPACES|DO_SPACES|B2|BACKBLAZE|WASABI|MINIO|BUCKET|STORAGE)_"
            + _CREDENTIAL_WORD,
            r"\w+_(?:S3|R2)_" + _CREDENTIAL_WORD,
        ),
    ),
    Rule(
        "object storage",
        "Google Cloud service-account keys (GCS), Azure storage keys and connection strings",
        names=(
            r"(?:GCS|GCP|GS|GOOGLE_CLOUD|GOOGLE_APPLICATION|GOOGLE_SERVICE_ACCOUNT|FIREBASE)_"
            + _CREDENTIAL_WORD,
            r"AZURE_\w*(?:STORAGE|ACCOUNT)\w*(?:KEY|SECRET|TOKEN|CONNECTION_STRING|SAS)\w*",
        ),
        values=(
            r'"type"\s*:\s*"service_account"',
            r"AccountKey=[A-Za-z0-9+/=]{20,}",
        ),
    ),
)


@dataclass(frozen=True)
class Neutralisation:
    """What to set in staging: ``replacements`` maps each name to its staging value (never a
    production value); ``names`` lists the same names sorted, for the run's record."""

    replacements: dict[str, str]
    names: list[str]


def is_protected(name: str) -> bool:
    """Railway's own and the database's variables: never neutralised, expected to differ."""
    return _matches_any(name, PROTECTED_PATTERNS)


def rule_for(name: str, value: str) -> Rule | None:
    """The first built-in rule that recognises this variable, if any."""
    key = _PUBLIC_PREFIX.sub("", name.upper())
    for rule in RULES:
        if rule.matches(key, value):
            return rule
    return None


def neutralise(
    variables: Mapping[str, str],
    *,
    extra_names: Collection[str] = (),
    allowed: Collection[str] = (),
) -> Neutralisation:
    """The variables of a fresh staging copy that must change, and their staging values.

    A variable whose value is already the safe one is not listed: nothing changes for it.
    """
    replacements: dict[str, str] = {}
    for name, value in variables.items():
        if is_protected(name) or _matches_any(name, allowed):
            continue
        rule = rule_for(name, value)
        if rule is not None:
            replacement = rule.replacement
        elif _matches_any(name, extra_names):
            replacement = ""
        else:
            continue
        if replacement != value:
            replacements[name] = replacement
    return Neutralisation(replacements=replacements, names=sorted(replacements))


def _matches_any(name: str, patterns: Collection[str]) -> bool:
    upper = name.upper()
    return any(fnmatchcase(upper, pattern.upper()) for pattern in patterns)
