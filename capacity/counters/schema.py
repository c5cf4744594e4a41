"""The names the triggers and the reads share: tables, counter targets, trigger names."""

from registration.models import Order, OrderLineItem

from ..models import SeatCounter
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


def names() -> dict:
    """Table names and literals for the SQL, from the models."""
    return {
        "counter": SeatCounter._meta.db_table,
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
