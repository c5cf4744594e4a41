"""Seatkeeper URLs. The conference ticket pages (``/<slug>/``) come last."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # POST language=<code>: the switcher's choice, kept in a cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("capacity.api_urls")),
    path("dashboard/", include("capacity.urls")),
    path("", include("registration.urls")),
]
