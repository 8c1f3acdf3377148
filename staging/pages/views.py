"""The portal's pages. Every change goes through ``staging.runs``; every POST checks the role
again on the server, whatever buttons the page showed."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
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
    RunStatus,
    StagingEnvironment,
    Trigger,
)
from staging.pages.display import (
    EnvironmentState,
    audit_action_label,
    describe_run,
    expiry_phrase,
    run_line,
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
FAILED_RECENTLY = timedelta(days=7)


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


DASHBOARD_FILTERS: dict[str, str] = {
    "": "All copies",
    "ready": "Ready",
    "busy": "Being worked on",
    "problem": "Failed or needs attention",
}
SITES_PER_PAGE = 25
HISTORY_PAGE_SIZE = 50


@dataclass(frozen=True)
class SiteCard:
    site: ClientSite
    rows: list[EnvironmentState]
    failed_recently: int


def _matches(state: EnvironmentState, wanted: str) -> bool:
    if wanted == "ready":
        return state.is_ready
    if wanted == "busy":
        return state.is_busy
    if wanted == "problem":
        return state.has_problem
    return True


def _dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the site list shows, read in a fixed number of queries however many sites."""
    query = request.GET.get("q", "").strip()
    wanted = request.GET.get("show", "")
    if wanted not in DASHBOARD_FILTERS:
        wanted = ""
    now = timezone.now()
    latest_run = Run.objects.filter(environment=OuterRef("pk")).order_by("-created_at")
    live = (
        StagingEnvironment.objects.exclude(status=EnvironmentStatus.DELETED)
        .select_related("site", "created_by")
        .annotate(latest_run_id=Subquery(latest_run.values("pk")[:1]))
        .order_by("-created_at")
    )
    active = {
        run.environment_id: run
        for run in Run.objects.filter(
            status__in=RunStatus.active(), environment__status__in=EnvironmentStatus.live()
        ).select_related("environment__site")
    }
    rows: dict[int, list[EnvironmentState]] = {}
    for environment in live:
        state = EnvironmentState(
            environment, active.get(environment.pk), environment.latest_run_id, now
        )
        if _matches(state, wanted):
            rows.setdefault(environment.site_id, []).append(state)
    # A failed copy is rolled back and deleted: the count keeps it findable from its site.
    failed = dict(
        Run.objects.filter(
            operation=Operation.CLONE,
            status__in=[RunStatus.FAILED, RunStatus.ERRORED],
            created_at__gte=now - FAILED_RECENTLY,
        )
        .values_list("environment__site")
        .annotate(count=Count("pk"))
        .values_list("environment__site", "count")
    )
    sites = ClientSite.objects.order_by("name")
    if query:
        sites = sites.filter(
            Q(name__icontains=query)
            | Q(slug__icontains=query)
            | Q(
                environments__name__icontains=query,
                environments__status__in=EnvironmentStatus.live(),
            )
        ).distinct()
    cards = [
        SiteCard(site, rows.get(site.pk, []), failed.get(site.pk, 0))
        for site in sites
        if not wanted or rows.get(site.pk)
    ]
    page = Paginator(cards, SITES_PER_PAGE).get_page(page_number(request.GET.get("page")))
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "page": page,
        "sites": list(page),
        "query": query,
        "show": wanted,
        "filters": DASHBOARD_FILTERS,
        "filter_query": params.urlencode(),
        "site_count": len(cards),
        "filtered": bool(query or wanted),
        "extend_days": EXTEND_DAYS,
        "can_operate": roles.can_operate(request.user),
        "can_administer": roles.can_administer(request.user),
    }


def _sites_fragment(request: HttpRequest, context: dict[str, Any]) -> tuple[str, str]:
    """The rendered site list and its ETag, a digest of exactly what the person would see."""
    html = render_to_string("staging/_dashboard_sites.html", context, request=request)
    return html, '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'


@require_GET
def dashboard(request: HttpRequest) -> TemplateResponse:
    _require_view(request)
    context = _dashboard_context(request)
    html, etag = _sites_fragment(request, context)
    return _render(
        request,
        "staging/dashboard.html",
        "Client sites",
        {**context, "sites_html": html, "sites_etag": etag},
    )


