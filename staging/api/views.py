"""API views. Each is thin: it checks input, calls ``staging.runs`` (the only door to starting,
extending or cancelling work) and shows the result. ``ApiView`` gives every view the same
authentication, permissions, pagination and throttles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.pagination import BasePagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from staging import runs
from staging.addresses import client_ip
from staging.api import serializers as s
from staging.api.authentication import ApiTokenAuthentication
from staging.api.errors import error_body
from staging.api.events import EventStreamsBusy, RunEventStream
from staging.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from staging.api.idempotency import idempotent
from staging.api.pagination import AuditCursorPagination, PageNumberPagination
from staging.api.parsers import refuse_oversized_body
from staging.api.permissions import FollowsRoles, IsAdministrator
from staging.api.throttles import AnonymousRateThrottle, TokenRateThrottle
from staging.digits import parse_id
from staging.models import (
    ActorType,
    ApiToken,
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    Run,
    RunStep,
    StagingEnvironment,
    Trigger,
)

SOURCE_HEADER = "X-Understudy-Source"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string (a UUID); a retry with the same key and body replays the "
    "first answer instead of starting a second run.",
)


class ApiView(viewsets.GenericViewSet[Any]):
    """The base of every API view: one way to authenticate, authorise, page and throttle."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [FollowsRoles]
    throttle_classes = [TokenRateThrottle, AnonymousRateThrottle]
    pagination_class: type[BasePagination] | None = PageNumberPagination
    # Keeps ids within PostgreSQL's bigint: a longer number is a 404, not a database error.
    lookup_value_regex = "[0-9]{1,18}"

    def perform_authentication(self, request: Request) -> None:
        refuse_oversized_body(request)
        try:
            super().perform_authentication(request)
        except AuthenticationFailed:
            # A wrong token counts against the caller's IP address, so guessing is throttled.
            self.check_throttles(request)
            raise

    def check_permissions(self, request: Request) -> None:
        # DRF throttles after the permission check, which would leave refused calls unlimited.
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request: Request) -> None:
        if getattr(request, "_understudy_throttled", False):
            return
        request._understudy_throttled = True  # type: ignore[attr-defined]
        super().check_throttles(request)

    def actor(self) -> runs.Actor:
        request = self.request
        user = request.user
        username = user.get_username()
        # Only a token an administrator marked for Kestra may label its calls as Kestra's;
        # from anyone else the header is ignored and the call is recorded as an API call.
        says_kestra = request.headers.get(SOURCE_HEADER, "").strip().lower() == Trigger.KESTRA
        from_kestra = isinstance(request.auth, ApiToken) and request.auth.for_kestra
        source = Trigger.KESTRA if says_kestra and from_kestra else Trigger.API
        if isinstance(request.auth, ApiToken):
            kind, label = ActorType.TOKEN, f"{username} (token {request.auth.name})"
        else:
            kind, label = ActorType.USER, username
        return runs.Actor(
            source=source,
            user=user,  # type: ignore[arg-type]
            kind=kind,
            label=label[:200],
            ip_address=self.client_ip(),
        )

    def client_ip(self) -> str | None:
        return client_ip(self.request._request)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context.update(s.now_context())
        return context


def _run_location(run: Run) -> str:
    return reverse("api:run-detail", args=[run.pk])


