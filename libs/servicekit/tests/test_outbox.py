"""The transactional outbox: envelopes and sequences, the relay (at least once, survives the broker),
retention, and the operator's replay/status commands. Real RabbitMQ (a vhost per test) and PostgreSQL."""
import io
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from unittest import mock

import eventlet
import pytest
from kombu.exceptions import OperationalError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from servicekit import outbox as outbox_module
from servicekit.db import make_engine
from servicekit.outbox import Outbox, prune, record_event
from servicekit.tables import outbox
from servicekit.testing import wait_for
from servicekit.testing.broker import body_text, collect_events, get_messages

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: no implicit path
import eventservices as svc  # noqa: E402

ENVELOPE_KEYS = {"event_id", "event_type", "version", "occurred_at", "aggregate_id", "sequence", "group_id",
                 "actor", "request_id", "data"}
PROJECTOR = "projector.on_family_changed"


def outbox_rows(engine):
    with engine.connect() as connection:
        return connection.execute(select(outbox).order_by(outbox.c.id)).all()


def test_record_event_writes_the_envelope_with_per_aggregate_sequences_and_refuses_unsafe_data(
        sqlite_kit_db_url):
    engine = make_engine(sqlite_kit_db_url)
    with Session(engine) as session:
        first = record_event(session, "orders", "family_changed", {"members": ["A"]}, "family:1",
                             group_id=100, actor="user-7", request_id="req-1")
        second = record_event(session, "orders", "family_changed", {"members": ["A", "B"]}, "family:1")
        other = record_event(session, "orders", "family_changed", {"members": ["C"]}, "family:2")
        with pytest.raises(TypeError, match="not JSON-safe"):
            record_event(session, "orders", "premium_changed", {"premium": Decimal("10.00")}, "family:1")
        with pytest.raises(TypeError, match="must be a dict"):
            record_event(session, "orders", "family_changed", ["A"], "family:1")
        assert session.info["outbox_written"] is True
        third = record_event(session, "orders", "family_changed", {"members": ["A"]}, "family:1")
        session.commit()

    assert [first["sequence"], second["sequence"], third["sequence"], other["sequence"]] == [1, 2, 3, 1]
    assert set(first) == ENVELOPE_KEYS
    assert (first["group_id"], first["actor"], first["request_id"]) == ("100", "user-7", "req-1")
    occurred = datetime.fromisoformat(first["occurred_at"])
    assert occurred.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - occurred) < timedelta(minutes=1)
    rows = outbox_rows(engine)
    assert [json.loads(row.envelope) for row in rows] == [first, second, other, third]
    assert all(row.published_at is None for row in rows)
    engine.dispose()


def test_prune_deletes_only_old_published_rows(sqlite_kit_db_url):
    engine = make_engine(sqlite_kit_db_url)
    long_ago = datetime.now(timezone.utc) - timedelta(days=200)
    with Session(engine) as session:
        ids = []
        for n in range(4):
            record_event(session, "orders", "family_changed", {"n": n}, "family:%d" % n)
        session.commit()
        ids = [row.id for row in outbox_rows(engine)]
        # 0: old + published -> pruned; 1: old, never published -> kept; 2: recent + published; 3: recent.
        session.execute(update(outbox).where(outbox.c.id.in_(ids[:2])).values(occurred_at=long_ago))
        session.execute(update(outbox).where(outbox.c.id.in_([ids[0], ids[2]]))
                        .values(published_at=datetime.now(timezone.utc)))
        session.commit()
        assert prune(session, outbox_module.retention_cutoff({"OUTBOX_RETENTION_DAYS": 90})) == 1
        session.commit()
    assert [row.id for row in outbox_rows(engine)] == ids[1:]
    engine.dispose()