@require_GET
def dashboard_sites(request: HttpRequest) -> HttpResponse:
    """The site list alone, fetched again by htmx every few seconds; 304 when nothing changed,
    so an idle dashboard costs a few queries and no page repaint."""
    _require_view(request)
    html, etag = _sites_fragment(request, _dashboard_context(request))
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(html)
    response["ETag"] = etag
    return response


@require_GET
def environment_page(request: HttpRequest, environment_id: int) -> TemplateResponse:
    """One staging copy: who made it and when, its links, and every run it has had."""
    _require_view(request)
    environment = get_object_or_404(
        StagingEnvironment.objects.select_related("site", "created_by"), pk=environment_id
    )
    history = environment.runs.select_related("triggered_by").order_by("-created_at")
    active = next((run for run in history if run.is_active), None)
    latest = history[0].pk if history else None
    state = EnvironmentState(environment, active, latest, timezone.now())
    return _render(
        request,
        "staging/environment.html",
        f"{environment.name} of {environment.site}",
        {
            "state": state,
            "environment": environment,
            "history": [run_line(run) for run in history],
            "extend_days": EXTEND_DAYS,
        },
    )


@require_GET
def site_history(request: HttpRequest, site_id: int) -> TemplateResponse:
    """Every run on every copy of one site, deleted and failed copies included."""
    _require_view(request)
    site = get_object_or_404(ClientSite, pk=site_id)
    runs_of_site = (
        Run.objects.filter(environment__site=site)
        .select_related("environment", "triggered_by")
        .order_by("-created_at")
    )
    page = Paginator(runs_of_site, HISTORY_PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    return _render(
        request,
        "staging/site_history.html",
        f"History of {site}",
        {"site": site, "page": page, "history": [run_line(run) for run in page]},
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


@require_http_methods(["GET", "POST"])
def extend_environment(request: HttpRequest, environment_id: int) -> HttpResponse:
    """The new expiry date on GET, within the maximum lifetime; on POST the extension."""
    _require_operate(request)
    environment = get_object_or_404(
        StagingEnvironment.objects.select_related("site"), pk=environment_id
    )
    days = min(EXTEND_DAYS, runs.extendable_days(environment))
    if request.method == "POST":
        try:
            extended = runs.extend(environment, _actor(request), days=max(days, 1))
        except UnderstudyError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"The staging copy {extended.name} now {expiry_phrase(extended.expires_at)} "
                f"(on {timezone.localtime(extended.expires_at):%-d %B %Y}).",
            )
        return redirect("portal:dashboard")
    now = timezone.now()
    return _render(
        request,
        "staging/confirm_extend.html",
        f"Keep {environment.name} longer?",
        {
            "environment": environment,
            "days": days,
            "new_expiry": max(environment.expires_at, now) + timedelta(days=days),
            "latest_expiry": runs.latest_expiry(environment),
            "max_lifetime_days": settings.STAGING_MAX_LIFETIME_DAYS,
            "expiry": expiry_phrase(environment.expires_at, now),
        },
    )


@require_POST
def wordpress_login(request: HttpRequest, environment_id: int) -> HttpResponse:
    """Make or renew the staging-only WordPress administrator and show its password once, on
    this response only (never stored, never in a message or a cookie; the admin marks every
    response no-store)."""
    _require_operate(request)
    environment = get_object_or_404(
        StagingEnvironment.objects.select_related("site"), pk=environment_id
    )
    try:
        login = runs.create_wordpress_login(environment, _actor(request))
    except UnderstudyError as error:
        messages.error(request, error.message)
        return redirect("portal:environment", environment_id=environment.pk)
    return _render(
        request,
        "staging/wordpress_login.html",
        f"Your WordPress login for {environment.name}",
        {
            "environment": environment,
            "login": login,
            "login_url": environment.url.rstrip("/") + "/wp-login.php",
        },
    )


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
