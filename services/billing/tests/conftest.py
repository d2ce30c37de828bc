"""Fixtures for the billing service's tests: a running BillingService on a fresh vhost and PostgreSQL
database, and a client that calls it as a signed-in user would (a token minted with the kit's test key and an
idempotency key per call)."""
import os
import sys

import pytest

from billing.models import Base
from billing.service import BillingService
from servicekit import tables
from servicekit.crypto import generate_key
from servicekit.db import make_engine
from servicekit.testing import ServiceClient
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM, mint_token

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: billingtesting

CARRIER = mint_token("carrier-1", carrier=True)
# config.yaml's defaults of the settings auto pay, payments and statements read
ACH_SETTINGS = dict(ACH_IMMEDIATE_DESTINATION="021000021", ACH_DESTINATION_NAME="FIRST HARBOR BANK",
                    ACH_IMMEDIATE_ORIGIN="1234567890", ACH_COMPANY_NAME="HARBOR HEALTH PLAN",
                    ACH_COMPANY_ID="1234567890", ACH_ODFI_ROUTING="02100002", AUTOPAY_TERMS_VERSION="2026-11",
                    ROSTER_RPC_TIMEOUT_SECONDS=8, CARRIER_NAME="Harbor Health Plan", CARRIER_PHONE="1-800-555-0142")


@pytest.fixture
def billing_db(pg_url):
    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def billing_config(rabbit_config, pg_url, billing_db, tmp_path):
    return dict(rabbit_config, DATABASE_URL=pg_url, TOKEN_PUBLIC_KEY=TEST_PUBLIC_KEY_PEM,
                FIELD_ENCRYPTION_KEY=generate_key(), FIELD_HASH_KEY=generate_key(),
                CARRIER_TIMEZONE="America/New_York", METRICS_PORT=0, OUTBOX_POLL_SECONDS=0.2,
                EVENT_RETRY_BASE_SECONDS=0.05, VAR_DIR=str(tmp_path), **ACH_SETTINGS)


@pytest.fixture
def billing_service(container_factory, billing_config):
    container = container_factory(BillingService, billing_config)
    container.start()
    return container


@pytest.fixture
def billing(billing_service, billing_config):
    """Calls billing's RPCs as carrier staff unless a call passes another token."""
    return ServiceClient("billing", billing_config, token=CARRIER)
