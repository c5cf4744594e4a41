"""``manage.py check_seats [--fix]``: compare every seat counter, sold and held, with its
lines, and find rows that disagree across conferences."""

from django.core.management.base import BaseCommand, CommandError

from capacity.counters import (
    find_counter_drift,
    install_seat_triggers,
    recount_seat_counters,
    seat_triggers_installed,
)
from capacity.services import repair_seat_counters
from conference.models import Conference
from registration.fixed_conference import (
    find_cross_conference_rows,
    fixed_conference_triggers_installed,
    install_fixed_conference_triggers,
)


class Command(BaseCommand):
    help = (
        "Recompute every seat counter (sold seats, and held seats by hold expiry minute) "
        "from the order lines and report any drift; --fix repairs it. Also reports order "
        "lines, counters, blocked seats and waiting-list entries whose ticket type or add-on "
        "belongs to another conference (no --fix for those: a person decides). Exits with "
        "status 1 when anything is found (drift only without --fix)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Repair the counters that drift.")
        parser.add_argument("--conference", metavar="SLUG", help="Check one conference only.")

    def handle(self, *args, fix=False, conference=None, **options):
        if conference is not None:
            try:
                conference = Conference.objects.get(slug=conference)
            except Conference.DoesNotExist:
                raise CommandError(f"No conference with the slug {conference!r}.") from None
        triggers_missing = not seat_triggers_installed()
        if triggers_missing:
            if fix:
                install_seat_triggers()
                self.stdout.write("Installed the missing seat counter triggers.")
            else:
                self.stderr.write("The seat counter triggers are missing (--fix installs them).")

        checked = len(recount_seat_counters(conference))
        if fix:
            drift = repair_seat_counters(conference=conference)
        else:
            drift = find_counter_drift(conference)
        for item in drift:
            self.stdout.write(("Repaired " if fix else "Drift: ") + str(item))
        if not drift:
            self.stdout.write(f"All seat counters match their lines ({checked} with seats).")
        elif fix:
            self.stdout.write(f"Repaired {len(drift)} counter(s).")

        guard_missing = not fixed_conference_triggers_installed()
        if guard_missing:
            if fix:
                install_fixed_conference_triggers()
                self.stdout.write("Installed the triggers that keep a ticket type's conference.")
            else:
                self.stderr.write(
                    "The triggers that keep a ticket type's or add-on's conference are missing "
                    "(--fix installs them)."
                )
        # Counters and lines keyed by one conference for an item of another: each
        # side counts right by itself, so no recount can see it.
        crossed = find_cross_conference_rows(conference)
        for row in crossed:
            self.stdout.write(f"Across conferences: {row}")

        if not fix and (drift or triggers_missing or guard_missing):
            raise CommandError(
                f"{len(drift)} seat counter(s) drift from their lines"
                + (" and the triggers are missing" if triggers_missing or guard_missing else "")
                + "; run `manage.py check_seats --fix` to repair."
                + (f" {len(crossed)} row(s) disagree across conferences." if crossed else ""),
                returncode=1,
            )
        if crossed:
            raise CommandError(
                f"{len(crossed)} row(s) disagree across conferences: their ticket type or "
                "add-on belongs to another conference. --fix cannot decide which conference "
                "is right; move the orders or restore the item's conference by hand.",
                returncode=1,
            )
