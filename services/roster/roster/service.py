"""The roster service: groups, subgroups, plans offered, members, coverage, enrollment transactions.

This milestone: the service shell (database, outbox, caller, metrics, health). The roster itself
comes with the roster issue.
"""
from servicekit.service import PortalService


class RosterService(PortalService):
    name = "roster"
