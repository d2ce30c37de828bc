"""The billing service: rates, billing accounts and ledgers, statements, payments, auto pay.

This milestone: the service shell (database, outbox, caller, metrics, health). It runs as several
replicas; scheduled work claims its units through servicekit.jobs.
"""
from servicekit.service import PortalService


class BillingService(PortalService):
    name = "billing"
