"""Consuming events: exactly-once effects over at-least-once delivery, ordering by sequence, retries
with back-off into a dead-letter queue an operator can list and replay, and queues declared before a
consumer first runs. Real RabbitMQ (a vhost per test) and PostgreSQL."""
import io
import json
import os
import subprocess
import sys

from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import REGISTRY

from servicekit import events
from servicekit.testing import wait_for
from servicekit.testing.broker import (collect_events, get_messages, make_envelope, publish_event,
                                       queue_depth)

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: no implicit path
import eventservices as svc  # noqa: E402

PROJECTOR = "projector.on_family_changed"
FLAKY = "flaky.on_family_changed"
LATE = "late.on_family_changed"
PROJECTOR_QUEUE = "evt-orders-family_changed--projector.on_family_changed"
FLAKY_QUEUE = "evt-orders-family_changed--flaky.on_family_changed"
LATE_QUEUE = "evt-orders-family_changed--late.on_family_changed"


def family(members, aggregate="family:9", sequence=1, **kwargs):
    return make_envelope(svc.FAMILY_CHANGED, {"family_id": aggregate, "members": members}, aggregate, sequence,
                         **kwargs)


def test_outbox_event_reaches_a_consumer_whose_effect_happens_once_although_delivered_twice(
        container_factory, config, engine):
    # A poll this long means the event can only arrive in time through the relay's wake-up on commit.
    config["OUTBOX_POLL_SECONDS"] = 30
    container_factory(svc.Projector, config).start()
    applied_before = svc.consumed(PROJECTOR, "applied")
    duplicates_before = svc.consumed(PROJECTOR, "duplicate")
    orders = container_factory(svc.Orders, config)
    orders.start()

    with collect_events(config["AMQP_URI"], "orders.events", svc.FAMILY_CHANGED) as seen:
        with ServiceRpcProxy("orders", config, timeout=10, context_data={"request_id": "req-42"}) as proxy:
            envelope = proxy.change_family("F1", ["Ann", "Bo"])
        wait_for(lambda: svc.state_of(engine, PROJECTOR, "family:F1") == ("Ann,Bo", 1), timeout=5,
                 message="projection")
        message = seen.wait_for(1) and seen.messages[0]
    assert envelope["request_id"] == "req-42" and envelope["sequence"] == 1
    assert message.content_type == "application/json"
    assert message.properties["delivery_mode"] == 2
    assert message.headers["nameko.request_id"] == "req-42"
    wait_for(lambda: svc.PLAIN_BODIES, message="plain nameko handler")
    assert svc.PLAIN_BODIES == [envelope]  # nameko's own @event_handler reads the same exchange and body

    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, envelope)  # delivered again
    wait_for(lambda: svc.consumed(PROJECTOR, "duplicate") == duplicates_before + 1, message="duplicate")
    assert svc.consumed(PROJECTOR, "applied") == applied_before + 1
    assert [row.event_id for row in svc.applied_events(engine, PROJECTOR)] == [envelope["event_id"]]
    assert queue_depth(config, PROJECTOR_QUEUE) == 0


def test_events_of_one_aggregate_out_of_order_leave_the_newest_state(container_factory, config, engine):
    container_factory(svc.Projector, config).start()
    stale_before = svc.consumed(PROJECTOR, "stale")

    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, family(["Ann", "Bo", "Cy"], sequence=3))
    wait_for(lambda: svc.state_of(engine, PROJECTOR, "family:9") == ("Ann,Bo,Cy", 3), message="sequence 3")
    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, family(["Ann", "Bo"], sequence=2))
    wait_for(lambda: svc.consumed(PROJECTOR, "stale") == stale_before + 1, message="sequence 2 skipped")
    assert svc.state_of(engine, PROJECTOR, "family:9") == ("Ann,Bo,Cy", 3)

    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, family(["Ann"], sequence=4))
    wait_for(lambda: svc.state_of(engine, PROJECTOR, "family:9") == ("Ann", 4), message="sequence 4")
    assert [row.sequence for row in svc.applied_events(engine, PROJECTOR)] == [3, 4]


