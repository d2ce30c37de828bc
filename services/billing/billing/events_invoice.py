"""Events of billing's part: statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice (issue 6), on `billing.events`; see billing.events."""

PUBLISHED = {}
