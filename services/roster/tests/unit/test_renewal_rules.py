"""Renewal and open-enrollment rules (roster.domain.renewal) and their wire schemas
(portal_contracts.roster_renewal), without a broker or a database."""
from datetime import date

import pytest
from marshmallow import ValidationError

from portal_contracts import roster_renewal as wire
from roster.domain import renewal as rules
from roster.domain.enrollment import EnrollmentInvalid

RENEWAL = date(2028, 1, 1)


# --- which renewal, the window, the notices -------------------------------------------------------

def test_the_window_opens_30_days_before_the_renewal_date_and_closes_the_day_before():
    window = rules.Window(RENEWAL)
    assert (window.opens, window.closes, window.plan_year_end) == (date(2027, 12, 2), date(2027, 12, 31),
                                                                   date(2027, 12, 31))
    assert [window.is_open(day) for day in (date(2027, 12, 1), date(2027, 12, 2), date(2027, 12, 31),
                                            date(2028, 1, 1))] == [False, True, True, False]


@pytest.mark.parametrize("today,message", [
    (date(2027, 12, 1), "has not opened yet (today is 2027-12-01)"),
    (date(2028, 1, 1), "has closed (today is 2028-01-01)"),
])
def test_a_choice_outside_the_window_is_refused_naming_the_date_and_the_window(today, message):
    with pytest.raises(rules.OpenEnrollmentClosed) as refused:
        rules.check_window(rules.Window(RENEWAL), today)
    assert refused.value.status == 422 and refused.value.code == "open_enrollment_closed"
    assert "runs from 2027-12-02 to 2027-12-31" in refused.value.detail and message in refused.value.detail
    assert refused.value.errors["choice"] == [refused.value.detail]
    rules.check_window(rules.Window(RENEWAL), date(2027, 12, 15))  # inside: no refusal


def test_on_the_renewal_date_the_refusal_says_the_window_of_the_new_plan_year_is_over():
    with pytest.raises(rules.OpenEnrollmentClosed) as refused:
        rules.check_window(rules.Window(date(2029, 1, 1)), date(2028, 1, 1), date(2028, 1, 1))
    assert refused.value.detail == (
        "Open enrollment for the plan year starting 2029-01-01 runs from 2028-12-02 to 2028-12-31; it has not "
        "opened yet (today is 2028-01-01). Open enrollment for the plan year starting 2028-01-01 closed on "
        "2027-12-31.")


@pytest.mark.parametrize("group_renewal,today,upcoming", [
    (date(2027, 1, 1), date(2027, 11, 20), date(2028, 1, 1)),   # the start of the current plan year
    (date(2028, 1, 1), date(2027, 11, 20), date(2028, 1, 1)),   # the next one, moved on by the last renewal
    (date(2028, 1, 1), date(2028, 1, 1), date(2029, 1, 1)),     # on the renewal date the next is a year away
    (date(2026, 7, 1), date(2027, 6, 30), date(2027, 7, 1)),
])
def test_the_upcoming_renewal_is_the_next_one_after_today(group_renewal, today, upcoming):
    assert rules.upcoming_renewal(group_renewal, today) == upcoming


@pytest.mark.parametrize("as_of,days", [
    (date(2027, 11, 1), 61), (date(2027, 11, 2), 60), (date(2027, 11, 3), 60), (date(2027, 12, 1), 60),
    (date(2027, 12, 2), 30), (date(2027, 12, 31), 30), (date(2028, 1, 1), None),
])
def test_notices_are_due_60_and_30_days_before_the_renewal_date(as_of, days):
    expected = None if days == 61 else days
    assert rules.notice_due(rules.renewal_on_or_after(date(2027, 1, 1), as_of), as_of) == expected


def test_on_the_renewal_date_the_renewal_counted_to_is_that_day():
    assert rules.renewal_on_or_after(date(2027, 1, 1), date(2028, 1, 1)) == date(2028, 1, 1)
    assert rules.renewal_on_or_after(date(2027, 1, 1), date(2027, 11, 2)) == date(2028, 1, 1)


def test_a_loaded_plan_year_is_replaceable_until_open_enrollment_opens():
    rules.check_replaceable(rules.Window(RENEWAL), date(2027, 12, 1))
    with pytest.raises(rules.OpenEnrollmentStarted) as refused:
        rules.check_replaceable(rules.Window(RENEWAL), date(2027, 12, 2))
    assert refused.value.status == 409 and "opened on 2027-12-02" in refused.value.detail


# --- loading a plan year --------------------------------------------------------------------------

