"""The statement run (DOMAIN.md "Money"; docs/billing-contract.md "Rules"): on the 15th (or any later day of
the month, until it is done) every active billing account gets the statement of next month, once.

Per account, in this order: claim it (servicekit.jobs.claim per account and coverage month: once across
replicas, reruns and the admin trigger), charge the month's premium lines, adjust the earlier months still
inside the retro window (expected premium now minus what the ledger holds, per line), then cut the statement
from the entries not yet taken up, and announce it (statement_issued, on the account's aggregate). When every
active account of a group has its statement, the group's consolidated statement sums them (once).

Replicas share the work a group at a time: each locks the next group nobody holds (SKIP LOCKED) and commits
it before taking another, so two replicas cut disjoint groups side by side and a replica that dies loses at
most the group in hand (its claims roll back with it; the next run cuts it). An account that cannot be priced
(a rate or plan year missing) is reported and left uncut: its savepoint rolls back its claim too, so a rerun
after the rates are loaded cuts it.

No nameko here: the entrypoints (billing.statement_entrypoints) pass the worker's session and a `publish`
that writes to the outbox.
"""
import logging
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, select, update

from billing import ledger
from billing.domain import premiums
from billing.domain import statements as rules
from billing.domain.money import ZERO
from billing.events import account_aggregate
from billing.events_statement import STATEMENT_ISSUED, StatementIssued
from billing.models import (BillableFamily, BillingAccount, BillingGroup, ConsolidatedStatement, LedgerEntry,
                            PlanYearOffering, Rate, Statement)
from servicekit import clock, jobs
from servicekit.db import is_postgresql
from servicekit.tables import job_runs

log = logging.getLogger(__name__)

JOB = "statement_run"
ACTIVE = "active"
ISSUED = "issued"


@dataclass
class RunOutcome:
    coverage_month: object = None
    statements: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)

    def answer(self):
        return {"coverage_month": self.coverage_month, "statements": self.statements, "skipped": self.skipped,
                "errors": self.errors}


def run_statements(session, as_of, publish, commit=True):
    """Cut every active account's statement of the coverage month `as_of` falls before (nothing before the
    15th). `publish(event_type, data, aggregate_id, group_id)` records an event in `session`. With `commit`,
    each group commits on its own (the unit replicas share)."""
    outcome = RunOutcome(coverage_month=rules.coverage_month_to_cut(as_of))
    month = outcome.coverage_month
    if month is None:
        return outcome
    last_group_id = 0
    while True:
        group = _next_group_to_cut(session, last_group_id)
        if group is None:
            break
        last_group_id = group.id
        _cut_group(session, group, month, as_of, publish, outcome)
        if commit:
            session.commit()
    outcome.skipped = _accounts_cut_elsewhere(session, month, outcome)
    return outcome


# --- which group next --------------------------------------------------------------------------------------

def _uncut(month):
    """An active account with no claim for the month yet (the claim commits with its statement)."""
    return and_(BillingAccount.status == ACTIVE, ~exists().where(
        job_runs.c.job == JOB, job_runs.c.unit == BillingAccount.account_number, job_runs.c.as_of == month))


def _next_group_to_cut(session, after_id):
    """The next group (by id) no other replica holds right now. Deliberately no "has an uncut account" filter
    here: that anti-join over every account and claim is the one query whose cost grows with the carrier's
    size (and with stale statistics turns quadratic); a group already cut costs one small query instead."""
    query = select(BillingGroup).where(BillingGroup.id > after_id).order_by(BillingGroup.id).limit(1)
    if is_postgresql(session):
        # NO KEY UPDATE: a payment or account row referencing the group is not held up by the cut.
        query = query.with_for_update(skip_locked=True, key_share=True)
    return session.scalar(query)


def _accounts_cut_elsewhere(session, month, outcome):
    """Active accounts whose statement for the month this run did not make (cut before, or by another
    replica), not counting the ones it reported."""
    cut = session.scalar(select(func.count()).select_from(BillingAccount).join(
        job_runs, and_(job_runs.c.job == JOB, job_runs.c.unit == BillingAccount.account_number,
                       job_runs.c.as_of == month)).where(BillingAccount.status == ACTIVE))
    return max(cut - outcome.statements, 0)


# --- one group ---------------------------------------------------------------------------------------------

