"""Termination for non-payment (issue 6): roster's side of billing's delinquency saga."""


class NonpaymentConsumer:
    """Mixed into RosterService (roster.service)."""