def test_a_failing_consumer_retries_with_back_off_then_dead_letters_and_an_operator_replays_it(
        container_factory, config, engine, tmp_path):
    container_factory(svc.FlakyProjector, config).start()
    retried_before = svc.consumed(FLAKY, "retried")
    envelope = family(["Alice Example"], aggregate="family:42")
    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, envelope)

    wait_for(lambda: queue_depth(config, FLAKY_QUEUE + ".dlq") == 1, message="dead-lettered")
    attempts = list(svc.FLAKY_ATTEMPTS)
    assert len(attempts) == 3  # EVENT_MAX_ATTEMPTS
    # back-off: retry 1 waits 0.05 s, retry 2 waits 0.1 s (EVENT_RETRY_BASE_SECONDS x 2^(n-1))
    assert attempts[1] - attempts[0] >= 0.045 and attempts[2] - attempts[1] >= 0.09
    assert svc.consumed(FLAKY, "retried") == retried_before + 2
    for queue in (FLAKY_QUEUE, FLAKY_QUEUE + ".retry.1", FLAKY_QUEUE + ".retry.2"):
        assert queue_depth(config, queue) == 0, queue
    assert svc.applied_events(engine, FLAKY) == []  # every failed attempt rolled back

    path = svc.write_config(tmp_path / "services" / "flaky", config)
    out = io.StringIO()
    events.main(["dead-letters", "list", "--config", path], out=out)  # finds the DLQ through the management API
    listing = out.getvalue()
    assert FLAKY_QUEUE + ".dlq: 1 message(s)" in listing
    assert "event_id=%s" % envelope["event_id"] in listing and "x-attempts=3" in listing
    assert "x-error=RuntimeError: carrier feed unavailable" in listing
    assert "Alice" not in listing  # the data never leaves the queue
    assert REGISTRY.get_sample_value("dead_letters", {"queue": FLAKY_QUEUE + ".dlq"}) == 1
    assert queue_depth(config, FLAKY_QUEUE + ".dlq") == 1  # listing does not consume

    svc.FLAKY["failing"] = False  # the handler is fixed
    out = io.StringIO()
    events.main(["dead-letters", "replay", "--config", path, "--queue", FLAKY_QUEUE], out=out)
    assert out.getvalue().strip() == "moved 1 message(s) from %s.dlq to %s" % (FLAKY_QUEUE, FLAKY_QUEUE)
    wait_for(lambda: svc.applied_events(engine, FLAKY), message="applied after replay")
    assert [row.event_id for row in svc.applied_events(engine, FLAKY)] == [envelope["event_id"]]
    assert len(svc.FLAKY_ATTEMPTS) == 4
    assert queue_depth(config, FLAKY_QUEUE + ".dlq") == 0
    assert REGISTRY.get_sample_value("dead_letters", {"queue": FLAKY_QUEUE + ".dlq"}) == 0


def test_a_body_that_is_not_an_envelope_goes_straight_to_the_dead_letter_queue(container_factory, config):
    container_factory(svc.FlakyProjector, config).start()
    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, json.dumps({"hello": "world"}))
    wait_for(lambda: queue_depth(config, FLAKY_QUEUE + ".dlq") == 1, message="dead-lettered")
    [dead] = get_messages(config, FLAKY_QUEUE + ".dlq")
    assert dead.headers["x-error"].startswith("InvalidEnvelope: ")
    assert dead.headers["x-attempts"] == 0 and dead.headers["x-failed-at"]
    assert json.loads(dead.body) == {"hello": "world"}
    assert svc.FLAKY_ATTEMPTS == []  # never retried, the handler never ran


def test_events_published_before_a_consumer_first_runs_are_kept_once_declare_has_run(
        container_factory, config, engine, tmp_path):
    path = svc.write_config(tmp_path / "services" / "late", config)
    # The command exactly as `make run` and compose run it: a separate process, no service running.
    declared = subprocess.run(
        [sys.executable, "-m", "servicekit.events", "declare", "--config", path, "--service",
         "eventservices:LateProjector"], cwd=os.path.dirname(__file__), capture_output=True, text=True, timeout=60)
    assert declared.returncode == 0, declared.stderr
    assert "declared %s" % LATE_QUEUE in declared.stdout
    for queue in (LATE_QUEUE + ".retry.1", LATE_QUEUE + ".retry.2", LATE_QUEUE + ".dlq"):
        assert queue_depth(config, queue) == 0  # raises if the queue was not declared

    envelope = family(["Gus"], aggregate="family:7")
    publish_event(config["AMQP_URI"], "orders", svc.FAMILY_CHANGED, envelope)
    assert queue_depth(config, LATE_QUEUE) == 1  # kept, although no consumer has ever run

    # Starting declares the same queues again: any difference in name or arguments would fail here.
    container_factory(svc.LateProjector, config).start()
    wait_for(lambda: svc.applied_events(engine, LATE), message="consumed on first start")
    assert [row.event_id for row in svc.applied_events(engine, LATE)] == [envelope["event_id"]]
    assert queue_depth(config, LATE_QUEUE) == 0
