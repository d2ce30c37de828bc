"""Issue 6 part 2 over HTTP through the gateway, on business dates set for the whole stack: the statement run.

Carrier staff set up groups in roster, billing learns them (and each family) from roster's events, carrier staff
set the billing policy and load the rates, families enroll; the run on the 15th cuts next month's statement per
sub-group and the consolidated one, with literal amounts: a composite group under each proration policy (none,
daily, fifteenth) with a mid-month birth in one sub-group and a mid-month death in the other, recorded after
their month was billed, so the next statement carries the retro adjustments (rounded half-up per line); and an
age-rated group. Running the run again changes nothing; only carrier staff may run it.

The run cuts every account in the stack, other modules' groups too, so the answers are checked for this
module's accounts only. Waiting for billing's projection of a family reads billing's table (no billing path
shows a family before its first statement)."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from journeys import create_group, ok, unique_ssn, user
from servicekit.testing import wait_for

PLAN = "ST-PPO"
PLANS = [{"plan_code": PLAN, "name": "Statement PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
COMPOSITE_RATES = [{"plan_code": PLAN, "rate_key": key, "amount": amount}
                   for key, amount in (("EMP", "500.00"), ("ESP", "1000.00"), ("ECH", "900.00"), ("FAM", "1400.00"))]
# ACA bands: 0-14, 15 .. 63, 64+; 190.50 + 6.50 a year of age (40: 450.50, 41: 457.00)
AGE_RATES = ([{"plan_code": PLAN, "rate_key": "0-14", "amount": "300.00"}]
             + [{"plan_code": PLAN, "rate_key": str(age), "amount": str(Decimal("190.50") + Decimal("6.50") * age)}
                for age in range(15, 64)]
             + [{"plan_code": PLAN, "rate_key": "64+", "amount": "1200.00"}])
PRORATIONS = ("none", "daily", "fifteenth")


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-statements", carrier=True))


def statement_group(carrier, prefix, subgroups):
    return create_group(carrier, prefix, {subgroup: ("Site %s" % subgroup, [PLAN]) for subgroup in subgroups},
                        legal_name="Statement Widgets %s" % prefix)


def set_up_billing(carrier, number, policy, rates):
    """The policy and the rates, once billing has heard of the group and its offerings from roster."""
    wait_for(lambda: carrier.put("/api/v1/admin/groups/%s/billing-policy" % number, json=policy).status_code == 200,
             timeout=30, interval=0.3, message="billing to know group %s" % number)
    wait_for(lambda: carrier.put("/api/v1/admin/groups/%s/rates" % number,
                                 json={"plan_year_start": "2027-01-01", "rates": rates}).status_code == 200,
             timeout=30, interval=0.3, message="billing to take group %s's rates" % number)


def enroll(stack, number, subgroup, dependents):
    """A subscriber (born 1986-04-12: 40 at the plan year's start) and `dependents`, covered from 2027-01-01."""
    last = "Statement-%s" % uuid.uuid4().hex[:4]
    enrolled = ok(user(stack, number, "group_admin").post("/api/v1/groups/%s/subscribers" % number, json={
        "subgroup_number": subgroup, "plan_code": PLAN,
        "subscriber": {"first_name": "Avery", "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"},
        "dependents": [dict(person, last_name=last, ssn=unique_ssn()) for person in dependents]}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-01-01")
    subscriber = enrolled["subscriber"]
    return {"subscriber": subscriber["member_id"],
            **{dependent["relationship"]: dependent["member_id"] for dependent in subscriber["dependents"]}}


SPOUSE = {"relationship": "spouse", "first_name": "Sam", "date_of_birth": "1985-09-30", "gender": "M"}
CHILD = {"relationship": "child", "first_name": "Riley", "date_of_birth": "2015-02-03", "gender": "U"}


def projected(stack, subscriber):
    """The family's members as billing's projection holds them (None until it does)."""
    engine = create_engine(stack.database_urls["billing"])
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT members FROM billable_families WHERE subscriber_member_id = :id"),
                                     {"id": subscriber}).first()
    finally:
        engine.dispose()
    return None if row is None else row.members


def wait_projected(stack, subscriber, check=bool):
    return wait_for(lambda: (lambda members: members is not None and check(members))(projected(stack, subscriber)),
                    timeout=30, interval=0.3, message="billing to project family %s" % subscriber)


@pytest.fixture(scope="module")
def groups(stack, carrier, business_date_module):
    """Three composite groups (one per proration; 001 a couple, 002 a family of three) and an age-rated one
    (001 a family of three), enrolled on 2027-01-01 and known to billing with their rates."""
    business_date_module(date(2027, 1, 1))
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    made = {}
    for proration in PRORATIONS:
        number = statement_group(carrier, "ST", ("001", "002"))
        set_up_billing(carrier, number, {"rating_method": "composite", "proration": proration}, COMPOSITE_RATES)
        made[proration] = {"number": number, "couple": enroll(stack, number, "001", [SPOUSE]),
                           "family": enroll(stack, number, "002", [SPOUSE, CHILD])}
    number = statement_group(carrier, "SA", ("001",))
    set_up_billing(carrier, number, {"rating_method": "age_rated", "proration": "none"}, AGE_RATES)
    made["age_rated"] = {"number": number, "family": enroll(stack, number, "001", [SPOUSE, CHILD])}
    for group in made.values():
        for family in (group.get("couple"), group["family"]):
            if family:
                wait_projected(stack, family["subscriber"])
    return made


@pytest.fixture(scope="module")
def business_date_module(stack):
    """The stack's business date for this module's fixtures (the function-scoped `business_date` resets it)."""
    yield stack.set_business_date
    stack.set_business_date(None)


def run(carrier, as_of, accounts):
    """The statement run for `as_of`; its errors for `accounts` (this module's) must be none."""
    answer = ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": as_of}))
    assert [error for error in answer["errors"] if error["account_number"] in accounts] == []
    return answer


def invoice(stack, number, statement_number):
    return ok(user(stack, number, "billing_manager").get("/api/v1/groups/%s/invoices/%s" % (number, statement_number)))


def money(statement):
    return tuple(statement[name] for name in ("balance_forward", "payments", "charges", "adjustments", "amount_due"))


def consolidated(stack, number, period):
    found = ok(user(stack, number, "group_admin").get("/api/v1/groups/%s/invoices/consolidated" % number,
                                                      params={"period": period}))
    return found["statement_number"], found["amount_due"], found["due_date"]


def accounts_of(groups):
    return {"%s-%s" % (group["number"], subgroup) for group in groups.values() for subgroup in ("001", "002")}


# --- the journey --------------------------------------------------------------------------------------------

# June's statement after the birth (001: ESP -> FAM from 17 April) and the spouse's death (002: FAM through
# 10 April, ECH from the 11th), both recorded on 20 April, after May was cut:
#   birth, April: none ESP on the 1st = as billed; daily 1000 x 16/30 + 1400 x 14/30 = 533.33 + 653.33 (+186.66);
#          fifteenth ESP on the 15th = as billed.  May: FAM 1400 - ESP 1000 = +400.00 under each.
#   death, April: none FAM on the 1st = as billed; daily 1400 x 10/30 + 900 x 20/30 = 466.67 + 600.00 (-333.33);
#          fifteenth ECH on the 15th = 900 (-500.00).  May: ECH 900 - FAM 1400 = -500.00 under each.
JUNE = {
    "none": {"001": ("2000.00", "0.00", "1400.00", "400.00", "3800.00"),
             "002": ("2800.00", "0.00", "900.00", "-500.00", "3200.00"), "consolidated": "7000.00"},
    "daily": {"001": ("2000.00", "0.00", "1400.00", "586.66", "3986.66"),
              "002": ("2800.00", "0.00", "900.00", "-833.33", "2866.67"), "consolidated": "6853.33"},
    "fifteenth": {"001": ("2000.00", "0.00", "1400.00", "400.00", "3800.00"),
                  "002": ("2800.00", "0.00", "900.00", "-1000.00", "2700.00"), "consolidated": "6500.00"},
}
JUNE_ADJUSTMENTS = {   # (coverage month, line's rate key, amount) per sub-group, April's left out when zero
    "none": {"001": [("2027-05-01", "FAM", "400.00")], "002": [("2027-05-01", "ECH", "-500.00")]},
    "daily": {"001": [("2027-04-01", "FAM", "186.66"), ("2027-05-01", "FAM", "400.00")],
              "002": [("2027-04-01", "ECH", "-333.33"), ("2027-05-01", "ECH", "-500.00")]},
    "fifteenth": {"001": [("2027-05-01", "FAM", "400.00")],
                  "002": [("2027-04-01", "ECH", "-500.00"), ("2027-05-01", "ECH", "-500.00")]},
}


def test_statements_per_subgroup_and_consolidated_with_retro_adjustments(stack, carrier, groups, business_date):
    mine = accounts_of(groups)

    # 15 March: April's statements, due 1 April
    business_date(date(2027, 3, 15))
    answer = run(carrier, "2027-03-15", mine)
    assert answer["coverage_month"] == "2027-04-01"
    for proration in PRORATIONS:
        number = groups[proration]["number"]
        couple = invoice(stack, number, "S202704-%s-001" % number)
        assert (couple["coverage_month"], couple["cut_date"], couple["due_date"], couple["status"]) == (
            "2027-04-01", "2027-03-15", "2027-04-01", "issued")
        assert money(couple) == ("0.00", "0.00", "1000.00", "0.00", "1000.00")
        assert [(line["kind"], line["member_id"], line["rate_key"], line["amount"]) for line in couple["lines"]] == [
            ("charge", groups[proration]["couple"]["subscriber"], "ESP", "1000.00")]
        assert money(invoice(stack, number, "S202704-%s-002" % number)) == (
            "0.00", "0.00", "1400.00", "0.00", "1400.00")
        assert consolidated(stack, number, "2027-04") == ("C202704-%s" % number, "2400.00", "2027-04-01")

    aged = groups["age_rated"]
    statement = invoice(stack, aged["number"], "S202704-%s-001" % aged["number"])
    assert money(statement) == ("0.00", "0.00", "1207.50", "0.00", "1207.50")
    assert sorted((line["member_id"], line["rate_key"], line["amount"]) for line in statement["lines"]) == sorted([
        (aged["family"]["subscriber"], "40", "450.50"), (aged["family"]["spouse"], "41", "457.00"),
        (aged["family"]["child"], "0-14", "300.00")])
    assert consolidated(stack, aged["number"], "2027-04") == ("C202704-%s" % aged["number"], "1207.50", "2027-04-01")

    # 15 April: May's statements (nothing paid yet: April carried forward)
    business_date(date(2027, 4, 15))
    assert run(carrier, "2027-04-15", mine)["coverage_month"] == "2027-05-01"
    for proration in PRORATIONS:
        number = groups[proration]["number"]
        assert money(invoice(stack, number, "S202705-%s-001" % number)) == (
            "1000.00", "0.00", "1000.00", "0.00", "2000.00")
        assert money(invoice(stack, number, "S202705-%s-002" % number)) == (
            "1400.00", "0.00", "1400.00", "0.00", "2800.00")

    # 20 April: a birth on the 17th in 001, the spouse's death on the 10th in 002
    business_date(date(2027, 4, 20))
    for proration in PRORATIONS:
        number, couple, family = groups[proration]["number"], groups[proration]["couple"], groups[proration]["family"]
        admin = user(stack, number, "group_admin")
        added = ok(admin.post("/api/v1/groups/%s/subscribers/%s/dependents" % (number, couple["subscriber"]), json={
            "life_event": "birth", "event_date": "2027-04-17",
            "dependent": {"relationship": "child", "first_name": "Robin", "last_name": "Statement",
                          "date_of_birth": "2027-04-17", "gender": "F"}}), 201)
        assert (added["status"], added["tier"]) == ("completed", "FAM")
        ended = ok(admin.post("/api/v1/groups/%s/members/%s/coverage/terminate" % (number, family["spouse"]),
                              json={"event_date": "2027-04-10", "cause": "death"}))
        assert (ended["status"], ended["termination_date"]) == ("completed", "2027-04-10")
        wait_projected(stack, couple["subscriber"], lambda members: len(members) == 3)
        wait_projected(stack, family["subscriber"], lambda members: any(
            span["tier"] == "ECH" for member in members for span in member["coverage"]))

    # 15 May: June's statements carry April's and May's adjustments
    business_date(date(2027, 5, 15))
    assert run(carrier, "2027-05-15", mine)["coverage_month"] == "2027-06-01"
    for proration in PRORATIONS:
        number = groups[proration]["number"]
        for subgroup in ("001", "002"):
            june = invoice(stack, number, "S202706-%s-%s" % (number, subgroup))
            assert money(june) == JUNE[proration][subgroup], (proration, subgroup)
            assert [(line["coverage_month"], line["rate_key"], line["amount"]) for line in june["lines"]
                    if line["kind"] == "adjustment"] == JUNE_ADJUSTMENTS[proration][subgroup], (proration, subgroup)
        assert consolidated(stack, number, "2027-06")[1] == JUNE[proration]["consolidated"]

    # the run again, later in the month: nothing new, nothing changed
    business_date(date(2027, 5, 20))
    run(carrier, "2027-05-20", mine)
    for proration in PRORATIONS:
        number = groups[proration]["number"]
        listed = ok(user(stack, number, "group_admin").get("/api/v1/groups/%s/invoices" % number,
                                                           params={"limit": 100}))
        assert sorted(item["statement_number"] for item in listed["items"]) == sorted(
            "S2027%02d-%s-%s" % (month, number, subgroup) for month in (4, 5, 6) for subgroup in ("001", "002"))
        assert money(invoice(stack, number, "S202706-%s-001" % number)) == JUNE[proration]["001"]


def test_only_carrier_staff_run_the_statement_run(stack, groups):
    number = groups["none"]["number"]
    for role in ("group_admin", "billing_manager"):
        refused = user(stack, number, role).post("/api/v1/admin/jobs/statement-run", json={"as_of": "2027-05-15"})
        assert refused.status_code == 403, role
    bad = stack.client(stack.token("carrier-statements", carrier=True)).post(
        "/api/v1/admin/jobs/statement-run", json={"as_of": "2027-02-30"})
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["as_of"]
