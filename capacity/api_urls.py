"""Public JSON API, mounted at /api/."""

app_name = "api"

urlpatterns = []
