"""Billing set-up and the billing overview through the real billing service: carrier staff set a group's
billing policy and load its rates (complete sheets only, 422 naming each missing or unknown key, nothing
written), a group's users see the rates and their accounts' balances, amounts due, due dates, paid-through
dates, auto pay and delinquency (group totals only for a grant on the whole group), the dashboard's figures,
and who may do what (403 for a role without the action, 404 for another group)."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from billing.domain.policy import AGE_BANDS
from billing.models import AutoPay, BillingAccount, BillingGroup, PaymentMethod, PlanYearOffering, Rate, Statement
from billingtesting import NOW, refusal, seed_group, user
from servicekit.testing.tokens import grant, mint_token

G = "G100"
OTHER = "G200"
FULL_SHEET = [{"plan_code": "PPO-1", "rate_key": key, "amount": amount}
              for key, amount in (("EMP", "510.25"), ("ESP", "1020.50"), ("ECH", "918.00"), ("FAM", "1428.75"))]


def seed(engine, extra_offering=True):
    """G100: subgroups 001 (PPO-1, all tiers) and 002 (PPO-1 and HMO-1 in EMP and FAM), rates of PPO-1 on file;
    G200: subgroup 001."""
    with Session(engine) as session:
        group = seed_group(session, G, subgroups=("001", "002"))
        if extra_offering:
            offering = session.scalar(select(PlanYearOffering).where(PlanYearOffering.group_id == group.id,
                                                                     PlanYearOffering.subgroup_number == "002"))
            offering.plans = [{"plan_code": "PPO-1", "tiers": ["EMP", "ESP", "ECH", "FAM"]},
                              {"plan_code": "HMO-1", "tiers": ["EMP", "FAM"]}]
        seed_group(session, OTHER)
        session.commit()


def rates_on_file(engine, group_number=G):
    with Session(engine) as session:
        return sorted((rate.plan_year_start.isoformat(), rate.plan_code, rate.rate_key, str(rate.amount))
                      for rate in session.scalars(select(Rate).join(BillingGroup, Rate.group_id == BillingGroup.id)
                                                  .where(BillingGroup.group_number == group_number)))


# --- billing policy -------------------------------------------------------------------------------------

def test_carrier_staff_set_the_billing_policy_fields_sent_and_the_rest_stays(billing, billing_db):
    seed(billing_db)
    answer = billing.call("set_billing_policy", G, {"rating_method": "age_rated", "proration": "daily"})
    assert {key: answer[key] for key in ("group_number", "rating_method", "proration", "grace_days",
                                         "cobra_billing", "retro_window_days")} == {
        "group_number": G, "rating_method": "age_rated", "proration": "daily", "grace_days": 31,
        "cobra_billing": "group_billed", "retro_window_days": 60}
    answer = billing.call("set_billing_policy", G, {"grace_days": 45, "cobra_billing": "direct_billed",
                                                    "retro_window_days": 90})
    assert (answer["rating_method"], answer["proration"], answer["grace_days"], answer["cobra_billing"],
            answer["retro_window_days"]) == ("age_rated", "daily", 45, "direct_billed", 90)
    with Session(billing_db) as session:
        group = session.scalar(select(BillingGroup).where(BillingGroup.group_number == G))
        assert (group.rating_method, group.proration, group.grace_days) == ("age_rated", "daily", 45)


def test_the_policy_is_checked_and_only_carrier_staff_may_set_it(billing, billing_db):
    seed(billing_db)
    bad = refusal(billing.call, "set_billing_policy", G, {"grace_days": 91, "proration": "weekly"})
    assert bad["status"] == 422 and set(bad["errors"]) == {"grace_days", "proration"}
    assert refusal(billing.call, "set_billing_policy", G, {})["status"] == 422
    admin = refusal(billing.call, "set_billing_policy", G, {"grace_days": 40}, token=user(G, "group_admin"))
    assert admin["status"] == 403
    assert refusal(billing.call, "set_billing_policy", "G999", {"grace_days": 40})["status"] == 404
    with Session(billing_db) as session:
        assert session.scalar(select(BillingGroup.grace_days).where(BillingGroup.group_number == G)) == 31


def test_a_retried_policy_change_answers_the_first_time_again(billing, billing_db):
    seed(billing_db)
    first = billing.call("set_billing_policy", G, {"grace_days": 40}, idempotency_key="policy-1")
    again = billing.call("set_billing_policy", G, {"grace_days": 40}, idempotency_key="policy-1")
    assert again == first
    reused = refusal(billing.call, "set_billing_policy", G, {"grace_days": 50}, idempotency_key="policy-1")
    assert (reused["status"], reused["code"]) == (422, "idempotency_key_reused")


# --- rates ----------------------------------------------------------------------------------------------

def test_a_composite_sheet_needs_every_tier_each_offered_plan_sells(billing, billing_db):
    seed(billing_db)
    # HMO-1 is offered to 002 without rates: a load of PPO-1 alone is refused for HMO-1's sake.
    refused = refusal(billing.call, "load_rates", G, {"plan_year_start": "2027-01-01", "rates": FULL_SHEET})
    assert refused["status"] == 422
    assert refused["errors"] == {"rates": {"HMO-1": ["Missing rates for: EMP, FAM."]}}

    sheet = FULL_SHEET + [{"plan_code": "HMO-1", "rate_key": "EMP", "amount": "400.00"},
                          {"plan_code": "HMO-1", "rate_key": "FAM", "amount": "1100.10"}]
    loaded = billing.call("load_rates", G, {"plan_year_start": "2027-01-01", "rates": sheet})
    assert (loaded["plan_year_start"], loaded["plan_year_end"], loaded["rating_method"]) == (
        "2027-01-01", "2027-12-31", "composite")
    assert loaded["plans"] == [
        {"plan_code": "HMO-1", "tiers": ["EMP", "FAM"], "subgroups": ["002"], "missing_rate_keys": [],
         "rates": [{"rate_key": "EMP", "amount": "400.00"}, {"rate_key": "FAM", "amount": "1100.10"}]},
        {"plan_code": "PPO-1", "tiers": ["EMP", "ESP", "ECH", "FAM"], "subgroups": ["001", "002"],
         "missing_rate_keys": [],
         "rates": [{"rate_key": "EMP", "amount": "510.25"}, {"rate_key": "ESP", "amount": "1020.50"},
                   {"rate_key": "ECH", "amount": "918.00"}, {"rate_key": "FAM", "amount": "1428.75"}]},
    ]
    # Later, HMO-1 alone is re-rated: PPO-1 keeps its rates.
    billing.call("load_rates", G, {"plan_year_start": "2027-01-01", "rates": [
        {"plan_code": "HMO-1", "rate_key": "EMP", "amount": "410.00"},
        {"plan_code": "HMO-1", "rate_key": "FAM", "amount": "1120.00"}]})
    assert rates_on_file(billing_db) == [
        ("2027-01-01", "HMO-1", "EMP", "410.00"), ("2027-01-01", "HMO-1", "FAM", "1120.00"),
        ("2027-01-01", "PPO-1", "ECH", "918.00"), ("2027-01-01", "PPO-1", "EMP", "510.25"),
        ("2027-01-01", "PPO-1", "ESP", "1020.50"), ("2027-01-01", "PPO-1", "FAM", "1428.75")]


def test_a_bad_sheet_names_each_missing_and_unknown_key_and_writes_nothing(billing, billing_db):
    seed(billing_db)
    before = rates_on_file(billing_db)
    refused = refusal(billing.call, "load_rates", G, {"plan_year_start": "2027-01-01", "rates": [
        {"plan_code": "PPO-1", "rate_key": "EMP", "amount": "500.00"},
        {"plan_code": "PPO-1", "rate_key": "40", "amount": "300.00"},
        {"plan_code": "HMO-1", "rate_key": "EMP", "amount": "400.00"},
        {"plan_code": "HMO-1", "rate_key": "EMP", "amount": "401.00"},
        {"plan_code": "DEN-1", "rate_key": "EMP", "amount": "30.00"}]})
    assert refused["status"] == 422
    assert refused["errors"] == {"rates": {
        "DEN-1": ["No subgroup is offered this plan in the plan year."],
        "HMO-1": ["EMP is given twice.", "Missing rates for: FAM."],
        "PPO-1": ["Not a rate key of this plan under composite rating: 40.", "Missing rates for: ESP, ECH, FAM."]}}
    no_year = refusal(billing.call, "load_rates", G, {"plan_year_start": "2029-01-01", "rates": FULL_SHEET})
    assert (no_year["status"], list(no_year["errors"])) == (422, ["plan_year_start"])
    amounts = refusal(billing.call, "load_rates", G, {"plan_year_start": "2027-01-01", "rates": [
        {"plan_code": "PPO-1", "rate_key": "EMP", "amount": "0"}, {"plan_code": "PPO-1", "rate_key": "ESP",
                                                                    "amount": "1.999"}]})
    assert amounts["errors"] == {"rates": {"0": {"amount": ["A rate is more than 0.00 and less than 1000000.00."]},
                                           "1": {"amount": ["An amount has at most 2 decimal places."]}}}
    assert rates_on_file(billing_db) == before


def test_an_age_rated_group_needs_a_rate_for_every_age_band(billing, billing_db):
    seed(billing_db, extra_offering=False)
    billing.call("set_billing_policy", G, {"rating_method": "age_rated"})
    shown = billing.call("get_rates", G, {}, token=user(G, "viewer"))
    assert shown["rating_method"] == "age_rated"
    assert shown["plans"][0]["missing_rate_keys"] == list(AGE_BANDS)   # the tier rates no longer count
    bands = [{"plan_code": "PPO-1", "rate_key": band, "amount": "%d.00" % (200 + 10 * index)}
             for index, band in enumerate(AGE_BANDS)]
    refused = refusal(billing.call, "load_rates", G, {"plan_year_start": "2027-01-01", "rates": bands[1:-1]})
    assert refused["errors"] == {"rates": {"PPO-1": ["Missing rates for: 0-14, 64+."]}}
    loaded = billing.call("load_rates", G, {"plan_year_start": "2027-01-01", "rates": bands})
    (plan,) = loaded["plans"]
    assert plan["missing_rate_keys"] == [] and len(plan["rates"]) == 51
    assert plan["rates"][:2] == [{"rate_key": "0-14", "amount": "200.00"}, {"rate_key": "15", "amount": "210.00"}]
    assert plan["rates"][-1] == {"rate_key": "64+", "amount": "700.00"}
    assert len(rates_on_file(billing_db)) == 51   # the tier rates were replaced


def test_only_carrier_staff_load_rates(billing, billing_db):
    seed(billing_db)
    sheet = {"plan_year_start": "2027-01-01", "rates": FULL_SHEET}
    assert refusal(billing.call, "load_rates", G, sheet, token=user(G, "group_admin"))["status"] == 403
    # The admin paths answer every non-carrier alike (as roster's): nothing tells whether the group exists.
    assert refusal(billing.call, "load_rates", "G999", sheet, token=user(OTHER, "group_admin"))["status"] == 403
    assert refusal(billing.call, "load_rates", "G999", sheet)["status"] == 404


def test_a_groups_users_who_view_billing_see_its_rates_for_the_plan_year(billing, billing_db):
    seed(billing_db)
    viewer = billing.call("get_rates", G, {}, token=user(G, "viewer"))   # today 2027-03-10: plan year 2027
    assert (viewer["plan_year_start"], viewer["plan_year_end"]) == ("2027-01-01", "2027-12-31")
    assert [(plan["plan_code"], plan["subgroups"], plan["missing_rate_keys"]) for plan in viewer["plans"]] == [
        ("HMO-1", ["002"], ["EMP", "FAM"]), ("PPO-1", ["001", "002"], [])]
    assert viewer["plans"][1]["rates"] == [{"rate_key": "EMP", "amount": "500.00"},
                                           {"rate_key": "ESP", "amount": "1000.00"},
                                           {"rate_key": "ECH", "amount": "900.00"},
                                           {"rate_key": "FAM", "amount": "1400.00"}]
    limited = billing.call("get_rates", G, {"plan_year_start": "2027-06-30"},
                           token=user(G, "billing_manager", subgroups=["001"]))
    assert [(plan["plan_code"], plan["subgroups"]) for plan in limited["plans"]] == [("PPO-1", ["001"])]
    next_year = billing.call("get_rates", G, {"plan_year_start": "2028-02-01"}, token=user(G, "viewer"))
    assert (next_year["plan_year_start"], next_year["plans"]) == ("2028-01-01", [])
    assert refusal(billing.call, "get_rates", G, {}, token=user(G, "enrollment_manager"))["status"] == 403
    assert refusal(billing.call, "get_rates", G, {}, token=user(OTHER, "viewer"))["status"] == 404
    assert refusal(billing.call, "get_rates", G, {"plan_year_start": "soon"},
                   token=user(G, "viewer"))["errors"] == {"plan_year_start": ["Not a valid date."]}


# --- the billing overview and the dashboard ----------------------------------------------------------------

def seed_ledgers(engine):
    """G100-001: March paid (500.00), April billed (1400.00, statement due 2027-04-01), auto pay 3 days before
    the due date. G100-002: 50.00 paid with nothing billed (a credit), past due. G200-001: 700.00 billed."""
    with Session(engine) as session:
        accounts = {a.account_number: a for a in session.scalars(select(BillingAccount))}
        first, second, other = accounts["G100-001"], accounts["G100-002"], accounts["G200-001"]
        ledger.post(session, first, "charge", Decimal("500.00"), "March premium", posted_on=date(2027, 2, 15),
                    coverage_month=date(2027, 3, 1), line_key="M1:PPO-1")
        ledger.post(session, first, "payment", Decimal("-500.00"), "Payment", posted_on=date(2027, 2, 28))
        ledger.post(session, first, "charge", Decimal("1400.00"), "April premium", posted_on=date(2027, 3, 15),
                    coverage_month=date(2027, 4, 1), line_key="M1:PPO-1")
        for account, month, cut, amount in ((first, date(2027, 3, 1), date(2027, 2, 15), "500.00"),
                                            (first, date(2027, 4, 1), date(2027, 3, 15), "1400.00"),
                                            (other, date(2027, 4, 1), date(2027, 3, 15), "700.00")):
            session.add(Statement(
                statement_number="S%s-%s" % (month.strftime("%Y%m"), account.account_number), account_id=account.id,
                group_id=account.group_id, coverage_month=month, cut_date=cut, due_date=month,
                balance_forward=Decimal("0.00"), payments=Decimal("0.00"), charges=Decimal(amount),
                adjustments=Decimal("0.00"), amount_due=Decimal(amount), status="issued", lines=[], issued_at=NOW))
        ledger.post(session, other, "charge", Decimal("700.00"), "April premium", posted_on=date(2027, 3, 15),
                    coverage_month=date(2027, 4, 1), line_key="M2:PPO-1")
        ledger.post(session, second, "payment", Decimal("-50.00"), "Payment", posted_on=date(2027, 3, 1))
        second.delinquency_stage = "past_due"
        method = PaymentMethod(group_id=first.group_id, holder_name="Harbor", account_type="checking",
                               routing_number="011000015", account_ciphertext="sealed", account_last4="6789",
                               account_hash="0" * 64, created_at=NOW)
        session.add(method)
        session.flush()
        session.add(AutoPay(account_id=first.id, method_id=method.id, days_before_due=3, authorized_by="u-1",
                            authorized_at=NOW, terms_version="2027-01"))
        session.commit()


FIRST = {"account_number": "G100-001", "subgroup_number": "001", "name": "Subgroup 001", "status": "active",
         "balance": "1400.00", "amount_due": "1400.00", "credit_balance": "0.00", "due_date": "2027-04-01",
         "last_statement": {"statement_number": "S202704-G100-001", "coverage_month": "2027-04-01",
                            "due_date": "2027-04-01", "amount_due": "1400.00"},
         "paid_through": "2027-03-31", "delinquency_stage": "current",
         "autopay": {"active": True, "days_before_due": 3}}
SECOND = {"account_number": "G100-002", "subgroup_number": "002", "name": "Subgroup 002", "status": "active",
          "balance": "-50.00", "amount_due": "0.00", "credit_balance": "50.00", "due_date": None,
          "last_statement": None, "paid_through": None, "delinquency_stage": "past_due",
          "autopay": {"active": False, "days_before_due": None}}


def test_the_billing_overview_shows_each_account_and_group_totals_to_a_group_wide_grant(billing, billing_db):
    seed(billing_db)
    seed_ledgers(billing_db)
    overview = billing.call("get_billing", G, token=user(G, "viewer"))
    assert overview == {"group_number": G, "legal_name": "Group G100", "scope": "group", "accounts": [FIRST, SECOND],
                        "totals": {"balance": "1350.00", "amount_due": "1400.00", "credit_balance": "50.00"}}
    assert billing.call("get_billing", G) == overview   # carrier staff


def test_a_user_limited_to_a_subgroup_sees_its_account_without_group_totals(billing, billing_db):
    seed(billing_db)
    seed_ledgers(billing_db)
    overview = billing.call("get_billing", G, token=user(G, "billing_manager", subgroups=["002"]))
    assert (overview["scope"], overview["accounts"], overview["totals"]) == ("subgroups", [SECOND], None)
    assert refusal(billing.call, "get_billing", G, token=user(G, "enrollment_manager"))["status"] == 403
    assert refusal(billing.call, "get_billing", G, token=user(OTHER, "group_admin"))["status"] == 404
    assert refusal(billing.call, "get_billing", "G999")["status"] == 404


def test_the_dashboard_shows_amount_due_and_due_date_per_group_billing_is_visible_in(billing, billing_db):
    seed(billing_db)
    seed_ledgers(billing_db)
    with Session(billing_db) as session:
        seed_group(session, "G300")
        session.commit()
    token = mint_token("u-many", grants=[grant(G, "group_admin"), grant(OTHER, "viewer", subgroups=["001"]),
                                         grant("G300", "enrollment_manager")])
    assert billing.call("dashboard", token=token) == [
        {"group_number": G, "scope": "group", "amount_due": "1400.00", "due_date": "2027-04-01"},
        {"group_number": OTHER, "scope": "subgroups", "amount_due": "700.00", "due_date": "2027-04-01"},
    ]
    limited = billing.call("dashboard", token=user(G, "billing_manager", subgroups=["002"]))
    assert limited == [{"group_number": G, "scope": "subgroups", "amount_due": "0.00", "due_date": None}]
    assert billing.call("dashboard") == []   # carrier staff hold no grants
