"""The transactional outbox (patterns 1, 2 and 7 of ARCHITECTURE.md).

A service never publishes an event directly: `self.outbox.record(...)` writes it to the `outbox`
table in the same transaction as the change it announces, so both commit or neither does. A relay
thread in every replica then publishes committed rows, with publisher confirms, to the service's
`<service>.events` topic exchange (routing key = event type; the exchange nameko's own
EventDispatcher and @event_handler use) and marks them published.

Delivery is at least once: a relay that dies after the broker confirmed but before the mark is
committed sends the row again when it restarts. Consumers dedupe by `event_id`
(`servicekit.events.consumer` does it for you) and skip sequences they have already passed.
With several replicas, rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL,
so replicas share the work; events may still leave in a different order than they were written,
which is why every event carries its aggregate's `sequence`.

Rows are kept after publishing as an ordered log: `prune()` deletes old published rows (a
scheduled job calls it), and `python -m servicekit.outbox replay` re-sends a range to a named
queue so a late consumer or a carrier system can catch up.

Operator commands (service name: `--service`, else the config's `SERVICE_NAME`, else the
directory holding the config file, i.e. `services/<svc>/config.yaml` -> `<svc>`):

    python -m servicekit.outbox status --config services/roster/config.yaml
    python -m servicekit.outbox replay --config services/roster/config.yaml --queue carrier.eligibility \
        [--from-id N] [--to-id M] [--since ISO] [--until ISO] [--event-type T]
"""
import argparse
import json
import logging
import os
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

import eventlet

from kombu import Connection, Queue
from nameko.amqp.publish import get_producer
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_RETRY_POLICY,
                              LOGIN_METHOD_CONFIG_KEY, PERSISTENT)
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import delete, func, select, update

from servicekit import metrics
from servicekit.context import REQUEST_ID
from servicekit.db import find_database, is_postgresql, make_engine
from servicekit.tables import aggregate_sequences, outbox

_log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 1.0
DEFAULT_RETENTION_DAYS = 90
RELAY_BATCH = 100           # rows claimed per relay transaction
MAX_BACKOFF_SECONDS = 30.0  # longest pause between relay attempts while the broker or database is down
CONFIRM_TIMEOUT = 10        # seconds to wait for the broker's confirm before treating the publish as failed
MAX_AGGREGATE_ID = 100      # tables.outbox.aggregate_id is String(100)
RELAY_STOP_SECONDS = 5      # how long `stop()` lets the relay finish the batch in hand

UNPUBLISHED = metrics.gauge("outbox_unpublished_events", "Committed outbox rows not yet published.", ["service"])
LAG = metrics.gauge("outbox_oldest_unpublished_age_seconds",
                    "Age of the oldest unpublished outbox row (outbox lag), seconds.", ["service"])
PUBLISHED = metrics.counter("outbox_published_total", "Outbox rows published and confirmed by the broker.",
                            ["service", "event_type"])


def _utcnow():
    return datetime.now(timezone.utc)


def _as_utc(value):
    # SQLite hands back naive datetimes; everything the kit stores is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _dialect_insert(session, table):
    """INSERT with ON CONFLICT support: PostgreSQL's or SQLite's (both have it, with RETURNING)."""
    if is_postgresql(session.get_bind()):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def next_sequence(session, aggregate_id):
    """Hand out the aggregate's next sequence (1, 2, 3, ...) inside the caller's transaction.

    One upsert: on PostgreSQL it takes the row lock on `aggregate_sequences`, so a concurrent
    transaction for the same aggregate waits here until this one commits or rolls back and then
    gets the following number; no gaps from rollbacks, no duplicates. SQLite has one writer at a time.
    """
    stmt = _dialect_insert(session, aggregate_sequences).values(aggregate_id=aggregate_id, last_sequence=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[aggregate_sequences.c.aggregate_id],
        set_={"last_sequence": aggregate_sequences.c.last_sequence + 1},
    ).returning(aggregate_sequences.c.last_sequence)
    return session.execute(stmt).scalar_one()


def _json_safe(event_type, value):
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "event %r: data is not JSON-safe (%s); dump it with the event's marshmallow schema so Decimal, "
            "dates and UUIDs travel as strings" % (event_type, exc)) from None


def record_event(session, service_name, event_type, data, aggregate_id, group_id=None, version=1,
                 actor=None, request_id=None):
    """Write one event to the outbox in `session`'s transaction and return its envelope.

    For code outside nameko workers (jobs, scripts); services call `self.outbox.record(...)`.
    Nothing is published until the caller commits; the relay of `service_name` sends it then.
    """
    aggregate_id = _checked_event(event_type, data, aggregate_id)
    envelope, row = _outbox_row(event_type, data, aggregate_id, next_sequence(session, aggregate_id), group_id,
                                version, actor, request_id, _utcnow())
    session.execute(outbox.insert().values(**row))
    # Read by the Outbox provider's commit listener: wake the relay as soon as this commits.
    session.info["outbox_written"] = True
    _log.debug("%s recorded %s #%s for %s", service_name, event_type, envelope["sequence"], aggregate_id)
    return envelope


