from django.core.management.base import BaseCommand

from registration.services import expire_holds


class Command(BaseCommand):
    help = "Mark pending orders whose hold has passed as expired (housekeeping)."

    def handle(self, *args, **options):
        expired = expire_holds()
        self.stdout.write(f"Expired {expired} order(s).")
