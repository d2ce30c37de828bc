"""The statement run through the real billing service (part P2): statements per account and consolidated per
group with literal amounts (composite and age-rated), statement_issued events, a rerun that creates nothing,
retro adjustments of a mid-month birth under each proration (and a late payment never owed twice), an account
with a missing rate reported and cut once its rate loads, who may run it, and two replicas running it at once.

Groups, accounts, rates and families are written straight into billing's tables (billingtesting), as roster's
events and the carrier's rate load would have made them."""
from datetime import date
from decimal import Decimal

import eventlet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import BillableFamily, BillingAccount, ConsolidatedStatement, LedgerEntry, Rate, Statement
from billing.service import BillingService
from servicekit.tables import job_runs
from servicekit.testing import ServiceClient
from servicekit.testing.broker import collect_events
from billingtesting import COMPOSITE_RATES, member, refusal, seed_family, seed_group, span, user

AGE_RATES = {"0-14": Decimal("300.00"), "40": Decimal("450.50"), "41": Decimal("460.25")}


def family_members(tier, *, through=None, status="active"):
    """Dana (40 at the plan year's start), Sam (41), Riley (11), all on PPO-1 with `tier` from 1 January."""
    return [member("M000000101", "18", "1986-04-12", span("PPO-1", tier, "2027-01-01", through, status)),
            member("M000000102", "01", "1985-09-30", span("PPO-1", tier, "2027-01-01", through, status)),
            member("M000000103", "19", "2015-02-03", span("PPO-1", tier, "2027-01-01", through, status))]


def seed_composite_and_age_rated(engine):
    with Session(engine) as session:
        composite = seed_group(session, "100234", subgroups=("001", "002"))
        seed_family(session, composite, "001", "M000000101", family_members("FAM"))
        seed_family(session, composite, "001", "M000000201", [
            member("M000000201", "18", "1990-01-20", span("PPO-1", "EMP", "2027-01-01"))])
        seed_family(session, composite, "002", "M000000301", [
            member("M000000301", "18", "1979-06-02", span("PPO-1", "ESP", "2027-01-01")),
            member("M000000302", "01", "1981-03-03", span("PPO-1", "ESP", "2027-01-01"))])
        age_rated = seed_group(session, "100300", rating_method="age_rated", rates=AGE_RATES)
        members = family_members("FAM")
        for person in members:
            person["member_id"] = person["member_id"].replace("M0000001", "M0000004")
        seed_family(session, age_rated, "001", "M000000401", members)
        session.commit()


def statements(engine):
    with Session(engine) as session:
        return {row.statement_number: row for row in session.scalars(select(Statement).order_by(Statement.id))}


def consolidated(engine):
    with Session(engine) as session:
        return {row.statement_number: (str(row.amount_due), row.due_date, len(row.statement_ids))
                for row in session.scalars(select(ConsolidatedStatement))}


def money(statement):
    return tuple(str(value) for value in (statement.balance_forward, statement.payments, statement.charges,
                                          statement.adjustments, statement.amount_due))


# --- the 15th: next month's statements ----------------------------------------------------------------------

