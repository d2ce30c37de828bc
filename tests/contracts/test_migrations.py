"""Each service's migrations build its schema on PostgreSQL and SQLite, match its models, and go back down."""
import os
import subprocess
import sys

import pytest

from servicekit.testing import drop_database, fresh_database

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALEMBIC = os.path.join(os.path.dirname(sys.executable), "alembic")
SERVICES = ["identity", "roster", "billing", "messaging"]


def alembic(service, url, *command):
    result = subprocess.run([ALEMBIC, "-c", "services/%s/alembic.ini" % service, "-x", "url=%s" % url, *command],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "service.db")
        return
    url = fresh_database("migrate")
    yield url
    drop_database(url)


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_the_models_schema_and_roll_back(service, database_url):
    alembic(service, database_url, "upgrade", "head")
    assert "No new upgrade operations detected" in alembic(service, database_url, "check")
    alembic(service, database_url, "downgrade", "base")
    alembic(service, database_url, "upgrade", "head")
