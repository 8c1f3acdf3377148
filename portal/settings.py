"""Understudy's settings, read from the environment (see the configuration table in README.md)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from portal import env
from staging.digits import is_ascii_digits

# Lets admin and queryset classes be subscripted for the type checker at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# Settings not in the environment may come from a file of NAME=value lines: BASE_DIR/.env (which
# `make run` writes for its demo, so that the README's commands reach the demo) or the file
# UNDERSTUDY_ENV_FILE names ("" reads none). A variable set in the environment always wins.
_env_file = os.environ.get("UNDERSTUDY_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file, overwrite=False)

DEBUG = env.boolean("DEBUG", default=False)

SECRET_KEY = env.string("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"  # noqa: S105
elif not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY: use at least 50 random characters in production")

ALLOWED_HOSTS = env.string_list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_rq",
    "staging",
]
# The Railway sandbox is a development tool, not part of the product: the wheel and the image
# leave it out, and its commands (railway_sandbox, serve_demo) exist where its package does.
if importlib.util.find_spec("railway_sandbox") is not None:
    INSTALLED_APPS.append("railway_sandbox")
# /django-rq/ is mounted for superusers only (portal/urls.py); django-rq's own admin entry would
# let any staff member stop and delete jobs.
RQ_SHOW_ADMIN_LINK = False

MIDDLEWARE = [
    # First, so that CORS preflights and error responses carry the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# Proxies in front of the portal that append to X-Forwarded-For (Railway's edge: 1). The client's
# address is the Nth from the right (staging/addresses.py); 0 uses the connection's address.
# API_NUM_PROXIES is the older name of the same setting.
TRUSTED_PROXY_HOPS = env.integer(
    "TRUSTED_PROXY_HOPS", default=env.integer("API_NUM_PROXIES", default=0, minimum=0), minimum=0
)
# Messages (a token just issued, an error) live in the session, on the server: the messages
# cookie is signed, not encrypted, so anything put in it can be read by whoever holds it.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# The job queue
REDIS_URL = env.url("REDIS_URL", default="redis://127.0.0.1:6379/0", schemes=("redis", "rediss"))
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
# staging.lifecycle enqueues in transaction.on_commit itself, with the job id the run was given.
RQ = {"COMMIT_MODE": "auto"}

# /metrics (staging/metrics.py): Prometheus scrapes it with this bearer token; without one, only
# logged-in administrators can read it.
METRICS_TOKEN = env.string("METRICS_TOKEN")

# Railway
RAILWAY_API_TOKEN = env.string("RAILWAY_API_TOKEN")
RAILWAY_API_URL = env.url(
    "RAILWAY_API_URL",
    default="https://backboard.railway.com/graphql/v2",
    schemes=("https", "http"),
)

# Staging environments
STAGING_TTL_DAYS = env.integer("STAGING_TTL_DAYS", default=7, minimum=1)
# No copy of production data lives longer than this from its creation, extensions included.
STAGING_MAX_LIFETIME_DAYS = env.integer("STAGING_MAX_LIFETIME_DAYS", default=30, minimum=1)
# Clones running at once; over a limit a run waits in the queue.
STAGING_MAX_CLONES_PER_SITE = env.integer("STAGING_MAX_CLONES_PER_SITE", default=2, minimum=1)
STAGING_MAX_CLONES = env.integer("STAGING_MAX_CLONES", default=4, minimum=1)
STAGING_HEARTBEAT_SECONDS = env.integer("STAGING_HEARTBEAT_SECONDS", default=10, minimum=1)
# A running run whose heartbeat is older than this lost its worker and is reaped.
STAGING_STALE_AFTER_SECONDS = env.integer("STAGING_STALE_AFTER_SECONDS", default=120, minimum=5)
STAGING_DEPLOY_TIMEOUT_SECONDS = env.integer(
    "STAGING_DEPLOY_TIMEOUT_SECONDS", default=900, minimum=1
)
STAGING_HEALTH_CHECK_TIMEOUT_SECONDS = env.integer(
    "STAGING_HEALTH_CHECK_TIMEOUT_SECONDS", default=300, minimum=1
)

# The database copy engine; a timeout of 0 scales it to the database's size.
COPY_TIMEOUT_SECONDS = env.integer("COPY_TIMEOUT_SECONDS", default=0, minimum=0)
COPY_ATTEMPTS = env.integer("COPY_ATTEMPTS", default=3, minimum=1)
COPY_JOBS = env.integer("COPY_JOBS", default=2, minimum=1)
# A copy in which nothing moves for this long is stopped: a client's database server that
# accepts and never answers must not hold a worker.
COPY_STALL_TIMEOUT_SECONDS = env.integer("COPY_STALL_TIMEOUT_SECONDS", default=600, minimum=5)
# Client databases are reached only at public addresses; development (the Railway sandbox and
# the tests, whose servers listen on 127.0.0.1) allows loopback and private ones.
STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES = env.boolean(
    "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES", default=False
)

# Notifications when a run ends
SLACK_WEBHOOK_URL = env.string("SLACK_WEBHOOK_URL")
# Where people reach the portal: notifications link to run pages with absolute addresses.
PORTAL_URL = env.url("PORTAL_URL", default="http://localhost:8000", schemes=("https", "http"))
_email = environ.Env.email_url_config(env.string("EMAIL_URL", "consolemail://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "understudy@localhost")

# Production hardening; `manage.py check --deploy` passes when DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", default=31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", default=[])

# JSON lines (time, level, logger, run id, step) unless LOG_FORMAT=text.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "staging.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if env.string("LOG_FORMAT", "json") == "text" else "json",
        }
    },
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    # httpx logs every request's full URL at INFO; the Slack webhook's URL is its secret.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Railway sandbox (`manage.py railway_sandbox`): the local stand-in for Railway's API. Without a
# RAILWAY_API_TOKEN the portal talks to it, and says so ("sandbox") wherever Railway is shown.
RAILWAY_SANDBOX_PORT = env.integer("RAILWAY_SANDBOX_PORT", default=8790, minimum=1)
RAILWAY_SANDBOX_POSTGRES_URL = env.url(
    "RAILWAY_SANDBOX_POSTGRES_URL",
    default="postgres://postgres@127.0.0.1:5432/postgres",
    schemes=("postgres", "postgresql"),
)
RAILWAY_SANDBOX_MYSQL_URL = env.url(
    "RAILWAY_SANDBOX_MYSQL_URL",
    default="mysql://root@127.0.0.1:3306/mysql",
    schemes=("mysql", "mariadb"),
)
RAILWAY_SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 (the sandbox's fixed local token)
RAILWAY_SANDBOX_MODE = not RAILWAY_API_TOKEN
if RAILWAY_SANDBOX_MODE:
    RAILWAY_API_TOKEN = RAILWAY_SANDBOX_TOKEN
    if env.raw("RAILWAY_API_URL") is None:
        RAILWAY_API_URL = f"http://127.0.0.1:{RAILWAY_SANDBOX_PORT}/graphql/v2"
# How a Railway service domain becomes the staging site's URL.
STAGING_URL_TEMPLATE = env.string(
    "STAGING_URL_TEMPLATE",
    default=f"http://{{domain}}:{RAILWAY_SANDBOX_PORT}"
    if RAILWAY_SANDBOX_MODE
    else "https://{domain}",
)

# ---------------------------------------------------------------------------------------------
# REST API (/api/v1/, staging/api/): authentication, throttles, errors, schema, CORS.
# Throttle counters live in Django's cache, which is Redis so that every web process shares them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "understudy",
    }
}


def _throttle_rate(name: str, default: str) -> str:
    value = env.string(name, default).strip()
    count, _, period = value.partition("/")
    periods = {"s", "sec", "m", "min", "h", "hour", "d", "day"}
    if not is_ascii_digits(count) or period not in periods:
        raise ImproperlyConfigured(f"{name}: expected a rate such as 600/min, got {value!r}")
    return value


# Live run events (staging/api/events.py): each open stream holds a thread of its process.
RUN_EVENTS_MAX_STREAMS = env.integer("RUN_EVENTS_MAX_STREAMS", default=16, minimum=1)
RUN_EVENTS_MAX_SECONDS = env.integer("RUN_EVENTS_MAX_SECONDS", default=300, minimum=1)
RUN_EVENTS_POLL_SECONDS = env.integer("RUN_EVENTS_POLL_SECONDS", default=1, minimum=1)
RUN_EVENTS_HEARTBEAT_SECONDS = env.integer("RUN_EVENTS_HEARTBEAT_SECONDS", default=15, minimum=1)

API_THROTTLE_USER = _throttle_rate("API_THROTTLE_USER", "600/min")
API_THROTTLE_ANON = _throttle_rate("API_THROTTLE_ANON", "60/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "staging.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["staging.api.permissions.FollowsRoles"],
    "DEFAULT_THROTTLE_CLASSES": [
        "staging.api.throttles.TokenRateThrottle",
        "staging.api.throttles.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": API_THROTTLE_USER, "anon": API_THROTTLE_ANON},
    "DEFAULT_PAGINATION_CLASS": "staging.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "staging.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "staging.api.errors.exception_handler",
    # For any DRF part that reads the address itself; Understudy's throttles ask client_ip.
    "NUM_PROXIES": TRUSTED_PROXY_HOPS,
}
SPECTACULAR_SETTINGS = {
    # Swagger UI's files come from the drf-spectacular-sidecar package, served by the portal
    # itself: a CDN's script would run with the portal's origin and its users' sessions.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "TITLE": "Understudy API",
    "DESCRIPTION": "Staging copies of client sites on Railway. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "EnvironmentStatusEnum": "staging.models.EnvironmentStatus",
        "RunStatusEnum": "staging.models.RunStatus",
        "StepStatusEnum": "staging.models.StepStatus",
        "OperationEnum": "staging.models.Operation",
        "TriggerEnum": "staging.models.Trigger",
        "ActorTypeEnum": "staging.models.ActorType",
        "DatabaseEngineEnum": "staging.models.DatabaseEngine",
    },
}
CORS_ALLOWED_ORIGINS = env.string_list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "x-understudy-source",
)
CORS_EXPOSE_HEADERS = ("etag", "location", "retry-after", "idempotent-replayed")

# Portal (staging/pages/): the GDPR banner shown on every page, set by GDPR_BANNER_TEXT. The
# context processor hands it, and whether Railway is the sandbox, to every template.
GDPR_BANNER_TEXT = env.string(
    "GDPR_BANNER_TEXT",
    default=(
        "Staging copies hold real personal data of our clients' customers. Use them only to "
        "test changes, never share their links outside the team, and delete them when done."
    ),
)
_context_processors: list[str] = TEMPLATES[0]["OPTIONS"]["context_processors"]  # type: ignore[index]
_context_processors.append("staging.pages.context.portal")

# ---------------------------------------------------------------------------------------------
# Content-Security-Policy on every page (django-csp): scripts, styles, fonts and images only from
# the portal itself, no inline script or style (the templates have none: htmx's indicator styles
# are in portal.css, Swagger UI's start-up script is a file of its own), no framing. A script
# slipped into a page (a site's name, a run's log) then cannot run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Swagger UI's and the admin's stylesheets draw icons as data: SVG images.
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# ---------------------------------------------------------------------------------------------
# Production in Docker (Dockerfile, docker-compose.yml, docs/runbook.md): gunicorn serves the
# portal and whitenoise its static files, so no other web server is needed in the container.
# Hashed, compressed file names need the manifest that `collectstatic` writes (the image runs it
# when it is built); without one (development, tests) files are served under their own names.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if (STATIC_ROOT / "staticfiles.json").exists()
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# ---------------------------------------------------------------------------------------------
# Hostile input (tests/reliability/): the size of a request body, and login brute force.
# Larger bodies are refused before they are parsed (the API answers 413 request_too_large);
# the largest form or API call of the portal is a few kilobytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576, minimum=1024
)
# DRF's JSON parser reads the body as a stream, past Django's limit; this one keeps to it.
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = ["staging.api.parsers.JSONParser"]
# django-axes: after LOGIN_FAILURE_LIMIT wrong passwords for one username from one IP address,
# that pair is refused (429) for LOGIN_LOCKOUT_MINUTES, even with the right password, so a
# password cannot be guessed; a success resets the count. Counts live in the portal database.
# AxesStandaloneBackend needs the request, so authenticate() must be given one (admin login
# does; tests log in with force_login).
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes requires
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
# django-axes reads a float as hours.
AXES_COOLOFF_TIME = env.integer("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address behind the proxies, so that wrong passwords from one place lock only that place.
AXES_CLIENT_IP_CALLABLE = "staging.addresses.client_ip"
AXES_RESET_ON_SUCCESS = True
# django-axes prints its configuration ("AXES: BEGIN ...") whenever a process starts, on every
# command; the lockout itself is logged when it happens.
AXES_VERBOSE = False
