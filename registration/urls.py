"""Public attendee pages: the ticket page, the order form, the order page and the
waiting list."""

from django.urls import path

from . import views, waiting_views

app_name = "registration"

urlpatterns = [
    path("", views.conference_list, name="index"),
    path("<slug:slug>/", views.conference_page, name="conference"),
    path("<slug:slug>/live/", views.live_availability, name="live"),
    path("<slug:slug>/embed/banner/", views.embed_banner, name="embed-banner"),
    path("<slug:slug>/orders/<str:reference>/<str:secret>/", views.order_page, name="order"),
    path("<slug:slug>/orders/<str:reference>/<str:secret>/pay/", views.pay_order, name="pay"),
    path(
        "<slug:slug>/orders/<str:reference>/<str:secret>/cancel/",
        views.release_order,
        name="cancel",
    ),
    path("<slug:slug>/waiting/", waiting_views.join_waiting_list, name="join-waiting-list"),
    path(
        "<slug:slug>/waiting/<int:pk>/<str:secret>/",
        waiting_views.waiting_entry,
        name="waiting-entry",
    ),
    path(
        "<slug:slug>/waiting/<int:pk>/<str:secret>/leave/",
        waiting_views.leave_waiting_list,
        name="leave-waiting-list",
    ),
]
