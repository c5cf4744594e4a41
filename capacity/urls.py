"""Organizer dashboard and capacity overrides, mounted at /dashboard/."""

from django.urls import path

from . import views

app_name = "capacity"

urlpatterns = [
    path("", views.conference_list, name="conference-list"),
    path("<slug:slug>/", views.dashboard, name="dashboard"),
    path("<slug:slug>/poll/", views.dashboard_poll, name="dashboard-poll"),
    path("<slug:slug>/orders/", views.order_list, name="orders"),
    path("<slug:slug>/orders/<str:reference>/", views.order_detail, name="order"),
    path(
        "<slug:slug>/orders/<str:reference>/<slug:action>/",
        views.order_action,
        name="order-action",
    ),
    # Capacity overrides (issue 5) add their routes below.
]
