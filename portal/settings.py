"""Understudy's settings, read from the environment (see the configuration table in README.md)."""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from portal import env

# Lets admin and queryset classes be subscripted for the type checker at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

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
    "django_rq",
    "staging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

# The job queue
REDIS_URL = env.url("REDIS_URL", default="redis://127.0.0.1:6379/0", schemes=("redis", "rediss"))
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}

# Railway
RAILWAY_API_TOKEN = env.string("RAILWAY_API_TOKEN")
RAILWAY_API_URL = env.url(
    "RAILWAY_API_URL",
    default="https://backboard.railway.com/graphql/v2",
    schemes=("https", "http"),
)

# Staging environments
STAGING_TTL_DAYS = env.integer("STAGING_TTL_DAYS", default=7, minimum=1)
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

# Notifications when a run ends
SLACK_WEBHOOK_URL = env.string("SLACK_WEBHOOK_URL")
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
}
