"""Consuming events: the envelope, the `consumer` entrypoint, retries and dead letters (patterns 2, 3, 7).

    class BillingService:
        name = "billing"
        db = Database()

        @consumer("roster", "family_changed")
        def on_family_changed(self, envelope):
            family = FamilyChanged().load(envelope["data"])   # billing's own consumes.py schema
            ...

Per message, in the worker's database transaction:
  1. `(consumer, event_id)` already in `processed_events` -> a redelivery: nothing happens ("duplicate");
  2. otherwise it is inserted there, with the effect;
  3. with `ordered=True` (the default), if `consumer_positions` already holds a sequence >= the
     envelope's for this aggregate, the event is older than what was applied: skipped ("stale");
     otherwise the position moves up and the handler runs ("applied").
The transaction commits before the message is acked. The consumer name is `<service>.<function name>`.

Nothing is acked away on failure. A handler (or commit) that raises sends the message, with header
`x-attempts = n`, to `<queue>.retry.<n>`, a queue whose TTL (EVENT_RETRY_BASE_SECONDS x 2^(n-1))
dead-letters it back to `<queue>`; after EVENT_MAX_ATTEMPTS attempts it goes to `<queue>.dlq` with
`x-error` and `x-failed-at`. A body that is not an envelope goes to the DLQ at once. Each copy is
published with confirms before the original is acked.

The queue is nameko's SERVICE_POOL queue `evt-<source>-<event_type>--<service>.<method>` on the
source's `<source>.events` exchange. The entrypoint declares it, its retry queues and its DLQ at
start-up; `declare` does the same without starting the service, so events published before a
consumer first runs are kept. The retry queues' TTLs are queue arguments: after changing
EVENT_RETRY_BASE_SECONDS or EVENT_MAX_ATTEMPTS, delete the `.retry.<n>` queues (when empty) first.

    python -m servicekit.events declare --config services/billing/config.yaml --service billing.service:BillingService
    python -m servicekit.events dead-letters list --config services/billing/config.yaml [--queue Q]
    python -m servicekit.events dead-letters replay --config services/billing/config.yaml --queue Q [--limit N]

`list` without `--queue` asks the RabbitMQ management API (config RABBIT_MANAGEMENT_URL, default
http://<user>:<password>@<amqp host>:15672) for the `*.dlq` queues of the service (`--service`, else
SERVICE_NAME, else the config's directory name).
"""
import argparse
import functools
import importlib
import inspect
import json
import logging
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlparse

from kombu import Connection, Queue
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from nameko.amqp.publish import get_connection, get_producer
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_RETRY_POLICY,
                              LOGIN_METHOD_CONFIG_KEY, PERSISTENT)
from nameko.events import SERVICE_POOL, EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange

from servicekit import metrics
from servicekit.db import Database, find_database, finish_transactions, is_postgresql
from servicekit.tables import consumer_positions, processed_events

_log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_BASE_SECONDS = 2.0
CONFIRM_TIMEOUT = 10         # seconds to wait for the broker's confirm of a retry / dead-letter copy
REQUEUE_PAUSE_SECONDS = 1.0  # when even the retry copy cannot be published: pause, then give it back
MAX_ERROR_LENGTH = 500

APPLIED, DUPLICATE, STALE, RETRIED, DEAD_LETTERED = "applied", "duplicate", "stale", "retried", "dead_lettered"

CONSUMED = metrics.counter("events_consumed_total", "Event deliveries by consumer and outcome.",
                           ["consumer", "outcome"])
DEAD_LETTERS = metrics.gauge("dead_letters", "Messages waiting in a dead-letter queue.", ["queue"])

# Retry bookkeeping lives in these headers; it is not context data to pass on with RPCs and events.
_BOOKKEEPING_PREFIXES = ("x-attempts", "x-error", "x-failed-at", "x-death", "x-first-death", "x-last-death")


def _must_be_uuid(value):
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        raise ValidationError("Not a valid UUID.") from None


