"""Random form data thrown at the order form: never a 500, never a seat too many."""

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from capacity.services import get_availability
from registration.models import Order, OrderLineItem
from tests.factories import make_addon, make_conference, make_ticket_type

pytestmark = pytest.mark.django_db

VENUE_SEATS = 6
STUDENT_TICKETS = 3
WORKSHOP_PLACES = 2

FIELD_NAMES = [
    "ticket-regular",
    "ticket-student",
    "ticket-closed",
    "ticket-elsewhere",  # another conference's ticket type
    "addon-workshop",
    "addon-",
    "ticket-",
    "name",
    "email",
]

quantities = st.one_of(
    st.integers(min_value=-5, max_value=12).map(str),
    st.integers().map(str),
    st.sampled_from(["", " ", "0", "1", "2", "+1", "1.0", "1e3", "١", "0x1", "NaN", "9" * 30]),
    st.text(max_size=12),
)
small_quantities = st.integers(min_value=0, max_value=4).map(str)
plausible_orders = st.fixed_dictionaries(
    {"ticket-regular": small_quantities},
    optional={"ticket-student": small_quantities, "addon-workshop": small_quantities},
)
anything = st.dictionaries(
    keys=st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20)),
    values=quantities,
    max_size=8,
)
form_data = st.one_of(plausible_orders, anything)
buyers = st.one_of(
    st.just({"name": "Ada Lovelace", "email": "ada@example.com"}),
    st.just({"name": "Grace Hopper", "email": "grace@example.com"}),
    st.fixed_dictionaries({"name": st.text(max_size=30), "email": st.text(max_size=30)}),
    st.just({}),
)


@pytest.fixture
def shop():
    cache.clear()
    conference = make_conference(name="Fuzz Conf", total_capacity=VENUE_SEATS)
    make_ticket_type(conference, slug="regular", max_per_order=4)
    make_ticket_type(conference, slug="student", total_quantity=STUDENT_TICKETS)
    make_ticket_type(conference, slug="closed", is_active=False)
    make_addon(conference, slug="workshop", total_quantity=WORKSHOP_PLACES)
    make_ticket_type(make_conference(), slug="elsewhere")
    return conference


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=form_data, buyer=buyers)
def test_random_form_data_never_crashes_nor_oversells(client, shop, data, buyer):
    data = {**buyer, **data}
    orders_before = Order.objects.count()
    lines_before = OrderLineItem.objects.count()

    # The test client re-raises any exception of the view: a 500 fails here.
    response = client.post(f"/{shop.slug}/", data)

    event(f"answered {response.status_code}")
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert Order.objects.count() == orders_before + 1
    else:
        assert Order.objects.count() == orders_before
        assert OrderLineItem.objects.count() == lines_before
    availability = get_availability(shop)
    assert availability.taken <= VENUE_SEATS
    assert availability.ticket_type("student").taken <= STUDENT_TICKETS
    assert availability.addon("workshop").taken <= WORKSHOP_PLACES
    assert availability.ticket_type("closed").taken == 0
