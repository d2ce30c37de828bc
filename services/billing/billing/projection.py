"""Billing's projection of roster's groups, subgroups, offerings and families (issue 6): consumers of
roster's events (billing.consumes), each applying only what is newer than what it holds."""


class CoverageProjection:
    """Mixed into BillingService (billing.service)."""