def test_the_15th_cuts_next_months_statements_and_consolidated(billing, billing_db, billing_config):
    seed_composite_and_age_rated(billing_db)
    with collect_events(billing_config, "billing.events", "statement_issued") as issued:
        answer = billing.call("run_statements", "2027-03-15")
        assert answer == {"coverage_month": "2027-04-01", "statements": 3, "skipped": 0, "errors": []}
        events = issued.wait_for(3)

    cut = statements(billing_db)
    assert sorted(cut) == ["S202704-100234-001", "S202704-100234-002", "S202704-100300-001"]
    office = cut["S202704-100234-001"]
    assert (office.coverage_month, office.cut_date, office.due_date, office.status) == (
        date(2027, 4, 1), date(2027, 3, 15), date(2027, 4, 1), "issued")
    assert money(office) == ("0.00", "0.00", "1900.00", "0.00", "1900.00")
    assert [(line["kind"], line["line_key"], line["rate_key"], line["amount"]) for line in office.lines] == [
        ("charge", "M000000101:PPO-1", "FAM", "1400.00"), ("charge", "M000000201:PPO-1", "EMP", "500.00")]
    assert office.lines[0]["description"] == "M000000101 PPO-1 FAM, April 2027"
    assert money(cut["S202704-100234-002"]) == ("0.00", "0.00", "1000.00", "0.00", "1000.00")
    age_rated = cut["S202704-100300-001"]
    assert money(age_rated) == ("0.00", "0.00", "1210.75", "0.00", "1210.75")
    assert [(line["member_id"], line["rate_key"], line["amount"]) for line in age_rated.lines] == [
        ("M000000401", "40", "450.50"), ("M000000402", "41", "460.25"), ("M000000403", "0-14", "300.00")]
    assert consolidated(billing_db) == {"C202704-100234": ("2900.00", date(2027, 4, 1), 2),
                                        "C202704-100300": ("1210.75", date(2027, 4, 1), 1)}

    by_number = {event["data"]["statement_number"]: event for event in events}
    office_event = by_number["S202704-100234-001"]
    assert (office_event["aggregate_id"], office_event["group_id"], office_event["sequence"]) == (
        "account:100234-001", "100234", 1)
    assert office_event["data"] == {
        "statement_number": "S202704-100234-001", "account_number": "100234-001", "group_number": "100234",
        "subgroup_number": "001", "coverage_month": "2027-04-01", "cut_date": "2027-03-15",
        "due_date": "2027-04-01", "balance_forward": "0.00", "payments": "0.00", "charges": "1900.00",
        "adjustments": "0.00", "amount_due": "1900.00"}

    with Session(billing_db) as session:
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert all(entry.statement_id is not None and entry.kind == "charge" for entry in entries)
        assert [(entry.coverage_month, entry.line_key, entry.member_id, entry.plan_code, entry.rate_key,
                 str(entry.amount)) for entry in entries if entry.subscriber_member_id == "M000000101"] == [
            (date(2027, 4, 1), "M000000101:PPO-1", "M000000101", "PPO-1", "FAM", "1400.00")]


def test_running_again_creates_nothing_new(billing, billing_db):
    seed_composite_and_age_rated(billing_db)
    billing.call("run_statements", "2027-03-15")
    again = billing.call("run_statements", "2027-03-20")
    assert again == {"coverage_month": "2027-04-01", "statements": 0, "skipped": 3, "errors": []}
    assert len(statements(billing_db)) == 3
    assert len(consolidated(billing_db)) == 2
    with Session(billing_db) as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 6


def test_before_the_15th_nothing_is_cut(billing, billing_db):
    seed_composite_and_age_rated(billing_db)
    assert billing.call("run_statements", "2027-03-14") == {
        "coverage_month": None, "statements": 0, "skipped": 0, "errors": []}
    assert statements(billing_db) == {}


# --- retro adjustments: a mid-month birth, and a late payment ------------------------------------------------

def esp_family(number):
    """Dana and Sam on PPO-1 ESP from 1 January; member ids M<group number>001, 002, (004 the newborn)."""
    return [member("M%s001" % number, "18", "1986-04-12", span("PPO-1", "ESP", "2027-01-01")),
            member("M%s002" % number, "01", "1985-09-30", span("PPO-1", "ESP", "2027-01-01"))]


def birth_on_april_17(number):
    """ESP until 16 April, FAM from the 17th: Dana, Sam and the newborn (as roster publishes it)."""
    ended, family = ("PPO-1", "ESP", "2027-01-01", "2027-04-16", "terminated"), ("PPO-1", "FAM", "2027-04-17")
    return [member("M%s001" % number, "18", "1986-04-12", span(*ended), span(*family)),
            member("M%s002" % number, "01", "1985-09-30", span(*ended), span(*family)),
            member("M%s004" % number, "19", "2027-04-17", span(*family))]


def pay(engine, account_number, amount, on):
    with Session(engine) as session:
        account = session.scalar(select(BillingAccount).where(BillingAccount.account_number == account_number))
        ledger.post(session, account, "payment", -Decimal(amount), "Check payment", posted_on=on)
        session.commit()


