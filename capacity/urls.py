"""Organizer dashboard and capacity overrides, mounted at /dashboard/."""

from django.urls import path

from . import override_views, views

app_name = "capacity"

urlpatterns = [
    path("", views.conference_list, name="conference-list"),
    path("<slug:slug>/", views.dashboard, name="dashboard"),
    path("<slug:slug>/poll/", views.dashboard_poll, name="dashboard-poll"),
    path("<slug:slug>/orders/", views.order_list, name="orders"),
    path("<slug:slug>/waiting/", views.waiting_list, name="waiting-list"),
    path("<slug:slug>/orders/<str:reference>/", views.order_detail, name="order"),
    path(
        "<slug:slug>/orders/<str:reference>/<slug:action>/",
        views.order_action,
        name="order-action",
    ),
    # Capacity overrides.
    path("<slug:slug>/capacity/", override_views.overrides, name="overrides"),
    path(
        "<slug:slug>/capacity/table/",
        override_views.capacity_table,
        name="override-capacity-table",
    ),
    path(
        "<slug:slug>/capacity/adjust/venue/",
        override_views.adjust_capacity,
        {"kind": "venue"},
        name="override-adjust-venue",
    ),
    path(
        "<slug:slug>/capacity/adjust/<slug:kind>/<int:pk>/",
        override_views.adjust_capacity,
        name="override-adjust",
    ),
    path(
        "<slug:slug>/capacity/adjust/venue/preview/",
        override_views.adjust_preview,
        {"kind": "venue"},
        name="override-adjust-venue-preview",
    ),
    path(
        "<slug:slug>/capacity/adjust/<slug:kind>/<int:pk>/preview/",
        override_views.adjust_preview,
        name="override-adjust-preview",
    ),
    path("<slug:slug>/capacity/blocks/", override_views.blocked_seats_list, name="override-blocks"),
    path("<slug:slug>/capacity/blocks/new/", override_views.block, name="override-block"),
    path(
        "<slug:slug>/capacity/blocks/<int:pk>/release/",
        override_views.release,
        name="override-release",
    ),
    path("<slug:slug>/capacity/comp/", override_views.comp_order, name="override-comp"),
    path("<slug:slug>/capacity/audit/", override_views.audit_list, name="override-audit"),
    path(
        "<slug:slug>/capacity/summary/",
        override_views.dashboard_summary,
        name="override-summary",
    ),
]