PLANS = {code: rules.PlanView(code, status, tiers) for code, status, tiers in (
    ("PPO-OLD", "retired", ("EMP", "ESP", "ECH", "FAM")),
    ("PPO-NEW", "active", ("EMP", "ESP", "ECH", "FAM")),
    ("HMO-PLANT", "active", ("EMP", "ESP", "ECH", "FAM")),
    ("EPO-SOLO", "active", ("EMP",)),
)}


def load(offerings, mappings=(), start=RENEWAL):
    return {"plan_year_start": start,
            "offerings": [{"subgroup_number": number, "plan_codes": codes} for number, codes in offerings],
            "plan_mappings": [{"from_plan_code": source, "to_plan_code": target} for source, target in mappings]}


def errors_of(data, ending):
    with pytest.raises(EnrollmentInvalid) as refused:
        rules.check_plan_year(data, RENEWAL, {"001", "002"}, ending, PLANS)
    assert refused.value.status == 422
    return refused.value.errors


def test_a_plan_year_with_every_lost_plan_mapped_is_accepted():
    ending = {"001": {"PPO-OLD"}, "002": {"HMO-PLANT"}}
    offerings, mappings = rules.check_plan_year(
        load([("001", ["PPO-NEW"]), ("002", ["HMO-PLANT"])], [("PPO-OLD", "PPO-NEW")]), RENEWAL, {"001", "002"},
        ending, PLANS)
    assert offerings == {"001": ["PPO-NEW"], "002": ["HMO-PLANT"]}
    assert mappings == {"PPO-OLD": "PPO-NEW"}


def test_a_plan_a_subgroup_loses_without_a_mapping_is_named():
    errors = errors_of(load([("001", ["PPO-NEW"]), ("002", ["HMO-PLANT"])]), {"001": {"PPO-OLD"}, "002": set()})
    assert errors == {"plan_mappings": {"PPO-OLD": ["PPO-OLD (subgroup 001) is not offered in the plan year starting "
                                                    "2028-01-01: map it to a plan offered there."]}}


def test_a_mapping_must_lead_to_a_plan_offered_to_that_subgroup_and_selling_its_tiers():
    errors = errors_of(load([("001", ["PPO-NEW"]), ("002", ["HMO-PLANT"])], [("PPO-OLD", "HMO-PLANT")]),
                       {"001": {"PPO-OLD"}, "002": {"HMO-PLANT"}})
    assert errors == {"plan_mappings": {"PPO-OLD": ["PPO-OLD is mapped to HMO-PLANT, which subgroup 001 is not "
                                                    "offered in the plan year starting 2028-01-01."]}}
    errors = errors_of(load([("001", ["EPO-SOLO"])], [("PPO-OLD", "EPO-SOLO")]), {"001": {"PPO-OLD"}})
    assert errors == {"plan_mappings": {0: {"to_plan_code": [
        "EPO-SOLO does not sell every tier PPO-OLD does (ECH, ESP, FAM); its families could not carry over."]}}}


def test_a_load_names_the_wrong_start_unknown_subgroups_plans_not_sold_and_missing_subgroups():
    errors = errors_of(load([("009", ["PPO-OLD"])], [("NOPE", "PPO-NEW")], start=date(2028, 2, 1)),
                       {"001": {"PPO-OLD"}, "002": set()})
    assert errors["plan_year_start"] == ["The next plan year of this group starts on 2028-01-01 (its renewal date, "
                                         "the day after the current plan year ends), not 2028-02-01."]
    assert errors["offerings"][0] == {"subgroup_number": ["The group has no subgroup 009."],
                                      "plan_codes": ["Not sold any more: PPO-OLD."]}
    assert errors["offerings"]["_schema"] == ["Subgroup(s) 001 have plans in the ending plan year: give their "
                                              "offering for the next one."]
    assert errors["plan_mappings"][0] == {"from_plan_code": ["NOPE is not a plan of the ending plan year in this "
                                                             "group."]}


def test_a_subgroup_with_plans_in_the_ending_year_must_be_given_an_offering():
    with pytest.raises(EnrollmentInvalid) as refused:
        rules.check_plan_year(load([("001", ["PPO-OLD", "PPO-NEW"])]), RENEWAL, {"001", "002"},
                              {"001": set(), "002": {"HMO-PLANT"}}, dict(PLANS, **{
                                  "PPO-OLD": rules.PlanView("PPO-OLD", "active", ("EMP",))}))
    assert refused.value.errors == {"offerings": {"_schema": [
        "Subgroup(s) 002 have plans in the ending plan year: give their offering for the next one."]}}


# --- elections ------------------------------------------------------------------------------------

