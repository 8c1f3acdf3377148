from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, include, path
from django.views.generic import RedirectView
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from staging import roles
from staging.health import healthz
from staging.metrics import metrics

admin.site.site_header = "Understudy"
admin.site.site_title = "Understudy"
admin.site.index_title = "Administration"
# The portal's own navigation replaces the model sidebar and the "View site" link, which would
# only lead account managers to tables named after the data model.
admin.site.enable_nav_sidebar = False
admin.site.site_url = None


# django-rq's pages are built with inline scripts and styles. They are allowed there only, and
# only in answers to superusers (docs/security.md, "The portal's doors").
_job_dashboard_policy = csp_update({"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE]})


def superusers_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """django-rq lets any staff member stop running clones and delete jobs; only administrators
    may. Anyone else logged in gets 403, anyone logged out the login page."""
    with_its_policy = _job_dashboard_policy(view)

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not roles.can_administer(request.user):
            raise PermissionDenied
        return with_its_policy(request, *args, **kwargs)  # type: ignore[return-value]

    return admin.site.admin_view(guarded)


# Every view of the job dashboard behind the same guard, its JSON statistics included (django-rq
# would let those through for any staff member, or for RQ_API_TOKEN, which is not used here).
job_dashboard = (
    [
        URLPattern(
            pattern.pattern, superusers_only(pattern.callback), pattern.default_args, pattern.name
        )
        for pattern in [*get_api_urlpatterns(), *get_admin_urlpatterns()]
    ],
    "django_rq",
)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before the admin's own URLs, so the portal's dashboard answers at the admin's index address.
    path("admin/", include("staging.pages.urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include(job_dashboard)),
    path("api/v1/", include("staging.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file of its own, not inline, so the page
    # keeps to the Content-Security-Policy (script-src 'self').
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Docker's HEALTHCHECK, Railway's health check and monitors (staging/health.py).
    path("healthz", healthz, name="healthz"),
    # Prometheus (staging/metrics.py): METRICS_TOKEN as a bearer token, or an administrator.
    path("metrics", metrics, name="metrics"),
]

# API paths answer errors in the API's JSON format; other paths keep Django's pages.
handler404 = "staging.api.errors.page_not_found"
handler500 = "staging.api.errors.server_error"
