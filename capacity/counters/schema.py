"""The names the triggers and the reads share: tables, counter targets, trigger names."""

from conference.models import Conference
from registration.models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry

from ..models import BlockedSeats, SeatCounter
from .rule import PENDING, bucket_sql

VENUE = SeatCounter.Target.VENUE.value
TICKET = SeatCounter.Target.TICKET.value
ADDON = SeatCounter.Target.ADDON.value

SEAT_CHANGE_VIEW = "seatkeeper_seat_change"
TRIGGER_NAMES = (
    "seatkeeper_line_inserted",
    "seatkeeper_line_deleted",
    "seatkeeper_line_updated",
    "seatkeeper_order_updated",
    "seatkeeper_order_deleted",
    "seatkeeper_apply_seat_change",
)
LINE_TRIGGERS = TRIGGER_NAMES[:3]
ORDER_TRIGGERS = TRIGGER_NAMES[3:5]

# Tables whose every write moves their conference's ``seats_version``, each
# with the short name of its version triggers: what is sold and what keeps
# seats from newcomers. Orders and lines move it from the counter triggers.
VERSIONED = (
    (TicketType, "ticket_type"),
    (AddOn, "addon"),
    (BlockedSeats, "blocked"),
    (WaitingListEntry, "waiting"),
)
VERSION_OPERATIONS = ("INSERT", "UPDATE", "DELETE")
# Of those, what the order form is read from: their writes move the conference's
# ``catalogue_version`` too.
CATALOGUE = (TicketType, AddOn)


def trigger_names(vendor) -> list[str]:
    """Every trigger the counters and the version need on ``vendor``'s database."""
    counters = TRIGGER_NAMES if vendor == "sqlite" else TRIGGER_NAMES[:5]
    if vendor == "sqlite":
        versions = [
            f"{name}_{operation.lower()}"
            for _, name in versioned_tables()
            for operation in VERSION_OPERATIONS
        ]
    else:
        versions = [name for _, name in versioned_tables()]
    return [*counters, *versions]


def versioned_tables():
    """(table, trigger name stem) of each table in ``VERSIONED``."""
    return [(model._meta.db_table, f"seatkeeper_version_{stem}") for model, stem in VERSIONED]


def is_catalogue(table) -> bool:
    """Whether writes to ``table`` move the conference's ``catalogue_version``."""
    return table in {model._meta.db_table for model in CATALOGUE}


def names() -> dict:
    """Table names and literals for the SQL, from the models."""
    return {
        "counter": SeatCounter._meta.db_table,
        "conference": Conference._meta.db_table,
        "order": Order._meta.db_table,
        "line": OrderLineItem._meta.db_table,
        "pending": PENDING.value,
        "view": SEAT_CHANGE_VIEW,
        "ticket": OrderLineItem.Kind.TICKET.value,
        "addon": OrderLineItem.Kind.ADDON.value,
        "venue": VENUE,
    }


# When an update of a line moves seats: what it counts as, or where, changed.
LINE_CHANGED_WHEN = (
    "OLD.quantity IS DISTINCT FROM NEW.quantity OR OLD.kind IS DISTINCT FROM NEW.kind"
    " OR OLD.ticket_type_id IS DISTINCT FROM NEW.ticket_type_id"
    " OR OLD.addon_id IS DISTINCT FROM NEW.addon_id OR OLD.order_id IS DISTINCT FROM NEW.order_id"
)


def order_moved_when(vendor) -> str:
    """WHEN of the order update trigger: its lines change bucket, or conference within one."""
    old, new = bucket_sql(vendor, "OLD"), bucket_sql(vendor, "NEW")
    return (
        f"{old} IS DISTINCT FROM {new}"
        f" OR (OLD.conference_id IS DISTINCT FROM NEW.conference_id AND {new} IS NOT NULL)"
    )