@extend_schema(tags=["sites"])
class SiteViewSet(ApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Client sites: the production sites that staging copies are made from."""

    serializer_class = s.SiteSerializer

    def get_queryset(self) -> QuerySet[ClientSite]:
        # A correlated subquery rather than a join and GROUP BY, so that the page's count
        # query leaves it out and only the rows of the page pay for it.
        live = (
            StagingEnvironment.objects.filter(site=OuterRef("pk"))
            .exclude(status=EnvironmentStatus.DELETED)
            .order_by()
            .values("site")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return ClientSite.objects.annotate(environments_count=Coalesce(Subquery(live), 0)).order_by(
            "name", "id"
        )


def _latest_runs() -> dict[str, Subquery]:
    latest = Run.objects.filter(environment=OuterRef("pk")).order_by("-created_at", "-id")
    return {
        "latest_run_id": Subquery(latest.values("id")[:1]),
        "latest_run_status": Subquery(latest.values("status")[:1]),
    }


def environments() -> QuerySet[StagingEnvironment]:
    """Environments with everything their serializer reads but the latest run."""
    return StagingEnvironment.objects.select_related("site", "created_by").order_by(
        "-created_at", "-id"
    )


def attach_latest_runs(page: list[StagingEnvironment]) -> None:
    """One query for the latest run of every environment of a page.

    Annotating the paged query instead makes PostgreSQL evaluate the subqueries for every row
    it skips on the way to a deep page (OFFSET), not only for the rows it returns.
    """
    rows = (
        StagingEnvironment.objects.filter(pk__in=[environment.pk for environment in page])
        .annotate(**_latest_runs())
        .values_list("pk", "latest_run_id", "latest_run_status")  # type: ignore[misc]
    )
    latest = {pk: (run_id, run_status) for pk, run_id, run_status in rows}
    for environment in page:
        run_id, run_status = latest.get(environment.pk, (None, None))
        environment.latest_run_id = run_id  # type: ignore[attr-defined]
        environment.latest_run_status = run_status  # type: ignore[attr-defined]


def runs_with_steps() -> QuerySet[Run]:
    # The step log can be long and is for the portal's run page, not for polling.
    steps = RunStep.objects.defer("log", "created").order_by("position")
    return Run.objects.select_related("environment").prefetch_related(Prefetch("steps", steps))


@extend_schema(tags=["environments"])
class EnvironmentViewSet(ApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Staging environments: create, list, refresh, extend and delete."""

    serializer_class = s.EnvironmentSerializer

    def get_queryset(self) -> QuerySet[StagingEnvironment]:
        if self.action == "list":
            return environments()
        return environments().annotate(**_latest_runs())

    def paginate_queryset(self, queryset: QuerySet[Any] | Sequence[Any]) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        if page:
            attach_latest_runs(page)
        return page

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        filters = s.EnvironmentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        site = wanted.get("site")
        if site:
            site_id = parse_id(site)
            queryset = queryset.filter(
                **({"site__slug": site} if site_id is None else {"site_id": site_id})
            )
        if "status" in wanted:
            queryset = queryset.filter(status=wanted["status"])
        else:
            queryset = queryset.exclude(status=EnvironmentStatus.DELETED)
        now = self.get_serializer_context()["now"]
        if wanted.get("expired") is True:
            queryset = queryset.filter(expires_at__lte=now).exclude(
                status=EnvironmentStatus.DELETED
            )
        elif wanted.get("expired") is False:
            queryset = queryset.filter(expires_at__gt=now)
        return queryset

    @extend_schema(parameters=[s.EnvironmentFilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.EnvironmentCreateSerializer,
        responses={202: s.EnvironmentWithRunSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Create a staging environment",
        description="Queues the clone and answers at once; poll the run at `Location`.",
    )
    @idempotent
    def create(self, request: Request) -> Response:
        given = s.EnvironmentCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        run = runs.start_clone(
            data["site"],
            self.actor(),
            name=data.get("name") or None,
            ttl_days=data.get("ttl_days"),
            gdpr_acknowledged=data["gdpr_acknowledged"],
        )
        return self._accepted(run, with_environment=True)

    @extend_schema(
        request=None,
        responses={202: s.RunOnlySerializer},
        summary="Delete a staging environment",
        description="Queues the teardown and answers at once; poll the run at `Location`.",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        run = runs.start_teardown(self.get_object(), self.actor())
        return self._accepted(run, with_environment=False)

    @extend_schema(
        request=s.RefreshSerializer,
        responses={202: s.EnvironmentWithRunSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Refresh a staging environment's data from production",
        description="Queues the refresh and answers at once; poll the run at `Location`. "
        "Needs `gdpr_acknowledged: true` unless the site masks personal data.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def refresh(self, request: Request, pk: str) -> Response:
        given = s.RefreshSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        run = runs.start_refresh(
            self.get_object(),
            self.actor(),
            gdpr_acknowledged=given.validated_data["gdpr_acknowledged"],
        )
        return self._accepted(run, with_environment=True)

    @extend_schema(
        request=s.ExtendSerializer,
        responses={200: s.EnvironmentSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Push a staging environment's expiry further",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def extend(self, request: Request, pk: str) -> Response:
        given = s.ExtendSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        environment = runs.extend(self.get_object(), self.actor(), given.validated_data["days"])
        return Response(self.get_serializer(self.get_queryset().get(pk=environment.pk)).data)

    def _accepted(self, run: Run, *, with_environment: bool) -> Response:
        body: dict[str, Any] = {"run": s.RunSerializer(runs_with_steps().get(pk=run.pk)).data}
        if with_environment:
            environment = self.get_queryset().get(pk=run.environment_id)
            body = {"environment": self.get_serializer(environment).data} | body
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": _run_location(run)}
        )


def _etag(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _matches(etag: str, if_none_match: str) -> bool:
    # If-None-Match uses the weak comparison: W/"x" matches "x".
    candidates = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
    return "*" in candidates or etag in candidates


@extend_schema(tags=["runs"])
class RunViewSet(ApiView, mixins.RetrieveModelMixin):
    """Runs: one clone, refresh or teardown; poll one until it ends."""

    serializer_class = s.RunSerializer

    def get_queryset(self) -> QuerySet[Run]:
        return runs_with_steps()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The ETag of the last answer: 304 if the run has not changed.",
            )
        ],
        responses={200: s.RunSerializer, 304: OpenApiResponse(description="Not modified.")},
        summary="Poll a run",
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_serializer(self.get_object()).data
        etag = _etag(data)
        # no-cache: a browser may keep the answer but must ask (cheaply, with the ETag) each time.
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if _matches(etag, request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(data, headers=headers)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The id of the last event received (sent by EventSource when it "
                "reconnects): the stream starts with the next change instead of repeating it.",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                # One event of the stream, as an EventSource hands it over.
                response={
                    "type": "object",
                    "properties": {
                        "event": {"type": "string", "enum": ["run", "end"]},
                        "id": {"type": "string"},
                        "data": {"type": "string"},
                        "retry": {"type": "integer"},
                    },
                },
                description="Server-sent events: `retry:` first; then one `run` event (the run "
                "as GET /api/v1/runs/{id}/ shows it, `id:` its ETag) each time the run changes; "
                "`: keep-alive` comments while it does not; an `end` event once the run has "
                "ended. See docs/api.md, *Live run events*.",
            ),
            503: OpenApiResponse(
                response=s.ErrorSerializer,
                description="Too many streams open on this server (event_streams_busy): poll "
                "the run instead, or retry after the Retry-After header's seconds.",
            ),
        },
        summary="Follow a run live (server-sent events)",
    )
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> HttpResponseBase:
        run = self.get_object()
        run_id = run.pk

        def snapshot() -> tuple[dict[str, Any], str, bool]:
            current = runs_with_steps().get(pk=run_id)
            data = dict(s.RunSerializer(current).data)
            return data, _etag(data).strip('"'), current.is_terminal

        try:
            stream = RunEventStream(snapshot, request.headers.get("Last-Event-ID", ""))
        except EventStreamsBusy as busy:
            return Response(
                error_body(busy.code, busy.message, busy.details),
                status=busy.http_status,
                headers={"Retry-After": str(busy.details["retry_after"])},
            )
        response = StreamingHttpResponse(stream, content_type="text/event-stream")
        # Proxies (nginx) must pass each event on at once rather than buffer the stream.
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # The stream is written by the view itself; DRF renders only its error answers, in
        # JSON, though the client asked for text/event-stream.
        if self.action == "events":
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        request=None,
        responses={200: s.RunSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Cancel a run",
        description="A queued run ends at once; a running one stops at its next step and "
        "rolls back.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        run = runs.cancel(self.get_object(), self.actor())
        return Response(self.get_serializer(self.get_queryset().get(pk=run.pk)).data)


@extend_schema(tags=["audit"])
class AuditEventViewSet(ApiView, mixins.ListModelMixin):
    """The audit log, newest first; administrators only."""

    serializer_class = s.AuditEventSerializer
    permission_classes = [IsAdministrator]
    pagination_class = AuditCursorPagination

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.all()

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        filters = s.AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        if "site" in wanted:
            queryset = queryset.filter(site_id=wanted.pop("site"))
        return super().filter_queryset(queryset.filter(**wanted))

    @extend_schema(parameters=[s.AuditFilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