def test_concurrent_workers_get_consecutive_sequences_for_one_aggregate(container_factory, config, engine):
    orders = container_factory(svc.Orders, config)
    orders.start()
    with ServiceRpcProxy("orders", config, timeout=20) as proxy:
        # Every call holds its transaction open a moment, so up to 10 workers race for the next number.
        calls = [proxy.change_family.call_async("F1", ["member-%d" % n], hold_seconds=0.05) for n in range(20)]
        envelopes = [call.result() for call in calls]
    assert sorted(envelope["sequence"] for envelope in envelopes) == list(range(1, 21))
    rows = outbox_rows(engine)
    assert sorted(row.sequence for row in rows) == list(range(1, 21))
    assert len({row.event_id for row in rows}) == 20


def test_relay_killed_between_publish_and_mark_resends_and_the_consumer_applies_once(
        container_factory, config, engine):
    projector = container_factory(svc.Projector, config)
    projector.start()
    applied_before = svc.consumed(PROJECTOR, "applied")
    duplicates_before = svc.consumed(PROJECTOR, "duplicate")
    reached_mark = eventlet.event.Event()

    def dies_before_marking(relay, session, ids):
        if not reached_mark.ready():
            reached_mark.send(ids)
        eventlet.sleep(60)  # the process "dies" here: the test kills the container

    with collect_events(config["AMQP_URI"], "orders.events", svc.FAMILY_CHANGED) as seen:
        with mock.patch.object(Outbox, "_mark_published", dies_before_marking):
            orders = container_factory(svc.Orders, config)
            orders.start()
            with ServiceRpcProxy("orders", config, timeout=10) as proxy:
                envelope = proxy.change_family("F7", ["Ann", "Bo"])
            with eventlet.Timeout(10):
                reached_mark.wait()
            assert seen.wait_for(1) == [envelope]  # the broker has it ...
            orders.kill()
        assert outbox_rows(engine)[0].published_at is None  # ... but the outbox does not know

        restarted = container_factory(svc.Orders, config)
        restarted.start()
        assert seen.wait_for(2) == [envelope, envelope]  # sent again, the same envelope
        wait_for(lambda: outbox_rows(engine)[0].published_at is not None, message="row marked published")

    wait_for(lambda: svc.consumed(PROJECTOR, "duplicate") == duplicates_before + 1, message="duplicate seen")
    assert svc.consumed(PROJECTOR, "applied") == applied_before + 1
    assert [row.event_id for row in svc.applied_events(engine, PROJECTOR)] == [envelope["event_id"]]


def test_relay_backs_off_while_the_broker_fails_and_never_marks_what_was_not_sent(
        container_factory, config, engine):
    config["OUTBOX_POLL_SECONDS"] = 0.1
    real_send = Outbox._send
    failures = []

    def broker_down_twice(relay, producer, row):
        if len(failures) < 2:
            failures.append(outbox_rows(engine)[0].published_at)
            raise OperationalError("connection refused")
        return real_send(relay, producer, row)

    with collect_events(config["AMQP_URI"], "orders.events", svc.FAMILY_CHANGED) as seen:
        with mock.patch.object(Outbox, "_send", broker_down_twice):
            orders = container_factory(svc.Orders, config)
            orders.start()
            with ServiceRpcProxy("orders", config, timeout=10) as proxy:
                envelope = proxy.change_family("F8", ["Cy"])
            wait_for(lambda: outbox_rows(engine)[0].published_at is not None, message="published after outage")
        assert failures == [None, None]  # nothing marked while sending failed
        assert orders.started  # the relay's failures did not kill the service
        assert seen.wait_for(1) == [envelope]
        eventlet.sleep(0.3)
        assert len(seen.bodies) == 1  # sent once, once the broker came back


