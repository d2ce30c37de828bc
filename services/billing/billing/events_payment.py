"""Events of billing's part: payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund requests (issue 6), on `billing.events`; see billing.events."""

PUBLISHED = {}
