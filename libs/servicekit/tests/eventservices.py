"""Small services for the outbox and event tests: a producer (`orders`) and consumers of its events.

`orders` records `family_changed` (the family's whole state, pattern 2) through the outbox. Each
consumer applies it to a projection and logs every application in `test_applied`, so a test can
count how many times an effect really happened. Module-level lists and flags let tests watch
deliveries that a rolled-back transaction would hide.
"""
import time

import eventlet
from nameko.events import event_handler
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, update

from servicekit.db import Database
from servicekit.entrypoints import rpc
from servicekit.events import consumer
from servicekit.outbox import Outbox

FAMILY_CHANGED = "family_changed"

test_metadata = MetaData()

applied = Table(
    "test_applied", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("aggregate_id", String(100), nullable=False),
    Column("sequence", Integer, nullable=False),
)

projection = Table(
    "test_projection", test_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("aggregate_id", String(100), primary_key=True),
    Column("state", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
)

PLAIN_BODIES = []                 # what a plain nameko @event_handler received
FLAKY = {"failing": True}         # FlakyProjector raises while this is set
FLAKY_ATTEMPTS = []               # monotonic time of every call of FlakyProjector's handler


def reset():
    PLAIN_BODIES.clear()
    FLAKY_ATTEMPTS.clear()
    FLAKY["failing"] = True


def apply_family(session, consumer_name, envelope):
    """The consumers' effect: log the application, then store the family's state as of this event."""
    session.execute(insert(applied).values(consumer=consumer_name, event_id=envelope["event_id"],
                                           aggregate_id=envelope["aggregate_id"], sequence=envelope["sequence"]))
    state = ",".join(envelope["data"]["members"])
    key = (projection.c.consumer == consumer_name) & (projection.c.aggregate_id == envelope["aggregate_id"])
    if session.execute(select(projection.c.state).where(key)).first() is None:
        session.execute(insert(projection).values(consumer=consumer_name, aggregate_id=envelope["aggregate_id"],
                                                  state=state, sequence=envelope["sequence"]))
    else:
        session.execute(update(projection).where(key).values(state=state, sequence=envelope["sequence"]))


class Orders:
    name = "orders"
    db = Database()
    outbox = Outbox()

    @rpc
    def change_family(self, family_id, members, hold_seconds=0):
        envelope = self.outbox.record(FAMILY_CHANGED, {"family_id": family_id, "members": members},
                                      aggregate_id="family:%s" % family_id, group_id="G100")
        if hold_seconds:
            eventlet.sleep(hold_seconds)  # keep the transaction open so concurrent workers overlap
        return envelope


class Projector:
    name = "projector"
    db = Database()

    @consumer("orders", FAMILY_CHANGED)
    def on_family_changed(self, envelope):
        apply_family(self.db, "projector.on_family_changed", envelope)

    @event_handler("orders", FAMILY_CHANGED)
    def plain_listener(self, body):
        """A plain nameko handler on the same exchange: the outbox speaks nameko's event format."""
        PLAIN_BODIES.append(body)


class FlakyProjector:
    name = "flaky"
    db = Database()

    @consumer("orders", FAMILY_CHANGED)
    def on_family_changed(self, envelope):
        FLAKY_ATTEMPTS.append(time.monotonic())
        apply_family(self.db, "flaky.on_family_changed", envelope)  # rolled back when it raises below
        if FLAKY["failing"]:
            raise RuntimeError("carrier feed unavailable")


class LateProjector:
    """A consumer that has never run when the first events are published."""
    name = "late"
    db = Database()

    @consumer("orders", FAMILY_CHANGED)
    def on_family_changed(self, envelope):
        apply_family(self.db, "late.on_family_changed", envelope)


# ---- helpers shared by test_outbox.py and test_events.py -------------------------------------------

def service_config(rabbit_config, db_url, **overrides):
    """A container config on the test's vhost and database (with the test tables created)."""
    from servicekit.db import make_engine

    engine = make_engine(db_url)
    test_metadata.create_all(engine)
    engine.dispose()
    config = {"AMQP_URI": rabbit_config["AMQP_URI"], "DATABASE_URL": db_url, "OUTBOX_POLL_SECONDS": 0.2,
              "EVENT_MAX_ATTEMPTS": 3, "EVENT_RETRY_BASE_SECONDS": 0.05}
    config.update(overrides)
    return config


def write_config(directory, config):
    """Write `config` as `<directory>/config.yaml` (the CLI derives the service name from the directory)."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({key: value for key, value in config.items()
                                    if key not in ("username", "vhost")}))
    return str(path)


def applied_events(engine, consumer_name, aggregate_id=None):
    query = select(applied.c.event_id, applied.c.sequence).where(applied.c.consumer == consumer_name)
    if aggregate_id is not None:
        query = query.where(applied.c.aggregate_id == aggregate_id)
    with engine.connect() as connection:
        return connection.execute(query.order_by(applied.c.id)).all()


def state_of(engine, consumer_name, aggregate_id):
    with engine.connect() as connection:
        return connection.execute(select(projection.c.state, projection.c.sequence).where(
            projection.c.consumer == consumer_name, projection.c.aggregate_id == aggregate_id)).first()


def consumed(consumer_name, outcome):
    """events_consumed_total for a consumer and outcome (the registry is per process: compare deltas)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("events_consumed_total",
                                     {"consumer": consumer_name, "outcome": outcome}) or 0.0
