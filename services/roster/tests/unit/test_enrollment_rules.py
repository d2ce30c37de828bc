"""New-enrollment rules (roster.domain.enrollment) and the wire schema's own checks, without a service."""
import re
from datetime import date, timedelta

import pytest
from marshmallow import ValidationError

from portal_contracts.roster_members import EnrollmentInput, SearchFilters, TransactionEdit
from roster.domain import enrollment as rules
from roster.domain.enrollment import Offering

TODAY = date(2026, 6, 15)
YEAR_2026 = (date(2026, 1, 1), date(2026, 12, 31))
PPO = Offering("PPO-1", *YEAR_2026, ("EMP", "ESP", "ECH", "FAM"), "PPO", "medical", "PPO", "OPEN")
EMP_ONLY = Offering("HMO-E", *YEAR_2026, ("EMP",), "HMO employee only", "medical", "HMO", "CARE")
NEXT_YEAR = Offering("PPO-2", date(2027, 1, 1), date(2027, 12, 31), ("EMP", "ESP", "ECH", "FAM"))
OFFERINGS = [PPO, EMP_ONLY, NEXT_YEAR]


def enrollment(hire="2026-06-01", dependents=(), plan="PPO-1", effective=None, ssn="123-45-6789"):
    body = {
        "subgroup_number": "001", "plan_code": plan,
        "subscriber": {"first_name": " Dana ", "last_name": "Whitfield", "date_of_birth": "1986-04-12",
                       "gender": "F", "marital_status": "M", "ssn": ssn, "hire_date": hire,
                       "employment_status": "active",
                       "mailing_address": {"line1": "1 Main St", "city": "Hartford", "state": "CT", "zip": "06103"}},
        "dependents": list(dependents),
    }
    if effective:
        body["effective_date"] = effective
    return EnrollmentInput().load(body)


def dependent(relationship="child", born="2015-02-03", ssn="234-56-7890", **extra):
    return dict({"relationship": relationship, "first_name": "Riley", "last_name": "Whitfield",
                 "date_of_birth": born, "gender": "U", "ssn": ssn}, **extra)


def refused(data, waiting=0, offerings=OFFERINGS, today=TODAY):
    with pytest.raises(rules.EnrollmentInvalid) as caught:
        rules.decide_enrollment(data, waiting, offerings, today)
    assert caught.value.status == 422 and caught.value.code == "enrollment_invalid"
    return caught.value.errors


# --- the wire schema ----------------------------------------------------------------------------------

def test_ssn_loads_as_nine_digits_with_or_without_dashes():
    assert enrollment(ssn="123-45-6789")["subscriber"]["ssn"] == "123456789"
    assert enrollment(ssn="123456789")["subscriber"]["ssn"] == "123456789"


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567",
                                 "123-45-0000", "12-345-6789", "1234-56-789", "12345678", "123-456789"])
def test_ssns_never_issued_or_malformed_are_refused_without_repeating_them(ssn):
    with pytest.raises(ValidationError) as caught:
        enrollment(ssn=ssn)
    messages = caught.value.messages["subscriber"]["ssn"]
    assert messages and not any(re.sub(r"\D", "", ssn) in message for message in messages)


def test_missing_required_fields_are_named():
    with pytest.raises(ValidationError) as caught:
        EnrollmentInput().load({"subgroup_number": "001", "plan_code": "PPO-1",
                                "subscriber": {"first_name": "Dana", "email": ""}})
    subscriber = caught.value.messages["subscriber"]
    assert {"last_name", "date_of_birth", "gender", "marital_status", "ssn", "mailing_address", "hire_date",
            "employment_status"} <= set(subscriber)
    assert "email" not in subscriber  # a blank optional field is absent, not invalid


def test_a_dependent_not_electing_must_name_the_other_coverage():
    with pytest.raises(ValidationError) as caught:
        enrollment(dependents=[dependent(elect_coverage=False)])
    assert "other_coverage" in caught.value.messages["dependents"][0]
    loaded = enrollment(dependents=[dependent(elect_coverage=False, other_coverage="Aetna via spouse")])
    assert loaded["dependents"][0]["other_coverage"] == "Aetna via spouse"


def test_relationships_are_the_listed_ones_and_names_are_trimmed():
    with pytest.raises(ValidationError) as caught:
        enrollment(dependents=[dependent(relationship="cousin")])
    assert "relationship" in caught.value.messages["dependents"][0]
    assert enrollment()["subscriber"]["first_name"] == "Dana"


def test_search_filters_cap_the_page_size_and_upper_case_member_ids():
    assert SearchFilters().load({"member_id": "m123456789"})["member_id"] == "M123456789"
    assert SearchFilters().load({})["limit"] == 50
    with pytest.raises(ValidationError):
        SearchFilters().load({"limit": "201"})
    with pytest.raises(ValidationError):
        TransactionEdit().load({})