@dataclass
class _Pricing:
    """What prices the group's families: its policy, rates and plan years per subgroup."""
    policy: premiums.Policy
    rates: dict
    plan_years: dict   # subgroup number -> [PlanYear]


def _pricing(session, group):
    rates = {(rate.plan_year_start, rate.plan_code, rate.rate_key): rate.amount
             for rate in session.scalars(select(Rate).where(Rate.group_id == group.id))}
    plan_years = {}
    for offering in session.scalars(select(PlanYearOffering).where(PlanYearOffering.group_id == group.id)):
        plan_years.setdefault(offering.subgroup_number, []).append(
            premiums.PlanYear(offering.plan_year_start, offering.plan_year_end))
    return _Pricing(premiums.Policy(group.rating_method, group.proration, group.cobra_billing), rates, plan_years)


def _cut_group(session, group, month, as_of, publish, outcome):
    accounts = session.scalars(select(BillingAccount).where(BillingAccount.group_id == group.id, _uncut(month))
                               .order_by(BillingAccount.subgroup_number)).all()
    if not accounts:
        return  # cut already: whoever cut its last account consolidated it
    pricing = _pricing(session, group)
    for account in accounts:
        savepoint = session.begin_nested()
        try:
            if not jobs.claim(session, JOB, account.account_number, month):
                savepoint.commit()
                continue  # cut meanwhile by another run
            statement = _cut_account(session, group, account, month, as_of, pricing)
            jobs.mark_done(session, JOB, account.account_number, month)
            savepoint.commit()
        except premiums.PremiumError as problem:
            savepoint.rollback()
            log.warning("statement run %s: account %s not cut: %s", month, account.account_number, problem)
            outcome.errors.append({"account_number": account.account_number, "detail": str(problem)})
            continue
        publish(STATEMENT_ISSUED, _issued(group, account, statement), account_aggregate(account.account_number),
                group.group_number)
        outcome.statements += 1
    _consolidate(session, group, month)


def _consolidate(session, group, month):
    """The group's consolidated statement, once every active account has its statement for the month."""
    if session.scalar(select(ConsolidatedStatement.id).where(ConsolidatedStatement.group_id == group.id,
                                                             ConsolidatedStatement.coverage_month == month)):
        return None
    missing = session.scalar(select(func.count()).select_from(BillingAccount).where(
        BillingAccount.group_id == group.id, BillingAccount.status == ACTIVE,
        ~exists().where(Statement.account_id == BillingAccount.id, Statement.coverage_month == month,
                        Statement.status == ISSUED)))
    if missing:
        return None  # an account was not cut (reported); the run that cuts it consolidates
    cut = session.scalars(select(Statement).join(BillingAccount, BillingAccount.id == Statement.account_id)
                          .where(Statement.group_id == group.id, Statement.coverage_month == month,
                                 Statement.status == ISSUED, BillingAccount.status == ACTIVE)
                          .order_by(Statement.statement_number)).all()
    if not cut:
        return None
    consolidated = ConsolidatedStatement(
        statement_number=rules.consolidated_number(month, group.group_number), group_id=group.id,
        coverage_month=month, due_date=rules.due_date(month),
        amount_due=sum((statement.amount_due for statement in cut), ZERO),
        statement_ids=[statement.id for statement in cut], issued_at=clock.utcnow())
    session.add(consolidated)
    session.flush()
    return consolidated


# --- one account -------------------------------------------------------------------------------------------

def _cut_account(session, group, account, month, as_of, pricing):
    families = session.scalars(select(BillableFamily).where(BillableFamily.group_id == group.id,
                                                            BillableFamily.subgroup_number == account.subgroup_number)
                               .order_by(BillableFamily.subscriber_member_id)).all()
    plan_years = pricing.plan_years.get(account.subgroup_number, [])

    def expected(coverage_month):
        return [line for family in families
                for line in premiums.premium_lines(family.subscriber_member_id, family.members, pricing.policy,
                                                   pricing.rates, plan_years, coverage_month)]

    # Price everything first: an account that cannot be priced posts nothing.
    charges = expected(month)
    earlier_months = rules.retro_months(month, as_of, group.retro_window_days, _charged_months(session, account))
    retro = [(earlier, expected(earlier)) for earlier in earlier_months]

    entries = [_entry("charge", month, line) for line in charges if line.amount != ZERO]
    for earlier, lines in retro:
        entries += [_entry("adjustment", earlier, adjustment)
                    for adjustment in rules.adjustments(earlier, lines, _held(session, account, earlier))]
    ledger.post_many(session, account, entries, posted_on=as_of)
    return _issue(session, group, account, month, as_of)


