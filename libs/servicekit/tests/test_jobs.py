"""Jobs run once across replicas: claim() on both databases, SKIP LOCKED, and @scheduled in two containers."""
from datetime import date

import eventlet
import pytest
from nameko.dependency_providers import Config
from prometheus_client import REGISTRY
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from servicekit import clock
from servicekit.db import Database, make_engine
from servicekit.jobs import claim, mark_done, scheduled, skip_locked
from servicekit.tables import job_runs
from servicekit.testing import wait_for

AS_OF = date(2026, 3, 2)

test_metadata = MetaData()
job_effects = Table(  # what a job body does: one row each time it really runs
    "job_effects", test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("replica", String(10), nullable=False),
)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request):
    url = request.getfixturevalue("kit_db_url" if request.param == "postgresql" else "sqlite_kit_db_url")
    engine = make_engine(url)
    test_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(kit_db_url):
    engine = make_engine(kit_db_url)
    test_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def business_date():
    clock.set_today(AS_OF)
    yield
    clock.reset()


def job_rows(engine, job=None):
    with Session(engine) as session:
        query = select(job_runs).order_by(job_runs.c.id)
        if job:
            query = query.where(job_runs.c.job == job)
        return session.execute(query).mappings().all()


def effects(engine, job):
    with Session(engine) as session:
        return session.execute(
            select(job_effects.c.as_of, job_effects.c.replica).where(job_effects.c.job == job)
            .order_by(job_effects.c.id)).all()


def job_count(job, outcome):
    return REGISTRY.get_sample_value("job_runs_total", {"job": job, "outcome": outcome}) or 0


# --- claim() ------------------------------------------------------------------------------------

def test_claim_once_per_job_unit_and_date(engine):
    with Session(engine) as session:
        assert claim(session, "age_off", "*", AS_OF, claimed_by="replica-a") is True
        assert claim(session, "age_off", "*", AS_OF) is False  # even in the same transaction
        session.commit()
    with Session(engine) as session:
        assert claim(session, "age_off", "*", AS_OF) is False
        assert claim(session, "age_off", "account-7", AS_OF) is True
        assert claim(session, "age_off", "*", date(2026, 3, 3)) is True
        assert claim(session, "invoice_run", "*", AS_OF) is True
        assert mark_done(session, "age_off", "account-7", AS_OF) is True
        session.commit()
    rows = {(row["job"], row["unit"], row["as_of"]): row for row in job_rows(engine)}
    assert len(rows) == 4
    first = rows[("age_off", "*", AS_OF)]
    assert (first["status"], first["claimed_by"], first["finished_at"]) == ("claimed", "replica-a", None)
    assert first["started_at"] is not None
    done = rows[("age_off", "account-7", AS_OF)]
    assert done["status"] == "done" and done["finished_at"] is not None


def test_a_rolled_back_claim_is_released(engine):
    # The claim is the first statement of the transaction, the case where a pysqlite SAVEPOINT
    # would have committed it on RELEASE and the job could never run again.
    with Session(engine) as session:
        assert claim(session, "age_off", "*", AS_OF) is True
        session.rollback()
    assert job_rows(engine) == []
    with Session(engine) as session:
        assert claim(session, "age_off", "*", AS_OF) is True
        session.commit()
    assert len(job_rows(engine)) == 1


@pytest.mark.parametrize("first_replica_commits", [True, False])
def test_concurrent_claim_waits_for_the_holder_on_postgresql(pg_engine, first_replica_commits):
    holder, contender = Session(pg_engine), Session(pg_engine)
    try:
        assert claim(holder, "invoice_run", "*", AS_OF, claimed_by="a") is True
        attempt = eventlet.spawn(claim, contender, "invoice_run", "*", AS_OF, claimed_by="b")
        eventlet.sleep(0.3)
        assert not attempt.dead, "the second claim must wait for the first transaction, not guess"
        if first_replica_commits:
            holder.commit()
        else:
            holder.rollback()  # the first job failed: the other replica may run it
        with eventlet.Timeout(5):
            assert attempt.wait() is (not first_replica_commits)
        contender.commit()
    finally:
        holder.close()
        contender.close()
    [row] = job_rows(pg_engine)
    assert row["claimed_by"] == ("a" if first_replica_commits else "b")


# --- skip_locked() ------------------------------------------------------------------------------

