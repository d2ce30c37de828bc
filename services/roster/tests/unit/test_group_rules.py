"""Group-side rules (roster.domain.groups), the group wire schemas (portal_contracts.roster_groups) and the
group events' payloads (roster.group_events), without a broker or a database."""
from dataclasses import dataclass
from datetime import date

import pytest
from marshmallow import ValidationError

from portal_contracts import roster_groups as wire
from roster import group_events
from roster.domain import groups
from roster.domain.groups import PlanYear, RuleBroken


# --- plan years ------------------------------------------------------------------------------------

@pytest.mark.parametrize("day,renewal,start,end", [
    (date(2027, 6, 15), date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31)),
    (date(2027, 1, 1), date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31)),        # the renewal day itself
    (date(2026, 12, 31), date(2027, 1, 1), date(2026, 1, 1), date(2026, 12, 31)),      # before the first renewal
    (date(2027, 3, 1), date(2025, 7, 1), date(2026, 7, 1), date(2027, 6, 30)),         # mid-year renewal
    (date(2027, 6, 30), date(2025, 7, 1), date(2026, 7, 1), date(2027, 6, 30)),
    (date(2027, 7, 1), date(2025, 7, 1), date(2027, 7, 1), date(2028, 6, 30)),
    (date(2025, 3, 1), date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 27)),       # leap-day renewal
    (date(2028, 2, 28), date(2024, 2, 29), date(2027, 2, 28), date(2028, 2, 28)),
    (date(2028, 2, 29), date(2024, 2, 29), date(2028, 2, 29), date(2029, 2, 27)),
])
def test_the_plan_year_runs_from_the_renewal_day_to_the_day_before_the_next(day, renewal, start, end):
    assert groups.plan_year_of(day, renewal) == PlanYear(start, end)
    assert day in groups.plan_year_of(day, renewal)


def test_consecutive_plan_years_leave_no_day_uncovered_and_overlap_none():
    renewal = date(2024, 2, 29)
    year = groups.plan_year_of(date(2024, 3, 1), renewal)
    for _ in range(8):
        following = groups.plan_year_of(date.fromordinal(year.end.toordinal() + 1), renewal)
        assert following.start.toordinal() == year.end.toordinal() + 1
        year = following


def test_offerings_start_on_a_renewal_day_and_the_refusal_names_the_right_one():
    assert groups.is_plan_year_start(date(2027, 7, 1), date(2025, 7, 1))
    groups.check_plan_year_start(date(2027, 7, 1), date(2025, 7, 1))
    with pytest.raises(RuleBroken) as refused:
        groups.check_plan_year_start(date(2027, 8, 1), date(2025, 7, 1))
    assert refused.value.field == "plan_year_start"
    assert "07-01" in refused.value.message and "2027-07-01" in refused.value.message


@pytest.mark.parametrize("renewal,today,expected", [
    (date(2027, 1, 1), date(2026, 11, 23), date(2027, 1, 1)),   # the first renewal still ahead
    (date(2028, 1, 1), date(2026, 11, 23), date(2028, 1, 1)),
    (date(2025, 7, 1), date(2026, 11, 23), date(2027, 7, 1)),
    (date(2025, 7, 1), date(2026, 7, 1), date(2027, 7, 1)),     # renewed today: the next one is a year out
    (date(2025, 7, 1), date(2026, 6, 30), date(2026, 7, 1)),
])
def test_the_next_renewal_is_after_today(renewal, today, expected):
    assert groups.next_renewal_date(renewal, today) == expected


# --- plans and offerings ---------------------------------------------------------------------------

@dataclass
class PlanFacts:
    plan_code: str
    status: str = "active"
    tiers: tuple = ("EMP", "ESP", "ECH", "FAM")


CATALOG = {plan.plan_code: plan for plan in [
    PlanFacts("HMO-GOLD"), PlanFacts("PPO-SILVER"), PlanFacts("OLD-PLAN", status="retired"),
    PlanFacts("DEP-ONLY", tiers=("ESP", "FAM")),
]}


def test_an_offering_of_active_plans_selling_employee_only_coverage_is_accepted():
    groups.check_offering(["HMO-GOLD", "PPO-SILVER"], CATALOG)


