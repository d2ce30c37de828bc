"""Issue 6 part 1 over HTTP through the gateway, with no demo data: carrier staff set up plans, a group, its
subgroups and their offerings in roster and a family enrolls; billing learns all of it from roster's events
only (its billing accounts appear, the family is projected), carrier staff set the billing policy and load the
rates (an incomplete sheet is refused naming the keys), and the group's users see their accounts and rates:
a viewer may, an enrollment manager may not, a user of another group gets 404."""
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from journeys import create_group, ok, unique_ssn, user
from servicekit.testing import wait_for

PLANS = [
    {"plan_code": "BS-PPO", "name": "Billing PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "BS-HMO", "name": "Billing HMO", "product": "medical", "plan_type": "HMO", "network": "METRO",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
PPO_RATES = [{"plan_code": "BS-PPO", "rate_key": key, "amount": amount}
             for key, amount in (("EMP", "512.40"), ("ESP", "1024.80"), ("ECH", "921.15"), ("FAM", "1433.05"))]
HMO_RATES = [{"plan_code": "BS-HMO", "rate_key": key, "amount": amount}
             for key, amount in (("EMP", "455.00"), ("ESP", "910.00"), ("ECH", "820.00"), ("FAM", "1275.50"))]
NO_ACCOUNT_ACTIVITY = {"balance": "0.00", "amount_due": "0.00", "credit_balance": "0.00", "due_date": None,
                       "last_statement": None, "paid_through": None, "delinquency_stage": "current",
                       "autopay": {"active": False, "days_before_due": None}, "status": "active"}


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-billing-setup", carrier=True))


@pytest.fixture(scope="module")
def group(stack, carrier):
    """Subgroup 001 offers BS-PPO, 002 BS-PPO and BS-HMO, for the plan year 2027."""
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    return create_group(carrier, "BS", {"001": ("Office", ["BS-PPO"]), "002": ("Plant", ["BS-PPO", "BS-HMO"])},
                        legal_name="Billing Widgets LLC")


def billing_of(client, group):
    return client.get("/api/v1/groups/%s/billing" % group)


def projected_family(stack, subscriber):
    """(subgroup, members' ids) of the family as billing's projection holds it, or None."""
    engine = create_engine(stack.database_urls["billing"])
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT subgroup_number, members FROM billable_families "
                                          "WHERE subscriber_member_id = :id"), {"id": subscriber}).first()
    finally:
        engine.dispose()
    return None if row is None else (row.subgroup_number, sorted(m["member_id"] for m in row.members))


def test_billing_learns_the_group_from_roster_and_shows_accounts_and_rates(stack, carrier, group, business_date):
    business_date(date(2027, 1, 1))
    admin = user(stack, group, "group_admin")
    enrolled = ok(admin.post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": "001", "plan_code": "BS-PPO",
        "subscriber": {"first_name": "Avery", "last_name": "Ledger", "date_of_birth": "1985-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"},
        "dependents": [{"relationship": "spouse", "first_name": "Sam", "last_name": "Ledger",
                        "date_of_birth": "1984-09-30", "gender": "M", "ssn": unique_ssn()}]}), 201)
    subscriber = enrolled["subscriber"]
    business_date(date(2027, 3, 10))

    # billing hears of the group, both subgroups and the family from roster's events alone
    overview = wait_for(lambda: (lambda answer: answer.status_code == 200 and len(answer.json()["accounts"]) == 2
                                 and answer.json())(billing_of(admin, group)),
                        timeout=30, interval=0.3, message="billing to open the group's accounts")
    assert overview == {
        "group_number": group, "legal_name": "Billing Widgets LLC", "scope": "group",
        "accounts": [dict(NO_ACCOUNT_ACTIVITY, account_number="%s-001" % group, subgroup_number="001", name="Office"),
                     dict(NO_ACCOUNT_ACTIVITY, account_number="%s-002" % group, subgroup_number="002", name="Plant")],
        "totals": {"balance": "0.00", "amount_due": "0.00", "credit_balance": "0.00"}}
    family = wait_for(lambda: projected_family(stack, subscriber["member_id"]), timeout=30, interval=0.3,
                      message="billing to project the family")
    assert family == ("001", sorted([subscriber["member_id"], subscriber["dependents"][0]["member_id"]]))

    # carrier staff set the policy, then the rates: every plan offered in 2027 needs every tier it sells
    policy = ok(carrier.put("/api/v1/admin/groups/%s/billing-policy" % group, json={"proration": "daily",
                                                                                  "grace_days": 31}))
    assert (policy["rating_method"], policy["proration"], policy["grace_days"]) == ("composite", "daily", 31)
    incomplete = carrier.put("/api/v1/admin/groups/%s/rates" % group,
                             json={"plan_year_start": "2027-01-01", "rates": PPO_RATES + HMO_RATES[:2]})
    assert incomplete.status_code == 422
    assert incomplete.json()["errors"] == {"rates": {"BS-HMO": ["Missing rates for: ECH, FAM."]}}
    assert ok(admin.get("/api/v1/groups/%s/rates" % group))["plans"][0]["rates"] == []
    ok(carrier.put("/api/v1/admin/groups/%s/rates" % group,
                   json={"plan_year_start": "2027-01-01", "rates": PPO_RATES + HMO_RATES}))

    viewer = user(stack, group, "viewer")
    rates = ok(viewer.get("/api/v1/groups/%s/rates" % group))
    assert (rates["plan_year_start"], rates["plan_year_end"], rates["rating_method"]) == (
        "2027-01-01", "2027-12-31", "composite")
    assert [(plan["plan_code"], plan["subgroups"], plan["missing_rate_keys"], plan["rates"])
            for plan in rates["plans"]] == [
        ("BS-HMO", ["002"], [], [{"rate_key": r["rate_key"], "amount": r["amount"]} for r in HMO_RATES]),
        ("BS-PPO", ["001", "002"], [], [{"rate_key": r["rate_key"], "amount": r["amount"]} for r in PPO_RATES])]
    assert ok(viewer.get("/api/v1/groups/%s/rates" % group, params={"plan_year_start": "2027-12-31"})) == rates
    assert ok(billing_of(viewer, group)) == overview


def test_who_sees_billing(stack, group):
    wait_for(lambda: billing_of(user(stack, group, "viewer"), group).status_code == 200, timeout=30, interval=0.3,
             message="billing to know the group")
    limited = ok(billing_of(user(stack, group, "billing_manager", subgroups=["002"]), group))
    assert ([account["account_number"] for account in limited["accounts"]], limited["scope"], limited["totals"]) == (
        ["%s-002" % group], "subgroups", None)
    limited_rates = ok(user(stack, group, "billing_manager", subgroups=["001"]).get(
        "/api/v1/groups/%s/rates" % group, params={"plan_year_start": "2027-01-01"}))
    assert [plan["plan_code"] for plan in limited_rates["plans"]] == ["BS-PPO"]

    assert billing_of(user(stack, group, "enrollment_manager"), group).status_code == 403
    stranger = user(stack, "ZZ%s" % uuid.uuid4().hex[:6].upper(), "group_admin")
    for path in ("/api/v1/groups/%s/billing", "/api/v1/groups/%s/rates"):
        answer = stranger.get(path % group)
        assert answer.status_code == 404 and answer.json()["code"] == "group_not_found"
    refused = user(stack, group, "group_admin").put("/api/v1/admin/groups/%s/rates" % group,
                                                    json={"plan_year_start": "2027-01-01", "rates": PPO_RATES})
    assert refused.status_code == 403
