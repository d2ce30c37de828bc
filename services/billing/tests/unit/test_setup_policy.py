"""The billing policy rules (billing.domain.policy): ACA age bands by age at the plan year's start, the rate keys
each rating method needs, a rate sheet's errors named by plan and key, plan years, what an account owes; and
the wire schemas of the policy and the rate sheet."""
from datetime import date
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from billing.domain import policy
from portal_contracts.billing_setup import BillingPolicyInput, RateSheetInput


def test_the_aca_age_bands_are_0_14_then_each_age_to_63_then_64_plus():
    assert len(policy.AGE_BANDS) == 51
    assert policy.AGE_BANDS[:3] == ("0-14", "15", "16") and policy.AGE_BANDS[-2:] == ("63", "64+")


@pytest.mark.parametrize("born,band", [
    (date(2013, 1, 1), "0-14"),     # 14 on 2027-01-01
    (date(2012, 1, 1), "15"),       # 15 that very day
    (date(2012, 1, 2), "0-14"),     # 15 the day after the plan year starts: still 14 at its start
    (date(1986, 4, 12), "40"),
    (date(1963, 1, 1), "64+"),
    (date(1964, 1, 1), "63"),
    (date(1940, 7, 4), "64+"),
])
def test_a_member_is_rated_by_age_at_the_plan_years_start(born, band):
    assert policy.age_band(born, date(2027, 1, 1)) == band


def test_a_leap_day_birthday_counts_on_1_march():
    assert policy.age_on(date(2012, 2, 29), date(2027, 2, 28)) == 14
    assert policy.age_on(date(2012, 2, 29), date(2027, 3, 1)) == 15


def test_composite_needs_the_tiers_sold_and_age_rated_every_band():
    assert policy.required_rate_keys("composite", {"FAM", "EMP", "ECH", "ESP"}) == ["EMP", "ESP", "ECH", "FAM"]
    assert policy.required_rate_keys("composite", ["EMP", "FAM"]) == ["EMP", "FAM"]
    assert policy.required_rate_keys("age_rated", ["EMP"]) == list(policy.AGE_BANDS)


def test_a_plan_offered_to_two_subgroups_needs_the_tiers_either_sells():
    offerings = [[{"plan_code": "PPO", "tiers": ["EMP", "FAM"]}],
                 [{"plan_code": "PPO", "tiers": ["EMP", "ESP"]}, {"plan_code": "HMO", "tiers": ["EMP"]}]]
    assert policy.offered_tiers(offerings) == {"PPO": {"EMP", "ESP", "FAM"}, "HMO": {"EMP"}}


def rates(plan_code, *keys, amount="100.00"):
    return [{"plan_code": plan_code, "rate_key": key, "amount": Decimal(amount)} for key in keys]


def test_a_complete_composite_sheet_has_no_errors():
    offered = {"PPO": {"EMP", "ESP", "ECH", "FAM"}, "HMO": {"EMP", "FAM"}}
    sheet = rates("PPO", "EMP", "ESP", "ECH", "FAM") + rates("HMO", "EMP", "FAM")
    assert policy.rate_sheet_errors("composite", offered, sheet, kept={}) == {}


def test_each_missing_and_unknown_key_is_named_by_plan():
    offered = {"PPO": {"EMP", "ESP", "ECH", "FAM"}, "HMO": {"EMP", "FAM"}}
    sheet = rates("PPO", "EMP", "FAM", "40") + rates("HMO", "EMP", "FAM", "ESP") + rates("DEN", "EMP")
    assert policy.rate_sheet_errors("composite", offered, sheet, kept={}) == {
        "DEN": ["No subgroup is offered this plan in the plan year."],
        "HMO": ["Not a rate key of this plan under composite rating: ESP."],
        "PPO": ["Not a rate key of this plan under composite rating: 40.", "Missing rates for: ESP, ECH."],
    }


def test_an_age_rated_sheet_needs_all_51_bands():
    offered = {"PPO": {"EMP", "FAM"}}
    sheet = rates("PPO", *[band for band in policy.AGE_BANDS if band not in ("15", "64+")]) + rates("PPO", "EMP")
    assert policy.rate_sheet_errors("age_rated", offered, sheet, kept={}) == {
        "PPO": ["Not a rate key of this plan under age_rated rating: EMP.", "Missing rates for: 15, 64+."]}
    assert policy.rate_sheet_errors("age_rated", offered, rates("PPO", *policy.AGE_BANDS), kept={}) == {}