@pytest.mark.parametrize("codes,named", [
    (["HMO-GOLD", "HMO-GOLD"], "more than once: HMO-GOLD"),
    (["HMO-GOLD", "NOPE"], "no such plan: NOPE"),
    (["OLD-PLAN"], "not sold any more: OLD-PLAN"),
    (["DEP-ONLY"], "employee-only (EMP) coverage: DEP-ONLY"),
])
def test_an_offering_is_refused_naming_each_offending_plan(codes, named):
    with pytest.raises(RuleBroken) as refused:
        groups.check_offering(codes, CATALOG)
    assert refused.value.field == "plan_codes"
    assert named.lower() in refused.value.message.lower()


def test_every_problem_of_an_offering_is_named_at_once():
    with pytest.raises(RuleBroken) as refused:
        groups.check_offering(["OLD-PLAN", "NOPE", "DEP-ONLY"], CATALOG)
    message = refused.value.message
    assert message.startswith("No such plan: NOPE") and "OLD-PLAN" in message and "DEP-ONLY" in message


def test_hmo_and_pos_plans_need_a_pcp_unless_the_plan_says_otherwise():
    assert groups.requires_pcp_by_default("HMO") and groups.requires_pcp_by_default("POS")
    assert not groups.requires_pcp_by_default("PPO") and not groups.requires_pcp_by_default("EPO")


# --- eligibility and continuation ------------------------------------------------------------------

def test_every_allowed_waiting_period_starts_coverage_by_day_91():
    for days in groups.WAITING_PERIOD_DAYS:
        assert groups.latest_coverage_day(days) <= groups.LATEST_COVERAGE_DAY
        groups.check_waiting_period(days)
    # "the first of the month after 90 days" could start coverage on day 121
    assert groups.latest_coverage_day(90) > groups.LATEST_COVERAGE_DAY


@pytest.mark.parametrize("days", [90, 45, -1, 91])
def test_other_waiting_periods_are_refused(days):
    with pytest.raises(RuleBroken) as refused:
        groups.check_waiting_period(days)
    assert refused.value.field == "waiting_period_days" and "91" in refused.value.message


def test_the_wire_and_the_domain_agree_on_the_waiting_periods():
    assert tuple(wire.WAITING_PERIOD_DAYS) == groups.WAITING_PERIOD_DAYS


@pytest.mark.parametrize("employees,requested,months,expected", [
    (19, None, None, ("state", 30)),     # a small group: state continuation, Connecticut's 30 months
    (1, None, None, ("state", 30)),
    (19, "state", 36, ("state", 36)),    # the group's policy overrides the length
    (19, "cobra", None, ("cobra", None)),  # a small group may choose COBRA-style continuation
    (20, None, None, ("cobra", None)),   # COBRA from 20 employees; its length follows the event
    (500, "cobra", None, ("cobra", None)),
])
def test_continuation_follows_the_group_size(employees, requested, months, expected):
    assert groups.continuation_policy(employees, requested, months) == expected


@pytest.mark.parametrize("employees,requested,months,field", [
    (20, "state", None, "continuation"),        # federal COBRA binds a group of 20 or more
    (45, "cobra", 18, "continuation_months"),   # COBRA's months are not the group's to set
    (10, "state", 37, "continuation_months"),
    (10, None, 0, "continuation_months"),
])
def test_continuation_the_law_does_not_allow_is_refused(employees, requested, months, field):
    with pytest.raises(RuleBroken) as refused:
        groups.continuation_policy(employees, requested, months)
    assert refused.value.errors == {field: [refused.value.message]}


# --- contacts --------------------------------------------------------------------------------------

def test_a_partial_contact_update_keeps_what_it_does_not_name_and_clears_what_it_sets_to_none():
    current = {"kind": "billing", "name": "Lee", "title": "Controller", "email": "lee@x.example", "phone": None}
    merged = groups.merge_contact(current, {"kind": "billing", "phone": "860-555-0100", "title": None})
    assert merged == {"kind": "billing", "name": "Lee", "title": None, "email": "lee@x.example",
                      "phone": "860-555-0100"}
    assert current["phone"] is None  # the stored contact is not changed in place


def test_replacing_a_contact_keeps_one_per_kind_in_a_stable_order():
    contacts = [{"kind": "enrollment", "name": "E"}, {"kind": "primary", "name": "P"}]
    replaced = groups.replace_contact(contacts, {"kind": "enrollment", "name": "E2"})
    assert replaced == [{"kind": "primary", "name": "P"}, {"kind": "enrollment", "name": "E2"}]
    added = groups.replace_contact(replaced, {"kind": "billing", "name": "B"})
    assert [c["kind"] for c in added] == ["primary", "billing", "enrollment"]
    assert groups.contact_of_kind(added, "billing") == {"kind": "billing", "name": "B"}
    assert groups.contact_of_kind(added, "nobody") is None


