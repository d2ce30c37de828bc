"""How a carrier system subscribes to the portal's events: bind your own durable queue to a service's
`<service>.events` topic exchange, for the event types you want, and ack what you have stored.

    python examples/carrier_subscriber.py --service roster --events subscriber_enrolled coverage_terminated
    python examples/carrier_subscriber.py --service messaging --events '#'     # everything messaging says

Each message body is the JSON envelope: event_id, event_type, version, occurred_at, aggregate_id,
sequence, group_id, actor, request_id, data. Delivery is at least once: remember the event_ids you
have applied, and for one aggregate apply only a sequence newer than the one you hold.
To catch up on history, ask the operator to replay the outbox to your queue:
    python -m servicekit.outbox replay --config services/roster/config.yaml --queue carrier.eligibility --since 2026-11-01
"""
import argparse
import json

from kombu import Connection, Exchange, Queue, binding


def subscription(service, event_types, queue_name):
    exchange = Exchange("%s.events" % service, type="topic", durable=True)
    return Queue(queue_name, durable=True,
                 bindings=[binding(exchange, routing_key=event_type) for event_type in event_types])


def consume(amqp_uri, queue, handle, limit=None, timeout=None):
    """Call handle(envelope) for each message; ack only after it returns (so nothing is lost)."""
    handled = 0
    with Connection(amqp_uri) as connection:
        def on_message(body, message):
            nonlocal handled
            envelope = body if isinstance(body, dict) else json.loads(body)
            handle(envelope)
            message.ack()
            handled += 1

        with connection.Consumer(queue, callbacks=[on_message], accept=["json"]):
            while limit is None or handled < limit:
                connection.drain_events(timeout=timeout)
    return handled


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp-uri", default="amqp://guest:guest@localhost:5672/")
    parser.add_argument("--service", required=True, help="identity, roster, billing or messaging")
    parser.add_argument("--events", nargs="+", default=["#"], help="event types (routing keys); '#' for all")
    parser.add_argument("--queue", default=None, help="your durable queue (default carrier.<service>)")
    args = parser.parse_args()
    queue = subscription(args.service, args.events, args.queue or "carrier.%s" % args.service)
    consume(args.amqp_uri, queue, lambda envelope: print(json.dumps(envelope), flush=True))


if __name__ == "__main__":
    main()