def test_a_key_given_twice_is_refused():
    offered = {"HMO": {"EMP"}}
    assert policy.rate_sheet_errors("composite", offered, rates("HMO", "EMP", "EMP"), kept={}) == {
        "HMO": ["EMP is given twice."]}


def test_plans_left_out_keep_their_rates_on_file_but_an_offered_plan_without_any_is_missing():
    offered = {"PPO": {"EMP", "FAM"}, "HMO": {"EMP"}}
    sheet = rates("HMO", "EMP", amount="250.00")
    assert policy.rate_sheet_errors("composite", offered, sheet, kept={"PPO": {"EMP", "FAM"}}) == {}
    assert policy.rate_sheet_errors("composite", offered, sheet, kept={"PPO": {"EMP"}}) == {
        "PPO": ["Missing rates for: FAM."]}
    assert policy.rate_sheet_errors("composite", offered, sheet, kept={}) == {"PPO": ["Missing rates for: EMP, FAM."]}


def test_a_plan_in_the_load_replaces_what_it_had_so_its_old_keys_do_not_count():
    offered = {"PPO": {"EMP", "FAM"}}
    assert policy.rate_sheet_errors("composite", offered, rates("PPO", "EMP"), kept={"PPO": {"EMP", "FAM"}}) == {
        "PPO": ["Missing rates for: FAM."]}


def test_missing_keys_after_a_change_of_rating_method():
    assert policy.missing_rate_keys("composite", {"EMP", "FAM"}, {"EMP"}) == ["FAM"]
    assert len(policy.missing_rate_keys("age_rated", {"EMP"}, {"EMP", "FAM"})) == 51


@pytest.mark.parametrize("day,renewal,start,end", [
    (date(2027, 3, 10), date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31)),
    (date(2027, 3, 10), date(2026, 7, 1), date(2026, 7, 1), date(2027, 6, 30)),
    (date(2027, 7, 1), date(2026, 7, 1), date(2027, 7, 1), date(2028, 6, 30)),
    (date(2027, 3, 10), None, date(2027, 1, 1), date(2027, 12, 31)),
])
def test_the_plan_year_holding_a_day(day, renewal, start, end):
    assert policy.plan_year_holding(day, renewal) == policy.PlanYear(start, end)


def test_amount_due_and_credit_balance_from_the_balance():
    assert policy.amount_due(Decimal("1234.50")) == Decimal("1234.50")
    assert policy.amount_due(Decimal("-20.00")) == Decimal("0.00")
    assert policy.credit_balance(Decimal("-20.00")) == Decimal("20.00")
    assert policy.credit_balance(Decimal("5.00")) == Decimal("0.00")


def test_the_policy_input_takes_any_of_its_fields_within_their_ranges():
    assert BillingPolicyInput().load({"proration": "daily", "grace_days": 31}) == {"proration": "daily",
                                                                                   "grace_days": 31}
    with pytest.raises(ValidationError) as refused:
        BillingPolicyInput().load({"rating_method": "tiered", "grace_days": 91, "retro_window_days": -1,
                                   "cobra_billing": "self"})
    assert set(refused.value.messages) == {"rating_method", "grace_days", "retro_window_days", "cobra_billing"}
    with pytest.raises(ValidationError) as refused:
        BillingPolicyInput().load({})
    assert refused.value.messages == {"_schema": ["Give at least one of: rating_method, proration, grace_days, "
                                                  "cobra_billing, retro_window_days."]}
    with pytest.raises(ValidationError) as refused:
        BillingPolicyInput().load({"grace_days": 0})
    assert "grace_days" in refused.value.messages


def test_a_rate_is_more_than_zero_with_at_most_two_decimals():
    loaded = RateSheetInput().load({"plan_year_start": "2027-01-01", "rates": [
        {"plan_code": "PPO", "rate_key": "EMP", "amount": "512.5"}]})
    assert loaded["rates"][0]["amount"] == Decimal("512.50")
    with pytest.raises(ValidationError) as refused:
        RateSheetInput().load({"plan_year_start": "2027-01-01", "rates": [
            {"plan_code": "PPO", "rate_key": "EMP", "amount": "0.00"},
            {"plan_code": "PPO", "rate_key": "ESP", "amount": "10.005"},
            {"plan_code": "PPO", "rate_key": "FAM", "amount": "-5"}]})
    assert refused.value.messages == {"rates": {
        0: {"amount": ["A rate is more than 0.00 and less than 1000000.00."]},
        1: {"amount": ["An amount has at most 2 decimal places."]},
        2: {"amount": ["A rate is more than 0.00 and less than 1000000.00."]}}}
