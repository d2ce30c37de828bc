"""Statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice (issue 6)."""


class InvoiceEntrypoints:
    """Mixed into BillingService (billing.service)."""
