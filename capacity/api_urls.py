"""Public JSON API, mounted at /api/."""

from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path(
        "conferences/<slug:slug>/availability",
        api.conference_availability,
        name="availability",
    ),
    path("conferences/<slug:slug>/availability/", api.conference_availability),
]
