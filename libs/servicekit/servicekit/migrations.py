"""Alembic glue shared by every service's migrations/env.py.

A service's schema is its own models plus the kit's tables (outbox, processed events, idempotency
keys, job runs, token revocations), so both metadatas are the migration target.
"""
import os

from alembic import context
from sqlalchemy import pool

from servicekit import tables
from servicekit.config import load_config
from servicekit.db import make_engine


def database_url(service_dir):
    """The URL from the service's config.yaml (so <SVC>_DATABASE_URL applies), unless -x url=… is given."""
    override = context.get_x_argument(as_dictionary=True).get("url")
    if override:
        return override
    return load_config(os.path.join(service_dir, "config.yaml"))["DATABASE_URL"]


def run_migrations(service_dir, service_metadata):
    target_metadata = [service_metadata, tables.metadata]
    url = database_url(service_dir)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url, poolclass=pool.NullPool) if url.startswith("sqlite") else make_engine(url)
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables for it.
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