class Envelope(Schema):
    """What every event looks like on the wire (pattern 7). `data` stays a dict: each consumer loads
    it with its own schema from consumes.py."""

    class Meta:
        unknown = EXCLUDE

    event_id = fields.String(required=True, validate=_must_be_uuid)
    event_type = fields.String(required=True, validate=validate.Length(min=1))
    version = fields.Integer(required=True, strict=True)
    occurred_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    aggregate_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    sequence = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    group_id = fields.String(load_default=None, allow_none=True)
    actor = fields.String(load_default=None, allow_none=True)
    request_id = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(keys=fields.String(), required=True)


# ---- topology ------------------------------------------------------------------------------------

def consumer_queue(source_service, event_type, service_name, method_name, config):
    """The consumer's queue, named, bound and durable exactly as nameko's SERVICE_POOL event handler."""
    name = "evt-{}-{}--{}.{}".format(source_service, event_type, service_name, method_name)
    return Queue(name, exchange=get_event_exchange(source_service, config), routing_key=event_type, durable=True)


def retry_queue(queue_name, attempt, base_seconds):
    """`<queue>.retry.<n>`: holds a failed message for base x 2^(n-1) seconds, then hands it back."""
    ttl_ms = max(1, int(round(base_seconds * 2 ** (attempt - 1) * 1000)))
    return Queue("%s.retry.%d" % (queue_name, attempt), durable=True, queue_arguments={
        "x-message-ttl": ttl_ms, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue_name})


def dead_letter_queue(queue_name):
    return Queue("%s.dlq" % queue_name, durable=True)


def declare_topology(channel, queue, max_attempts, base_seconds):
    """Declare the source exchange, the queue and its binding, the retry queues and the DLQ."""
    queue(channel).declare()
    for attempt in range(1, max_attempts):
        retry_queue(queue.name, attempt, base_seconds)(channel).declare()
    dead_letter_queue(queue.name)(channel).declare()


