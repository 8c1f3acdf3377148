"""The named steps of a run. A step does one thing through the services, records what it
created at once (for rollback), and never changes the run's status itself.

Step names are stable: they are stored on ``RunStep`` records and shown in the portal.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from staging import replication, sitecheck
from staging.dbcopy.urls import parse_url
from staging.errors import NameTaken, UnderstudyError
from staging.isolation import neutralise
from staging.models import ClientSite, Run, RunStep, StagingEnvironment
from staging.names import validate_name
from staging.railway import RailwayClient, RailwayNotFound, TcpProxy, database_url
from staging.secrets import mask_text, mask_url
from staging.services import Services
from staging.wordpress import MaskingRule


class ProductionDatabaseNotPublic(UnderstudyError):
    code = "production_database_not_public"


class StagingDatabaseNotReady(UnderstudyError):
    code = "staging_database_not_ready"


class HealthCheckFailed(UnderstudyError):
    code = "health_check_failed"


class SiteMisconfigured(UnderstudyError):
    code = "site_misconfigured"


class VariablesNotReplicated(UnderstudyError):
    """The staging copy's variables are not production's (beyond the expected differences)."""

    code = "variables_not_replicated"


class DatabaseAddressMismatch(UnderstudyError):
    """A database URL points somewhere else than the TCP proxy Railway reports for it."""

    code = "database_address_mismatch"


class NotCreatedByUnderstudy(UnderstudyError):
    """The environment's Railway id was never recorded as created by a run: not ours to delete."""

    code = "not_created_by_understudy"


# Said in the run log and in the docs: what a copy leaves behind, and what stands in for it.
VOLUMES_NOTE = (
    "Not copied: the contents of Railway volumes (for WordPress: uploads, and plugins or themes "
    "installed from the admin). Railway gives the staging copy new, empty volumes; uploads are "
    "served from production instead."
)


class ProjectService(NamedTuple):
    """A service of the site's Railway project, as preflight found it."""

    id: str
    name: str
    is_database: bool


@dataclass
class StepContext:
    """What a step works on, and what steps hand on to later steps of the same execution.

    The database URLs hold passwords: they live here, for one execution, and are never stored.
    """

    run: Run
    environment: StagingEnvironment
    services: Services
    cancel: threading.Event
    record: RunStep | None = None
    # The Railway client may be shared between runs: each run's share of the calls is counted
    # from here.
    railway_calls_before: int = field(init=False)
    # Every service of the project (preflight); a refresh, which has no preflight, knows the
    # site's two.
    project_services: list[ProjectService] = field(default_factory=list)
    # The staging database's public URL (expose_database).
    target_url: str | None = None
    # The address the WordPress site called home in production (prepare_site), for the health
    # check's look for links back to production.
    wordpress_production_url: str | None = None
    _source_url: str | None = None
    _base_percent: float = 0
    _share: float = 0

    def __post_init__(self) -> None:
        self.railway_calls_before = self.services.railway.calls

    @property
    def site(self) -> ClientSite:
        return self.environment.site

    def source_url(self) -> str:
        """The production database's public URL: read from Railway and checked against the TCP
        proxy Railway reports for it, once per execution."""
        if self._source_url is None:
            self._source_url = _production_database_url(self.site, self.services.railway)
        return self._source_url

    def database_urls(self) -> tuple[str, str]:
        """(production, staging) database URLs, for the steps after expose_database."""
        if self.target_url is None:
            raise RuntimeError("The staging database URL is read by expose_database, not run yet.")
        return self.source_url(), self.target_url

    def begin(self, record: RunStep, base_percent: float, share: float) -> None:
        self.record, self._base_percent, self._share = record, base_percent, share

    def log(self, message: str) -> None:
        record = self._current_record()
        line = f"{timezone.now():%H:%M:%S} {mask_text(message)}\n"
        record.log += line
        RunStep.objects.filter(pk=record.pk).update(log=record.log)

    def remember(self, **created: str) -> None:
        """Save the ids of what this step created, before anything else can go wrong."""
        record = self._current_record()
        record.created.update(created)
        RunStep.objects.filter(pk=record.pk).update(created=record.created)

    def _current_record(self) -> RunStep:
        if self.record is None:
            raise RuntimeError("A step wrote to its record before the pipeline began it.")
        return self.record

    def progress(self, step_percent: float) -> None:
        """The step's own progress (0 to 100), shown as part of the run's."""
        overall = int(self._base_percent + self._share * min(max(step_percent, 0), 100) / 100)
        if overall > self.run.progress_percent:
            self.run.progress_percent = overall
            Run.objects.filter(pk=self.run.pk).update(progress_percent=overall)

    def wait(self, seconds: float) -> None:
        self.services.sleep(seconds)


