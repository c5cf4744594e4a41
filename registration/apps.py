from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = "Registration"

    def ready(self):
        from . import counters

        pre_migrate.connect(counters.before_migrate, sender=self)
        post_migrate.connect(counters.after_migrate, sender=self)