def _retry_settings(config):
    return (int(config.get("EVENT_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS),
            float(config.get("EVENT_RETRY_BASE_SECONDS") or DEFAULT_RETRY_BASE_SECONDS))


def _attempts(headers):
    try:
        return int((headers or {}).get("x-attempts") or 0)
    except (TypeError, ValueError):
        return 0


def _carried_headers(headers):
    """The message's own headers (nameko context), without retry bookkeeping and broker x-death data."""
    return {key: value for key, value in (headers or {}).items() if not key.startswith(_BOOKKEEPING_PREFIXES)}


# ---- applying an event once ----------------------------------------------------------------------

def _dialect_insert(session, table):
    if is_postgresql(session.get_bind()):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def claim_event(session, consumer_name, envelope, ordered=True):
    """Decide, in the caller's transaction, whether this consumer applies the event: returns
    APPLIED (go ahead), DUPLICATE or STALE. Both records commit or roll back with the effect."""
    mark = _dialect_insert(session, processed_events).values(
        consumer=consumer_name, event_id=envelope["event_id"], processed_at=datetime.now(timezone.utc))
    # ON CONFLICT DO NOTHING: a concurrent redelivery waits for the other transaction and then sees it.
    if session.execute(mark.on_conflict_do_nothing()).rowcount == 0:
        return DUPLICATE
    if not ordered:
        return APPLIED
    position = _dialect_insert(session, consumer_positions).values(
        consumer=consumer_name, aggregate_id=envelope["aggregate_id"], sequence=envelope["sequence"])
    # Move the position up only if the event is newer; the upsert holds the row lock until commit, so
    # two workers with events of one aggregate cannot both think they are the newest.
    position = position.on_conflict_do_update(
        index_elements=[consumer_positions.c.consumer, consumer_positions.c.aggregate_id],
        set_={"sequence": position.excluded.sequence},
        where=consumer_positions.c.sequence < position.excluded.sequence,
    ).returning(consumer_positions.c.sequence)
    if session.execute(position).first() is None:
        return STALE
    return APPLIED


_session_attrs = {}


def _worker_session(service):
    """The worker's session: the service's `Database` attribute, which nameko has injected."""
    cls = type(service)
    if cls not in _session_attrs:
        found = [name for name, _ in inspect.getmembers(cls, lambda value: isinstance(value, Database))]
        if not found:
            raise LookupError("%s has an event consumer but no servicekit.db.Database dependency" % cls.__name__)
        _session_attrs[cls] = found[0]
    return getattr(service, _session_attrs[cls])


class EventConsumer(EventHandler):
    """nameko's SERVICE_POOL event handler, made reliable: commit before ack, retries, dead letters."""

    def __init__(self, source_service, event_type, ordered=True, **kwargs):
        self.ordered = ordered
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL, reliable_delivery=True,
                         requeue_on_error=False, **kwargs)

    def setup(self):
        config = self.container.config
        find_database(self.container)  # fail at start-up, not on the first message
        self.consumer_name = "%s.%s" % (self.container.service_name, self.method_name)
        self.max_attempts, self.retry_base = _retry_settings(config)
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        self.ssl = config.get(AMQP_SSL_CONFIG_KEY)
        self.login_method = config.get(LOGIN_METHOD_CONFIG_KEY)
        # Same queue as EventHandler.setup builds; built here so the `declare` command shares the code.
        self.queue = consumer_queue(self.source_service, self.event_type, self.container.service_name,
                                    self.method_name, config)
        with get_connection(self.amqp_uri, self.ssl, self.login_method) as connection:
            declare_topology(connection.channel(), self.queue, self.max_attempts, self.retry_base)
        Consumer.setup(self)  # register with the QueueConsumer

    def handle_message(self, body, message):
        try:
            envelope = Envelope().load(body)
        except ValidationError as exc:
            # It will never load however often it is retried: straight to the dead-letter queue.
            self._move_on(message, _attempts(message.headers), "InvalidEnvelope: %s" % (exc.messages,),
                          hopeless=True)
            return
        context_data = _carried_headers(self.unpack_message_headers(message))
        try:
            self.container.spawn_worker(self, (envelope,), {}, context_data=context_data,
                                        handle_result=functools.partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        exc_info = finish_transactions(worker_ctx, exc_info)  # commit (or roll back) BEFORE the ack
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            CONSUMED.labels(self.consumer_name, result if result in (DUPLICATE, STALE) else APPLIED).inc()
        else:
            error = "%s: %s" % (type(exc_info[1]).__name__, exc_info[1])
            self._move_on(message, _attempts(message.headers) + 1, error)
        return result, exc_info

    def _move_on(self, message, attempts, error, hopeless=False):
        """Send a failed message to its next retry queue, or to the DLQ when attempts are used up (or
        it is `hopeless`); ack the original only once the copy is confirmed."""
        headers = _carried_headers(message.headers)
        headers["x-attempts"] = attempts
        if attempts < self.max_attempts and not hopeless:
            target, outcome = retry_queue(self.queue.name, attempts, self.retry_base), RETRIED
        else:
            headers["x-error"] = error[:MAX_ERROR_LENGTH]
            headers["x-failed-at"] = datetime.now(timezone.utc).isoformat()
            target, outcome = dead_letter_queue(self.queue.name), DEAD_LETTERED
        try:
            with get_producer(self.amqp_uri, True, self.ssl, self.login_method) as producer:
                producer.publish(message.body, exchange="", routing_key=target.name, headers=headers,
                                 content_type=message.content_type, content_encoding=message.content_encoding,
                                 delivery_mode=PERSISTENT, declare=[target], retry=True,
                                 retry_policy=DEFAULT_RETRY_POLICY, timeout=CONFIRM_TIMEOUT)
                if outcome == DEAD_LETTERED:
                    depth = producer.channel.queue_declare(queue=target.name, passive=True).message_count
                    DEAD_LETTERS.labels(target.name).set(depth)
        except Exception:
            # No confirmed copy: the original must not be acked. Give it back to the queue after a pause.
            _log.exception("%s: could not move a failed message to %s; requeueing it", self.consumer_name,
                           target.name)
            time.sleep(REQUEUE_PAUSE_SECONDS)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)
        CONSUMED.labels(self.consumer_name, outcome).inc()
        log = _log.error if outcome == DEAD_LETTERED else _log.warning
        log("%s: attempt %d failed (%s); moved to %s", self.consumer_name, attempts, error[:MAX_ERROR_LENGTH],
            target.name)


def consumer(source_service, event_type, ordered=True, **kwargs):
    """Decorate `def on_x(self, envelope)` as a reliable consumer of `source_service`'s `event_type`.

    The envelope reaches the handler only if this consumer has not applied that event_id yet and
    (with `ordered`) its sequence is newer than the last one applied for the aggregate. The raw
    handler is `Service.on_x.__wrapped__` for unit tests.
    """
    def decorate(handler):
        @functools.wraps(handler)
        def apply_once(service, envelope):
            session = _worker_session(service)
            outcome = claim_event(session, "%s.%s" % (service.name, handler.__name__), envelope, ordered)
            if outcome != APPLIED:
                return outcome
            handler(service, envelope)
            return APPLIED
        return EventConsumer.decorator(source_service, event_type, ordered=ordered, **kwargs)(apply_once)
    return decorate


# ---- operator commands ---------------------------------------------------------------------------

def event_consumers(service_cls):
    """(method name, unbound EventConsumer) for every consumer entrypoint of a service class."""
    found = []
    for method_name, method in inspect.getmembers(service_cls, callable):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, EventConsumer):
                found.append((method_name, entrypoint))
    return found


