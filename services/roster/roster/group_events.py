"""Events about a group that roster publishes on `roster.events` (merged into roster.events.PUBLISHED).

All on the group's aggregate `group:<group_number>`, so their sequence orders them for a consumer:
group_created, subgroup_created, group_plans_set, group_updated. group_created and group_updated carry the
group's policy and subgroups after the change (self-contained, ARCHITECTURE.md pattern 2); no EIN, no
contacts: consumers (billing) need the structure and the policy, not who to call.
"""
from marshmallow import Schema, fields

GROUP_CREATED = "group_created"
GROUP_UPDATED = "group_updated"
SUBGROUP_CREATED = "subgroup_created"
GROUP_PLANS_SET = "group_plans_set"


def group_aggregate(group_number):
    return "group:%s" % group_number


class SubgroupState(Schema):
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class GroupState(Schema):
    """group_created and group_updated: the group after the change."""
    group_number = fields.String(required=True)
    legal_name = fields.String(required=True)
    status = fields.String(required=True)
    renewal_date = fields.Date(required=True)
    employee_count = fields.Integer(required=True)
    waiting_period_days = fields.Integer(required=True)
    age_off_policy = fields.String(required=True)
    continuation = fields.String(required=True)
    continuation_months = fields.Integer(required=True, allow_none=True)
    subgroups = fields.List(fields.Nested(SubgroupState), required=True)


class SubgroupCreated(Schema):
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class OfferedPlan(Schema):
    plan_code = fields.String(required=True)
    name = fields.String(required=True)
    product = fields.String(required=True)
    plan_type = fields.String(required=True)
    network = fields.String(required=True)
    tiers = fields.List(fields.String(), required=True)


class GroupPlansSet(Schema):
    """The whole offering of one subgroup for one plan year (it replaces any earlier one)."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    plan_year_end = fields.Date(required=True)
    plans = fields.List(fields.Nested(OfferedPlan), required=True)


_GROUP_EXAMPLE = {
    "group_number": "100234", "legal_name": "Harbor Widgets LLC", "status": "active", "renewal_date": "2027-01-01",
    "employee_count": 45, "waiting_period_days": 30, "age_off_policy": "end_of_month", "continuation": "cobra",
    "continuation_months": None,
    "subgroups": [{"subgroup_number": "001", "name": "Office", "status": "active"},
                  {"subgroup_number": "002", "name": "Plant", "status": "active"}],
}

PUBLISHED = {
    GROUP_CREATED: {"version": 1, "schema": GroupState, "example": dict(_GROUP_EXAMPLE, subgroups=[])},
    GROUP_UPDATED: {"version": 1, "schema": GroupState, "example": _GROUP_EXAMPLE},
    SUBGROUP_CREATED: {
        "version": 1,
        "schema": SubgroupCreated,
        "example": {"group_number": "100234", "subgroup_number": "002", "name": "Plant", "status": "active"},
    },
    GROUP_PLANS_SET: {
        "version": 1,
        "schema": GroupPlansSet,
        "example": {
            "group_number": "100234", "subgroup_number": "001", "plan_year_start": "2027-01-01",
            "plan_year_end": "2027-12-31",
            "plans": [{"plan_code": "HMO-GOLD", "name": "Gold HMO", "product": "medical", "plan_type": "HMO",
                       "network": "METRO", "tiers": ["EMP", "ESP", "ECH", "FAM"]},
                      {"plan_code": "PPO-SILVER", "name": "Silver PPO", "product": "medical", "plan_type": "PPO",
                       "network": "STATEWIDE", "tiers": ["EMP", "ESP", "ECH", "FAM"]}],
        },
    },
}
