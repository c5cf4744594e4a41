"""Public attendee pages: the ticket page, the order form and the order page."""

from django.urls import path

from . import views

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
]