def declare_consumers(config, service_cls):
    """Declare every consumer queue of `service_cls` (with exchanges, retry queues and DLQs) without
    starting it; returns the queue names."""
    max_attempts, base = _retry_settings(config)
    names = []
    with Connection(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                    login_method=config.get(LOGIN_METHOD_CONFIG_KEY)) as connection:
        channel = connection.channel()
        for method_name, entrypoint in event_consumers(service_cls):
            queue = consumer_queue(entrypoint.source_service, entrypoint.event_type, service_cls.name,
                                   method_name, config)
            declare_topology(channel, queue, max_attempts, base)
            names.append(queue.name)
    return names


def _management_queue_names(config, service):
    """Names of the vhost's `*.dlq` queues of `service`'s consumers, from the RabbitMQ management API."""
    import requests

    uri = urlparse(config[AMQP_URI_CONFIG_KEY])
    base = config.get("RABBIT_MANAGEMENT_URL") or "http://%s:%s@%s:15672" % (
        uri.username or "guest", uri.password or "guest", uri.hostname or "localhost")
    vhost = unquote(uri.path[1:]) if len(uri.path) > 1 else "/"
    response = requests.get("%s/api/queues/%s" % (base.rstrip("/"), quote(vhost, safe="")),
                            params={"columns": "name"}, timeout=10)
    response.raise_for_status()
    suffix = "--%s." % service if service else ""
    return sorted(item["name"] for item in response.json()
                  if item["name"].endswith(".dlq") and suffix in item["name"])


def _peek(channel, queue_name, limit):
    """Up to `limit` messages of a queue, left in it: fetched unacked, returned when the channel closes."""
    bound = Queue(queue_name)(channel)
    messages = []
    while len(messages) < limit:
        message = bound.get(no_ack=False)
        if message is None:
            break
        messages.append(message)
    return messages


def _describe(message):
    try:
        body = json.loads(message.body)
    except (TypeError, ValueError):
        body = {}
    body = body if isinstance(body, dict) else {}
    headers = message.headers or {}
    return "event_id=%s event_type=%s x-attempts=%s x-failed-at=%s x-error=%s" % (
        body.get("event_id", "?"), body.get("event_type", "?"), headers.get("x-attempts", "?"),
        headers.get("x-failed-at", "?"), headers.get("x-error", "?"))


def _connect(config, confirms=False):
    return Connection(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                      login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
                      transport_options={"confirm_publish": confirms})


def _consumer_queue_name(queue):
    return queue[:-len(".dlq")] if queue.endswith(".dlq") else queue


