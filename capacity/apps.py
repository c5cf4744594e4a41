from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class CapacityConfig(AppConfig):
    name = "capacity"
    verbose_name = "Capacity"

    def ready(self):
        from .counters.install import after_migrate, before_migrate

        # SQLite's seat counter triggers stay out of the way of migrations.
        pre_migrate.connect(before_migrate, sender=self)
        post_migrate.connect(after_migrate, sender=self)