def record_events(session, service_name, events, actor=None, request_id=None, batch_size=1000):
    """Write many events with two statements per `batch_size` instead of two per event (a census import
    makes thousands of families). `events`: dicts with event_type, data, aggregate_id, and optionally
    group_id and version. The rows are the ones `record_event` writes; returns the envelopes.

    One event per aggregate within a batch: a multi-row upsert cannot move one sequence twice.
    """
    events = list(events)
    envelopes = []
    for start in range(0, len(events), batch_size):
        batch = events[start:start + batch_size]
        aggregates = [_checked_event(event["event_type"], event["data"], event["aggregate_id"]) for event in batch]
        if len(set(aggregates)) != len(aggregates):
            raise ValueError("record_events: one event per aggregate in a batch; use record_event for the rest")
        claim = _dialect_insert(session, aggregate_sequences).values(
            [{"aggregate_id": aggregate_id, "last_sequence": 1} for aggregate_id in aggregates])
        sequences = dict(session.execute(claim.on_conflict_do_update(
            index_elements=[aggregate_sequences.c.aggregate_id],
            set_={"last_sequence": aggregate_sequences.c.last_sequence + 1},
        ).returning(aggregate_sequences.c.aggregate_id, aggregate_sequences.c.last_sequence)).all())
        occurred_at = _utcnow()
        rows = []
        for event, aggregate_id in zip(batch, aggregates):
            envelope, row = _outbox_row(event["event_type"], event["data"], aggregate_id, sequences[aggregate_id],
                                        event.get("group_id"), event.get("version", 1), actor, request_id,
                                        occurred_at)
            envelopes.append(envelope)
            rows.append(row)
        session.execute(outbox.insert(), rows)
    if envelopes:
        session.info["outbox_written"] = True
    _log.debug("%s recorded %d events", service_name, len(envelopes))
    return envelopes


def _checked_event(event_type, data, aggregate_id):
    """Refuse a bad event before it takes a sequence number; returns the aggregate id as text."""
    if not isinstance(data, dict):
        raise TypeError("event %r: data must be a dict (the dumped payload), not %s"
                        % (event_type, type(data).__name__))
    aggregate_id = str(aggregate_id)
    if not 0 < len(aggregate_id) <= MAX_AGGREGATE_ID:  # the column's size; consumers refuse longer ones too
        raise ValueError("event %r: aggregate_id must be 1 to %d characters" % (event_type, MAX_AGGREGATE_ID))
    _json_safe(event_type, data)
    return aggregate_id


def _outbox_row(event_type, data, aggregate_id, sequence, group_id, version, actor, request_id, occurred_at):
    """The envelope published, and the outbox row holding it byte for byte."""
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "version": int(version),
        "occurred_at": occurred_at.isoformat(),
        "aggregate_id": aggregate_id,
        "sequence": sequence,
        # strings on the wire, whatever the caller's types (the Envelope schema expects strings)
        "group_id": None if group_id is None else str(group_id),
        "actor": None if actor is None else str(actor),
        "request_id": None if request_id is None else str(request_id),
        "data": data,
    }
    row = dict(event_id=envelope["event_id"], event_type=event_type, version=envelope["version"],
               aggregate_id=aggregate_id, sequence=sequence, group_id=envelope["group_id"],
               occurred_at=occurred_at, envelope=_json_safe(event_type, envelope))
    return envelope, row


def prune(session, older_than=None):
    """Delete published rows that occurred before `older_than`; returns how many. The caller commits.

    `older_than` is a cutoff datetime or a timedelta back from now; default OUTBOX_RETENTION_DAYS (90).
    Unpublished rows are never deleted, however old.
    """
    if older_than is None:
        older_than = timedelta(days=DEFAULT_RETENTION_DAYS)
    if isinstance(older_than, timedelta):
        older_than = _utcnow() - older_than
    result = session.execute(delete(outbox).where(outbox.c.published_at.is_not(None),
                                                  outbox.c.occurred_at < older_than))
    return result.rowcount