# --- effective date -----------------------------------------------------------------------------------

@pytest.mark.parametrize("hire,waiting,expected", [
    ("2026-06-01", 0, "2026-06-01"),    # hired on the first: covered from that day
    ("2026-06-02", 0, "2026-07-01"),
    ("2026-06-02", 30, "2026-08-01"),   # June 2 + 30 = July 2 -> August 1
    ("2026-05-31", 30, "2026-07-01"),   # May 31 + 30 = June 30 -> July 1
    ("2026-03-02", 60, "2026-05-01"),   # March 2 + 60 = May 1, a first: that day
    ("2026-12-15", 0, "2027-01-01"),    # across the year end
])
def test_policy_effective_date_is_the_first_of_the_month_on_or_after_hire_plus_waiting(hire, waiting, expected):
    assert rules.policy_effective_date(date.fromisoformat(hire), waiting) == date.fromisoformat(expected)


def test_no_allowed_waiting_period_starts_coverage_after_day_91():
    hire = date(2025, 1, 1)
    for offset in range(0, 800):
        day = hire + timedelta(days=offset)
        for waiting in (0, 30, 60):
            assert rules.policy_effective_date(day, waiting) <= rules.latest_effective_date(day)


def test_day_91_counts_the_hire_date_as_day_1():
    assert rules.latest_effective_date(date(2026, 1, 6)) == date(2026, 4, 6)  # the regulation's own example


def test_a_waiting_period_that_would_pass_day_91_is_refused():
    errors = refused(enrollment(hire="2026-03-10"), waiting=90)
    assert "day 91" in errors["subscriber"][0]


def test_a_requested_later_effective_date_is_allowed_up_to_day_91():
    decision = rules.decide_enrollment(enrollment(hire="2026-06-10", effective="2026-09-01"), 0, OFFERINGS, TODAY)
    assert decision.effective_date == date(2026, 9, 1)
    assert rules.latest_effective_date(date(2026, 6, 10)) == date(2026, 9, 8)


def test_a_requested_effective_date_past_day_91_is_refused_on_effective_date():
    errors = refused(enrollment(hire="2026-06-10", effective="2026-10-01"))
    assert list(errors) == ["effective_date"]
    assert "2026-09-08" in errors["effective_date"][0] and "day 91" in errors["effective_date"][0]


def test_a_requested_effective_date_before_the_policy_is_refused():
    errors = refused(enrollment(hire="2026-06-10", effective="2026-06-20"), waiting=30)
    assert "2026-08-01" in errors["effective_date"][0]


# --- timing: completed, pending, held, refused --------------------------------------------------------

def timing_of(effective):
    problems = rules.Problems()
    result = rules.timing(effective, TODAY, problems)
    return result, problems.errors


def test_an_effective_date_today_or_up_to_30_days_back_completes_at_once():
    assert timing_of(TODAY) == ((rules.TXN_COMPLETED, None), {})
    assert timing_of(TODAY - timedelta(days=30)) == ((rules.TXN_COMPLETED, None), {})


def test_a_future_effective_date_is_pending_without_a_hold():
    assert timing_of(TODAY + timedelta(days=1)) == ((rules.TXN_PENDING, None), {})


def test_31_to_60_days_back_is_held_for_carrier_review():
    for days in (31, 45, 60):
        (status, hold), errors = timing_of(TODAY - timedelta(days=days))
        assert status == rules.TXN_PENDING and not errors
        assert "%d days in the past" % days in hold


def test_more_than_60_days_back_is_refused():
    (status, _hold), errors = timing_of(TODAY - timedelta(days=61))
    assert status is None and "61 days in the past" in errors["effective_date"][0]


def test_a_census_has_no_retro_limit():
    problems = rules.Problems()
    assert rules.timing(date(2020, 1, 1), TODAY, problems, retro_limits=False) == (rules.TXN_COMPLETED, None)
    assert not problems


def test_decision_statuses_for_the_members():
    held = rules.decide_enrollment(enrollment(hire="2026-04-10"), 0, OFFERINGS, TODAY)  # May 1: 45 days back
    assert (held.status, held.member_status) == ("pending", "pending") and held.hold_reason
    future = rules.decide_enrollment(enrollment(hire="2026-06-20"), 0, OFFERINGS, TODAY)
    assert (future.effective_date, future.status, future.member_status) == (date(2026, 7, 1), "pending",
                                                                            "prospective")
    now = rules.decide_enrollment(enrollment(hire="2026-06-01"), 0, OFFERINGS, TODAY)
    assert (now.status, now.member_status, now.hold_reason) == ("completed", "active", None)


