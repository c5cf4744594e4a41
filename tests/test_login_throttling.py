"""Login throttling (django-axes) on the admin's and the organizers' login, and the
password validators."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"


@pytest.fixture
def organizer():
    return make_user("organizer", is_staff=True)


@pytest.mark.parametrize("login_url", ["admin:login", "login"])
def test_wrong_passwords_lock_the_account_out_from_that_address(
    client, organizer, settings, login_url
):
    url = reverse(login_url)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "organizer", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error

    locked = client.post(url, {"username": "organizer", "password": "wrong"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Even the right password is refused while locked.
    again = client.post(url, {"username": "organizer", "password": PASSWORD})
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_account_and_address(client, organizer, settings):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "organizer", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    other = make_user("colleague")
    response = client.post(url, {"username": "colleague", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)
    client.logout()
    from_elsewhere = client.post(
        url, {"username": "organizer", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )
    assert from_elsewhere.status_code == 302


def test_a_right_password_resets_the_count(client, organizer, settings):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "organizer", "password": "wrong"})
    assert client.post(url, {"username": "organizer", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "organizer", "password": "wrong"})
        assert response.status_code == 200


def test_force_login_and_the_test_clients_login_still_work(client, organizer):
    assert client.login(username="organizer", password=PASSWORD)
    client.logout()
    client.force_login(organizer)
    assert client.get(reverse("capacity:conference-list")).status_code == 200


@pytest.mark.parametrize(
    "password, complaint",
    [
        ("password123", "too common"),
        ("organizer1", "too similar"),
        ("short", "too short"),
    ],
)
def test_weak_passwords_are_refused(organizer, password, complaint):
    with pytest.raises(ValidationError, match=complaint):
        validate_password(password, user=organizer)


def test_a_strong_password_passes(organizer):
    validate_password("correct horse battery staple 42", user=organizer)