# --- member counts ---------------------------------------------------------------------------------

def test_counts_separate_subscribers_from_dependents_and_add_up_over_subgroups():
    first, second = groups.empty_counts(), groups.empty_counts()
    groups.count_members(first, "active", True, 3)
    groups.count_members(first, "active", False, 4)
    groups.count_members(first, "prospective", True, 1)
    groups.count_tier(first, "FAM", 2)
    groups.count_tier(first, "EMP", 1)
    groups.count_members(second, "terminated", True, 2)
    groups.count_tier(second, "EMP", 5)

    assert first["subscribers"] == 4 and first["members"] == 8
    assert first["subscribers_by_status"] == {"prospective": 1, "pending": 0, "active": 3, "cobra": 0,
                                              "terminated": 0, "declined": 0}
    assert first["members_by_status"]["active"] == 7

    total = groups.total_counts([first, second])
    assert total["subscribers"] == 6 and total["members"] == 10
    assert total["subscribers_by_tier"] == {"EMP": 6, "ESP": 0, "ECH": 0, "FAM": 2}
    assert total["subscribers_by_status"]["terminated"] == 2
    assert groups.total_counts([]) == groups.empty_counts()


def test_counts_know_every_member_status_the_member_side_sets_but_cancelled():
    from portal_contracts import roster_members
    assert set(groups.COUNTED_MEMBER_STATUSES) | {groups.NOT_COUNTED_MEMBER_STATUS} == \
        set(roster_members.MEMBER_STATUSES)
    assert wire.COUNTED_MEMBER_STATUSES == groups.COUNTED_MEMBER_STATUSES


# --- the wire schemas ------------------------------------------------------------------------------

def test_the_npi_check_digit_is_the_luhn_digit_with_the_80840_prefix():
    assert wire.npi_is_valid("1234567893")           # the example of the NPI standard
    for wrong_last in "012456789":
        assert not wire.npi_is_valid("123456789" + wrong_last)
    assert not wire.npi_is_valid("1234567839")       # two digits swapped
    assert not wire.npi_is_valid("123456789")
    assert not wire.npi_is_valid("12345678931")
    assert not wire.npi_is_valid("12345678x3")


