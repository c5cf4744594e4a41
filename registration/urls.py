"""Public attendee pages: the ticket page, the order form and the order page."""

app_name = "registration"

urlpatterns = []