def test_a_mid_month_birth_is_adjusted_on_the_next_statement_under_each_proration(billing, billing_db):
    # April's adjustment: none bills the tier on the 1st (ESP, as billed), daily 533.33 + 653.33 = 1186.66,
    # fifteenth the tier on the 15th (ESP). May was billed ESP before the birth was known: +400.00 each.
    expected = {"none": ("0.00", "400.00"), "daily": ("186.66", "400.00"), "fifteenth": ("0.00", "400.00")}
    for number, proration in (("200001", "none"), ("200002", "daily"), ("200003", "fifteenth")):
        with Session(billing_db) as session:
            group = seed_group(session, number, proration=proration)
            seed_family(session, group, "001", "M%s001" % number, esp_family(number))
            session.commit()
    billing.call("run_statements", "2027-03-15")             # April: ESP 1000.00 each
    for number in ("200001", "200002", "200003"):
        pay(billing_db, "%s-001" % number, "1000.00", date(2027, 3, 28))
    billing.call("run_statements", "2027-04-15")             # May: ESP 1000.00, April paid
    with Session(billing_db) as session:                     # the birth, recorded on 20 April
        for family in session.scalars(select(BillableFamily)):
            family.members, family.sequence = birth_on_april_17(family.subscriber_member_id[1:7]), 2
        session.commit()
    answer = billing.call("run_statements", "2027-05-15")    # June: FAM 1400.00 + the adjustments
    assert (answer["statements"], answer["errors"]) == (3, [])

    cut = statements(billing_db)
    for number, proration in (("200001", "none"), ("200002", "daily"), ("200003", "fifteenth")):
        may, june = cut["S202705-%s-001" % number], cut["S202706-%s-001" % number]
        assert money(may) == ("1000.00", "-1000.00", "1000.00", "0.00", "1000.00"), proration
        april_adjustment, may_adjustment = expected[proration]
        adjustments = Decimal(april_adjustment) + Decimal("400.00")
        assert money(june) == ("1000.00", "0.00", "1400.00", str(adjustments), str(Decimal("2400.00") + adjustments))
        assert [(line["kind"], line["coverage_month"], line["rate_key"], line["amount"]) for line in june.lines] == [
            ("charge", "2027-06-01", "FAM", "1400.00")] + (
            [("adjustment", "2027-04-01", "FAM", april_adjustment)] if april_adjustment != "0.00" else []) + [
            ("adjustment", "2027-05-01", "FAM", may_adjustment)]

    # May's statement paid late: the balance already holds it, so it is owed once; nothing is adjusted twice.
    pay(billing_db, "200002-001", "1000.00", date(2027, 5, 20))
    billing.call("run_statements", "2027-06-15")
    july = statements(billing_db)["S202707-200002-001"]
    assert money(july) == ("2986.66", "-1000.00", "1400.00", "0.00", "3386.66")


def test_adjustments_reach_back_only_within_the_retro_window(billing, billing_db):
    with Session(billing_db) as session:
        group = seed_group(session, "200010")
        group.retro_window_days = 10
        seed_family(session, group, "001", "M000000101", family_members("FAM"))
        session.commit()
    billing.call("run_statements", "2027-03-15")   # April
    billing.call("run_statements", "2027-04-15")   # May
    with Session(billing_db) as session:           # terminated back to 31 March (before April was billed)
        family = session.scalar(select(BillableFamily))
        family.members, family.sequence = family_members("FAM", through="2027-03-31", status="terminated"), 2
        session.commit()
    billing.call("run_statements", "2027-05-15")   # window from 5 May: May is credited, April is not
    june = statements(billing_db)["S202706-200010-001"]
    assert money(june) == ("2800.00", "0.00", "0.00", "-1400.00", "1400.00")
    assert [(line["coverage_month"], line["amount"]) for line in june.lines] == [("2027-05-01", "-1400.00")]


# --- an account that cannot be priced -----------------------------------------------------------------------

