"""Login throttling for logins over the web (django-axes)."""

from axes.backends import AxesStandaloneBackend


class WebLoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend, which refuses a locked-out username and address.

    ``authenticate()`` without a request (a test client's ``login()``, a
    management command) is no attempt from outside that could be repeated, so
    there is nothing to throttle: it passes on to the next backend instead of
    failing as django-axes' own backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
