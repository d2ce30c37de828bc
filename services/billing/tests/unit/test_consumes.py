"""billing's copy of roster's events loads the shapes of docs/roster-contract.md ("Events"), ignores
what it does not read, and refuses a payload that lacks what billing needs.

The contract test (tests/contracts/test_event_contracts.py) loads roster's own published examples;
these payloads are written from the contract document, so billing's copy is checked without roster.
"""
import copy
from datetime import date

import pytest

from billing.consumes import CONSUMED, FamilyChanged, GroupChanged, GroupPlansSet, SubgroupCreated

GROUP = {
    "group_number": "100234", "legal_name": "Harbor Light Manufacturing", "status": "active",
    "renewal_date": "2026-01-01", "employee_count": 212, "waiting_period_days": 30,
    "age_off_policy": "end_of_month", "continuation": "cobra", "continuation_months": None,
    "subgroups": [{"subgroup_number": "001", "name": "Office", "status": "active"},
                  {"subgroup_number": "002", "name": "Plant", "status": "active"}],
}
SUBGROUP = {"group_number": "100234", "subgroup_number": "003", "name": "Retirees-Sales", "status": "active"}
PLANS_SET = {
    "group_number": "100234", "subgroup_number": "001", "plan_year_start": "2026-01-01",
    "plan_year_end": "2026-12-31",
    "plans": [{"plan_code": "MHMO1", "name": "Harbor HMO 1500", "product": "medical", "plan_type": "HMO",
               "network": "HMO-NE", "tiers": ["EMP", "ESP", "ECH", "FAM"]},
              {"plan_code": "DPPO1", "name": "Dental PPO", "product": "dental", "plan_type": "PPO",
               "network": "DENT", "tiers": ["EMP", "FAM"]}],
}
FAMILY = {
    "group_number": "100234", "subgroup_number": "002", "subscriber_member_id": "M100000017",
    "transaction": {"confirmation_number": "E20260115-000123", "type": "new_enrollment",
                    "maintenance_type": "021", "reason": "28", "status": "completed",
                    "effective_date": "2026-02-01"},
    "members": [
        {"member_id": "M100000017", "relationship_code": "18", "first_name": "Dana", "last_name": "Reyes",
         "date_of_birth": "1984-03-09", "gender": "F", "status": "active",
         "coverage": [{"plan_code": "MHMO1", "tier": "FAM", "effective_from": "2026-02-01",
                       "effective_through": None, "status": "active", "reason": "28"}]},
        {"member_id": "M100000018", "relationship_code": "01", "first_name": "Sam", "last_name": "Reyes",
         "date_of_birth": "1983-11-30", "gender": "M", "status": "active",
         "coverage": [{"plan_code": "MHMO1", "tier": "FAM", "effective_from": "2026-02-01",
                       "effective_through": None, "status": "active", "reason": "28"}]},
        {"member_id": "M100000019", "relationship_code": "19", "first_name": "Ari", "last_name": "Reyes",
         "date_of_birth": "2015-06-21", "gender": "U", "status": "active",
         "coverage": [{"plan_code": "MHMO1", "tier": "FAM", "effective_from": "2026-02-01",
                       "effective_through": "2026-12-31", "status": "active", "reason": "28"}]},
    ],
}


def test_billing_consumes_the_group_events_and_every_family_event():
    family_events = {"subscriber_enrolled", "transaction_status_changed", "member_address_changed",
                     "member_demographics_changed", "coverage_terminated", "coverage_reinstated",
                     "subscriber_terminated", "subscriber_reinstated", "member_transferred", "dependent_added",
                     "dependent_removed", "pcp_changed", "id_card_requested", "cobra_enrolled", "cobra_extended",
                     "open_enrollment_elected"}
    assert CONSUMED == {
        ("roster", "group_created"): GroupChanged,
        ("roster", "group_updated"): GroupChanged,
        ("roster", "subgroup_created"): SubgroupCreated,
        ("roster", "group_plans_set"): GroupPlansSet,
        **{("roster", event_type): FamilyChanged for event_type in family_events},
    }


