"""The portal's pages. Every change goes through ``staging.runs``; every POST checks the role
again on the server, whatever buttons the page showed."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from staging import audit, roles, runs
from staging.addresses import client_ip
from staging.errors import UnderstudyError
from staging.models import (
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    Operation,
    Run,
    StagingEnvironment,
    Trigger,
)
from staging.pages.display import (
    BADGE_TONES,
    audit_action_label,
    describe_run,
    expiry_phrase,
)
from staging.pages.forms import (
    AuditFilterForm,
    CreateStagingForm,
    ImportSiteForm,
    gdpr_notice,
    name_problem,
    page_number,
)
from staging.railway import RailwayClient, RailwayError

EXTEND_DAYS = 7
AUDIT_PAGE_SIZE = 50
# Import is interactive: fail within a few seconds rather than after the client's long retries.
IMPORT_TIMEOUT_SECONDS = 10.0
RUN_TITLES: dict[str, str] = {
    Operation.CLONE: "Creating",
    Operation.REFRESH: "Refreshing",
    Operation.TEARDOWN: "Deleting",
}
BUSY_STATUSES = frozenset(
    {EnvironmentStatus.CREATING, EnvironmentStatus.REFRESHING, EnvironmentStatus.DELETING}
)


def _user(request: HttpRequest) -> User:
    # admin_view has already sent anyone who is not logged-in staff to the login page.
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _actor(request: HttpRequest) -> runs.Actor:
    return runs.Actor.for_user(_user(request), Trigger.ADMIN, ip_address=client_ip(request))


def _require_view(request: HttpRequest) -> None:
    if not roles.can_view(request.user):
        raise PermissionDenied


def _require_operate(request: HttpRequest) -> None:
    if not roles.can_operate(request.user):
        raise PermissionDenied


def _require_administer(request: HttpRequest) -> None:
    if not roles.can_administer(request.user):
        raise PermissionDenied


def _render(
    request: HttpRequest, template: str, title: str, context: dict[str, Any] | None = None
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "can_operate": roles.can_operate(request.user),
            "can_administer": roles.can_administer(request.user),
            **(context or {}),
        },
    )


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Where the action was pressed (the dashboard or the run page), if it is ours."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)


@dataclass(frozen=True)
class EnvironmentRow:
    environment: StagingEnvironment
    expiry: str
    tone: str
    latest_run_id: int | None

    @property
    def is_busy(self) -> bool:
        return self.environment.status in BUSY_STATUSES

    @property
    def is_ready(self) -> bool:
        return self.environment.status == EnvironmentStatus.READY


@require_GET
def dashboard(request: HttpRequest) -> TemplateResponse:
    _require_view(request)
    latest_run = Run.objects.filter(environment=OuterRef("pk")).order_by("-created_at")
    live = (
        StagingEnvironment.objects.exclude(status=EnvironmentStatus.DELETED)
        .annotate(latest_run_id=Subquery(latest_run.values("pk")[:1]))
        .order_by("-created_at")
    )
    rows: dict[int, list[EnvironmentRow]] = {}
    now = timezone.now()
    for environment in live:
        rows.setdefault(environment.site_id, []).append(
            EnvironmentRow(
                environment,
                expiry_phrase(environment.expires_at, now),
                BADGE_TONES.get(environment.status, "off"),
                environment.latest_run_id,
            )
        )
    sites = [(site, rows.get(site.pk, [])) for site in ClientSite.objects.all()]
    return _render(
        request,
        "staging/dashboard.html",
        "Client sites",
        {"sites": sites, "extend_days": EXTEND_DAYS},
    )


@require_http_methods(["GET", "POST"])
def create_staging(request: HttpRequest, site_id: int) -> HttpResponse:
    _require_operate(request)
    site = get_object_or_404(ClientSite, pk=site_id)
    if request.method == "POST":
        form = CreateStagingForm(site, request.POST)
        if form.is_valid():
            try:
                run = runs.start_clone(
                    site,
                    _actor(request),
                    name=form.cleaned_data["name"],
                    ttl_days=form.cleaned_data["ttl_days"],
                    gdpr_acknowledged=form.cleaned_data["gdpr_acknowledged"],
                )
            except UnderstudyError as error:
                form.add_error(None, error.message)
            else:
                return redirect("portal:run", run_id=run.pk)
    else:
        form = CreateStagingForm(
            site, initial={"name": request.GET.get("name") or runs.suggest_name(site)}
        )
    return _render(
        request,
        "staging/create.html",
        f"Create a staging copy of {site}",
        {"site": site, "form": form, "gdpr_notice": gdpr_notice(site)},
    )


@require_GET
def check_name(request: HttpRequest, site_id: int) -> JsonResponse:
    """Answers the create form as the user types; the form checks again when it is sent."""
    _require_operate(request)
    site = get_object_or_404(ClientSite, pk=site_id)
    problem = name_problem(site, request.GET.get("name", "").strip())
    return JsonResponse({"ok": problem is None, "message": problem or "This name is free."})


@require_GET
def run_page(request: HttpRequest, run_id: int) -> TemplateResponse:
    _require_view(request)
    run = get_object_or_404(Run.objects.select_related("environment__site"), pk=run_id)
    view = describe_run(run)
    title = f"{RUN_TITLES[run.operation]} {run.environment.name} of {run.environment.site}"
    return _render(request, "staging/run.html", title, {"view": view, "polling": run.is_active})


@require_GET
def run_progress(request: HttpRequest, run_id: int) -> TemplateResponse:
    """The part of the run page that htmx fetches again every second while the run is active."""
    _require_view(request)
    run = get_object_or_404(Run.objects.select_related("environment__site"), pk=run_id)
    return TemplateResponse(
        request,
        "staging/_run_progress.html",
        {
            "view": describe_run(run),
            "polling": run.is_active,
            "announce": True,
            "can_operate": roles.can_operate(request.user),
        },
    )


@require_POST
def cancel_run(request: HttpRequest, run_id: int) -> HttpResponse:
    _require_operate(request)
    run = get_object_or_404(Run, pk=run_id)
    try:
        runs.cancel(run, _actor(request))
    except UnderstudyError as error:
        messages.error(request, error.message)
    else:
        messages.info(request, "Cancelling: anything already made is being removed.")
    return redirect("portal:run", run_id=run.pk)


def _confirm_then(request: HttpRequest, environment_id: int, operation: Operation) -> HttpResponse:
    """The confirmation page on GET; on POST the run starts and its page opens."""
    _require_operate(request)
    environment = get_object_or_404(
        StagingEnvironment.objects.select_related("site"), pk=environment_id
    )
    if request.method == "POST":
        try:
            if operation == Operation.REFRESH:
                # The confirmation page says the fresh copy holds personal data again: its
                # button is the acknowledgement, recorded with whoever pressed it.
                run = runs.start_refresh(environment, _actor(request), gdpr_acknowledged=True)
            else:
                run = runs.start_teardown(environment, _actor(request))
        except UnderstudyError as error:
            messages.error(request, error.message)
            return redirect("portal:dashboard")
        return redirect("portal:run", run_id=run.pk)
    title = (
        f"Refresh {environment.name} from production?"
        if operation == Operation.REFRESH
        else f"Delete {environment.name}?"
    )
    return _render(
        request,
        "staging/confirm_action.html",
        title,
        {"environment": environment, "operation": operation, "operations": Operation},
    )


@require_http_methods(["GET", "POST"])
def refresh_environment(request: HttpRequest, environment_id: int) -> HttpResponse:
    return _confirm_then(request, environment_id, Operation.REFRESH)


@require_http_methods(["GET", "POST"])
def delete_environment(request: HttpRequest, environment_id: int) -> HttpResponse:
    return _confirm_then(request, environment_id, Operation.TEARDOWN)


@require_POST
def extend_environment(request: HttpRequest, environment_id: int) -> HttpResponse:
    _require_operate(request)
    environment = get_object_or_404(StagingEnvironment, pk=environment_id)
    try:
        extended = runs.extend(environment, _actor(request), days=EXTEND_DAYS)
    except UnderstudyError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"The staging copy {extended.name} now {expiry_phrase(extended.expires_at)} "
            f"(on {timezone.localtime(extended.expires_at):%-d %B %Y}).",
        )
    return _back(request, reverse("portal:dashboard"))


def _audit_events(request: HttpRequest) -> tuple[AuditFilterForm, Any]:
    if not roles.can_read_audit_log(request.user):
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor")
    return form, (form.filter(events) if form.is_bound else events)


@require_GET
def audit_log(request: HttpRequest) -> TemplateResponse:
    form, events = _audit_events(request)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    for event in page:
        event.action_label = audit_action_label(event.action)
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "staging/audit.html",
        "Audit log",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_see_secrets": roles.can_see_secrets(request.user),
        },
    )


class _Echo:
    """csv.writer writes into this and gets the line back, so rows stream as they are made."""

    def write(self, value: str) -> str:
        return value


@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    # The export carries every IP address and detail: administrators only (docs/security.md).
    if not roles.can_see_secrets(request.user):
        raise PermissionDenied
    _form, events = _audit_events(request)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(
            ["time", "user", "actor type", "action", "client", "target", "source", "ip", "details"]
        )
        for event in events.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    event.created_at.isoformat(),
                    event.actor_label,
                    event.actor_type,
                    event.action,
                    event.site_label,
                    event.target_label,
                    event.source,
                    event.ip_address or "",
                    _json(event.details),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="understudy-audit-{stamp}.csv"'
    return response


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _railway() -> RailwayClient:
    return RailwayClient(
        settings.RAILWAY_API_URL,
        settings.RAILWAY_API_TOKEN,
        timeout=IMPORT_TIMEOUT_SECONDS,
        max_retries=1,
    )


@require_GET
def import_projects(request: HttpRequest) -> TemplateResponse:
    _require_administer(request)
    projects: list[Any] = []
    error = ""
    try:
        with _railway() as railway:
            projects = railway.list_projects()
    except RailwayError as failure:
        error = failure.message
    known = dict(ClientSite.objects.values_list("railway_project_id", "name"))
    return _render(
        request,
        "staging/import.html",
        "Import a client site from Railway",
        {
            "projects": [(project, known.get(project.id)) for project in projects],
            "error": error,
        },
    )


@require_http_methods(["GET", "POST"])
def import_project(request: HttpRequest, project_id: str) -> HttpResponse:
    _require_administer(request)
    try:
        with _railway() as railway:
            project = railway.get_project(project_id)
    except RailwayError as failure:
        messages.error(request, failure.message)
        return redirect("portal:import")
    form = ImportSiteForm(project, request.POST or None)
    if request.method == "POST" and form.is_valid():
        site = form.save()
        audit.record(
            "site.imported",
            source=Trigger.ADMIN,
            actor=_user(request),
            target=site,
            ip_address=client_ip(request),
            details={"railway_project_id": project.id},
        )
        messages.success(request, f"{site} was added. Account managers can now create staging.")
        return redirect("portal:dashboard")
    return _render(
        request,
        "staging/import_project.html",
        f"Add {project.name}",
        {"project": project, "form": form},
    )
