"""Who may change an order after it was placed.

Marking an order paid, refunding, cancelling and extending its hold need
``registration.manage_orders`` (see ``Order.Meta.permissions``) on top of
organizing the order's conference. Superusers hold every permission.
"""

MANAGE_ORDERS_PERMISSION = "registration.manage_orders"


def can_manage_orders(user) -> bool:
    """Whether ``user`` may run the order actions; the dashboard and the admin check this."""
    return user.has_perm(MANAGE_ORDERS_PERMISSION)
