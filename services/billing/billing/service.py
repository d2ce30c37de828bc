"""The billing service: billing policy and rates, billing accounts and their ledgers, statements, payments,
auto pay, rebill and refund requests, delinquency. It runs as several replicas: scheduled work claims its units
through servicekit.jobs, so each account's statement and each auto-pay debit happens once.

Entrypoints live in mixins, one per part of the business, each reading top-down:
  billing.projection.CoverageProjection          roster's events -> groups, accounts, offerings, families
  billing.setup_entrypoints.SetupEntrypoints      billing policy and rates, the billing overview, dashboard
  billing.statement_entrypoints.StatementEntrypoints  the statement run (job and admin trigger)
  billing.invoice_entrypoints.InvoiceEntrypoints  statement history, details, CSV, PDF, consolidated, rebill,
                                                  adjust invoice
  billing.payment_entrypoints.PaymentEntrypoints  payment methods, payments, settlement, returns, refunds
  billing.autopay_entrypoints.AutoPayEntrypoints  auto pay and its NACHA file, delinquency
Rules live in billing.domain (no nameko), the ledger in billing.ledger, tables in billing.models, wire schemas
in portal_contracts.billing_*.
"""
from billing.autopay_entrypoints import AutoPayEntrypoints
from billing.invoice_entrypoints import InvoiceEntrypoints
from billing.payment_entrypoints import PaymentEntrypoints
from billing.projection import CoverageProjection
from billing.setup_entrypoints import SetupEntrypoints
from billing.statement_entrypoints import StatementEntrypoints
from servicekit.service import PortalService


class BillingService(CoverageProjection, SetupEntrypoints, StatementEntrypoints, InvoiceEntrypoints,
                     PaymentEntrypoints, AutoPayEntrypoints, PortalService):
    name = "billing"
