import pytest

from billingtesting import TODAY
from servicekit import clock


@pytest.fixture(autouse=True)
def business_date():
    clock.set_today(TODAY)
    yield
    clock.reset()
