"""Scheduled jobs that run once across replicas (pattern 5).

nameko's `@timer` fires in every replica, so a job first claims its unit of work: a row in
`job_runs`, unique on (job, unit, as_of). The claim is written in the job's own transaction, so it
commits together with the work it stands for: a job that raises (or a replica killed mid-job) rolls
its claim back, and the next tick, here or in another replica, runs it again.

While one replica's claim is uncommitted, PostgreSQL makes a second replica's INSERT wait on the
unique index; when the first commits, the second finds the conflict and skips. That is what makes
"exactly once per as_of" hold without any lock service.

    class BillingService:
        name = "billing"
        db = Database()

        @scheduled("invoice_run", interval_seconds=300)
        def run_invoices(self, as_of):
            ...  # as_of is clock.today() at the tick; self.db already holds the claim

A job that wants finer units (one per billing account) calls `claim(self.db, job, unit, as_of)`
per unit, or picks rows with `skip_locked(select(...), session)`.
"""
import functools
import logging
import os
import socket

from nameko.extensions import register_entrypoint
from nameko.timer import Timer
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from servicekit import clock
from servicekit.db import Database, find_database, finish_transactions, is_postgresql
from servicekit.metrics import counter
from servicekit.tables import job_runs

_log = logging.getLogger(__name__)

WHOLE_JOB = "*"  # the unit a @scheduled job claims: the whole job for that as_of

JOB_RUNS = counter("job_runs_total", "Scheduled job ticks by outcome (ran, skipped, failed).", ["job", "outcome"])

# What a scheduled handler returns (through its wrapper) when another replica already ran it.
_SKIPPED = object()


def _default_claimer():
    return "%s:%s" % (socket.gethostname(), os.getpid())


def claim(session, job, unit, as_of, claimed_by=None):
    """Claim (job, unit, as_of) in the session's transaction; False if someone already holds it.

    Uses INSERT ... ON CONFLICT DO NOTHING on both databases. On SQLite that replaces the
    savepoint-and-catch-IntegrityError form on purpose: with the pysqlite driver a SAVEPOINT that
    opens the transaction is committed by its RELEASE, so a claim made first thing in a job would
    survive the job's rollback (tests/test_jobs.py checks that a rolled-back claim is released).
    """
    row = dict(job=job, unit=str(unit), as_of=as_of, status="claimed",
               claimed_by=(claimed_by or _default_claimer())[:100], started_at=clock.utcnow())
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(job_runs).values(**row).on_conflict_do_nothing(
            index_elements=["job", "unit", "as_of"])
    elif dialect == "sqlite":
        statement = sqlite.insert(job_runs).values(**row).on_conflict_do_nothing(
            index_elements=["job", "unit", "as_of"])
    else:
        raise RuntimeError("jobs.claim supports PostgreSQL and SQLite, not %s" % dialect)
    return session.execute(statement).rowcount == 1


def mark_done(session, job, unit, as_of):
    """Record that the claimed unit finished (in the same transaction as its work)."""
    result = session.execute(
        update(job_runs)
        .where(job_runs.c.job == job, job_runs.c.unit == str(unit), job_runs.c.as_of == as_of)
        .values(status="done", finished_at=clock.utcnow()))
    return result.rowcount == 1


def skip_locked(select_stmt, session):
    """`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL: replicas pick disjoint rows without waiting.

    SQLite has no row locks (a writer locks the whole file), so the statement is returned
    unchanged; there a job relies on `claim` rows instead.
    """
    if is_postgresql(session):
        return select_stmt.with_for_update(skip_locked=True)
    return select_stmt


def _worker_session(service):
    # Dependencies are injected before the handler runs, so the worker's Database session is
    # already an attribute of the service instance, under the name the class declared it with.
    service_cls = type(service)
    for name in dir(service_cls):
        if isinstance(getattr(service_cls, name, None), Database):
            return getattr(service, name)
    raise LookupError("%s has no servicekit.db.Database dependency to claim jobs in" % service_cls.__name__)


class ScheduledJob(Timer):
    """A timer tick that calls the handler with `as_of = clock.today()` and commits like the kit's rpc."""

    def __init__(self, job, interval_seconds, eager=False, **kwargs):
        self.job = job
        super().__init__(interval_seconds, eager=eager, **kwargs)

    def setup(self):
        find_database(self.container)  # fail at start-up, not at the first tick, without a Database
        clock.configure(self.container.config)
        super().setup()

    def handle_timer_tick(self):
        self.container.spawn_worker(self, (clock.today(),), {}, handle_result=self.handle_result)

    def handle_result(self, worker_ctx, result, exc_info):
        handler_failed = exc_info is not None
        exc_info = finish_transactions(worker_ctx, exc_info)
        if exc_info is not None:
            outcome, result = "failed", None
            if not handler_failed:  # nameko logged a handler error already; a failed commit it did not see
                _log.error("job %s: commit failed", self.job, exc_info=exc_info)
        elif result is _SKIPPED:
            outcome, result = "skipped", None
        else:
            outcome = "ran"
        JOB_RUNS.labels(self.job, outcome).inc()
        return super().handle_result(worker_ctx, result, exc_info)


def scheduled(job, interval_seconds, eager=False):
    """Decorate `def run_x(self, as_of)`: runs every `interval_seconds`, once per `as_of` across replicas.

    The handler is wrapped so that, at call time, it first claims (job, "*", as_of) in the worker's
    Database session and returns without running when another replica holds the claim. The claim
    is marked done and committed with the handler's work in `handle_result`, before the next tick.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def run_once(self, as_of):
            session = _worker_session(self)
            claimed_by = "%s@%s" % (getattr(self, "name", type(self).__name__), _default_claimer())
            if not claim(session, job, WHOLE_JOB, as_of, claimed_by=claimed_by):
                _log.debug("job %s for %s already claimed; skipping", job, as_of)
                return _SKIPPED
            result = fn(self, as_of)
            mark_done(session, job, WHOLE_JOB, as_of)
            return result

        register_entrypoint(run_once, ScheduledJob(job, interval_seconds, eager=eager))
        return run_once
    return decorate