# --- who is covered, and the tier ---------------------------------------------------------------------

@pytest.mark.parametrize("codes,tier", [
    ([], "EMP"), (["01"], "ESP"), (["53"], "ESP"), (["19"], "ECH"), (["19", "09", "17"], "ECH"),
    (["G8"], "ECH"), (["01", "19"], "FAM"), (["53", "10"], "FAM"),
])
def test_tier_follows_from_who_is_covered(codes, tier):
    assert rules.coverage_tier(codes) == tier


def test_a_dependent_not_electing_does_not_change_the_tier():
    data = enrollment(dependents=[dependent("spouse", "1985-01-01", "345-67-8901"),
                                  dependent(elect_coverage=False, other_coverage="Other parent's plan")])
    decision = rules.decide_enrollment(data, 0, OFFERINGS, TODAY)
    assert decision.tier == "ESP" and decision.covered == [0]


def test_a_spouse_and_a_child_make_a_family():
    data = enrollment(dependents=[dependent("spouse", "1985-01-01", "345-67-8901"), dependent()])
    assert rules.decide_enrollment(data, 0, OFFERINGS, TODAY).tier == "FAM"


def test_at_most_one_spouse_or_partner():
    data = enrollment(dependents=[dependent("spouse", "1985-01-01", "345-67-8901"),
                                  dependent("domestic_partner", "1987-01-01", "456-78-9012")])
    assert "one spouse" in refused(data)["dependents"][1]["relationship"][0]


@pytest.mark.parametrize("relationship", ["child", "adopted_child", "stepchild", "foster_child", "ward"])
def test_children_are_covered_until_26(relationship):
    effective = date(2026, 6, 1)
    turns_26_after = (effective - timedelta(days=365 * 26 - 10)).isoformat()  # 25 on the effective date
    rules.decide_enrollment(enrollment(dependents=[dependent(relationship, turns_26_after)]), 0, OFFERINGS, TODAY)
    errors = refused(enrollment(dependents=[dependent(relationship, "1999-03-01")]))  # 27
    assert "until age 26" in errors["dependents"][0]["date_of_birth"][0]


def test_the_age_limit_is_checked_on_the_effective_date_to_the_day():
    born = "2000-07-01"  # 26 on 2026-07-01
    rules.decide_enrollment(enrollment(hire="2026-06-01", dependents=[dependent(born=born)]), 0, OFFERINGS, TODAY)
    errors = refused(enrollment(hire="2026-06-20", dependents=[dependent(born=born)]))  # effective July 1
    assert "is 26 on the effective date 2026-07-01" in errors["dependents"][0]["date_of_birth"][0]


def test_a_disabled_child_and_other_relationships_may_be_older():
    older = [dependent(born="1990-01-01", disabled=True), dependent("other", "1950-01-01", "567-89-0123")]
    assert rules.decide_enrollment(enrollment(dependents=older), 0, OFFERINGS, TODAY).tier == "ECH"


def test_an_ssn_is_required_from_one_year_of_age():
    newborn = dependent(born=(TODAY - timedelta(days=200)).isoformat(), ssn=None)
    rules.decide_enrollment(enrollment(dependents=[newborn]), 0, OFFERINGS, TODAY)
    one_year_old = dependent(born=(TODAY - timedelta(days=366)).isoformat(), ssn=None)
    assert "SSN is required" in refused(enrollment(dependents=[one_year_old]))["dependents"][0]["ssn"][0]


def test_birth_dates_in_the_future_and_repeated_ssns_are_refused():
    data = enrollment(dependents=[dependent(born="2026-07-01"), dependent(ssn="123-45-6789")])
    errors = refused(data)
    assert "future" in errors["dependents"][0]["date_of_birth"][0]
    assert "twice" in errors["dependents"][1]["ssn"][0]


def test_every_problem_is_reported_at_once():
    two_partners = [dependent("spouse", "1985-01-01", "345-67-8901"),
                    dependent("domestic_partner", "1987-01-01", "456-78-9012")]
    errors = refused(enrollment(hire="2026-06-10", effective="2026-12-01", plan="NOPE", dependents=two_partners))
    assert set(errors) == {"effective_date", "dependents"}  # no plan check without an effective date
    errors = refused(enrollment(plan="NOPE", dependents=[dependent(born="1990-01-01")]))
    assert set(errors) == {"plan_code", "dependents"}


# --- the plan -----------------------------------------------------------------------------------------

