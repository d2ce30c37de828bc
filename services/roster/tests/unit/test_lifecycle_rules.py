"""Member lifecycle rules (roster.domain.lifecycle) and their wire schemas, without a service: when a
termination ends coverage and whether it completes, the retroactive and reinstatement windows at their edges,
who follows an address change, demographic corrections, transfers."""
from datetime import date

import pytest
from marshmallow import ValidationError

from portal_contracts.roster_lifecycle import AddressChangeInput, DemographicsInput, TerminationInput, TransferInput
from roster.domain import lifecycle as rules
from roster.domain.enrollment import EnrollmentInvalid, Offering

TODAY = date(2027, 4, 1)
SPOUSE, CHILD, SELF = "01", "19", "18"
ADDRESS = {"line1": "12 Orchard Ln", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
NEW_ADDRESS = {"line1": "9 Elm St", "line2": None, "city": "Avon", "state": "CT", "zip": "06001"}


def terminate(event_date, cause="termination_of_benefits", today=TODAY, relationship=SPOUSE, whole_family=False,
              covered=True, ends=None):
    return rules.decide_termination(cause=cause, event_date=event_date, relationship_code=relationship,
                                    whole_family=whole_family, covered_on_last_day=covered, coverage_ends=ends,
                                    today=today)


def refusal(function, *args, **kwargs):
    with pytest.raises(EnrollmentInvalid) as caught:
        function(*args, **kwargs)
    return caught.value.errors


# --- termination: the last covered day and the timing ---------------------------------------------------

def test_a_termination_ends_on_the_last_day_of_the_event_month_and_completes_when_that_day_has_passed():
    decision = terminate(date(2027, 3, 10))
    assert (decision.termination_date, decision.completes_on, decision.status, decision.hold_reason,
            decision.reason) == (date(2027, 3, 31), date(2027, 4, 1), "completed", None, "07")


def test_a_mid_month_death_ends_coverage_that_day():
    decision = terminate(date(2027, 3, 17), cause="death")
    assert (decision.termination_date, decision.completes_on, decision.reason, decision.date_of_death) == (
        date(2027, 3, 17), date(2027, 3, 18), "03", date(2027, 3, 17))
    assert refusal(terminate, date(2027, 4, 2), cause="death") == {
        "event_date": ["A date of death cannot be in the future."]}


def test_a_future_termination_is_pending_until_the_day_after_the_last_covered_day():
    decision = terminate(date(2027, 5, 5))
    assert (decision.termination_date, decision.completes_on, decision.status, decision.hold_reason) == (
        date(2027, 5, 31), date(2027, 6, 1), "pending", None)
    # The last day of this month is still to come: pending as well.
    assert terminate(date(2027, 4, 1)).status == "pending"


def test_a_termination_60_days_back_is_held_for_carrier_review_and_61_days_back_is_refused():
    # The last covered day is 2027-01-31: 60 days before 2027-04-01, 61 before 2027-04-02.
    held = terminate(date(2027, 1, 20), today=date(2027, 4, 1))
    assert (held.termination_date, held.status) == (date(2027, 1, 31), "pending")
    assert "60 days in the past" in held.hold_reason and "carrier review" in held.hold_reason
    errors = refusal(terminate, date(2027, 1, 20), today=date(2027, 4, 2))
    assert list(errors) == ["event_date"]
    assert "61 days in the past; a change may reach back at most 60 days" in errors["event_date"][0]
    # 30 days back completes at once; 31 is held.
    assert terminate(date(2027, 3, 2), cause="death", today=date(2027, 4, 1)).status == "completed"
    assert terminate(date(2027, 3, 1), cause="death", today=date(2027, 4, 1)).hold_reason.startswith(
        "Effective 31 days")


def test_the_date_error_stays_on_event_date_when_the_cause_is_wrong_too():
    errors = refusal(terminate, date(2027, 1, 20), cause="divorce", relationship=CHILD, today=date(2027, 4, 2))
    assert sorted(errors) == ["cause", "event_date"]


def test_causes_fit_the_member():
    assert refusal(terminate, date(2027, 3, 10), cause="divorce", relationship=CHILD) == {
        "cause": ["Divorce ends the coverage of a spouse or domestic partner only."]}
    assert terminate(date(2027, 3, 10), cause="divorce", relationship="53").reason == "01"
    assert "terminate the subscriber" in refusal(terminate, date(2027, 3, 10), cause="termination_of_employment")[
        "cause"][0]
    assert terminate(date(2027, 3, 10), cause="termination_of_employment", relationship=SELF,
                     whole_family=True).reason == "08"


def test_only_coverage_in_force_and_going_on_can_be_ended():
    assert refusal(terminate, date(2027, 3, 10), covered=False) == {
        "event_date": ["The member is not covered on 2027-03-31; there is no coverage to end."]}
    assert refusal(terminate, date(2027, 3, 10), ends=date(2027, 3, 31)) == {
        "event_date": ["The member's coverage already ends on 2027-03-31."]}
    # Ending earlier than an end already on file is allowed.
    assert terminate(date(2027, 3, 10), ends=date(2027, 5, 31)).termination_date == date(2027, 3, 31)


def test_a_termination_is_scheduled_at_most_a_year_ahead():
    assert "at most 366 days ahead" in refusal(terminate, date(2028, 4, 2))["event_date"][0]


# --- reinstatement ----------------------------------------------------------------------------------------

def reinstate(termination_date, today, status="completed", member_status="terminated", changed=False,
              holder_covered=True):
    on_file = rules.TerminationOnFile("E270401ABCDEF", status, termination_date)
    return rules.decide_reinstatement(member_status=member_status, termination=on_file, today=today,
                                      changed_since=changed, holder_covered=holder_covered)


def test_a_reinstatement_on_day_60_is_accepted_and_on_day_61_refused_with_re_enroll_instead():
    # Terminated through 2027-01-31: day 60 is 2027-04-01.
    accepted = reinstate(date(2027, 1, 31), date(2027, 4, 1))
    assert (accepted.reinstated_from, accepted.status) == (date(2027, 2, 1), "pending")
    assert "carrier review" in accepted.hold_reason  # 59 days back: as any retroactive start
    errors = refusal(reinstate, date(2027, 1, 31), date(2027, 4, 2))
    assert errors == {"termination_date": [
        "Coverage ended on 2027-01-31, 61 days ago; a reinstatement must be asked within 60 days of the "
        "termination date. Re-enroll the member instead."]}


def test_a_recent_reinstatement_completes_from_the_day_after_the_termination():
    decision = reinstate(date(2027, 3, 31), date(2027, 4, 10))
    assert (decision.reinstated_from, decision.status, decision.hold_reason) == (date(2027, 4, 1), "completed", None)


def test_a_reinstatement_needs_a_completed_termination_of_a_terminated_member():
    with pytest.raises(rules.MemberNotTerminated):
        reinstate(date(2027, 3, 31), date(2027, 4, 10), member_status="active")
    with pytest.raises(rules.MemberNotTerminated):
        rules.decide_reinstatement(member_status="terminated", termination=None, today=TODAY, changed_since=False)
    with pytest.raises(rules.TerminationNotCompleted) as caught:
        reinstate(date(2027, 4, 30), date(2027, 4, 10), status="pending", member_status="active")
    assert "cancel it instead" in caught.value.detail
    with pytest.raises(rules.CoverageChangedSinceTermination):
        reinstate(date(2027, 3, 31), date(2027, 4, 10), changed=True)


def test_a_dependent_is_reinstated_only_under_a_covered_subscriber():
    errors = refusal(reinstate, date(2027, 3, 31), date(2027, 4, 10), holder_covered=False)
    assert errors == {"subscriber": ["The subscriber is not covered from 2027-04-01; reinstate the subscriber "
                                     "(the whole family) instead."]}


# --- address ----------------------------------------------------------------------------------------------

def test_only_addresses_that_differ_are_changed():
    current = {"mailing_address": ADDRESS, "physical_address": None}
    assert rules.address_changes(current, {"mailing_address": NEW_ADDRESS, "physical_address": None}) == {
        "mailing_address": NEW_ADDRESS}
    # A census row without line2 is the same address as a form's with line2 None.
    without_line2 = {key: value for key, value in ADDRESS.items() if key != "line2"}
    assert refusal(rules.address_changes, current, {"mailing_address": without_line2}) == {
        "mailing_address": ["This is the address on file already."]}


def test_a_dependent_follows_the_subscriber_unless_they_have_their_own_address():
    assert rules.follows_subscriber(None, ADDRESS)
    assert rules.follows_subscriber(dict(ADDRESS), ADDRESS)
    assert not rules.follows_subscriber(NEW_ADDRESS, ADDRESS)


def test_an_address_change_needs_an_address():
    with pytest.raises(ValidationError) as caught:
        AddressChangeInput().load({})
    assert caught.value.messages == {"_schema": ["Give at least one of: mailing_address, physical_address."]}
    assert AddressChangeInput().load({"physical_address": None}) == {"physical_address": None}


# --- demographics ---------------------------------------------------------------------------------------

def person(relationship=CHILD, disabled=False, covered=True, starts=None):
    return rules.PersonOnFile(relationship, disabled, covered, starts)


def test_only_fields_that_change_are_corrections():
    current = {"first_name": "Riley", "last_name": "Whitfield", "date_of_birth": date(2015, 2, 3), "gender": "U"}
    assert rules.demographic_changes(current, {"first_name": "Riley", "last_name": "Whitfield-Ames"},
                                     person(), TODAY) == {"last_name": "Whitfield-Ames"}
    assert refusal(rules.demographic_changes, current, {"first_name": "Riley"}, person(), TODAY) == {
        "_schema": ["Every value sent is the one on file; nothing to correct."]}


def test_a_corrected_birth_date_keeps_a_covered_child_under_26_unless_disabled():
    current = {"date_of_birth": date(2005, 2, 3)}
    # Born 2001-04-02: 25 on 2027-04-01, still covered; born 2001-04-01: 26 that day.
    assert rules.demographic_changes(current, {"date_of_birth": date(2001, 4, 2)}, person(), TODAY)
    errors = refusal(rules.demographic_changes, current, {"date_of_birth": date(2001, 4, 1)}, person(), TODAY)
    assert "A child is covered until age 26; born on 2001-04-01, this child is 26 on 2027-04-01" in \
        errors["date_of_birth"][0]
    assert rules.demographic_changes(current, {"date_of_birth": date(2001, 4, 1)}, person(disabled=True), TODAY)
    assert rules.demographic_changes(current, {"date_of_birth": date(2001, 4, 1)}, person(covered=False), TODAY)
    assert rules.demographic_changes(current, {"date_of_birth": date(1970, 1, 1)}, person(SPOUSE), TODAY)
    # Coverage starting later: the age counts on its first day.
    assert "26 on 2027-06-01" in refusal(rules.demographic_changes, current, {"date_of_birth": date(2001, 5, 20)},
                                         person(starts=date(2027, 6, 1)), TODAY)["date_of_birth"][0]
    assert refusal(rules.demographic_changes, current, {"date_of_birth": date(2027, 4, 2)}, person(SPOUSE),
                   TODAY) == {"date_of_birth": ["The date of birth is in the future."]}


def test_a_demographic_correction_needs_a_field_and_checks_the_ssn():
    with pytest.raises(ValidationError) as caught:
        DemographicsInput().load({"first_name": "  "})
    assert "Give at least one of" in caught.value.messages["_schema"][0]
    with pytest.raises(ValidationError) as caught:
        DemographicsInput().load({"ssn": "000-12-3456"})
    assert "123" not in str(caught.value.messages)  # never repeats the number
    assert DemographicsInput().load({"ssn": "234-56-7891"}) == {"ssn": "234567891"}


def test_the_termination_input_names_causes():
    loaded = TerminationInput().load({"event_date": "2027-03-10", "cause": "death"})
    assert loaded == {"event_date": date(2027, 3, 10), "cause": "death", "note": None}
    with pytest.raises(ValidationError) as caught:
        TerminationInput().load({"event_date": "2027-03-10", "cause": "07", "extra": 1})
    assert sorted(caught.value.messages) == ["cause", "extra"]


# --- transfer -------------------------------------------------------------------------------------------

YEAR = (date(2027, 1, 1), date(2027, 12, 31))
PLANT = [Offering("HMO-PLANT", *YEAR, ("EMP", "ESP", "ECH", "FAM")), Offering("EPO-DUO", *YEAR, ("EMP", "ESP"))]


def transfer(effective_date=None, plan_code=None, current="PPO-FAM", tier="FAM", covered=True, to="002",
             today=date(2027, 3, 15)):
    return rules.decide_transfer(from_subgroup_number="001", to_subgroup_number=to, effective_date=effective_date,
                                 current_plan_code=current, plan_code=plan_code, tier=tier, family_covered=covered,
                                 target_offerings=PLANT, today=today)


def test_a_transfer_defaults_to_the_first_of_next_month_and_keeps_the_plan_when_the_target_offers_it():
    decision = transfer(current="HMO-PLANT")
    assert (decision.effective_date, decision.offering.plan_code, decision.plan_changes, decision.status) == (
        date(2027, 4, 1), "HMO-PLANT", False, "pending")
    assert rules.default_transfer_date(date(2027, 3, 31)) == date(2027, 4, 1)
    assert rules.default_transfer_date(date(2027, 12, 1)) == date(2028, 1, 1)


def test_a_transfer_to_a_subgroup_without_the_plan_is_refused_naming_plan_and_subgroup_unless_a_plan_is_chosen():
    errors = refusal(transfer)
    assert errors["plan_code"][0] == ("Plan PPO-FAM is not offered to subgroup 002 for the plan year holding "
                                      "2027-04-01; offered: EPO-DUO, HMO-PLANT.")
    assert errors["plan_code"][1] == "Choose a plan subgroup 002 offers (plan_code) to transfer the family."
    decision = transfer(plan_code="HMO-PLANT")
    assert (decision.offering.plan_code, decision.plan_changes) == ("HMO-PLANT", True)
    assert "does not sell FAM" in refusal(transfer, plan_code="EPO-DUO")["plan_code"][0]


def test_a_transfer_keeps_within_the_retroactive_rules_and_needs_a_covered_family():
    assert transfer(date(2027, 3, 1), current="HMO-PLANT").status == "completed"
    assert "61 days in the past" in refusal(transfer, date(2027, 1, 13), current="HMO-PLANT")["effective_date"][0]
    assert "only a covered family" in refusal(transfer, covered=False, current="HMO-PLANT")["effective_date"][0]
    assert refusal(transfer, to="001", current="HMO-PLANT") == {
        "to_subgroup_number": ["The family is in subgroup 001 already."]}


def test_the_transfer_input():
    assert TransferInput().load({"to_subgroup_number": "002"}) == {
        "to_subgroup_number": "002", "effective_date": None, "plan_code": None}
