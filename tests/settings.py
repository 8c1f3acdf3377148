"""Settings for the test suite: the portal's settings with test-only defaults.

The portal's test database is PostgreSQL on the development machines and in CI
(`make test` sets DATABASE_URL); Redis is the real local server, on its own database number.
"""

import os

# The checkout's .env is a developer's (make run writes one for its demo): the tests, and the
# processes they start, read only the settings they are given.
os.environ.setdefault("UNDERSTUDY_ENV_FILE", "")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# Two test runs on one machine at once (say, two engineers' terminals) must not share a queue or
# a test database: TEST_RUN_NAME gives a run its own (and TEST_REDIS_DB its Redis database).
RUN_NAME = os.environ.get("TEST_RUN_NAME", "")
os.environ.setdefault(
    "REDIS_URL", f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '15')}"
)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The test servers (and the Railway sandbox's databases) listen on 127.0.0.1.
os.environ.setdefault("STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES", "true")

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if RUN_NAME:
    DATABASES["default"]["TEST"] = {"NAME": f"test_understudy_{RUN_NAME}"}  # noqa: F405
