# Understudy's image: the web portal (gunicorn + whitenoise) and, with another command, the job
# worker. Build: docker build -t understudy . — see docs/runbook.md.

# --- build: the virtual environment with the dependencies ----------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only the dependencies: the code lives in /app of the runtime stage, so that a code change does
# not reinstall them and templates and static files stay beside the code that finds them.
COPY pyproject.toml README.md ./
RUN mkdir portal staging && touch portal/__init__.py staging/__init__.py \
    && pip install . && pip uninstall -y understudy

# --- runtime ---------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime
# The copy tools must be at least as new as the servers they dump: Railway runs PostgreSQL 18,
# which Debian bookworm does not have, so its client comes from the PostgreSQL project's own
# repository. The MariaDB client dumps the WordPress sites' MySQL and MariaDB databases.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-18 mariadb-client \
    && apt-get purge -y curl && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin understudy
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000
WORKDIR /app
COPY manage.py ./
COPY portal portal
COPY staging staging
COPY templates templates
# collectstatic only reads the settings; these throwaway values never reach a running container.
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdefghijklmnop \
    python manage.py collectstatic --noinput \
    && chown -R understudy:understudy /app
USER understudy

EXPOSE 8000
# python -m staging.health asks this container's web server for /healthz (database and Redis).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "staging.health"]
# The web service: migrations, then gunicorn on $PORT (Railway sets it). The worker service runs
# `python manage.py rqworker default --with-scheduler` instead (docker-compose.yml).
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn portal.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --timeout 60 --access-logfile -"]
