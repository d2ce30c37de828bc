"""Events of billing's part: auto pay (authorisation, the debit run and its NACHA file) and delinquency (stages, termination for non-payment) (issue 6), on `billing.events`; see billing.events."""

PUBLISHED = {}
