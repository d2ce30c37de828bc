"""Fixtures for the roster service's tests: a running RosterService on a fresh vhost and PostgreSQL
database, and a client that calls it as a signed-in user would (a token minted with the kit's test key
and an idempotency key per call)."""
import os
import sys

import pytest

from roster.models import Base
from roster.service import RosterService
from servicekit import tables
from servicekit.crypto import generate_key
from servicekit.db import make_engine
from servicekit.testing import ServiceClient
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM, grant, mint_token

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: rostertesting

CARRIER = mint_token("carrier-1", carrier=True)


@pytest.fixture
def roster_db(pg_url):
    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def roster_config(rabbit_config, pg_url, roster_db):
    return dict(rabbit_config, DATABASE_URL=pg_url, TOKEN_PUBLIC_KEY=TEST_PUBLIC_KEY_PEM,
                FIELD_ENCRYPTION_KEY=generate_key(), FIELD_HASH_KEY=generate_key(),
                CARRIER_TIMEZONE="America/New_York", METRICS_PORT=0, OUTBOX_POLL_SECONDS=0.2,
                EVENT_RETRY_BASE_SECONDS=0.05)


@pytest.fixture
def roster_service(container_factory, roster_config):
    container = container_factory(RosterService, roster_config)
    container.start()
    return container


@pytest.fixture
def roster(roster_service, roster_config):
    """Calls roster's RPCs as carrier staff unless a call passes another token."""
    return ServiceClient("roster", roster_config, token=CARRIER)


def group_user(group_number, role, subgroups=None, actions=None, user_id=None):
    """A token for a user of one group (roles: group_admin, enrollment_manager, billing_manager, viewer, broker)."""
    return mint_token(user_id or "user-%s-%s" % (role, group_number),
                      grants=[grant(group_number, role, subgroups=subgroups, actions=actions)])
