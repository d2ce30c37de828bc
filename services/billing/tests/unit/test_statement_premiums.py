"""The premium of a family for a month (billing.domain.premiums), with literal amounts: composite by tier,
age-rated by ACA band at the plan year's start, a mid-month birth and death under each proration policy,
COBRA per the group's policy, pending and cancelled spans, a missing rate."""
from datetime import date
from decimal import Decimal

import pytest

from billing.domain.premiums import (MissingRate, NoPlanYear, Policy, PlanYear, age_band, age_on, premium_lines)

APRIL = date(2027, 4, 1)   # 30 days
PLAN_YEAR = PlanYear(date(2027, 1, 1), date(2027, 12, 31))
START = PLAN_YEAR.start
COMPOSITE = {(START, "PPO-1", tier): Decimal(amount) for tier, amount in
             (("EMP", "500.00"), ("ESP", "1000.00"), ("ECH", "900.00"), ("FAM", "1400.00"))}
AGE_RATED = {(START, "PPO-1", band): Decimal(amount) for band, amount in
             (("0-14", "300.00"), ("40", "450.50"), ("41", "460.25"), ("64+", "1200.00"))}


def span(tier, effective_from, effective_through=None, status="active", continuation=None, plan_code="PPO-1"):
    return {"plan_code": plan_code, "tier": tier, "effective_from": effective_from,
            "effective_through": effective_through, "status": status, "continuation": continuation}


def person(member_id, relationship_code, date_of_birth, *spans):
    return {"member_id": member_id, "relationship_code": relationship_code, "date_of_birth": date_of_birth,
            "status": "active", "coverage": list(spans)}


def priced(members, rating_method="composite", proration="none", cobra_billing="group_billed", rates=None,
           month=APRIL, subscriber="M000000001"):
    lines = premium_lines(subscriber, members, Policy(rating_method, proration, cobra_billing),
                          rates or (AGE_RATED if rating_method == "age_rated" else COMPOSITE), [PLAN_YEAR], month)
    return [(line.line_key, line.rate_key, str(line.amount)) for line in lines]


def family(tier="FAM"):
    return [person("M000000001", "18", "1986-04-12", span(tier, "2027-01-01")),
            person("M000000002", "01", "1985-09-30", span(tier, "2027-01-01")),
            person("M000000003", "19", "2015-02-03", span(tier, "2027-01-01"))]


# --- composite ---------------------------------------------------------------------------------------------

def test_composite_bills_the_subscriber_once_by_the_familys_tier():
    assert priced(family("FAM")) == [("M000000001:PPO-1", "FAM", "1400.00")]


@pytest.mark.parametrize("proration", ["none", "daily", "fifteenth"])
def test_a_full_month_is_the_rate_under_every_proration(proration):
    assert priced(family("FAM"), proration=proration) == [("M000000001:PPO-1", "FAM", "1400.00")]


def birth_on_the_17th():
    """ESP until 16 April, FAM from the 17th (the newborn added): roster ends the old spans, opens new ones."""
    return [person("M000000001", "18", "1986-04-12", span("ESP", "2027-01-01", "2027-04-16", status="terminated"),
                   span("FAM", "2027-04-17")),
            person("M000000002", "01", "1985-09-30", span("ESP", "2027-01-01", "2027-04-16", status="terminated"),
                   span("FAM", "2027-04-17")),
            person("M000000004", "19", "2027-04-17", span("FAM", "2027-04-17"))]


@pytest.mark.parametrize("proration,expected", [
    ("none", [("M000000001:PPO-1", "ESP", "1000.00")]),                   # the tier on the 1st, in full
    ("daily", [("M000000001:PPO-1", "ESP", "533.33"),                     # 1000 x 16/30
               ("M000000001:PPO-1", "FAM", "653.33")]),                   # 1400 x 14/30
    ("fifteenth", [("M000000001:PPO-1", "ESP", "1000.00")]),              # the tier on the 15th, in full
])
def test_a_mid_month_birth_under_each_proration(proration, expected):
    assert priced(birth_on_the_17th(), proration=proration) == expected


def test_the_month_after_the_birth_is_the_new_tier_in_full():
    assert priced(birth_on_the_17th(), proration="daily", month=date(2027, 5, 1)) == [
        ("M000000001:PPO-1", "FAM", "1400.00")]


