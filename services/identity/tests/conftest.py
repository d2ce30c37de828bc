"""Fixtures for the identity service's tests: a running IdentityService on a fresh vhost and PostgreSQL
database with a fresh signing key, a Maildir to read what it sends, and a client calling its RPCs."""
import os
import sys

import pytest

from identity.models import Base
from identity.service import IdentityService
from servicekit import tables
from servicekit.auth import generate_keypair
from servicekit.crypto import generate_key
from servicekit.db import make_engine
from servicekit.testing import ServiceClient

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib


@pytest.fixture
def identity_db(pg_url):
    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def signing_keys(tmp_path):
    private_pem, public_pem = generate_keypair()
    private_file = tmp_path / "token_private.pem"
    private_file.write_text(private_pem)
    return private_pem, public_pem, str(private_file)


@pytest.fixture
def mail_dir(tmp_path):
    return str(tmp_path / "mail")


@pytest.fixture
def identity_config(rabbit_config, pg_url, identity_db, signing_keys, mail_dir):
    _private, public_pem, private_file = signing_keys
    return dict(rabbit_config, DATABASE_URL=pg_url, TOKEN_PUBLIC_KEY=public_pem, TOKEN_PRIVATE_KEY_FILE=private_file,
                FIELD_ENCRYPTION_KEY=generate_key(), FIELD_HASH_KEY=generate_key(), MAIL_DIR=mail_dir,
                CARRIER_TIMEZONE="America/New_York", METRICS_PORT=0, OUTBOX_POLL_SECONDS=0.2,
                EVENT_RETRY_BASE_SECONDS=0.05, ACCESS_TOKEN_MINUTES=10)


@pytest.fixture
def identity_service(container_factory, identity_config):
    container = container_factory(IdentityService, identity_config)
    container.start()
    return container


@pytest.fixture
def identity(identity_service, identity_config):
    return ServiceClient("identity", identity_config)