def test_skip_locked_lets_two_sessions_take_different_rows_on_postgresql(pg_engine):
    with Session(pg_engine) as session:
        for unit in ("account-1", "account-2", "account-3"):
            claim(session, "auto_pay", unit, AS_OF)
        session.commit()
    next_unit = select(job_runs.c.unit).where(job_runs.c.status == "claimed").order_by(job_runs.c.id).limit(1)
    first, second = Session(pg_engine), Session(pg_engine)
    try:
        statement = skip_locked(next_unit, first)
        assert "FOR UPDATE SKIP LOCKED" in str(statement.compile(pg_engine))
        assert first.execute(statement).scalar_one() == "account-1"
        with eventlet.Timeout(3):  # plain FOR UPDATE would block here until `first` ends
            assert second.execute(skip_locked(next_unit, second)).scalar_one() == "account-2"
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()


def test_skip_locked_leaves_the_statement_alone_on_sqlite(sqlite_kit_db_url):
    engine = make_engine(sqlite_kit_db_url)
    statement = select(job_runs.c.unit)
    with Session(engine) as session:
        assert skip_locked(statement, session) is statement
        assert session.execute(skip_locked(statement, session)).all() == []
    engine.dispose()


# --- @scheduled ---------------------------------------------------------------------------------

class NightlyService:
    name = "nightly_test"
    db = Database()
    config = Config()

    @scheduled("nightly_age_off", interval_seconds=0.05, eager=True)
    def run_age_off(self, as_of):
        self.db.execute(insert(job_effects).values(job="nightly_age_off", as_of=as_of,
                                                   replica=self.config["REPLICA"]))
        self.db.flush()
        # Long enough that the other replica's tick lands while this claim is still uncommitted.
        eventlet.sleep(0.3)


def test_scheduled_job_runs_once_per_as_of_across_two_replicas(container_factory, pg_engine, kit_db_url):
    job = "nightly_age_off"
    skipped_before, ran_before = job_count(job, "skipped"), job_count(job, "ran")
    replicas = [container_factory(NightlyService, {"DATABASE_URL": kit_db_url, "REPLICA": name})
                for name in ("a", "b")]
    for container in replicas:
        container.start()

    # Both replicas keep ticking every 50 ms; wait until each must have ticked several times.
    wait_for(lambda: job_count(job, "skipped") - skipped_before >= 10, timeout=10, message="skipped ticks")
    assert [row.as_of for row in effects(pg_engine, job)] == [AS_OF]
    assert job_count(job, "ran") - ran_before == 1

    clock.set_today(date(2026, 3, 3))  # the next business day: the job runs once more
    wait_for(lambda: len(effects(pg_engine, job)) == 2, timeout=10, message="the next day's run")
    skipped = job_count(job, "skipped")
    wait_for(lambda: job_count(job, "skipped") - skipped >= 10, timeout=10, message="skipped ticks")
    assert [row.as_of for row in effects(pg_engine, job)] == [AS_OF, date(2026, 3, 3)]
    assert job_count(job, "ran") - ran_before == 2

    runs = job_rows(pg_engine, job)
    assert [(row["unit"], row["as_of"], row["status"]) for row in runs] == [
        ("*", AS_OF, "done"), ("*", date(2026, 3, 3), "done")]
    assert all(row["finished_at"] is not None for row in runs)
    assert all(row["claimed_by"].startswith("nightly_test@") for row in runs)


flaky_attempts = []


class FlakyJobService:
    name = "flaky_job_test"
    db = Database()

    @scheduled("flaky_statement_run", interval_seconds=0.05)
    def run_statements(self, as_of):
        flaky_attempts.append(as_of)
        self.db.execute(insert(job_effects).values(job="flaky_statement_run", as_of=as_of, replica="a"))
        if len(flaky_attempts) == 1:
            raise RuntimeError("the carrier's rate table was not loaded yet")


def test_a_failed_job_rolls_back_its_claim_and_runs_again(container_factory, pg_engine, kit_db_url):
    job = "flaky_statement_run"
    del flaky_attempts[:]
    failed_before, ran_before = job_count(job, "failed"), job_count(job, "ran")
    container = container_factory(FlakyJobService, {"DATABASE_URL": kit_db_url})
    container.start()

    wait_for(lambda: job_count(job, "ran") - ran_before == 1, timeout=10, message="the retried run")
    wait_for(lambda: job_count(job, "skipped") > 0, timeout=10, message="a later, skipped tick")
    assert job_count(job, "failed") - failed_before == 1
    assert flaky_attempts == [AS_OF, AS_OF]  # the body ran twice; the skipped tick did not call it
    assert effects(pg_engine, job) == [(AS_OF, "a")]  # the failed attempt's write was rolled back
    [run] = job_rows(pg_engine, job)
    assert run["status"] == "done"


class NoDatabaseService:
    name = "no_database_test"

    @scheduled("orphan", interval_seconds=60)
    def run_orphan(self, as_of):
        pass


def test_a_scheduled_job_needs_a_database(container_factory):
    container = container_factory(NoDatabaseService, {})
    with pytest.raises(LookupError, match="Database"):
        container.start()