def test_a_missing_rate_is_reported_and_the_account_cut_once_the_rate_loads(billing, billing_db):
    with Session(billing_db) as session:
        group = seed_group(session, "100500", subgroups=("001", "002"),
                           rates={"EMP": "500.00", "ESP": "1000.00", "ECH": "900.00"})
        seed_family(session, group, "001", "M000000101", family_members("FAM"))
        seed_family(session, group, "002", "M000000201", [
            member("M000000201", "18", "1990-01-20", span("PPO-1", "EMP", "2027-01-01"))])
        group_id = group.id
        session.commit()
    first = billing.call("run_statements", "2027-03-15")
    assert first == {"coverage_month": "2027-04-01", "statements": 1, "skipped": 0, "errors": [
        {"account_number": "100500-001",
         "detail": "No rate for plan PPO-1, rate key FAM, plan year starting 2027-01-01."}]}
    assert sorted(statements(billing_db)) == ["S202704-100500-002"]
    assert consolidated(billing_db) == {}      # not until every account has its statement
    with Session(billing_db) as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1   # nothing posted for 001

    with Session(billing_db) as session:
        session.add(Rate(group_id=group_id, plan_year_start=date(2027, 1, 1), plan_code="PPO-1", rate_key="FAM",
                         amount=COMPOSITE_RATES["FAM"]))
        session.commit()
    second = billing.call("run_statements", "2027-03-16")
    assert second == {"coverage_month": "2027-04-01", "statements": 1, "skipped": 1, "errors": []}
    assert money(statements(billing_db)["S202704-100500-001"]) == ("0.00", "0.00", "1400.00", "0.00", "1400.00")
    assert consolidated(billing_db) == {"C202704-100500": ("1900.00", date(2027, 4, 1), 2)}


# --- who may run it ---------------------------------------------------------------------------------------

def test_only_carrier_staff_run_it_and_a_bad_date_is_422(billing, billing_db):
    seed_composite_and_age_rated(billing_db)
    refused = refusal(billing.call, "run_statements", "2027-03-15", token=user("100234", "group_admin"))
    assert refused["status"] == 403
    bad = refusal(billing.call, "run_statements", "2027-02-30")
    assert (bad["status"], list(bad["errors"])) == (422, ["as_of"])
    assert statements(billing_db) == {}


# --- two replicas -----------------------------------------------------------------------------------------

def test_two_replicas_running_at_once_cut_each_account_exactly_once(container_factory, billing_config, billing_db,
                                                                    billing):
    groups, families_per_account = 30, 4
    with Session(billing_db) as session:
        for index in range(groups):
            group = seed_group(session, "3%05d" % index, subgroups=("001", "002"))
            for subgroup in ("001", "002"):
                for family in range(families_per_account):
                    member_id = "M%01d%05d%s%d" % (int(subgroup[-1]), index, "00", family)
                    seed_family(session, group, subgroup, member_id, [
                        member(member_id, "18", "1980-01-01", span("PPO-1", "EMP", "2027-01-01"))])
        session.commit()
    second_replica = container_factory(BillingService, billing_config)
    second_replica.start()   # `billing` already started the first on the same database and vhost

    runs = [eventlet.spawn(ServiceClient("billing", billing_config, token=billing.token).call, "run_statements",
                           "2027-03-15") for _replica in range(2)]
    answers = [run.wait() for run in runs]

    accounts = groups * 2
    assert sum(answer["statements"] for answer in answers) == accounts
    assert all(answer["errors"] == [] for answer in answers)
    with Session(billing_db) as session:
        per_account = session.execute(select(Statement.account_id, func.count()).group_by(Statement.account_id)).all()
        assert len(per_account) == accounts and {count for _account, count in per_account} == {1}
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == accounts * families_per_account
        assert session.scalar(select(func.count()).select_from(ConsolidatedStatement)) == groups
        claims = session.execute(select(job_runs.c.unit, job_runs.c.status)
                                 .where(job_runs.c.job == "statement_run", job_runs.c.unit != "*")).all()
        assert len(claims) == accounts and {status for _unit, status in claims} == {"done"}
    assert {str(amount) for amount in consolidated_amounts(billing_db)} == {"4000.00"}


def consolidated_amounts(engine):
    with Session(engine) as session:
        return session.scalars(select(ConsolidatedStatement.amount_due)).all()
