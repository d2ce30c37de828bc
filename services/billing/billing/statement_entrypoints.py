"""The statement run: premiums per member or subscriber, retro adjustments, statements per account and consolidated per group (issue 6)."""


class StatementEntrypoints:
    """Mixed into BillingService (billing.service)."""
