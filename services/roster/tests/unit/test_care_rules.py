"""PCP and ID card rules (roster.domain.care), the care wire schemas, and the ID card PDF, without a service."""
import re
from datetime import date

import pytest
from marshmallow import ValidationError

from portal_contracts.roster_care import IdCardRequestInput, PcpChangeInput, ProviderSearch
from roster import id_cards
from roster.domain import care as rules
from roster.domain.enrollment import TXN_COMPLETED, TXN_PENDING, Problems

TODAY = date(2027, 3, 15)


def span(plan="HMO-GOLD", start=date(2027, 1, 1), through=None, status="active", product="medical",
         plan_type="HMO", network="METRO", requires_pcp=False, tier="EMP"):
    return rules.CoverageView(plan, plan.title(), product, plan_type, network, requires_pcp, tier, start, through,
                              status)


HMO = span()
PPO = span("PPO-SILVER", plan_type="PPO", network="STATEWIDE")
DR_RUIZ = rules.ProviderView("1234567893", "Ana Ruiz, MD", frozenset({"METRO", "STATEWIDE"}), True)
DR_FULL = rules.ProviderView("1407008923", "Ben Full, DO", frozenset({"METRO"}), False)
DR_FAR = rules.ProviderView("1902938475", "Cy Far, MD", frozenset({"COASTAL"}), True)


def errors_of(check, *args):
    problems = Problems()
    result = check(*args, problems)
    return problems.errors, result


# --- which coverage ---------------------------------------------------------------------------------------

def test_the_coverage_in_force_today_is_current():
    ended = span(start=date(2026, 1, 1), through=date(2026, 12, 31), status="terminated")
    assert rules.current_coverage([ended, HMO], TODAY) == [HMO]


def test_a_prospective_members_next_coverage_is_current_and_the_pcp_is_looked_at_on_its_start():
    upcoming = span(start=date(2027, 4, 1), status="pending")
    assert rules.current_coverage([upcoming], TODAY) == [upcoming]
    assert rules.reference_date(upcoming, TODAY) == date(2027, 4, 1)
    assert rules.reference_date(HMO, TODAY) == TODAY


def test_ended_or_cancelled_coverage_gives_no_card():
    ended = span(through=date(2027, 2, 28), status="terminated")
    cancelled = span(start=date(2027, 4, 1), status="cancelled")
    assert rules.current_coverage([ended, cancelled], TODAY) == []


def test_a_dental_plan_gets_a_card_but_the_pcp_belongs_to_the_medical_plan():
    dental = span("DEN-1", product="dental", plan_type="PPO", network="DENTAL")
    coverages = rules.current_coverage([dental, HMO], TODAY)
    assert [coverage.plan_code for coverage in coverages] == ["DEN-1", "HMO-GOLD"]
    assert rules.pcp_coverage(coverages) is HMO
    assert rules.pcp_coverage([dental]) is None


def test_the_card_is_effective_from_the_start_of_uninterrupted_coverage_in_the_plan():
    before_tier_change = span(start=date(2026, 6, 1), through=date(2027, 2, 28), status="terminated")
    after = span(start=date(2027, 3, 1), tier="ESP")
    older_gap = span(start=date(2025, 1, 1), through=date(2025, 12, 31), status="terminated")
    assert rules.continuous_start([older_gap, before_tier_change, after], after) == date(2026, 6, 1)
    other_plan = span("PPO-SILVER", start=date(2026, 1, 1), through=date(2027, 2, 28), status="terminated")
    assert rules.continuous_start([other_plan, after], after) == date(2027, 3, 1)


# --- PCP required ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("plan_type,flag,required", [("HMO", False, True), ("POS", False, True), ("hmo", False, True),
                                                     ("PPO", False, False), ("EPO", True, True)])
def test_hmo_and_pos_plans_and_plans_marked_so_require_a_pcp(plan_type, flag, required):
    assert rules.requires_pcp(flag, plan_type) is required


def test_pcp_required_is_flagged_only_when_required_and_missing():
    assert rules.pcp_required(HMO, has_pcp=False) is True
    assert rules.pcp_required(HMO, has_pcp=True) is False
    assert rules.pcp_required(PPO, has_pcp=False) is False
    assert rules.pcp_required(None, has_pcp=False) is False


# --- the effective date -----------------------------------------------------------------------------------

