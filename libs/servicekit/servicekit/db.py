"""The database provider: one engine per container, one session per worker.

Why not commit in `worker_result`: nameko sends an RPC reply (or acks a message) in
`handle_result`, which runs BEFORE `worker_result`. The kit's entrypoints (`servicekit.entrypoints`)
call `finish_transactions` from `handle_result`, so a change is committed before anyone hears
it succeeded; a commit that fails turns into the caller's error. `worker_teardown` only rolls back
and closes whatever is left.
"""
import os
import sys

from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from servicekit import clock


def make_engine(url, **options):
    """An engine for a service database: a SQLite file (the default) or PostgreSQL (psycopg2).

    psycopg2 cooperates with eventlet: `eventlet.monkey_patch()` installs a green wait callback
    in it, so slow queries in two workers overlap (tests/integration prove it).
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # SQLite's busy-wait is C code that eventlet cannot switch out of: a second writer would freeze
        # the whole service until the first one's transaction ends (measured: 30 s). One pooled
        # connection per process makes workers queue for it cooperatively instead; kit code therefore
        # never opens a second connection inside a worker.
        options.setdefault("poolclass", QueuePool)
        if options["poolclass"] is QueuePool:
            options.update(pool_size=1, max_overflow=0, pool_timeout=30)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix is to
            # turn it off here and emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN")
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def is_postgresql(session_or_engine):
    bind = getattr(session_or_engine, "bind", None) or session_or_engine
    return bind.dialect.name == "postgresql"


class Database(DependencyProvider):
    """`db = Database()` on a service: `self.db` is the worker's SQLAlchemy session.

    The URL comes from config key `DATABASE_URL`. Other parts of the kit (outbox relay, token
    revocation) find this provider in `container.dependencies` and use `engine` / `commit_listeners`.
    """

    def __init__(self, url_key="DATABASE_URL"):
        self.url_key = url_key
        self.engine = None
        self.sessions = {}
        self.commit_listeners = []  # called with the committed session's `info` after each commit

    def setup(self):
        clock.configure(self.container.config)
        self.engine = make_engine(self.container.config[self.url_key])
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def stop(self):
        self.engine.dispose()

    def kill(self):
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        session = self.session_factory()
        self.sessions[worker_ctx] = session
        return session

    def new_session(self):
        """A session outside any worker (relay, jobs, revocation lookups); the caller closes it."""
        return self.session_factory()

    def finish(self, worker_ctx, exc_info):
        """Commit the worker's session if the entrypoint succeeded, else roll it back.

        Returns the exc_info the entrypoint should report: a failed commit becomes the error.
        """
        session = self.sessions.get(worker_ctx)
        if session is None:
            return exc_info
        if exc_info is not None:
            session.rollback()
            return exc_info
        info = dict(session.info)
        try:
            session.commit()
        except Exception:
            session.rollback()
            return sys.exc_info()
        for listener in self.commit_listeners:
            listener(info)
        return None

    def worker_teardown(self, worker_ctx):
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.rollback()
            session.close()


def finish_transactions(worker_ctx, exc_info):
    """Commit or roll back every Database session of this worker; used by the kit's entrypoints."""
    for provider in worker_ctx.container.dependencies:
        if isinstance(provider, Database):
            exc_info = provider.finish(worker_ctx, exc_info)
    return exc_info


def find_database(container):
    for provider in container.dependencies:
        if isinstance(provider, Database):
            return provider
    raise LookupError("service %s has no servicekit.db.Database dependency" % container.service_name)