SPOUSE = rules.Dependent("M000000002", "01", date(1985, 9, 30), False, "active")
CHILD = rules.Dependent("M000000003", "19", date(2015, 2, 3), False, "declined")
ADULT_CHILD = rules.Dependent("M000000004", "19", date(2001, 12, 31), False, "active")   # 26 on 2027-12-31
DISABLED_ADULT = rules.Dependent("M000000005", "19", date(2001, 12, 31), True, "active")
OFFERED = {"PPO-NEW": ("EMP", "ESP", "ECH", "FAM"), "EPO-SOLO": ("EMP",)}


def test_begin_covers_the_chosen_dependents_in_a_plan_offered_and_gives_their_tier():
    family = [SPOUSE, CHILD, ADULT_CHILD, DISABLED_ADULT]
    assert rules.check_begin("PPO-NEW", OFFERED, [], family, RENEWAL) == "EMP"
    assert rules.check_begin("PPO-NEW", OFFERED, ["m000000002"], family, RENEWAL) == "ESP"
    assert rules.check_begin("PPO-NEW", OFFERED, ["M000000002", "M000000003", "M000000005"], family, RENEWAL) == "FAM"


def test_begin_refuses_a_plan_not_offered_a_tier_not_sold_and_people_not_eligible():
    family = [SPOUSE, CHILD, ADULT_CHILD]
    with pytest.raises(EnrollmentInvalid) as refused:
        rules.check_begin("PPO-OLD", OFFERED, ["M000000004", "M999999999"], family, RENEWAL)
    assert refused.value.errors == {
        "plan_code": ["PPO-OLD is not offered to this subscriber's subgroup in the plan year starting 2028-01-01; "
                      "choose one of: EPO-SOLO, PPO-NEW."],
        "dependent_member_ids": {0: ["M000000004 is 26 or older on 2028-01-01 and no longer eligible."],
                                 1: ["M999999999 is not a dependent of this subscriber."]}}
    with pytest.raises(EnrollmentInvalid) as refused:
        rules.check_begin("EPO-SOLO", OFFERED, ["M000000003"], family, RENEWAL)
    assert refused.value.errors == {"plan_code": ["EPO-SOLO does not sell the ECH tier these dependents make."]}


@pytest.mark.parametrize("body,errors", [
    ({"choice": "begin"}, {"plan_code": ["Choose the plan to begin."]}),
    ({"choice": "decline"}, {"decline_reason": ["Give the reason for declining."]}),
    ({"choice": "decline", "decline_reason": "spouse"}, {"decline_reason": [
        "Must be one of: other_employer_coverage, spouse_group_coverage, parent_group_coverage, individual_coverage, "
        "cobra_elsewhere, medicare, medicaid, va_tricare, no_coverage, voluntary_withdrawal."]}),
    ({"choice": "keep", "plan_code": "PPO-NEW", "decline_reason": "medicare"},
     {"plan_code": ["Only with choice begin."], "decline_reason": ["Only with choice decline."]}),
    ({"choice": "switch"}, {"choice": ["Must be one of: begin, keep, decline."]}),
    ({"choice": "keep", "ssn": "123456789"}, {"ssn": ["Unknown field."]}),
])
def test_the_election_form_asks_for_what_its_choice_needs(body, errors):
    with pytest.raises(ValidationError) as refused:
        wire.OpenEnrollmentElectionInput().load(body)
    assert refused.value.messages == errors


def test_a_decline_with_a_reason_and_the_other_plan_loads():
    loaded = wire.OpenEnrollmentElectionInput().load({"choice": "decline", "decline_reason": "spouse_group_coverage",
                                                      "alternate_plan": " Acme Corp PPO "})
    assert (loaded["decline_reason"], loaded["alternate_plan"], loaded["plan_code"]) == (
        "spouse_group_coverage", "Acme Corp PPO", None)


# --- the renewal date -----------------------------------------------------------------------------

def test_without_a_choice_a_retired_plan_carries_over_into_its_mapping_and_an_offered_one_stays():
    mappings = {"PPO-OLD": "PPO-NEW"}
    assert rules.carry_over_plan("PPO-OLD", {"PPO-NEW"}, mappings) == "PPO-NEW"
    assert rules.carry_over_plan("PPO-NEW", {"PPO-NEW"}, mappings) is None
    assert rules.carry_over_plan("HMO-PLANT", {"HMO-PLANT"}, mappings) is None


def test_the_renewed_event_counts_each_way_a_family_came_across():
    assert rules.renewal_counts(["begin", "keep", "decline", "decline"], 7) == {
        "carried_over": 7, "kept": 1, "began": 1, "declined": 2}