def test_replay_sends_a_range_of_the_outbox_to_a_named_queue_and_status_reports_the_backlog(
        rabbit_config, kit_db_url, engine, tmp_path):
    with Session(engine) as session:
        for family, event_type in [("1", "family_changed"), ("2", "family_changed"), ("1", "premium_changed"),
                                   ("1", "family_changed"), ("3", "family_changed")]:
            record_event(session, "orders", event_type, {"family": family}, "family:%s" % family)
        session.commit()
        rows = outbox_rows(engine)
        ids = [row.id for row in rows]
        session.execute(update(outbox).where(outbox.c.id == ids[1])
                        .values(occurred_at=datetime.now(timezone.utc) - timedelta(days=10)))
        session.execute(update(outbox).where(outbox.c.id.in_(ids[:2])).values(published_at=datetime.now(timezone.utc)))
        session.commit()
    path = svc.write_config(tmp_path / "services" / "orders",
                            {"AMQP_URI": rabbit_config["AMQP_URI"], "DATABASE_URL": kit_db_url})

    out = io.StringIO()
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    outbox_module.main(["replay", "--config", path, "--queue", "carrier.catchup", "--from-id", str(ids[0]),
                        "--to-id", str(ids[3]), "--event-type", "family_changed", "--since", since], out=out)
    assert out.getvalue().strip() == "replayed 2 orders event(s) to queue carrier.catchup"
    received = get_messages(rabbit_config, "carrier.catchup")
    # rows 0 and 3: row 1 is too old, row 2 another type, row 4 past --to-id; same bytes, id order
    assert [body_text(message) for message in received] == [rows[0].envelope, rows[3].envelope]
    assert all(message.content_type == "application/json" for message in received)

    out = io.StringIO()
    outbox_module.main(["status", "--config", path], out=out)
    status = dict(line.split(": ", 1) for line in out.getvalue().splitlines())
    assert status["service"] == "orders"
    assert status["unpublished"] == "3"
    assert status["last_id"] == str(ids[-1])
    assert 0 <= float(status["lag_seconds"]) < 60


def test_sqlite_smoke_outbox_to_consumer(container_factory, rabbit_config, sqlite_kit_db_url):
    svc.reset()
    config = svc.service_config(rabbit_config, sqlite_kit_db_url)
    engine = make_engine(sqlite_kit_db_url)
    container_factory(svc.Projector, config).start()
    container_factory(svc.Orders, config).start()
    with ServiceRpcProxy("orders", config, timeout=10) as proxy:
        first = proxy.change_family("S1", ["Dee"])
        second = proxy.change_family("S1", ["Dee", "Eve"])
    assert (first["sequence"], second["sequence"]) == (1, 2)
    wait_for(lambda: svc.state_of(engine, PROJECTOR, "family:S1") == ("Dee,Eve", 2), message="projection")
    wait_for(lambda: all(row.published_at is not None for row in outbox_rows(engine)), message="all marked")
    engine.dispose()


def test_record_events_writes_the_rows_record_event_writes_in_batches(sqlite_kit_db_url):
    from servicekit.outbox import record_events

    engine = make_engine(sqlite_kit_db_url)
    with Session(engine) as session:
        record_event(session, "orders", "family_changed", {"n": 0}, "family:1")
        envelopes = record_events(session, "orders", [
            {"event_type": "family_changed", "data": {"n": n}, "aggregate_id": "family:%d" % n, "group_id": 7}
            for n in range(1, 6)], actor="u-1", request_id="r-1", batch_size=2)
        session.commit()
        rows = session.execute(select(outbox).order_by(outbox.c.id)).all()
    assert [(row.aggregate_id, row.sequence) for row in rows] == [
        ("family:1", 1), ("family:1", 2), ("family:2", 1), ("family:3", 1), ("family:4", 1), ("family:5", 1)]
    assert [json.loads(row.envelope) for row in rows[1:]] == envelopes
    assert envelopes[0]["group_id"] == "7" and envelopes[0]["actor"] == "u-1" and envelopes[0]["request_id"] == "r-1"
    with pytest.raises(ValueError):
        with Session(engine) as session:
            record_events(session, "orders", [{"event_type": "x", "data": {}, "aggregate_id": "a"}] * 2)
    engine.dispose()
