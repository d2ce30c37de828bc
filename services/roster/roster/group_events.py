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
PLAN_YEAR_LOADED = "plan_year_loaded"
GROUP_RENEWAL_UPCOMING = "group_renewal_upcoming"
GROUP_RENEWED = "group_renewed"


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


class SubgroupOffering(Schema):
    subgroup_number = fields.String(required=True)
    plans = fields.List(fields.Nested(OfferedPlan), required=True)


class PlanMappingState(Schema):
    from_plan_code = fields.String(required=True)   # a plan of the ending year
    to_plan_code = fields.String(required=True)     # the plan its members carry over into


class PlanYearLoaded(Schema):
    """Renewal: carrier staff loaded the next plan year (billing loads its rates for it)."""
    group_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    plan_year_end = fields.Date(required=True)
    offerings = fields.List(fields.Nested(SubgroupOffering), required=True)
    plan_mappings = fields.List(fields.Nested(PlanMappingState), required=True)


class GroupRenewalUpcoming(Schema):
    """A renewal notice, 60 and 30 days before the renewal date (once each)."""
    group_number = fields.String(required=True)
    renewal_date = fields.Date(required=True)
    days_before = fields.Integer(required=True)
    open_enrollment_start = fields.Date(required=True)
    open_enrollment_end = fields.Date(required=True)
    plan_year_loaded = fields.Boolean(required=True)


class GroupRenewed(Schema):
    """The renewal date came: the new plan year started; how each family came across."""
    group_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    plan_year_end = fields.Date(required=True)
    carried_over = fields.Integer(required=True)    # did nothing: the mapped plan
    kept = fields.Integer(required=True)
    began = fields.Integer(required=True)           # elected a new plan or dependents
    declined = fields.Integer(required=True)        # coverage ended at the old plan year's end


_PLAN_EXAMPLE = {"plan_code": "MED-PPO-1500", "name": "Choice PPO 1500", "product": "medical", "plan_type": "PPO",
                 "network": "Choice", "tiers": ["EMP", "ESP", "ECH", "FAM"]}

_GROUP_EXAMPLE = {
    "group_number": "100234", "legal_name": "Harbor Widgets LLC", "status": "active", "renewal_date": "2027-01-01",
    "employee_count": 45, "waiting_period_days": 30, "age_off_policy": "end_of_month", "continuation": "cobra",
    "continuation_months": None,
    "subgroups": [{"subgroup_number": "001", "name": "Office", "status": "active"},
                  {"subgroup_number": "002", "name": "Plant", "status": "active"}],
}

RENEWAL_PUBLISHED = {
    PLAN_YEAR_LOADED: {"version": 1, "schema": PlanYearLoaded, "example": {
        "group_number": "100234", "plan_year_start": "2028-01-01", "plan_year_end": "2028-12-31",
        "offerings": [{"subgroup_number": "001", "plans": [_PLAN_EXAMPLE]}],
        "plan_mappings": [{"from_plan_code": "MED-PPO-1000", "to_plan_code": "MED-PPO-1500"}]}},
    GROUP_RENEWAL_UPCOMING: {"version": 1, "schema": GroupRenewalUpcoming, "example": {
        "group_number": "100234", "renewal_date": "2028-01-01", "days_before": 60,
        "open_enrollment_start": "2027-12-02", "open_enrollment_end": "2027-12-31", "plan_year_loaded": True}},
    GROUP_RENEWED: {"version": 1, "schema": GroupRenewed, "example": {
        "group_number": "100234", "plan_year_start": "2028-01-01", "plan_year_end": "2028-12-31",
        "carried_over": 40, "kept": 3, "began": 2, "declined": 1}},
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
PUBLISHED.update(RENEWAL_PUBLISHED)
