"""The Database provider behind the kit's rpc: overlapping queries under eventlet, commit before reply,
rollback on error, a failed commit reported to the caller; on PostgreSQL and on the SQLite default."""
import time

import eventlet
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, event, insert, select, text
from sqlalchemy.orm import Session

from servicekit.db import Database, find_database, is_postgresql, make_engine
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, problem_from_remote

test_metadata = MetaData()
plans = Table("plans", test_metadata, Column("id", Integer, primary_key=True))
notes = Table(
    "notes", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", String(100), nullable=False),
    # Checked at COMMIT, not at INSERT: lets a test make the commit itself fail.
    Column("plan_id", Integer, ForeignKey("plans.id", deferrable=True, initially="DEFERRED")),
)


class NotesService:
    name = "notes_test"
    db = Database()

    @rpc
    def add_note(self, note):
        self.db.execute(insert(notes).values(text=note))
        return "saved"

    @rpc
    def add_note_then_refuse(self, note):
        self.db.execute(insert(notes).values(text=note))
        raise Conflict("a note like this exists")

    @rpc
    def add_note_then_crash(self, note):
        self.db.execute(insert(notes).values(text=note))
        raise RuntimeError("bug after the write")

    @rpc
    def add_note_for_missing_plan(self, note):
        self.db.execute(insert(notes).values(text=note, plan_id=999))
        return "saved"  # the handler succeeds; only the commit fails

    @rpc
    def sleep_in_database(self):
        self.db.execute(text("SELECT pg_sleep(1)"))
        return is_postgresql(self.db)


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request):
    url = request.getfixturevalue("kit_db_url" if request.param == "postgresql" else "sqlite_kit_db_url")
    engine = make_engine(url)
    test_metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def notes_service(container_factory, rabbit_config, db_url):
    container = container_factory(NotesService, dict(rabbit_config, DATABASE_URL=db_url))
    container.start()
    return container


@pytest.fixture
def saved_notes(db_url):
    engine = make_engine(db_url)

    def read():
        with Session(engine) as session:
            return session.execute(select(notes.c.text).order_by(notes.c.id)).scalars().all()
    yield read
    engine.dispose()


def test_a_write_is_committed_before_the_reply(notes_service, rabbit_config, saved_notes):
    # Make every commit slow: if the provider committed after replying (worker_teardown), the
    # reply would arrive while the row is still invisible to everyone else.
    @event.listens_for(find_database(notes_service).engine, "commit")
    def slow_commit(_connection):
        eventlet.sleep(0.3)

    with ServiceRpcProxy("notes_test", rabbit_config, timeout=10) as notes_rpc:
        assert notes_rpc.add_note("first") == "saved"
        assert saved_notes() == ["first"]
        assert notes_rpc.add_note("second") == "saved"
        assert saved_notes() == ["first", "second"]


@pytest.mark.parametrize("method, error_type", [("add_note_then_refuse", "Conflict"),
                                                 ("add_note_then_crash", "RuntimeError")])
def test_a_write_is_rolled_back_when_the_entrypoint_raises(notes_service, rabbit_config, saved_notes,
                                                           method, error_type):
    with ServiceRpcProxy("notes_test", rabbit_config, timeout=10) as notes_rpc:
        with pytest.raises(RemoteError) as caught:
            getattr(notes_rpc, method)("lost")
        assert caught.value.exc_type == error_type
        assert saved_notes() == []
        # The container carries on: the next call's transaction is clean and commits.
        assert notes_rpc.add_note("kept") == "saved"
    assert saved_notes() == ["kept"]
    if error_type == "Conflict":
        assert problem_from_remote(caught.value.value)["status"] == 409


def test_a_failed_commit_is_the_callers_error(notes_service, rabbit_config, saved_notes):
    with ServiceRpcProxy("notes_test", rabbit_config, timeout=10) as notes_rpc:
        with pytest.raises(RemoteError) as caught:
            notes_rpc.add_note_for_missing_plan("orphan")
        assert caught.value.exc_type == "IntegrityError"
        assert notes_rpc.add_note("kept") == "saved"
    assert saved_notes() == ["kept"]


def test_slow_queries_of_two_workers_overlap_on_postgresql(container_factory, rabbit_config, kit_db_url):
    # A driver that blocks the eventlet hub would run these one after the other (>= 2 s).
    container = container_factory(NotesService, dict(rabbit_config, DATABASE_URL=kit_db_url))
    container.start()
    proxies = [ServiceRpcProxy("notes_test", rabbit_config, timeout=10) for _ in range(2)]
    clients = [proxy.start() for proxy in proxies]  # one client per green thread: they are not shareable
    try:
        started = time.monotonic()
        calls = [eventlet.spawn(client.sleep_in_database) for client in clients]
        assert [call.wait() for call in calls] == [True, True]
        elapsed = time.monotonic() - started
    finally:
        for proxy in proxies:
            proxy.stop()
    assert 1.0 <= elapsed < 1.6, "two 1-second queries took %.2f s" % elapsed
