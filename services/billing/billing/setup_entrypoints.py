"""Billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6)."""


class SetupEntrypoints:
    """Mixed into BillingService (billing.service)."""
