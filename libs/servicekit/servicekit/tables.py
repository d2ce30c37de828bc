"""The kit's own tables. Every service's database has them (its Alembic env targets this metadata too).

outbox                the ordered, retained log of events this service published (pattern 1)
aggregate_sequences   the last sequence handed out per aggregate (pattern 2)
processed_events      event ids a consumer has applied, recorded with the effect (pattern 3)
consumer_positions    the newest sequence a consumer applied per aggregate (pattern 2)
idempotency_keys      stored responses of state-changing RPCs (pattern 4)
job_runs              one row per unit of scheduled work, so replicas run it once (pattern 5)
token_not_before      per-user revocation time fed by identity's events (pattern 8)
"""
from sqlalchemy import (BigInteger, Column, Date, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, String,
                        Table, Text, UniqueConstraint, text)

metadata = MetaData()

# SQLite only auto-increments a column declared INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("aggregate_id", String(100), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("group_id", String(40)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("envelope", Text, nullable=False),  # the JSON published, byte for byte
    Column("published_at", DateTime(timezone=True)),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL"),
          sqlite_where=text("published_at IS NULL")),
    Index("ix_outbox_occurred_at", "occurred_at"),
)

aggregate_sequences = Table(
    "aggregate_sequences", metadata,
    Column("aggregate_id", String(100), primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)

processed_events = Table(
    "processed_events", metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("consumer", "event_id"),
)

consumer_positions = Table(
    "consumer_positions", metadata,
    Column("consumer", String(200), nullable=False),
    Column("aggregate_id", String(100), nullable=False),
    Column("sequence", Integer, nullable=False),
    PrimaryKeyConstraint("consumer", "aggregate_id"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope_hash", String(64), primary_key=True),  # sha256 of caller, method, target, key
    Column("caller", String(100), nullable=False),
    Column("method", String(100), nullable=False),
    Column("target", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # in_flight | done
    Column("response", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

job_runs = Table(
    "job_runs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("status", String(16), nullable=False),  # claimed | done
    Column("claimed_by", String(100)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("job", "unit", "as_of", name="uq_job_runs_unit"),
)

token_not_before = Table(
    "token_not_before", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("not_before", DateTime(timezone=True), nullable=False),
)