class Step(ABC):
    name: ClassVar[str]
    label: ClassVar[str]  # plain language for account managers

    @abstractmethod
    def run(self, context: StepContext) -> None: ...

    def undo(self, services: Services, created: dict[str, Any]) -> None:
        """Remove what ``run`` recorded in ``created``; steps that create nothing keep this."""
        return None


def _poll_delays(
    timeout: float, first: float = 1.0, factor: float = 1.5, cap: float = 10.0
) -> Iterator[float]:
    """Delays for polling: growing, so long waits cost few API calls, until ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = first
    while time.monotonic() < deadline:
        yield min(delay, max(deadline - time.monotonic(), 0))
        delay = min(delay * factor, cap)


class Preflight(Step):
    name = "preflight"
    label = "Checking the production site"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        validate_name(environment.name)
        railway = context.services.railway
        project = railway.get_project(site.railway_project_id)
        if not any(env.id == site.production_environment_id for env in project.environments):
            raise SiteMisconfigured(
                f"The production environment of {site} is no longer in its Railway project."
            )
        services = {service.id: service for service in project.services}
        context.project_services = [
            ProjectService(service.id, service.name, service.database_engine is not None)
            for service in project.services
        ]
        database = services.get(site.database_service_id)
        if site.app_service_id not in services or database is None:
            raise SiteMisconfigured(f"The services of {site} are no longer in its Railway project.")
        if database.database_engine is None:
            raise SiteMisconfigured(f"{database.name} does not look like a database service.")
        if project.environment_named(environment.name) is not None:
            raise NameTaken(
                f"Railway already has an environment named '{environment.name}' in this project.",
                details={"name": environment.name},
            )
        if site.production_environment_id == environment.railway_environment_id:
            raise SiteMisconfigured("The staging environment cannot be the production one.")
        source_url = context.source_url()
        source = context.services.inspect_database(source_url)
        context.log(
            f"Production database: {database.database_engine} {source.server_version}, "
            f"{source.source_size_bytes / 1e6:.1f} MB, at {mask_url(source_url)}"
        )


class CreateEnvironment(Step):
    name = "create_environment"
    label = "Creating the staging copy on Railway"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        # Deploys skipped: Railway commits the copy (with production's variables) but starts
        # nothing, so no service runs before configure_staging has set staging's variables.
        created = context.services.railway.create_environment(
            site.railway_project_id,
            environment.name,
            site.production_environment_id,
            skip_initial_deploys=True,
        )
        context.remember(railway_environment_id=created.id)
        environment.railway_environment_id = created.id
        environment.save(update_fields=["railway_environment_id"])
        context.log(
            f"Created Railway environment {created.name} ({created.id}) from production, "
            "initial deployments skipped: nothing runs yet."
        )

    def undo(self, services: Services, created: dict[str, Any]) -> None:
        services.railway.delete_environment(created["railway_environment_id"])


class ConfigureStaging(Step):
    """Checks that Railway copied production's variables, then sets staging's own: the site's
    overrides and the neutralisation of live credentials, before anything is deployed."""

    name = "configure_staging"
    label = "Making the copy safe before it starts"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        railway = context.services.railway
        project_id, staging_id = site.railway_project_id, environment.railway_environment_id
        production_id = site.production_environment_id
        overrides = {str(k): str(v) for k, v in site.staging_variables.items()}
        comparisons: list[replication.Comparison] = []
        wanted: dict[str, dict[str, str]] = {}  # service id -> variables to set
        neutralised: set[str] = set()
        for service_id, label, is_database in _project_services(context):
            try:
                production = railway.get_raw_variables(project_id, production_id, service_id)
            except RailwayNotFound:
                continue  # a service of another environment: nothing to copy
            try:
                staging = railway.get_raw_variables(project_id, staging_id, service_id)
            except RailwayNotFound:
                staging = {}  # Railway did not duplicate the service at all
            own_overrides = overrides if service_id == site.app_service_id else {}
            names: list[str] = []
            if not is_database:
                # Judged on the values as the service sees them (a key behind a reference too).
                isolation = neutralise(
                    railway.get_variables(project_id, production_id, service_id),
                    extra_names=list(site.isolation_extra_names),
                    allowed=list(site.isolation_allowed),
                )
                names = [name for name in isolation.names if name not in own_overrides]
                changes = {name: isolation.replacements[name] for name in names} | own_overrides
                if changes:
                    wanted[service_id] = changes
                neutralised.update(names)
            comparisons.append(
                replication.compare(
                    label,
                    production,
                    staging,
                    database_service=is_database,
                    overrides=own_overrides,
                    neutralised=names,
                )
            )
        for comparison in comparisons:
            context.log(f"Variables: {comparison.describe()}.")
        broken = [c for c in comparisons if not c.replicated]
        if broken:
            raise VariablesNotReplicated(
                "Railway's copy of the variables differs from production: "
                + "; ".join(f"{c.service}: {', '.join(c.missing + c.different)}" for c in broken)
                + ". Nothing was copied; try again, and check the services' variables on Railway.",
                details={
                    c.service: {"missing": c.missing, "different": c.different} for c in broken
                },
            )
        for service_id, changes in wanted.items():
            railway.upsert_variables(project_id, staging_id, service_id, changes, skip_deploys=True)
            applied = railway.get_raw_variables(project_id, staging_id, service_id)
            unapplied = sorted(
                name for name, value in changes.items() if applied.get(name) != value
            )
            if unapplied:
                raise VariablesNotReplicated(
                    f"Railway did not keep the staging variables {', '.join(unapplied)}.",
                    details={"unapplied": unapplied},
                )
        context.run.metrics["neutralised"] = sorted(neutralised)
        Run.objects.filter(pk=context.run.pk).update(metrics=context.run.metrics)
        context.log(
            "Neutralised live credentials: "
            + (", ".join(sorted(neutralised)) or "none found")
            + "."
        )
        if overrides:
            context.log(f"Site overrides set: {', '.join(sorted(overrides))}.")
        context.log(VOLUMES_NOTE)


class StartDatabase(Step):
    name = "start_database"
    label = "Starting the staging database"

    def run(self, context: StepContext) -> None:
        _deploy(context, context.site.database_service_id)


class DeployApp(Step):
    """The app's first start in staging: on the copied, prepared data, with staging's
    variables. A refresh restarts it the same way."""

    name = "deploy_app"
    label = "Starting the staging site"

    def run(self, context: StepContext) -> None:
        _deploy(context, context.site.app_service_id)


class ExposeDatabase(Step):
    name = "expose_database"
    label = "Connecting to the staging database"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        railway = context.services.railway
        engine = site.database_engine
        port = 5432 if engine == "postgres" else 3306
        proxies = railway.list_tcp_proxies(
            environment.railway_environment_id, site.database_service_id
        )
        if not proxies:
            proxy = railway.create_tcp_proxy(
                environment.railway_environment_id, site.database_service_id, port
            )
            proxies = [proxy]
            context.log(f"Opened a TCP proxy {proxy.domain}:{proxy.proxy_port}.")
        target_url = None
        for delay in _poll_delays(settings.STAGING_DEPLOY_TIMEOUT_SECONDS, cap=5):
            variables = railway.get_variables(
                site.railway_project_id,
                environment.railway_environment_id,
                site.database_service_id,
            )
            target_url = database_url(engine, variables)  # type: ignore[arg-type]
            if target_url:
                break
            context.wait(delay)
        if not target_url:
            raise StagingDatabaseNotReady("The staging database has no public address yet.")
        _check_address("staging", target_url, proxies)
        context.target_url = target_url
        # A refresh has no preflight: production's address is read and checked here, before
        # anything is written.
        context.source_url()
        context.log(
            f"Staging database at {mask_url(target_url)}, the TCP proxy Railway reports for it."
        )


class AssignDomain(Step):
    """Comes before the copy is prepared: the WordPress rewrite needs the staging URL."""

    name = "assign_domain"
    label = "Giving the staging copy its web address"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        railway = context.services.railway
        domains = railway.list_service_domains(
            site.railway_project_id, environment.railway_environment_id, site.app_service_id
        )
        if domains:
            domain = domains[0]
        else:
            domain = railway.create_service_domain(
                environment.railway_environment_id, site.app_service_id
            )
            context.remember(service_domain_id=domain.id)
        environment.url = context.services.public_url(domain.domain)
        environment.save(update_fields=["url"])
        context.log(f"Staging address: {environment.url}")

    def undo(self, services: Services, created: dict[str, Any]) -> None:
        # Only a domain this step made is recorded: one the copy already had is left alone.
        services.railway.delete_service_domain(created["service_domain_id"])


class CopyDatabase(Step):
    name = "copy_database"
    label = "Copying the production data"

    def run(self, context: StepContext) -> None:
        source_url, target_url = context.database_urls()
        last_logged = [0.0]

        def on_progress(progress: Any) -> None:
            context.progress(progress.percent)
            now = time.monotonic()
            if now - last_logged[0] >= 10:
                last_logged[0] = now
                context.log(
                    f"{progress.phase}: {progress.bytes_copied / 1e6:.1f} of "
                    f"{progress.total_bytes / 1e6:.1f} MB ({progress.percent} %)"
                )

        report = context.services.copy_database(
            source_url,
            target_url,
            progress=on_progress,
            cancel=context.cancel,
            staging_marker=context.environment.railway_environment_id,
        )
        metrics = context.run.metrics
        metrics.update(
            database_size_bytes=report.source_size_bytes,
            bytes_copied=report.bytes_copied,
            copy_seconds=round(report.duration_seconds, 3),
            copy_attempts=report.attempts,
            copy_method=report.method,
            throughput_mb_s=round(
                report.bytes_copied / 1e6 / max(report.duration_seconds, 1e-3), 1
            ),
        )
        Run.objects.filter(pk=context.run.pk).update(metrics=metrics)
        context.environment.database_size_bytes = report.source_size_bytes
        context.environment.save(update_fields=["database_size_bytes"])
        context.log(
            f"Copied {len(report.row_counts)} tables, {report.bytes_copied / 1e6:.1f} MB in "
            f"{report.duration_seconds:.1f} s ({report.method}, {report.attempts} attempt(s)); "
            "row counts verified."
        )


class PrepareSite(Step):
    name = "prepare_site"
    label = "Making the copy safe to use"

    def run(self, context: StepContext) -> None:
        site, environment = context.site, context.environment
        services = context.services
        source_url, target_url = context.database_urls()
        # This step writes into the target on its own (URL rewrite, masking), so it must not
        # rely on the copy before it having refused production: the servers are asked again,
        # which also sees through another host name, user or proxy for the same database; and
        # the target must carry this environment's staging marker, written by the copy.
        services.check_copy(
            source_url, target_url, staging_marker=environment.railway_environment_id
        )
        salt = _masking_salt(site)
        if site.is_wordpress:
            report = services.prepare_wordpress(
                target_url,
                environment.url,
                reset_options=site.wordpress_reset_options or services.default_reset_options,
                masking=site.masking_preset,
                masking_salt=salt,
            )
            context.wordpress_production_url = report.production_url
            context.log(
                f"WordPress: {report.production_url} → {report.staging_url} in "
                f"{report.total_rows_rewritten} rows; search engines discouraged; "
                f"{len(report.options_reset)} options reset."
            )
            masking = report.masking
        elif site.masking_rules:
            rules = [MaskingRule(**rule) for rule in site.masking_rules]
            masking = services.mask_columns(target_url, rules, salt=salt)
        else:
            masking = None
        if masking is not None:
            context.run.metrics["masking"] = {"preset": masking.preset, "columns": masking.columns}
            Run.objects.filter(pk=context.run.pk).update(metrics=context.run.metrics)
            context.log(f"Masked personal data: {masking.columns}")


class HealthCheck(Step):
    """A working staging site: 2xx, or a redirect that stays on the staging host; for
    WordPress, the home page served for the staging URL without links to production."""

    name = "health_check"
    label = "Checking that the staging site works"

    def run(self, context: StepContext) -> None:
        site = context.site
        url = context.environment.url
        production_hosts = {
            urlsplit(candidate).hostname or ""
            for candidate in (context.wordpress_production_url, site.production_url)
            if candidate
        } - {""}
        timeout = settings.STAGING_HEALTH_CHECK_TIMEOUT_SECONDS
        last = "no answer"
        for delay in _poll_delays(timeout, first=1, cap=5):
            try:
                response = context.services.fetch(url, 10.0)
            except Exception as error:  # any network failure means "not yet"
                last = type(error).__name__
            else:
                verdict = sitecheck.judge(
                    response.status_code,
                    response.headers,
                    response.text,
                    staging_url=url,
                    wordpress=site.is_wordpress,
                    production_hosts=production_hosts,
                )
                if verdict.ok:
                    context.log(
                        f"{url} answered {response.status_code}"
                        + (f", {verdict.note}" if verdict.note else "")
                        + "."
                    )
                    return
                if verdict.final:
                    raise HealthCheckFailed(f"{url} {verdict.problem}.")
                last = verdict.problem
            context.wait(delay)
        raise HealthCheckFailed(f"{url} did not work within {timeout} s (last: {last}).")


class DeleteEnvironment(Step):
    name = "delete_environment"
    label = "Deleting the staging copy"

    def run(self, context: StepContext) -> None:
        environment = context.environment
        recorded = environment.created_railway_environment_ids()
        current = environment.railway_environment_id
        if current and current not in recorded:
            raise NotCreatedByUnderstudy(
                f"No run recorded creating Railway environment {current}; Understudy deletes "
                "only what it made. Delete it on Railway by hand if it is a copy."
            )
        for railway_id in recorded:
            context.services.railway.delete_environment(railway_id)
            context.log(f"Deleted Railway environment {railway_id} (or it was already gone).")


def _masking_salt(site: ClientSite) -> str:
    """Per site and secret, so masked values are stable across refreshes but cannot be
    reversed with a dictionary of likely emails."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"masking:{site.pk}".encode(), hashlib.sha256).hexdigest()