def test_a_pcp_change_takes_effect_on_the_request_date_by_default():
    assert errors_of(rules.pcp_effective_date, None, HMO, TODAY) == ({}, TODAY)
    assert rules.pcp_change_status(TODAY, TODAY) == TXN_COMPLETED


def test_a_prospective_members_pcp_takes_effect_when_coverage_starts():
    upcoming = span(start=date(2027, 4, 1), status="pending")
    assert errors_of(rules.pcp_effective_date, None, upcoming, TODAY) == ({}, date(2027, 4, 1))
    assert rules.pcp_change_status(date(2027, 4, 1), TODAY) == TXN_PENDING


def test_a_future_date_is_pending_and_at_most_90_days_ahead():
    assert errors_of(rules.pcp_effective_date, date(2027, 6, 13), HMO, TODAY) == ({}, date(2027, 6, 13))
    errors, _ = errors_of(rules.pcp_effective_date, date(2027, 6, 14), HMO, TODAY)
    assert errors == {"effective_date": ["A PCP change can be scheduled at most 90 days ahead (by 2027-06-13)."]}


def test_a_pcp_change_is_never_back_dated_nor_outside_the_coverage():
    errors, _ = errors_of(rules.pcp_effective_date, date(2027, 3, 14), HMO, TODAY)
    assert errors == {"effective_date": ["A PCP change cannot be back-dated: choose 2027-03-15 or later."]}
    upcoming = span(start=date(2027, 4, 1), status="pending")
    errors, _ = errors_of(rules.pcp_effective_date, date(2027, 3, 20), upcoming, TODAY)
    assert errors == {"effective_date": ["Coverage in plan HMO-GOLD starts on 2027-04-01: choose that date or later."]}
    ending = span(through=date(2027, 3, 31))
    errors, _ = errors_of(rules.pcp_effective_date, date(2027, 4, 1), ending, TODAY)
    assert errors == {"effective_date": ["Coverage in plan HMO-GOLD ends on 2027-03-31: choose a date up to then."]}


# --- the provider chosen ------------------------------------------------------------------------------------

def choice_errors(npi, provider, coverage=HMO, current=None, existing_patient=None):
    problems = Problems()
    rules.check_pcp_choice(npi, provider, coverage, current, existing_patient, problems)
    return problems.errors


def test_an_in_network_provider_accepting_patients_may_be_chosen():
    assert choice_errors("1234567893", DR_RUIZ) == {}
    assert choice_errors("1234567893", DR_RUIZ, coverage=PPO) == {}


def test_an_out_of_network_provider_is_refused_on_the_npi():
    assert choice_errors("1902938475", DR_FAR) == {
        "npi": ["Cy Far, MD is not in the METRO network of plan HMO-GOLD: choose an in-network provider."]}


def test_a_provider_not_accepting_new_patients_is_refused_unless_already_the_members_pcp():
    assert choice_errors("1407008923", DR_FULL) == {"npi": ["Ben Full, DO is not accepting new patients."]}
    # their patient already (e.g. under the plan the member had before): they keep their doctor
    assert choice_errors("1407008923", DR_FULL, existing_patient="1407008923") == {}


def test_the_current_pcp_again_and_an_unknown_npi_are_refused():
    assert choice_errors("1234567893", DR_RUIZ, current="1234567893") == {
        "npi": ["Ana Ruiz, MD is already the member's primary care provider."]}
    assert choice_errors("1111111111", None) == {"npi": ["No provider with NPI 1111111111 is in the directory."]}


def test_removing_the_pcp_is_refused_and_an_hmo_says_it_requires_one():
    assert choice_errors(None, None) == {"npi": [
        "Plan HMO-GOLD (HMO) requires a primary care provider: choose another in-network provider instead of "
        "removing it."]}
    assert choice_errors(None, None, coverage=PPO) == {"npi": [
        "Choose a provider: a primary care provider can be changed here, not removed."]}


def test_the_previous_assignments_end_the_day_before_the_change():
    ends = rules.previous_ends([(1, None), (2, date(2027, 2, 28)), (3, date(2027, 6, 30))], date(2027, 4, 1))
    assert ends == {1: date(2027, 3, 31), 3: date(2027, 3, 31)}


# --- ID cards -------------------------------------------------------------------------------------------

