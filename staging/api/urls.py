"""Routes of /api/v1/ (included from portal/urls.py)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from staging.api import views

app_name = "api"

router = SimpleRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("runs", views.RunViewSet, basename="run")
router.register("audit", views.AuditEventViewSet, basename="audit")

urlpatterns = router.urls
