from django.apps import AppConfig


class CapacityConfig(AppConfig):
    name = "capacity"
    verbose_name = "Capacity"

    def ready(self):
        from .api import connect_cache_invalidation

        connect_cache_invalidation()
