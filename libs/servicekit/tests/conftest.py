"""Fixtures the outbox and event tests share: an engine on the test's database, a test service config."""
import os
import sys

import pytest

from servicekit.db import make_engine

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: no implicit path
import eventservices as svc  # noqa: E402


@pytest.fixture
def engine(kit_db_url):
    engine = make_engine(kit_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config(rabbit_config, kit_db_url):
    svc.reset()
    return svc.service_config(rabbit_config, kit_db_url)
