"""Wire schemas of the billing service: statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice (issue 6)."""

RPC_SCHEMAS = {}
