from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Understudy"
admin.site.site_title = "Understudy"
admin.site.index_title = "Staging environments"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
]
