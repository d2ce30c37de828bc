"""Wire schemas of the billing service: the statement run: premiums per member or subscriber, retro adjustments, statements per account and consolidated per group (issue 6)."""

RPC_SCHEMAS = {}
