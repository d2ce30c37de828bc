"""What every portal service has: its database, caller, outbox, metrics, log context, the
revocation listener and a `health` RPC. A service subclasses `PortalService` and sets `name`.

nameko collects dependency providers and entrypoints through `inspect.getmembers`, so the ones
declared here are part of every subclass.
"""
from nameko.dependency_providers import Config
from sqlalchemy import func, select, text

from servicekit import tables
from servicekit.auth import CallerProvider, RevocationListener
from servicekit.db import Database
from servicekit.entrypoints import rpc
from servicekit.jobs import scheduled
from servicekit.logs import RequestLogContext
from servicekit.metrics import Metrics
from servicekit.outbox import Outbox, prune, retention_cutoff


class PortalService(RevocationListener):
    name = None

    config = Config()
    db = Database()
    caller = CallerProvider()
    outbox = Outbox()
    metrics = Metrics()
    log_context = RequestLogContext()

    @rpc
    def health(self):
        """Answers only when the service can reach its database; the gateway's /health fans out to it."""
        self.db.execute(text("SELECT 1"))
        unpublished = self.db.scalar(
            select(func.count()).select_from(tables.outbox).where(tables.outbox.c.published_at.is_(None)))
        return {"status": "ok", "service": self.name, "database": self.db.bind.dialect.name,
                "outbox_unpublished": unpublished}

    @scheduled("outbox_prune", interval_seconds=3600)
    def prune_outbox(self, as_of):
        """Published events are kept OUTBOX_RETENTION_DAYS for replays, then dropped; once a day per service."""
        prune(self.db, retention_cutoff(self.config))
