"""The roster's wire contracts as the gateway's roster routes use them (routes_roster.py).

Request bodies and query strings are validated with the roster's own RPC input schemas
(portal_contracts.roster_groups and roster_members, found by RPC name in their RPC_SCHEMAS), so the gateway
refuses what the service would refuse and the OpenAPI document shows the same fields. The output schemas
document the answers, which are forwarded as the service serialised them.
"""
from marshmallow import fields
from portal_contracts import (roster_care, roster_continuation, roster_groups, roster_life_event, roster_lifecycle,
                              roster_members, roster_renewal)
from portal_contracts.money import Money

from gateway.schemas import ResponseBody


# rpc -> (input schema, output schema), from every part of the roster's contract
RPC_SCHEMAS = {**roster_groups.RPC_SCHEMAS, **roster_members.RPC_SCHEMAS, **roster_lifecycle.RPC_SCHEMAS,
               **roster_life_event.RPC_SCHEMAS, **roster_care.RPC_SCHEMAS, **roster_continuation.RPC_SCHEMAS,
               **roster_renewal.RPC_SCHEMAS}

EXPORT_FORMATS = roster_members.EXPORT_FORMATS


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


def rpc_input(method):
    """The schema of the RPC's JSON argument (an instance: a list input keeps its many=True)."""
    schema = RPC_SCHEMAS[method][0]
    if schema is None:
        raise LookupError("the roster contract gives %s no input schema" % method)
    return _instance(schema)


def rpc_output(method):
    """The schema the service answers the RPC with (documentation only), or None."""
    return _instance(RPC_SCHEMAS[method][1])


class DashboardGroup(roster_groups.DashboardGroup):
    """Roster's row of a group with billing's figures (null when the caller may not see the group's bills)."""
    amount_due = Money(allow_none=True, metadata={"description": "What is owed now (billing's ledger)."})
    due_date = fields.Date(allow_none=True, metadata={"description": "The newest statement's due date."})
    billing_scope = fields.String(allow_none=True, metadata={
        "description": "group: the whole group's figures; subgroups: only the caller's subgroups' accounts."})


class Dashboard(ResponseBody):
    """GET /api/v1/dashboard: one row per group (messaging adds unread messages later)."""
    groups = fields.List(fields.Nested(DashboardGroup))
    unavailable = fields.List(fields.String(), metadata={
        "description": "Services that did not answer; their figures are null."})
