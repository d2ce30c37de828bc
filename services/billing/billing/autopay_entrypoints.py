"""Auto pay (authorisation, the debit run and its NACHA file) and delinquency (stages, termination for non-payment) (issue 6)."""


class AutoPayEntrypoints:
    """Mixed into BillingService (billing.service)."""