def spouse_dies_on_the_10th():
    """FAM through 10 April (the date of death), ECH for the subscriber and child from the 11th."""
    return [person("M000000001", "18", "1986-04-12", span("FAM", "2027-01-01", "2027-04-10", status="terminated"),
                   span("ECH", "2027-04-11")),
            person("M000000002", "01", "1985-09-30", span("FAM", "2027-01-01", "2027-04-10", status="terminated")),
            person("M000000003", "19", "2015-02-03", span("FAM", "2027-01-01", "2027-04-10", status="terminated"),
                   span("ECH", "2027-04-11"))]


@pytest.mark.parametrize("proration,expected", [
    ("none", [("M000000001:PPO-1", "FAM", "1400.00")]),
    ("daily", [("M000000001:PPO-1", "FAM", "466.67"),                     # 1400 x 10/30 = 466.666...
               ("M000000001:PPO-1", "ECH", "600.00")]),                   # 900 x 20/30
    ("fifteenth", [("M000000001:PPO-1", "ECH", "900.00")]),
])
def test_a_mid_month_death_under_each_proration(proration, expected):
    assert priced(spouse_dies_on_the_10th(), proration=proration) == expected


def test_a_family_terminated_mid_month_is_billed_for_the_days_it_was_covered():
    ended = [person("M000000001", "18", "1986-04-12", span("EMP", "2027-01-01", "2027-04-20", status="terminated"))]
    assert priced(ended, proration="daily") == [("M000000001:PPO-1", "EMP", "333.33")]   # 500 x 20/30
    assert priced(ended, proration="none") == [("M000000001:PPO-1", "EMP", "500.00")]
    assert priced(ended, proration="fifteenth") == [("M000000001:PPO-1", "EMP", "500.00")]
    assert priced(ended, proration="daily", month=date(2027, 5, 1)) == []


def test_coverage_starting_mid_month_under_none_starts_billing_next_month():
    new = [person("M000000001", "18", "1986-04-12", span("EMP", "2027-04-10"))]
    assert priced(new, proration="none") == []
    assert priced(new, proration="fifteenth") == [("M000000001:PPO-1", "EMP", "500.00")]
    assert priced(new, proration="daily") == [("M000000001:PPO-1", "EMP", "350.00")]   # 500 x 21/30


def test_each_line_is_rounded_half_up_to_the_cent():
    rates = {**COMPOSITE, (START, "PPO-1", "EMP"): Decimal("1000.01")}
    half = [person("M000000001", "18", "1986-04-12", span("EMP", "2027-01-01", "2027-04-15", status="terminated"))]
    assert priced(half, proration="daily", rates=rates) == [("M000000001:PPO-1", "EMP", "500.01")]  # 500.005


# --- age rated ---------------------------------------------------------------------------------------------

def test_age_bands_at_the_plan_years_start():
    assert age_on(date(1986, 4, 12), START) == 40
    assert [age_band(age) for age in (0, 14, 15, 40, 63, 64, 80)] == ["0-14", "0-14", "15", "40", "63", "64+", "64+"]
    assert age_band(age_on(date(2012, 1, 1), START)) == "15"       # 15 on the plan year's first day
    assert age_band(age_on(date(2012, 1, 2), START)) == "0-14"
    assert age_band(age_on(date(2027, 4, 17), START)) == "0-14"    # born during the plan year


def test_age_rated_bills_each_covered_member_by_band():
    assert priced(family(), rating_method="age_rated") == [
        ("M000000001:PPO-1", "40", "450.50"),
        ("M000000002:PPO-1", "41", "460.25"),
        ("M000000003:PPO-1", "0-14", "300.00"),
    ]


