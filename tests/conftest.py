import pytest

from tests.factories import make_conference


@pytest.fixture
def conference(db):
    return make_conference()
