"""Broker helpers for tests: build and publish envelopes, watch an exchange, read a queue's depth.

Everything goes through kombu on its own connection, so a test can act as a producer, a consumer or
a carrier system next to the containers it started.
"""
import json
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from kombu import Connection, Exchange, Queue
from nameko.constants import PERSISTENT


def make_envelope(event_type, data, aggregate_id, sequence, event_id=None, version=1, group_id=None,
                  actor=None, request_id=None, occurred_at=None):
    """An envelope as the outbox writes it (pattern 7)."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "version": version,
        "occurred_at": (occurred_at or datetime.now(timezone.utc)).isoformat(),
        "aggregate_id": aggregate_id,
        "sequence": sequence,
        "group_id": group_id,
        "actor": actor,
        "request_id": request_id,
        "data": data,
    }


def _uri(rabbit_config_or_uri):
    if isinstance(rabbit_config_or_uri, dict):
        return rabbit_config_or_uri["AMQP_URI"]
    return rabbit_config_or_uri


def _events_exchange(source_service):
    return Exchange("%s.events" % source_service, type="topic", durable=True)


def publish_event(amqp_uri, source_service, event_type, envelope, headers=None):
    """Publish `envelope` (a dict, or raw text/bytes for malformed bodies) as `source_service` would:
    to `<source>.events`, routing key `event_type`, JSON, persistent, with confirms."""
    body = envelope if isinstance(envelope, (str, bytes)) else json.dumps(envelope)
    exchange = _events_exchange(source_service)
    with Connection(_uri(amqp_uri), transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(body, exchange=exchange, routing_key=event_type, declare=[exchange],
                                      content_type="application/json", content_encoding="utf-8",
                                      delivery_mode=PERSISTENT, headers=headers or {}, timeout=10)


def queue_depth(rabbit_config_or_uri, queue):
    """Messages ready in `queue` (passive declare: raises if the queue does not exist)."""
    with Connection(_uri(rabbit_config_or_uri)) as connection:
        return connection.channel().queue_declare(queue=queue, passive=True).message_count


def body_text(message):
    """A kombu message's body as text (py-amqp already decodes bodies that declare an encoding)."""
    body = message.body
    return body.decode(message.content_encoding or "utf-8") if isinstance(body, bytes) else body


def get_messages(rabbit_config_or_uri, queue, limit=1000):
    """Take (and ack) up to `limit` messages from `queue`; returns kombu messages, oldest first."""
    taken = []
    with Connection(_uri(rabbit_config_or_uri)) as connection:
        bound = Queue(queue)(connection.channel())
        while len(taken) < limit:
            message = bound.get(no_ack=True)
            if message is None:
                break
            taken.append(message)
    return taken


class Collected:
    """What a temporary queue bound by `collect_events` has received so far."""

    def __init__(self, queue):
        self._queue = queue
        self.messages = []

    def _drain(self):
        while True:
            message = self._queue.get(no_ack=True)
            if message is None:
                return
            self.messages.append(message)

    @property
    def bodies(self):
        """The received bodies, parsed from JSON, in arrival order."""
        self._drain()
        return [json.loads(message.body) for message in self.messages]

    @property
    def texts(self):
        """The received bodies as the text on the wire (to compare byte for byte with the outbox)."""
        self._drain()
        return [body_text(message) for message in self.messages]

    def wait_for(self, count, timeout=10.0):
        """Wait until at least `count` messages arrived; returns the bodies. Fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count:
            if time.monotonic() > deadline:
                raise AssertionError("received %d of %d messages within %ss" % (len(self.messages), count, timeout))
            time.sleep(0.05)
        return self.bodies


@contextmanager
def collect_events(amqp_uri, exchange, routing_key="#"):
    """Bind a temporary queue to `exchange` (a `<service>.events` name) for `routing_key`; yields a
    `Collected` whose `bodies` are what arrived while the block ran."""
    with Connection(_uri(amqp_uri)) as connection:
        channel = connection.channel()
        queue = Queue("test-collect-%s" % uuid.uuid4().hex, exchange=Exchange(exchange, type="topic", durable=True),
                      routing_key=routing_key, exclusive=True, auto_delete=True)(channel)
        queue.declare()
        yield Collected(queue)
