"""Payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund requests (issue 6)."""


class PaymentEntrypoints:
    """Mixed into BillingService (billing.service)."""