def address(**changes):
    return dict({"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}, **changes)


def group_input(**changes):
    return dict({"group_number": "100234", "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                 "mailing_address": address(), "contacts": [{"kind": "primary", "name": "Pat", "email": "p@x.example"}],
                 "renewal_date": "2027-01-01", "employee_count": 45}, **changes)


def test_a_group_loads_with_its_policy_defaults_and_the_ein_as_digits():
    loaded = wire.GroupInput().load(group_input(legal_name="  Harbor Widgets LLC  "))
    assert loaded["ein"] == "061234567" and loaded["legal_name"] == "Harbor Widgets LLC"
    assert loaded["renewal_date"] == date(2027, 1, 1)
    assert (loaded["waiting_period_days"], loaded["age_off_policy"]) == (0, "end_of_month")
    assert loaded["continuation"] is None and loaded["physical_address"] is None
    assert wire.Group().dump({"ein": "061234567"})["ein"] == "06-1234567"


@pytest.mark.parametrize("changes,field", [
    ({"group_number": "g-1"}, "group_number"),
    ({"ein": "12345678"}, "ein"),
    ({"ein": "123-456789"}, "ein"),
    ({"employee_count": 0}, "employee_count"),
    ({"employee_count": "45"}, "employee_count"),
    ({"waiting_period_days": 90}, "waiting_period_days"),
    ({"age_off_policy": "never"}, "age_off_policy"),
    ({"continuation": "forever"}, "continuation"),
    ({"renewal_date": "2027-13-01"}, "renewal_date"),
    ({"mailing_address": address(state="XX")}, "mailing_address"),
    ({"mailing_address": address(zip="0610")}, "mailing_address"),
    ({"contacts": []}, "contacts"),
    ({"contacts": [{"kind": "billing", "name": "B", "email": "b@x.example"}]}, "contacts"),
    ({"contacts": [{"kind": "primary", "name": "P"}]}, "contacts"),  # no way to reach them
    ({"contacts": [{"kind": "primary", "name": "P", "email": "p@x.example"},
                   {"kind": "primary", "name": "Q", "email": "q@x.example"}]}, "contacts"),
    ({"fax": "860-555-0100"}, "fax"),
])
def test_a_bad_group_field_is_named(changes, field):
    with pytest.raises(ValidationError) as refused:
        wire.GroupInput().load(group_input(**changes))
    assert list(refused.value.messages) == [field]


def test_nine_digit_zip_codes_are_written_with_a_dash():
    assert wire.Address().load(address(zip="061031234"))["zip"] == "06103-1234"
    assert wire.Address().load(address(zip="06103-1234"))["zip"] == "06103-1234"


def test_plans_default_to_every_tier_and_leave_the_pcp_default_to_the_rules():
    loaded = wire.PlanInput().load({"plan_code": "HMO-GOLD", "name": "Gold HMO", "product": "medical",
                                    "plan_type": "HMO", "network": "METRO"})
    assert loaded["tiers"] == ["EMP", "ESP", "ECH", "FAM"] and loaded["status"] == "active"
    assert loaded["requires_pcp"] is None
    with pytest.raises(ValidationError) as refused:
        wire.PlanInput().load(dict(loaded, plan_code="gold hmo", tiers=["EMP", "EMP", "XYZ"]))
    assert set(refused.value.messages) == {"plan_code", "tiers"}


def test_an_offering_needs_plans_each_named_once():
    assert wire.OfferingInput().validate({"plan_year_start": "2027-01-01", "plan_codes": ["A1"]}) == {}
    assert "plan_codes" in wire.OfferingInput().validate({"plan_year_start": "2027-01-01", "plan_codes": []})
    assert "plan_codes" in wire.OfferingInput().validate({"plan_year_start": "2027-01-01",
                                                          "plan_codes": ["A1", "A1"]})


def test_a_contact_update_names_its_kind_and_something_to_change():
    assert wire.ContactUpdate().load({"kind": "billing", "phone": "(860) 555-0100 x12"}) == \
        {"kind": "billing", "phone": "(860) 555-0100 x12"}
    assert "kind" in wire.ContactUpdate().validate({"phone": "860-555-0100"})
    assert "_schema" in wire.ContactUpdate().validate({"kind": "billing"})
    assert "phone" in wire.SubgroupContactUpdate().validate({"phone": "call me"})
    assert wire.SubgroupContactUpdate().load({"title": ""}) == {"title": None}  # a blanked field clears it


def test_a_provider_needs_a_valid_npi_and_a_network():
    provider = {"npi": "1234567893", "name": "Dr. Ada Park", "specialty": "Family Medicine",
                "address": address(), "networks": ["METRO"]}
    assert wire.ProviderInput().load(provider)["accepting_new_patients"] is True
    assert set(wire.ProviderInput().validate(dict(provider, npi="1234567890", networks=[]))) == {"npi", "networks"}


def test_every_rpc_of_the_contract_s_group_side_has_its_schemas():
    assert set(wire.RPC_SCHEMAS) == {
        "load_plans", "list_plans", "create_group", "create_subgroup", "set_subgroup_plans", "load_providers",
        "get_group", "list_subgroups", "get_subgroup", "update_group_contact", "update_subgroup_contact",
        "list_group_plans", "dashboard"}


# --- event payloads --------------------------------------------------------------------------------

CONTRACT_KEYS = {
    "group_created": {"group_number", "legal_name", "status", "renewal_date", "employee_count",
                      "waiting_period_days", "age_off_policy", "continuation", "continuation_months", "subgroups"},
    "subgroup_created": {"group_number", "subgroup_number", "name", "status"},
    "group_plans_set": {"group_number", "subgroup_number", "plan_year_start", "plan_year_end", "plans"},
}
CONTRACT_KEYS["group_updated"] = CONTRACT_KEYS["group_created"]


@pytest.mark.parametrize("event_type", sorted(CONTRACT_KEYS))
def test_each_group_event_example_has_exactly_the_contract_s_fields_and_loads(event_type):
    spec = group_events.PUBLISHED[event_type]
    assert set(spec["example"]) == CONTRACT_KEYS[event_type]
    assert spec["schema"]().validate(spec["example"]) == {}
    assert set(spec["schema"]().fields) == CONTRACT_KEYS[event_type]
    assert spec["version"] == 1


def test_plans_in_group_plans_set_carry_what_billing_needs_to_rate_them():
    plan = group_events.PUBLISHED["group_plans_set"]["example"]["plans"][0]
    assert set(plan) == {"plan_code", "name", "product", "plan_type", "network", "tiers"}
