from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = "Registration"

    def ready(self):
        from . import fixed_conference

        post_migrate.connect(fixed_conference.after_migrate, sender=self)
