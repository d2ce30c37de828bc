"""Wire schemas of the billing service: billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6)."""

RPC_SCHEMAS = {}