def test_the_plan_must_be_offered_to_the_subgroup_for_the_plan_year_of_the_effective_date():
    errors = refused(enrollment(plan="PPO-2"))  # offered for 2027 only
    assert "not offered to subgroup 001 for the plan year holding 2026-06-01" in errors["plan_code"][0]
    assert "PPO-1" in errors["plan_code"][0]  # and says what is offered
    decision = rules.decide_enrollment(enrollment(hire="2026-12-15", plan="PPO-2"), 0, OFFERINGS, TODAY)
    assert decision.offering is NEXT_YEAR


def test_the_plan_must_sell_the_familys_tier():
    errors = refused(enrollment(plan="HMO-E", dependents=[dependent()]))
    assert "does not sell ECH" in errors["plan_code"][0]
    assert rules.decide_enrollment(enrollment(plan="HMO-E"), 0, OFFERINGS, TODAY).tier == "EMP"


# --- identity of people -------------------------------------------------------------------------------

def test_one_subscriber_per_ssn_per_group():
    assert rules.enrollment_reason(None) == "28"
    assert rules.enrollment_reason("terminated") == "41"   # a rehire: re-enrolled on the same row
    assert rules.enrollment_reason("cancelled") == "28"    # it never took effect
    for status in ("active", "prospective", "pending", "cobra"):
        with pytest.raises(rules.SubscriberAlreadyEnrolled) as caught:
            rules.enrollment_reason(status, "M123456789")
        assert caught.value.status == 409 and "M123456789" in caught.value.detail


def test_codes_are_x12s():
    assert (rules.ADDITION, rules.INITIAL_ENROLLMENT, rules.RE_ENROLLMENT) == ("021", "28", "41")
    assert rules.CHILD_CODES == {"19", "09", "17", "10", "15"} and rules.SPOUSE_CODES == {"01", "53"}


def test_confirmation_numbers_and_member_ids():
    number = rules.new_confirmation_number(date(2026, 11, 23))
    assert re.fullmatch(r"E261123[0-9A-HJKMNP-TV-Z]{6}", number)
    assert len({rules.new_confirmation_number(TODAY) for _ in range(3000)}) == 3000
    assert re.fullmatch(r"M\d{9}", rules.new_member_id())
    assert len({rules.new_member_id() for _ in range(3000)}) == 3000


# --- the transaction state machine --------------------------------------------------------------------

@pytest.mark.parametrize("target", ["completed", "rejected", "cancelled"])
def test_a_pending_transaction_may_complete_be_rejected_or_cancelled(target):
    rules.check_transition("pending", target, "E261115AAAAAA")


@pytest.mark.parametrize("current", ["completed", "rejected", "cancelled"])
@pytest.mark.parametrize("target", ["completed", "rejected", "cancelled", "pending"])
def test_nothing_leaves_a_final_state(current, target):
    with pytest.raises(rules.TransactionNotPending) as caught:
        rules.check_transition(current, target, "E261115AAAAAA")
    assert caught.value.status == 409 and current in caught.value.detail
    with pytest.raises(rules.TransactionNotPending):
        rules.check_editable(current, "E261115AAAAAA")


def test_due_means_pending_without_a_hold_and_its_date_reached():
    assert rules.is_due("pending", None, TODAY, TODAY)
    assert rules.is_due("pending", None, TODAY - timedelta(days=3), TODAY)
    assert not rules.is_due("pending", None, TODAY + timedelta(days=1), TODAY)
    assert not rules.is_due("pending", "held for review", TODAY, TODAY)
    assert not rules.is_due("completed", None, TODAY, TODAY)


def test_an_edit_follows_the_same_rules():
    kwargs = dict(hire_date=date(2026, 6, 10), waiting_period_days=0, current_effective_date=date(2026, 7, 1),
                  plan_code="PPO-1", tier="ECH", dependents=[("19", date(2000, 8, 15), False, "Riley W")],
                  offerings=OFFERINGS, subgroup_number="001", today=TODAY)
    assert rules.decide_edit(requested_effective_date=date(2026, 8, 1), **kwargs)[0] == date(2026, 8, 1)
    with pytest.raises(rules.EnrollmentInvalid) as caught:  # the child turns 26 on 2026-08-15
        rules.decide_edit(requested_effective_date=date(2026, 9, 1), **kwargs)
    assert "past the child age limit" in caught.value.errors["effective_date"][0]
    with pytest.raises(rules.EnrollmentInvalid) as caught:
        rules.decide_edit(requested_effective_date=date(2026, 9, 15), **kwargs)  # after day 91
    assert "day 91" in caught.value.errors["effective_date"][0]
    with pytest.raises(rules.EnrollmentInvalid) as caught:
        rules.decide_edit(requested_effective_date=None, **dict(kwargs, plan_code="HMO-E"))
    assert "does not sell ECH" in caught.value.errors["plan_code"][0]
