"""pytest fixtures shared by every test tree (registered from the root conftest.py)."""
import pytest

from servicekit import tables
from servicekit.db import make_engine
from servicekit.testing import drop_database, fresh_database


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test."""
    url = fresh_database()
    yield url
    drop_database(url)


@pytest.fixture
def kit_db_url(pg_url):
    """A fresh PostgreSQL database holding the kit's tables (what a migrated service has)."""
    engine = make_engine(pg_url)
    tables.metadata.create_all(engine)
    engine.dispose()
    return pg_url


@pytest.fixture
def sqlite_kit_db_url(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "service.db")
    engine = make_engine(url)
    tables.metadata.create_all(engine)
    engine.dispose()
    return url
