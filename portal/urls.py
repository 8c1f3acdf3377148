from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from staging.health import healthz

admin.site.site_header = "Understudy"
admin.site.site_title = "Understudy"
admin.site.index_title = "Administration"
# The portal's own navigation replaces the model sidebar and the "View site" link, which would
# only lead account managers to tables named after the data model.
admin.site.enable_nav_sidebar = False
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before the admin's own URLs, so the portal's dashboard answers at the admin's index address.
    path("admin/", include("staging.pages.urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("api/v1/", include("staging.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Docker's HEALTHCHECK, Railway's health check and monitors (staging/health.py).
    path("healthz", healthz, name="healthz"),
]

# API paths answer errors in the API's JSON format; other paths keep Django's pages.
handler404 = "staging.api.errors.page_not_found"
handler500 = "staging.api.errors.server_error"