def list_dead_letters(config, queue=None, service=None, limit=100, out=None):
    """Print each DLQ with its count and, per message, ids, attempts and error (never the data).

    Returns {dlq name: count}.
    """
    out = out or sys.stdout
    names = ([dead_letter_queue(_consumer_queue_name(queue)).name] if queue
             else _management_queue_names(config, service))
    counts = {}
    with _connect(config) as connection:
        for name in names:
            channel = connection.channel()
            try:
                count = channel.queue_declare(queue=name, passive=True).message_count
            except connection.channel_errors:
                print("%s: no such queue" % name, file=out)
                continue
            counts[name] = count
            DEAD_LETTERS.labels(name).set(count)
            print("%s: %d message(s)" % (name, count), file=out)
            for message in _peek(channel, name, min(count, limit)):
                print("  " + _describe(message), file=out)
            channel.close()  # hands the peeked messages back to the queue
    if not names:
        print("no dead-letter queues", file=out)
    return counts


def replay_dead_letters(config, queue, limit=None):
    """Move messages from `<queue>.dlq` back to `<queue>` with their attempts reset; returns how many.

    Each copy is confirmed by the broker before the dead letter is acked.
    """
    target = _consumer_queue_name(queue)
    dlq = dead_letter_queue(target).name
    moved = 0
    with _connect(config, confirms=True) as connection:
        # Publishing to the default exchange with an unknown routing key drops the message: check first.
        connection.channel().queue_declare(queue=target, passive=True)
        source = Queue(dlq)(connection.channel())
        producer = connection.Producer()
        while limit is None or moved < limit:
            message = source.get(no_ack=False)
            if message is None:
                break
            producer.publish(message.body, exchange="", routing_key=target,
                             headers=_carried_headers(message.headers), content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=PERSISTENT,
                             timeout=CONFIRM_TIMEOUT)
            message.ack()
            moved += 1
        DEAD_LETTERS.labels(dlq).set(connection.channel().queue_declare(queue=dlq, passive=True).message_count)
    return moved


def import_service(path):
    """`module:Class` -> the class, importing from the working directory first, as `nameko run` does."""
    module_name, _, class_name = path.partition(":")
    if not class_name:
        raise SystemExit("--service must be module:Class, e.g. billing.service:BillingService")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return getattr(importlib.import_module(module_name), class_name)


def main(argv=None, out=None):
    from servicekit.config import load_config
    from servicekit.outbox import service_name_from_config

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m servicekit.events", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    declare_cmd = commands.add_parser("declare", help="declare a service's consumer queues without starting it")
    declare_cmd.add_argument("--config", required=True)
    declare_cmd.add_argument("--service", required=True, help="module:Class of the nameko service")
    dead = commands.add_parser("dead-letters", help="list or replay dead-lettered events")
    dead_commands = dead.add_subparsers(dest="action", required=True)
    list_cmd = dead_commands.add_parser("list")
    list_cmd.add_argument("--config", required=True)
    list_cmd.add_argument("--queue", help="a consumer queue (or its .dlq); default: all of the service's")
    list_cmd.add_argument("--service", help="service name (default: SERVICE_NAME, else the config's directory)")
    list_cmd.add_argument("--limit", type=int, default=100, help="messages shown per queue")
    replay_cmd = dead_commands.add_parser("replay")
    replay_cmd.add_argument("--config", required=True)
    replay_cmd.add_argument("--queue", required=True, help="the consumer queue (or its .dlq)")
    replay_cmd.add_argument("--limit", type=int)
    args = parser.parse_args(argv)

    config = load_config(args.config)
    if args.command == "declare":
        names = declare_consumers(config, import_service(args.service))
        for name in names:
            print("declared %s (+ retry queues, dlq)" % name, file=out)
        if not names:
            print("%s has no servicekit.events.consumer entrypoints: nothing declared" % args.service, file=out)
    elif args.action == "list":
        list_dead_letters(config, queue=args.queue, limit=args.limit, out=out,
                          service=service_name_from_config(args.config, config, args.service))
    else:
        moved = replay_dead_letters(config, args.queue, limit=args.limit)
        print("moved %d message(s) from %s.dlq to %s" % (moved, _consumer_queue_name(args.queue),
                                                          _consumer_queue_name(args.queue)), file=out)
    return 0


if __name__ == "__main__":
    # Run the copy imported as `servicekit.events`, not this `__main__` one: the service modules the
    # commands import use that copy's classes (isinstance checks would otherwise find nothing).
    from servicekit.events import main as _main
    sys.exit(_main())
