"""billing's own copy of the event payloads it consumes (unknown fields are ignored).

Billing projects coverage from roster's events (docs/roster-contract.md, "Events"): which groups and
subgroups exist (a subgroup is the unit a bill is made for), which plans and tiers each subgroup is
offered for a plan year (the rates are billing's own), and each family's members and coverage spans
after every transaction (the premium lines). It copies only the fields it reads: roster may add
fields freely; removing or retyping one of these breaks tests/contracts/test_event_contracts.py first.

Dates arrive as YYYY-MM-DD and load as `datetime.date`. A family event is a whole snapshot of the family
after the change, so billing replaces its projection of the family, per aggregate `sequence`.
"""
from marshmallow import EXCLUDE, Schema, fields

# Roster's member-lifecycle events (issue 5): each carries the family's whole state, like subscriber_enrolled.
FAMILY_EVENTS_WITH_COVERAGE = (
    "member_address_changed", "member_demographics_changed", "coverage_terminated", "coverage_reinstated",
    "subscriber_terminated", "subscriber_reinstated", "member_transferred", "dependent_added", "dependent_removed",
    "pcp_changed", "id_card_requested", "cobra_enrolled", "cobra_extended", "open_enrollment_elected",
)


class _Copy(Schema):
    """Every schema here, nested ones too, ignores what billing does not read."""

    class Meta:
        unknown = EXCLUDE


# --- group aggregate (`group:<group_number>`) --------------------------------------------------------

class SubgroupSummary(_Copy):
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class GroupChanged(_Copy):
    """group_created and group_updated: the group and its subgroups as they are now."""
    group_number = fields.String(required=True)
    legal_name = fields.String(required=True)
    status = fields.String(required=True)
    renewal_date = fields.Date(required=True)  # the plan year (and its rates) start on it
    subgroups = fields.List(fields.Nested(SubgroupSummary), required=True)


class SubgroupCreated(_Copy):
    """A new subgroup: billing opens its billing account."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class OfferedPlan(_Copy):
    plan_code = fields.String(required=True)
    tiers = fields.List(fields.String(), required=True)  # X12 HD05 coverage levels sold: EMP, ESP, ECH, FAM


class GroupPlansSet(_Copy):
    """The plans a subgroup is offered for one plan year: what billing needs rates for."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    plan_year_end = fields.Date(required=True)
    plans = fields.List(fields.Nested(OfferedPlan), required=True)


# --- family aggregate (`family:<subscriber member_id>`) ------------------------------------------------

class FamilyTransaction(_Copy):
    confirmation_number = fields.String(required=True)
    status = fields.String(required=True)            # pending | completed | rejected | cancelled
    effective_date = fields.Date(required=True)
    maintenance_type = fields.String(required=True, allow_none=True)  # X12 INS03
    reason = fields.String(required=True, allow_none=True)            # X12 INS04


class CoverageSpan(_Copy):
    plan_code = fields.String(required=True)
    tier = fields.String(required=True)
    effective_from = fields.Date(required=True)
    effective_through = fields.Date(required=True, allow_none=True)  # None: open-ended
    status = fields.String(required=True)            # pending | active | terminated | cancelled
    continuation = fields.String(load_default=None, allow_none=True)  # cobra | state: billed per COBRA policy


class FamilyMember(_Copy):
    member_id = fields.String(required=True)
    relationship_code = fields.String(required=True)  # X12 INS02: 18 self, 01 spouse, 19 child, ...
    date_of_birth = fields.Date(required=True)        # age-rated premiums need it
    status = fields.String(required=True)
    coverage = fields.List(fields.Nested(CoverageSpan), required=True)


class FamilyChanged(_Copy):
    """subscriber_enrolled, transaction_status_changed and every member-lifecycle event (terminations,
    reinstatements, transfers, dependents added or removed, COBRA, open enrollment...): the family's whole
    state after the change. Billing reads the state, not what each event type says changed."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)    # whose billing account the family's premium goes to
    subscriber_member_id = fields.String(required=True)
    transaction = fields.Nested(FamilyTransaction, required=True)
    members = fields.List(fields.Nested(FamilyMember), required=True)


CONSUMED = {
    ("roster", "group_created"): GroupChanged,
    ("roster", "group_updated"): GroupChanged,
    ("roster", "subgroup_created"): SubgroupCreated,
    ("roster", "group_plans_set"): GroupPlansSet,
    ("roster", "subscriber_enrolled"): FamilyChanged,
    ("roster", "transaction_status_changed"): FamilyChanged,
    **{("roster", event_type): FamilyChanged for event_type in FAMILY_EVENTS_WITH_COVERAGE},
}
