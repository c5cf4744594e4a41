"""Organizer dashboard and capacity overrides, mounted at /dashboard/."""

app_name = "capacity"

urlpatterns = []