def test_age_rated_birth_and_death_mid_month():
    members = birth_on_the_17th()
    members[1]["coverage"] = [span("ESP", "2027-01-01", "2027-04-16", status="terminated"),
                              span("FAM", "2027-04-17", "2027-04-24", status="terminated")]   # died on the 24th
    members.append(person("M000000009", "01", "1960-05-05", span("FAM", "2027-04-17")))    # not real life; the 64+
    assert priced(members, rating_method="age_rated", proration="daily") == [
        ("M000000001:PPO-1", "40", "450.50"),    # the tier changed, the band did not: one line, whole month
        ("M000000002:PPO-1", "41", "368.20"),    # 460.25 x 24/30
        ("M000000004:PPO-1", "0-14", "140.00"),  # 300 x 14/30
        ("M000000009:PPO-1", "64+", "560.00"),   # 1200 x 14/30
    ]
    assert priced(members, rating_method="age_rated", proration="fifteenth") == [
        ("M000000001:PPO-1", "40", "450.50"), ("M000000002:PPO-1", "41", "460.25")]
    assert priced(members, rating_method="age_rated", proration="none") == [
        ("M000000001:PPO-1", "40", "450.50"), ("M000000002:PPO-1", "41", "460.25")]


# --- what is not billed, COBRA, errors ---------------------------------------------------------------------

def test_pending_and_cancelled_spans_are_not_billed():
    members = [person("M000000001", "18", "1986-04-12", span("EMP", "2027-01-01", "2027-03-31", status="terminated"),
                      span("ESP", "2027-04-01", status="pending")),
               person("M000000002", "01", "1985-09-30", span("ESP", "2027-04-01", status="pending"),
                      span("ESP", "2027-03-01", "2027-03-31", status="cancelled"))]
    assert priced(members) == []


def cobra_family():
    """The subscriber left on 31 March; from 1 April the spouse continues alone on COBRA (her own contract)."""
    return [person("M000000001", "18", "1986-04-12", span("ESP", "2027-01-01", "2027-03-31", status="terminated")),
            person("M000000002", "01", "1985-09-30", span("ESP", "2027-01-01", "2027-03-31", status="terminated"),
                   span("EMP", "2027-04-01", "2028-09-30", continuation="cobra"))]


def test_cobra_is_on_the_group_bill_at_100_percent_when_group_billed():
    assert priced(cobra_family(), cobra_billing="group_billed") == [("M000000002:PPO-1", "EMP", "500.00")]
    assert priced(cobra_family(), rating_method="age_rated", cobra_billing="group_billed") == [
        ("M000000002:PPO-1", "41", "460.25")]


def test_cobra_is_not_on_the_group_bill_when_direct_billed():
    assert priced(cobra_family(), cobra_billing="direct_billed") == []
    march = priced(cobra_family(), cobra_billing="direct_billed", month=date(2027, 3, 1))
    assert march == [("M000000001:PPO-1", "ESP", "1000.00")]


def test_a_family_on_cobra_together_is_one_contract():
    members = [person("M000000001", "18", "1986-04-12", span("FAM", "2027-04-01", continuation="cobra")),
               person("M000000002", "01", "1985-09-30", span("FAM", "2027-04-01", continuation="cobra")),
               person("M000000003", "19", "2015-02-03", span("FAM", "2027-04-01", continuation="cobra"))]
    assert priced(members) == [("M000000001:PPO-1", "FAM", "1400.00")]


def test_a_missing_rate_is_an_error_naming_the_plan_and_key():
    rates = {key: amount for key, amount in COMPOSITE.items() if key[2] != "FAM"}
    with pytest.raises(MissingRate) as raised:
        priced(family("FAM"), rates=rates)
    assert str(raised.value) == "No rate for plan PPO-1, rate key FAM, plan year starting 2027-01-01."
    with pytest.raises(MissingRate, match="rate key 41"):
        priced(family(), rating_method="age_rated", rates={(START, "PPO-1", "40"): Decimal("1")})


def test_a_month_outside_every_plan_year_is_an_error():
    with pytest.raises(NoPlanYear, match="2028-01-01"):
        priced(family(), month=date(2028, 1, 1))


def test_a_renewal_mid_month_prices_each_plan_year_with_its_own_rates():
    next_year = PlanYear(date(2027, 4, 16), date(2028, 4, 15))
    rates = {**COMPOSITE, (next_year.start, "PPO-1", "FAM"): Decimal("1500.00")}
    lines = premium_lines("M000000001", family(), Policy("composite", "daily", "group_billed"), rates,
                          [PlanYear(START, date(2027, 4, 15)), next_year], APRIL)
    assert [(line.rate_key, str(line.amount)) for line in lines] == [("FAM", "700.00"), ("FAM", "750.00")]