def test_a_card_is_found_by_its_id_in_any_case_and_only_among_current_cards():
    cards = [{"card_id": "M123456789-HMO-GOLD"}]
    assert rules.find_card("m123456789-hmo-gold", "M123456789", cards) is cards[0]
    with pytest.raises(rules.IdCardNotFound) as missing:
        rules.find_card("M123456789-PPO-SILVER", "M123456789", cards)
    assert missing.value.status == 404 and missing.value.code == "id_card_not_found"


def test_cards_are_mailed_to_the_address_given_else_the_subscribers():
    home = {"line1": "12 Orchard Ln", "city": "Hartford", "state": "CT", "zip": "06103"}
    other = dict(home, line1="9 Elm St")
    assert errors_of(rules.mailing_address, other, home) == ({}, other)
    assert errors_of(rules.mailing_address, None, home) == ({}, home)
    errors, _ = errors_of(rules.mailing_address, None, None)
    assert errors == {"mail_to": ["The subscriber has no mailing address on file: give the address to mail to."]}


def test_a_family_request_covers_every_member_with_a_card_and_a_member_request_only_them():
    head, spouse, child = object(), object(), object()
    family = [(head, [HMO]), (spouse, [HMO]), (child, [])]
    assert [person for person, _ in rules.card_holders("family", spouse, family)] == [head, spouse]
    assert [person for person, _ in rules.card_holders("member", spouse, family)] == [spouse]
    with pytest.raises(rules.NoCurrentCoverage) as none:
        rules.card_holders("member", child, family)
    assert none.value.status == 409


# --- wire schemas -------------------------------------------------------------------------------------------

def test_the_pcp_change_needs_a_valid_npi_and_knows_no_other_field():
    with pytest.raises(ValidationError) as bad:
        PcpChangeInput().load({"npi": "1234567890", "doctor": "x"})
    assert bad.value.messages == {"npi": ["An NPI is 10 digits ending in its check digit."],
                                  "doctor": ["Unknown field."]}
    assert PcpChangeInput().load({"npi": "1234567893"}) == {"npi": "1234567893", "effective_date": None}


def test_a_card_request_needs_a_known_reason_and_defaults_to_the_member():
    assert IdCardRequestInput().load({"reason": "lost"}) == {"reason": "lost", "scope": "member", "mail_to": None}
    with pytest.raises(ValidationError) as bad:
        IdCardRequestInput().load({"reason": "stolen", "scope": "household"})
    assert set(bad.value.messages) == {"reason", "scope"}


def test_the_provider_search_takes_a_five_digit_zip_and_pages_of_at_most_200():
    with pytest.raises(ValidationError) as bad:
        ProviderSearch().load({"zip": "0610", "limit": "201"})
    assert set(bad.value.messages) == {"zip", "limit"}


# --- the PDF ------------------------------------------------------------------------------------------------

CARD = {"card_id": "M123456789-HMO-GOLD", "member_id": "M123456789", "member_name": "Riley (Jo) Peña",
        "relationship": "child", "subscriber_member_id": "M104729385", "subscriber_name": "Dana Whitfield",
        "group_number": "G100", "group_name": "Harbor Widgets LLC", "plan_code": "HMO-GOLD", "plan_name": "Gold HMO",
        "product": "medical", "plan_type": "HMO", "network": "METRO", "tier": "FAM", "effective_date": "2027-01-01",
        "coverage_status": "active", "pcp": None, "pcp_required": True, "carrier_name": "Harbor Health Plan",
        "carrier_phone": "1-800-555-0142"}


def shown_text(pdf):
    """The strings a PDF's uncompressed content streams draw (Tj operands), unescaped as a reader would."""
    def unescape(raw):
        raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), raw)
        return re.sub(rb"\\(.)", rb"\1", raw).decode("cp1252")
    return [unescape(raw) for raw in re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", pdf)]


def test_the_card_pdf_is_a_pdf_with_the_members_name_and_id_as_text():
    pdf = id_cards.card_pdf(CARD, TODAY)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = shown_text(pdf)
    assert "Riley (Jo) Peña" in text and "M123456789" in text
    assert "Required: choose one (call member services)" in text
    assert "Member services: 1-800-555-0142" in text
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2  # front and back (not /Pages)


def test_characters_the_card_font_cannot_draw_become_question_marks_and_long_names_fit():
    pdf = id_cards.card_pdf(dict(CARD, member_name="Li 王", group_name="Harbor " * 30), TODAY)
    text = shown_text(pdf)
    assert "Li ?" in text
    assert any(line.startswith("G100  Harbor Harbor") and line.endswith("...") for line in text)
