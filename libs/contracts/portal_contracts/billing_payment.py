"""Wire schemas of the billing service: payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund requests (issue 6)."""

RPC_SCHEMAS = {}
