"""The statement run (issue 6): the daily job and its admin trigger (docs/billing-contract.md, part P2).

Both do the same run (billing.statement_run): from the 15th on, every active account's statement of the next
coverage month, each once however often (and in however many replicas) it runs, and the groups' consolidated
statements. The run commits a group at a time, so a long run keeps what it finished if it stops.
"""
from billing import access, statement_run
from portal_contracts import billing_statement as wire
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled


def _of_run(as_of=None):
    return "statement_run:%s" % as_of


class StatementEntrypoints:
    """Mixed into BillingService (billing.service)."""

    @rpc
    @idempotent(target=_of_run)
    def run_statements(self, as_of=None):
        """The daily job on demand, for `as_of` (default: the business date). Carrier staff only."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.RunStatementsInput(), {"as_of": as_of})["as_of"] or clock.today()
        outcome = statement_run.run_statements(self.db, as_of, self._record_statement_event)
        return wire.StatementRun().dump(outcome.answer())

    @scheduled("statement_run", interval_seconds=3600)
    def run_statements_daily(self, as_of):
        """Once per business date across replicas; every day from the 15th to the month's end it cuts what is
        still uncut for next month (an account whose rates were missing on the 15th is cut once they load)."""
        statement_run.run_statements(self.db, as_of, self._record_statement_event)

    def _record_statement_event(self, event_type, data, aggregate_id, group_id):
        self.outbox.record(event_type, data, aggregate_id=aggregate_id, group_id=group_id, version=1)
