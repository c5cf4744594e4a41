from django.apps import AppConfig


class CapacityConfig(AppConfig):
    name = "capacity"
    verbose_name = "Capacity"

    def ready(self):
        from config.health import connect_connection_checks

        from .api import connect_cache_invalidation

        connect_cache_invalidation()
        # Every process that serves requests runs this app: its connections are
        # checked before each request (see config.health).
        connect_connection_checks()