def _entry(kind, coverage_month, line):
    """A premium line (premiums.Line or an adjustment) as a ledger entry of `kind` for `coverage_month`."""
    return {"kind": kind, "amount": line.amount, "description": line.description, "coverage_month": coverage_month,
            "line_key": line.line_key, "subscriber_member_id": line.subscriber_member_id, "member_id": line.member_id,
            "plan_code": line.plan_code, "rate_key": line.rate_key}


def _charged_months(session, account):
    return session.scalars(select(LedgerEntry.coverage_month).distinct().where(
        LedgerEntry.account_id == account.id, LedgerEntry.kind == "charge")).all()


def _held(session, account, month):
    """{line_key: Held} of the month: what its charges and adjustments add up to, named as the newest."""
    entries = session.scalars(select(LedgerEntry).where(
        LedgerEntry.account_id == account.id, LedgerEntry.coverage_month == month,
        LedgerEntry.kind.in_(rules.PREMIUM_KINDS), LedgerEntry.line_key.is_not(None))
        .order_by(LedgerEntry.id)).all()
    held = {}
    for entry in entries:
        before = held.get(entry.line_key)
        held[entry.line_key] = rules.Held((before.amount if before else ZERO) + entry.amount,
                                          entry.subscriber_member_id, entry.member_id, entry.plan_code,
                                          entry.rate_key)
    return held


def _issue(session, group, account, month, as_of):
    """The statement: every entry not yet taken up (this cut's charges and adjustments, payments, returns
    and refunds since the last cut), the balance carried from the previous statement, and the ledger's
    balance as the amount due, read in the same query as the entries so the two agree."""
    balance_now = (select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                   .where(LedgerEntry.account_id == account.id).scalar_subquery())
    rows = session.execute(select(LedgerEntry, balance_now).where(
        LedgerEntry.account_id == account.id, LedgerEntry.statement_id.is_(None))
        .order_by(LedgerEntry.id)).all()
    taken = [entry for entry, _balance in rows]
    balance = rows[0][1] if rows else ledger.balance(session, account.id)
    previous = session.scalar(select(Statement).where(Statement.account_id == account.id,
                                                      Statement.status == ISSUED)
                              .order_by(Statement.coverage_month.desc(), Statement.id.desc()).limit(1))
    totals = rules.totals(previous.amount_due if previous else ZERO,
                          [(entry.kind, entry.amount) for entry in taken], balance)
    premium = sorted((entry for entry in taken if entry.kind in rules.PREMIUM_KINDS),
                     key=lambda entry: (entry.kind != "charge", entry.coverage_month, entry.line_key or "", entry.id))
    statement = Statement(
        statement_number=rules.statement_number(month, account.account_number), account_id=account.id,
        group_id=group.id, coverage_month=month, cut_date=as_of, due_date=rules.due_date(month),
        balance_forward=totals.balance_forward, payments=totals.payments, charges=totals.charges,
        adjustments=totals.adjustments, amount_due=totals.amount_due, status=ISSUED,
        lines=[rules.statement_line(entry.kind, entry.coverage_month, entry.line_key, entry.member_id,
                                    entry.subscriber_member_id, entry.plan_code, entry.rate_key, entry.description,
                                    entry.amount) for entry in premium],
        issued_at=clock.utcnow())
    session.add(statement)
    session.flush()
    if taken:
        # One UPDATE for the lot (the entries are not used again in this session).
        session.execute(update(LedgerEntry).where(LedgerEntry.id.in_([entry.id for entry in taken]))
                        .values(statement_id=statement.id).execution_options(synchronize_session=False))
    return statement


def _issued(group, account, statement):
    return StatementIssued().dump({
        "statement_number": statement.statement_number, "account_number": account.account_number,
        "group_number": group.group_number, "subgroup_number": account.subgroup_number,
        "coverage_month": statement.coverage_month, "cut_date": statement.cut_date,
        "due_date": statement.due_date, "balance_forward": statement.balance_forward,
        "payments": statement.payments, "charges": statement.charges, "adjustments": statement.adjustments,
        "amount_due": statement.amount_due})
