"""Events the billing service publishes on `billing.events` (through the outbox), merged from its parts.

Account events are on the aggregate `account:<account number>` (their `sequence` orders them per account); a
payment's events on `payment:<payment number>`. Money travels as strings with two places ("1234.50"). No bank
account numbers (the last 4 at most), no SSNs.
"""
from billing.events_autopay import PUBLISHED as AUTOPAY_PUBLISHED
from billing.events_invoice import PUBLISHED as INVOICE_PUBLISHED
from billing.events_payment import PUBLISHED as PAYMENT_PUBLISHED
from billing.events_setup import PUBLISHED as SETUP_PUBLISHED
from billing.events_statement import PUBLISHED as STATEMENT_PUBLISHED

PUBLISHED = {**SETUP_PUBLISHED, **STATEMENT_PUBLISHED, **INVOICE_PUBLISHED, **PAYMENT_PUBLISHED,
             **AUTOPAY_PUBLISHED}


def account_aggregate(account_number):
    return "account:%s" % account_number


def payment_aggregate(payment_number):
    return "payment:%s" % payment_number