def retention_cutoff(config, now=None):
    """The cutoff `prune` should use for a service: now minus its OUTBOX_RETENTION_DAYS."""
    days = float(config.get("OUTBOX_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)
    return (now or _utcnow()) - timedelta(days=days)


def backlog(session):
    """(unpublished count, age in seconds of the oldest unpublished row, highest id) of the outbox."""
    count, oldest = session.execute(select(func.count(), func.min(outbox.c.occurred_at))
                                    .where(outbox.c.published_at.is_(None))).one()
    age = (_utcnow() - _as_utc(oldest)).total_seconds() if oldest is not None else 0.0
    last_id = session.scalar(select(func.max(outbox.c.id)))
    return count, max(age, 0.0), last_id


def _headers(envelope_text):
    # nameko turns `nameko.<key>` headers into context data: the consumer's logs carry the request id.
    request_id = json.loads(envelope_text).get("request_id")
    return {"nameko.%s" % REQUEST_ID: request_id} if request_id else {}


class _WorkerOutbox:
    """What `self.outbox` is inside a worker."""

    def __init__(self, provider, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    def record(self, event_type, data, aggregate_id, group_id=None, version=1, actor=None):
        """Write the event in this worker's database transaction; returns the envelope.

        `actor`: the user id behind the change; by default the worker's signed-in caller, if any.
        """
        if actor is None:
            caller = getattr(self._worker_ctx.service, "caller", None)  # the kit's CallerProvider convention
            actor = getattr(caller, "actor_id", None)
        session = self._provider.database.sessions[self._worker_ctx]
        return record_event(session, self._provider.service_name, event_type, data, aggregate_id,
                            group_id=group_id, version=version, actor=actor,
                            request_id=self._worker_ctx.data.get(REQUEST_ID))


class Outbox(DependencyProvider):
    """`outbox = Outbox()` (next to `db = Database()`): records events and runs this replica's relay."""

    def setup(self):
        config = self.container.config
        self.service_name = self.container.service_name
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        self.ssl = config.get(AMQP_SSL_CONFIG_KEY)
        self.login_method = config.get(LOGIN_METHOD_CONFIG_KEY)
        self.exchange = get_event_exchange(self.service_name, config)
        self.poll_seconds = float(config.get("OUTBOX_POLL_SECONDS") or DEFAULT_POLL_SECONDS)
        self.database = find_database(self.container)
        self.database.commit_listeners.append(self._on_commit)
        self._wake = threading.Event()      # green under eventlet's monkey patch, like all of nameko
        self._stopping = threading.Event()
        self._relay = None

    def start(self):
        self._relay = self.container.spawn_managed_thread(self._relay_loop, identifier="outbox relay")

    def stop(self):
        # Let the relay finish the batch in hand (publish + mark) rather than re-send it next time.
        self._stopping.set()
        self._wake.set()
        if self._relay is not None and not self._relay.dead:
            with eventlet.Timeout(RELAY_STOP_SECONDS, False):
                self._relay.wait()

    def kill(self):
        if self._relay is not None:
            self._relay.kill()

    def get_dependency(self, worker_ctx):
        return _WorkerOutbox(self, worker_ctx)

    def _on_commit(self, info):
        if info.get("outbox_written"):
            self._wake.set()

    def _relay_loop(self):
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()  # before reading: a commit during the pass wakes the next wait at once
            try:
                sent = self.relay_once()
            except Exception as exc:  # broker or database down: never fatal; only confirmed rows were marked
                failures += 1
                delay = min(self.poll_seconds * 2 ** failures, MAX_BACKOFF_SECONDS)
                _log.warning("outbox relay of %s failed (%s: %s); retrying in %.1fs",
                             self.service_name, type(exc).__name__, exc, delay)
                self._stopping.wait(delay)
                continue
            failures = 0
            if sent < RELAY_BATCH:  # a full batch means there may be more: go straight on
                self._wake.wait(self.poll_seconds)

    def relay_once(self):
        """Publish one batch of committed, unpublished rows in id order; returns how many were sent."""
        session = self.database.new_session()
        try:
            claim = (select(outbox.c.id, outbox.c.event_type, outbox.c.envelope)
                     .where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(RELAY_BATCH))
            if is_postgresql(session):
                # Other replicas skip the rows this one holds, so a row goes out once in the normal case.
                claim = claim.with_for_update(skip_locked=True)
            rows = session.execute(claim).all()
            published = []
            if rows:
                try:
                    with get_producer(self.amqp_uri, True, self.ssl, self.login_method) as producer:
                        for row in rows:
                            self._send(producer, row)
                            published.append(row.id)
                            PUBLISHED.labels(self.service_name, row.event_type).inc()
                finally:
                    # Mark what the broker confirmed, even when a later row failed.
                    if published:
                        self._mark_published(session, published)
                        session.commit()
            session.rollback()  # an empty batch: end the read transaction
            count, age, _last_id = backlog(session)
            UNPUBLISHED.labels(self.service_name).set(count)
            LAG.labels(self.service_name).set(age)
            return len(published)
        finally:
            session.close()

    def _send(self, producer, row):
        """Publish one row and wait for the broker's confirm (raises if it is not confirmed)."""
        producer.publish(
            row.envelope, exchange=self.exchange, routing_key=row.event_type,
            content_type="application/json", content_encoding="utf-8", delivery_mode=PERSISTENT,
            headers=_headers(row.envelope), declare=[self.exchange],
            retry=True, retry_policy=DEFAULT_RETRY_POLICY, timeout=CONFIRM_TIMEOUT)

    def _mark_published(self, session, ids):
        session.execute(update(outbox).where(outbox.c.id.in_(ids)).values(published_at=_utcnow()))


# ---- operator commands ---------------------------------------------------------------------------

def service_name_from_config(config_path, config, explicit=None):
    """`--service`, else the config's SERVICE_NAME, else the directory of services/<svc>/config.yaml."""
    return (explicit or config.get("SERVICE_NAME")
            or os.path.basename(os.path.dirname(os.path.abspath(config_path))))


def _parse_time(text):
    """ISO-8601 date or datetime; naive values are UTC."""
    return _as_utc(datetime.fromisoformat(text))


def _ensure_queue(connection, name):
    """Use the queue as it is if it exists (whatever its arguments); else declare it durable."""
    channel = connection.channel()
    try:
        channel.queue_declare(queue=name, passive=True)
        channel.close()
    except connection.channel_errors:
        # The failed passive declare closed that channel.
        Queue(name, durable=True)(connection.channel()).declare()


def replay(session, amqp_uri, queue, from_id=None, to_id=None, since=None, until=None, event_type=None,
           ssl=None, login_method=None):
    """Publish a range of the outbox (published or not) to `queue`, in id order, with confirms.

    The bodies are the stored envelopes byte for byte, through the default exchange (routing key =
    queue). Returns how many were sent.
    """
    query = select(outbox.c.id, outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.id)
    if from_id is not None:
        query = query.where(outbox.c.id >= from_id)
    if to_id is not None:
        query = query.where(outbox.c.id <= to_id)
    if since is not None:
        query = query.where(outbox.c.occurred_at >= since)
    if until is not None:
        query = query.where(outbox.c.occurred_at < until)
    if event_type is not None:
        query = query.where(outbox.c.event_type == event_type)
    sent = 0
    with Connection(amqp_uri, ssl=ssl, login_method=login_method,
                    transport_options={"confirm_publish": True}) as connection:
        _ensure_queue(connection, queue)
        producer = connection.Producer()
        for row in session.execute(query.execution_options(yield_per=500)):
            producer.publish(row.envelope, exchange="", routing_key=queue, content_type="application/json",
                             content_encoding="utf-8", delivery_mode=PERSISTENT, headers=_headers(row.envelope),
                             timeout=CONFIRM_TIMEOUT)
            sent += 1
    return sent


def main(argv=None, out=None):
    from servicekit.config import load_config

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m servicekit.outbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    status_cmd = commands.add_parser("status", help="unpublished count, lag and last id")
    replay_cmd = commands.add_parser("replay", help="re-send a range of the outbox to a named queue")
    for command in (status_cmd, replay_cmd):
        command.add_argument("--config", required=True, help="the service's config.yaml")
        command.add_argument("--service", default=None,
                             help="service name (default: SERVICE_NAME in the config, else the config's directory)")
    replay_cmd.add_argument("--queue", required=True, help="target queue (declared durable if missing)")
    replay_cmd.add_argument("--from-id", type=int)
    replay_cmd.add_argument("--to-id", type=int)
    replay_cmd.add_argument("--since", type=_parse_time, help="ISO date/datetime, UTC if no offset (inclusive)")
    replay_cmd.add_argument("--until", type=_parse_time, help="ISO date/datetime, UTC if no offset (exclusive)")
    replay_cmd.add_argument("--event-type")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    service = service_name_from_config(args.config, config, args.service)
    engine = make_engine(config["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            from sqlalchemy.orm import Session
            session = Session(bind=connection)
            if args.command == "status":
                count, age, last_id = backlog(session)
                print("service: %s\nunpublished: %d\nlag_seconds: %.1f\nlast_id: %s"
                      % (service, count, age, last_id if last_id is not None else "-"), file=out)
            else:
                sent = replay(session, config[AMQP_URI_CONFIG_KEY], args.queue, from_id=args.from_id,
                              to_id=args.to_id, since=args.since, until=args.until, event_type=args.event_type,
                              ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
                print("replayed %d %s event(s) to queue %s" % (sent, service, args.queue), file=out)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    # Run the copy imported as `servicekit.outbox`, not this `__main__` one: the service modules the
    # commands import use that copy's classes (isinstance checks would otherwise find nothing).
    from servicekit.outbox import main as _main
    sys.exit(_main())
