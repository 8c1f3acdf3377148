"""The portal's addresses, mounted under the admin and wrapped by ``admin.site.admin_view``, so
they share its login, staff check, CSRF protection and no-cache headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, path

from staging.pages import views

app_name = "portal"


def _admin(view: Callable[..., Any]) -> Callable[..., Any]:
    return admin.site.admin_view(view)


urlpatterns: list[URLPattern] = [
    # The dashboard takes the admin's own index address: it is the first page after login,
    # and every "Home" link of the admin leads to it.
    path("", _admin(views.dashboard), name="dashboard"),
    path("sites/live/", _admin(views.dashboard_sites), name="dashboard-sites"),
    path("manage/", _admin(admin.site.index), name="manage"),
    path("sites/<int:site_id>/create/", _admin(views.create_staging), name="create"),
    path("sites/<int:site_id>/check-name/", _admin(views.check_name), name="check-name"),
    path("sites/<int:site_id>/history/", _admin(views.site_history), name="site-history"),
    path("sites/import/", _admin(views.import_projects), name="import"),
    path("sites/import/<str:project_id>/", _admin(views.import_project), name="import-project"),
    path("runs/<int:run_id>/", _admin(views.run_page), name="run"),
    path("runs/<int:run_id>/progress/", _admin(views.run_progress), name="run-progress"),
    path("runs/<int:run_id>/cancel/", _admin(views.cancel_run), name="cancel"),
    path("environments/<int:environment_id>/", _admin(views.environment_page), name="environment"),
    path(
        "environments/<int:environment_id>/refresh/",
        _admin(views.refresh_environment),
        name="refresh",
    ),
    path(
        "environments/<int:environment_id>/extend/",
        _admin(views.extend_environment),
        name="extend",
    ),
    path(
        "environments/<int:environment_id>/delete/",
        _admin(views.delete_environment),
        name="delete",
    ),
    path(
        "environments/<int:environment_id>/wordpress-login/",
        _admin(views.wordpress_login),
        name="wordpress-login",
    ),
    path("audit/", _admin(views.audit_log), name="audit"),
    path("audit/export.csv", _admin(views.audit_export), name="audit-export"),
]