def _project_services(context: StepContext) -> list[ProjectService]:
    """Every service of the project, as preflight read them, or the site's two."""
    site = context.site
    if context.project_services:
        return list(context.project_services)
    return [
        ProjectService(site.app_service_id, site.app_service_name or "app", False),
        ProjectService(site.database_service_id, site.database_service_name or "database", True),
    ]


def _deploy(context: StepContext, service_id: str) -> None:
    railway = context.services.railway
    environment_id = context.environment.railway_environment_id
    deployment_id = railway.deploy(environment_id, service_id)
    context.log(f"Deployment {deployment_id} started; waiting for it to succeed.")
    deployment = railway.wait_for_deployment(
        environment_id,
        service_id,
        deployment_id=deployment_id,
        timeout=settings.STAGING_DEPLOY_TIMEOUT_SECONDS,
    )
    context.log(f"{deployment.service_name} is deployed ({deployment.status}).")


def _check_address(which: str, url: str, proxies: list[TcpProxy]) -> None:
    """The URL must lead to the TCP proxy Railway reports for that environment's database
    service: a variable is the client's to edit, Railway's proxy list is not.

    The URL is read by the copy engine's own rules, so one it would refuse (a control character,
    a port that is not a number) fails here with a stable code, before anything connects, and
    the address compared is the one it would connect to."""
    parsed = parse_url(url, role=f"{which} database")
    host, port = parsed.host, parsed.port
    if any(
        host == proxy.domain.lower().rstrip(".") and port == proxy.proxy_port for proxy in proxies
    ):
        return
    reported = ", ".join(f"{p.domain}:{p.proxy_port}" for p in proxies) or "none"
    raise DatabaseAddressMismatch(
        f"The {which} database URL points to {host}:{port}, not to the TCP proxy Railway "
        f"reports for that database ({reported}). Nothing was read or written.",
        details={"database": which, "address": f"{host}:{port}", "tcp_proxies": reported},
    )


def _production_database_url(site: ClientSite, railway: RailwayClient) -> str:
    variables = railway.get_variables(
        site.railway_project_id, site.production_environment_id, site.database_service_id
    )
    url = database_url(site.database_engine, variables)  # type: ignore[arg-type]
    if not url:
        raise ProductionDatabaseNotPublic(
            f"The production database of {site} has no public address: turn on its TCP proxy "
            "(Railway → database service → Settings → Networking → TCP Proxy)."
        )
    _check_address(
        "production",
        url,
        railway.list_tcp_proxies(site.production_environment_id, site.database_service_id),
    )
    return url


CLONE_STEPS: tuple[Step, ...] = (
    Preflight(),
    CreateEnvironment(),
    ConfigureStaging(),
    StartDatabase(),
    ExposeDatabase(),
    AssignDomain(),
    CopyDatabase(),
    PrepareSite(),
    DeployApp(),
    HealthCheck(),
)
REFRESH_STEPS: tuple[Step, ...] = (
    ExposeDatabase(),
    CopyDatabase(),
    PrepareSite(),
    DeployApp(),
    HealthCheck(),
)
TEARDOWN_STEPS: tuple[Step, ...] = (DeleteEnvironment(),)