def test_group_event_loads_with_dates_and_without_what_billing_does_not_read():
    loaded = GroupChanged().load(GROUP)
    assert loaded == {
        "group_number": "100234", "legal_name": "Harbor Light Manufacturing", "status": "active",
        "renewal_date": date(2026, 1, 1),
        "subgroups": [{"subgroup_number": "001", "name": "Office", "status": "active"},
                      {"subgroup_number": "002", "name": "Plant", "status": "active"}],
    }


def test_subgroup_created_loads():
    assert SubgroupCreated().load(SUBGROUP) == SUBGROUP


def test_group_plans_set_keeps_plan_codes_and_tiers_only():
    loaded = GroupPlansSet().load(PLANS_SET)
    assert loaded["plan_year_start"] == date(2026, 1, 1) and loaded["plan_year_end"] == date(2026, 12, 31)
    assert loaded["plans"] == [{"plan_code": "MHMO1", "tiers": ["EMP", "ESP", "ECH", "FAM"]},
                               {"plan_code": "DPPO1", "tiers": ["EMP", "FAM"]}]


def test_family_snapshot_loads_members_and_coverage_with_dates():
    loaded = FamilyChanged().load(FAMILY)
    assert loaded["transaction"] == {"confirmation_number": "E20260115-000123", "maintenance_type": "021",
                                     "reason": "28", "status": "completed", "effective_date": date(2026, 2, 1)}
    subscriber, spouse, child = loaded["members"]
    assert subscriber == {
        "member_id": "M100000017", "relationship_code": "18", "date_of_birth": date(1984, 3, 9), "status": "active",
        "coverage": [{"plan_code": "MHMO1", "tier": "FAM", "effective_from": date(2026, 2, 1),
                      "effective_through": None, "status": "active", "continuation": None}],
    }
    assert spouse["relationship_code"] == "01"
    assert child["coverage"][0]["effective_through"] == date(2026, 12, 31)
    # no names, genders or span reasons: billing does not read them
    assert "first_name" not in child and "reason" not in child["coverage"][0]


def test_unknown_fields_are_ignored_at_every_level():
    payload = copy.deepcopy(FAMILY)
    payload["something_new"] = {"x": 1}
    payload["transaction"]["requested_by"] = "u-1"
    payload["members"][0]["pcp"] = {"npi": "1234567890"}
    payload["members"][0]["coverage"][0]["premium_hint"] = "12.00"
    assert FamilyChanged().validate(payload) == {}
    assert FamilyChanged().load(payload) == FamilyChanged().load(FAMILY)
    group = dict(GROUP, ein="123456789", subgroups=[dict(GROUP["subgroups"][0], billing_contact="x")])
    assert GroupChanged().validate(group) == {}


def test_a_member_without_date_of_birth_is_refused():
    payload = copy.deepcopy(FAMILY)
    del payload["members"][1]["date_of_birth"]
    errors = FamilyChanged().validate(payload)
    assert errors == {"members": {1: {"date_of_birth": ["Missing data for required field."]}}}


@pytest.mark.parametrize("schema,payload,path", [
    (FamilyChanged, FAMILY, ("members", 0, "date_of_birth")),
    (FamilyChanged, FAMILY, ("transaction", "effective_date")),
    (FamilyChanged, FAMILY, ("members", 0, "coverage", 0, "effective_from")),
    (GroupChanged, GROUP, ("renewal_date",)),
    (GroupPlansSet, PLANS_SET, ("plan_year_start",)),
])
def test_dates_are_dates_not_any_string(schema, payload, path):
    bad = copy.deepcopy(payload)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "09/03/1984"
    assert schema().validate(bad) != {}


@pytest.mark.parametrize("schema,payload", [
    (GroupChanged, GROUP), (SubgroupCreated, SUBGROUP), (GroupPlansSet, PLANS_SET), (FamilyChanged, FAMILY),
])
def test_every_top_level_field_billing_reads_is_required(schema, payload):
    for name, field in schema().fields.items():
        assert field.required, "%s.%s should be required" % (schema.__name__, name)
        partial = {key: value for key, value in payload.items() if key != name}
        assert name in schema().validate(partial)
