"""Auto pay (the authorisation, the daily debit run and its NACHA file) and delinquency (the daily stage run that
starts the non-payment saga) (issue 6).

Auto pay is per billing account: PUT keeps the authorisation (who, when, which terms version) and DELETE
cancels it (who, when). The daily run debits every account whose newest statement reaches its debit date (due
date - days_before_due; a missed day is caught up) for what the account owes, as a pending payment allocated to
that statement, and writes all of the day's debits as one NACHA file (VAR_DIR/ach/<YYYYMMDD>-autopay.ach).
Replicas: each debit claims (account, statement) with servicekit.jobs.claim, and the day's file claims its date,
so two replicas running at once, or a rerun, never debit twice or write a second file for a date.

Delinquency: the daily run assesses every account (billing.domain.delinquency) and, on each stage change,
updates the account and publishes account_delinquency_changed; roster ends the subgroup's coverage when the
stage is terminated_nonpayment. Accounts are taken FOR UPDATE SKIP LOCKED, so replicas never assess one
account at once and a change is published once.
"""
import functools
import logging
import os
import secrets
from datetime import timezone

from sqlalchemy import func, select

from billing import access, ledger
from billing.domain import delinquency as stages
from billing.domain import nacha
from billing.domain import payments as payment_rules
from billing.domain.money import ZERO, cents
from billing.events import account_aggregate
from billing.events_autopay import (ACCOUNT_DELINQUENCY_CHANGED, AUTOPAY_DEBIT_SCHEDULED, AccountDelinquencyChanged,
                                    AutopayDebitScheduled)
from billing.models import (AchFile, AutoPay, BillingAccount, BillingGroup, LedgerEntry, Payment, PaymentAllocation,
                            PaymentMethod, Statement)
from portal_contracts import billing_autopay as wire
from servicekit import clock, jobs
from servicekit.crypto import FieldCipher
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, NotFound, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled
from servicekit.roles import PAY_BILLING, VIEW_BILLING

_log = logging.getLogger(__name__)

ACTIVE, CANCELLED = "active", "cancelled"
SYSTEM_ACTOR = "system:autopay"
DEBIT_JOB = "autopay_debit"      # unit "<account>:<statement>", as_of = the statement's due date
FILE_JOB = "autopay_file"        # unit = the file's date
DAILY_SECONDS = 3600             # hourly ticks pick up a new business date soon after midnight
NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: read out over the phone
AUTOPAY = wire.AutoPay()
AUTOPAY_RUN = wire.AutopayRun()
DELINQUENCY_RUN = wire.DelinquencyRun()
DEBIT_SCHEDULED = AutopayDebitScheduled()
DELINQUENCY_CHANGED = AccountDelinquencyChanged()


def _of_account(group_number, account_number, body=None):
    return "%s/%s" % (group_number, account_number)


class AutopayAlreadyFiled(Conflict):
    code = "autopay_file_written"
    title = "Another auto-pay run wrote this date's file"


class AutoPayEntrypoints:
    """Mixed into BillingService (billing.service)."""

    # --- the authorisation --------------------------------------------------------------------------------

    @rpc
    def get_autopay(self, group_number, account_number):
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        account = access.load_account(self.db, self.caller, group, account_number, VIEW_BILLING)
        return self._autopay_answer(group, account, self._autopay_of(account))

    @rpc
    @idempotent(target=_of_account)
    def set_autopay(self, group_number, account_number, body):
        """Turn auto pay on (or change it): a new authorisation under the current terms."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        account = access.load_account(self.db, self.caller, group, account_number, PAY_BILLING)
        data = load_input(wire.AutoPayInput(), body)
        method = self._method_for_autopay(group, data)
        self._lock(account)
        autopay = self._autopay_of(account) or AutoPay(account_id=account.id)
        autopay.method_id = method.id
        autopay.days_before_due = data["days_before_due"]
        autopay.status = ACTIVE
        autopay.authorized_by = self.caller.actor_id
        autopay.authorized_at = clock.utcnow()
        autopay.terms_version = data["terms_version"]
        autopay.cancelled_by = autopay.cancelled_at = None
        self.db.add(autopay)
        self.db.flush()
        return self._autopay_answer(group, account, autopay)

    @rpc
    @idempotent(target=_of_account)
    def cancel_autopay(self, group_number, account_number):
        """Turn auto pay off; the authorisation stays on file with who cancelled it and when. A debit already
        in a file is not taken back (return it through the bank)."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        account = access.load_account(self.db, self.caller, group, account_number, PAY_BILLING)
        self._lock(account)
        autopay = self._autopay_of(account)
        if autopay is None:
            raise NotFound("Billing account %s has no auto pay." % account.account_number, code="autopay_not_found")
        if autopay.status == ACTIVE:
            autopay.status = CANCELLED
            autopay.cancelled_by = self.caller.actor_id
            autopay.cancelled_at = clock.utcnow()
            self.db.flush()
        return self._autopay_answer(group, account, autopay)

    # --- the daily debit run ------------------------------------------------------------------------------

    @rpc
    @idempotent()
    def run_autopay(self, as_of=None):
        """The daily job's admin trigger (carrier staff): debit what is due on `as_of` (default: today)."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.JobInput(), {"as_of": as_of})["as_of"] or clock.today()
        return self._run_autopay(as_of)

    @scheduled("autopay", interval_seconds=DAILY_SECONDS)
    def run_autopay_daily(self, as_of):
        self._run_autopay(as_of)

    def _run_autopay(self, as_of):
        if self._file_of(as_of) is not None:
            return self._run_answer(as_of, [], None)  # the day's file is out: a rerun adds nothing
        due = [debit for debit in self._debits_due(as_of) if self._claim_debit(debit)]
        if not due:
            return self._run_answer(as_of, [], None)
        if not jobs.claim(self.db, FILE_JOB, as_of.isoformat(), as_of):
            # Another run wrote today's file while this one collected its debits: undo them (the worker rolls
            # back); they are caught up tomorrow.
            raise AutopayAlreadyFiled("The auto-pay file of %s was written by another run." % as_of.isoformat())
        scheduled_debits = [self._schedule_debit(as_of, account, statement, method, owed)
                            for _autopay, account, statement, method, owed in due]
        ach_file = self._write_file(as_of, scheduled_debits)
        return self._run_answer(as_of, scheduled_debits, ach_file)

    def _debits_due(self, as_of):
        """(autopay, account, newest issued statement, method, amount owed) of each active auto pay whose
        statement reaches its debit date by `as_of` and whose account owes something, by account."""
        rows = self.db.execute(
            select(AutoPay, BillingAccount).join(BillingAccount, BillingAccount.id == AutoPay.account_id)
            .where(AutoPay.status == ACTIVE).order_by(BillingAccount.id)).all()
        for autopay, account in rows:
            statement = self.db.scalar(
                select(Statement).where(Statement.account_id == account.id, Statement.status == "issued")
                .order_by(Statement.coverage_month.desc(), Statement.id.desc()).limit(1))
            if statement is None or not nacha.debit_is_due(statement.due_date, autopay.days_before_due, as_of):
                continue
            method = self.db.get(PaymentMethod, autopay.method_id)
            if method is None or method.status != ACTIVE:
                _log.warning("auto pay of %s skipped: its payment method %s is no longer active",
                             account.account_number, autopay.method_id)
                continue
            owed = ledger.balance(self.db, account.id)
            if owed > ZERO:
                yield autopay, account, statement, method, owed

    def _claim_debit(self, debit):
        """Once per account and statement, whichever run (or replica) gets there first; a replica running at
        the same moment waits on the claim and then skips."""
        _autopay, account, statement, _method, _owed = debit
        return jobs.claim(self.db, DEBIT_JOB, "%s:%s" % (account.account_number, statement.statement_number),
                          statement.due_date, claimed_by=SYSTEM_ACTOR)

    def _schedule_debit(self, as_of, account, statement, method, owed):
        """The pending payment of one debit, allocated to the statement, posted to the ledger at once (the
        balance shows it), and its event."""
        group = self.db.get(BillingGroup, account.group_id)
        payment = Payment(payment_number=_payment_number(as_of), group_id=group.id, method_id=method.id,
                          source="autopay", amount=owed, status="pending", received_on=as_of,
                          settles_on=payment_rules.settlement_date(as_of), requested_by=SYSTEM_ACTOR, created_at=clock.utcnow())
        self.db.add(payment)
        self.db.flush()
        # The trace's sequence is the payment's row id, as for every ACH payment of billing: unique for the ODFI
        # without a counter of its own (a return file names the payment by its trace).
        trace = nacha.trace_number(self._setting("ACH_ODFI_ROUTING"), payment.id % 10 ** 7)
        payment.trace_number = trace
        self.db.add(PaymentAllocation(payment_id=payment.id, account_id=account.id, statement_id=statement.id,
                                      amount=owed))
        ledger.post(self.db, account, "payment", -owed, "Auto pay %s for statement %s"
                    % (payment.payment_number, statement.statement_number), posted_on=as_of, payment_id=payment.id)
        self.outbox.record(AUTOPAY_DEBIT_SCHEDULED, DEBIT_SCHEDULED.dump({
            "group_number": group.group_number, "subgroup_number": account.subgroup_number,
            "account_number": account.account_number, "payment_number": payment.payment_number,
            "statement_number": statement.statement_number, "amount": owed, "effective_date": as_of,
            "settles_on": payment.settles_on, "trace_number": trace, "method_last4": method.account_last4}),
            aggregate_id=account_aggregate(account.account_number), group_id=group.group_number, version=1)
        return {"account": account, "method": method, "payment": payment, "statement": statement}

    def _write_file(self, as_of, debits):
        cipher = _cipher(self.config.get("FIELD_ENCRYPTION_KEY"), self.config.get("FIELD_HASH_KEY"))
        entries = [nacha.Debit(
            account_type=debit["method"].account_type, routing_number=debit["method"].routing_number,
            account_number=cipher.decrypt(debit["method"].account_ciphertext), amount=debit["payment"].amount,
            identification=debit["account"].account_number, receiver_name=debit["method"].holder_name,
            trace_sequence=int(debit["payment"].trace_number[8:])) for debit in debits]
        text = nacha.debit_file(self._originator(), as_of, clock.now(), entries)
        directory = os.path.join(self._setting("VAR_DIR"), "ach")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "%s-autopay.ach" % as_of.strftime("%Y%m%d"))
        # Written whole or not at all; if the transaction then fails, the next run writes it again.
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="ascii", newline="") as handle:
            handle.write(text.text)
        os.chmod(temporary, 0o600)  # it holds full account numbers
        os.replace(temporary, path)
        ach_file = AchFile(effective_date=as_of, path=path, entry_count=text.entry_count,
                           total_debits=text.total_debits, entry_hash=text.entry_hash, created_at=clock.utcnow())
        self.db.add(ach_file)
        self.db.flush()
        return ach_file

    def _originator(self):
        setting = self._setting
        return nacha.Originator(
            immediate_destination=setting("ACH_IMMEDIATE_DESTINATION"),
            destination_name=setting("ACH_DESTINATION_NAME"),
            immediate_origin=setting("ACH_IMMEDIATE_ORIGIN"), company_name=setting("ACH_COMPANY_NAME"),
            company_id=setting("ACH_COMPANY_ID"), odfi_routing=setting("ACH_ODFI_ROUTING"))

    def _setting(self, name):
        """A setting of config.yaml (ACH_*, AUTOPAY_TERMS_VERSION, VAR_DIR), as text."""
        return str(self.config[name])

    def _file_of(self, as_of):
        return self.db.scalar(select(AchFile).where(AchFile.effective_date == as_of))

    def _run_answer(self, as_of, debits, ach_file):
        return AUTOPAY_RUN.dump({
            "as_of": as_of,
            "debits": [{"account_number": debit["account"].account_number,
                        "payment_number": debit["payment"].payment_number,
                        "statement_number": debit["statement"].statement_number, "amount": debit["payment"].amount,
                        "trace_number": debit["payment"].trace_number, "settles_on": debit["payment"].settles_on}
                       for debit in debits],
            "total": sum((debit["payment"].amount for debit in debits), ZERO),
            "file": ach_file and {"name": os.path.basename(ach_file.path), "effective_date": ach_file.effective_date,
                                  "entry_count": ach_file.entry_count, "total_debits": ach_file.total_debits,
                                  "entry_hash": ach_file.entry_hash}})

    # --- the daily delinquency run ------------------------------------------------------------------------

    @rpc
    @idempotent()
    def run_delinquency(self, as_of=None):
        """The daily job's admin trigger (carrier staff): assess every account on `as_of` (default: today)."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.JobInput(), {"as_of": as_of})["as_of"] or clock.today()
        return self._run_delinquency(as_of)

    @scheduled("delinquency", interval_seconds=DAILY_SECONDS)
    def run_delinquency_daily(self, as_of):
        self._run_delinquency(as_of)

    def _run_delinquency(self, as_of):
        accounts = self.db.scalars(jobs.skip_locked(select(BillingAccount).order_by(BillingAccount.id), self.db))
        changes = []
        for account in accounts.all():
            if account.stage_changed_on is not None and as_of < account.stage_changed_on:
                continue  # assessed on a later date already: a run for an earlier date does not turn it back
            group = self.db.get(BillingGroup, account.group_id)
            assessed = self._assess(account, group, as_of)
            stage = stages.next_stage(account.delinquency_stage, assessed.stage)
            if stage != account.delinquency_stage:
                changes.append(self._change_stage(group, account, stage, assessed, as_of))
        return DELINQUENCY_RUN.dump({"as_of": as_of, "changes": changes})

    def _assess(self, account, group, as_of):
        """Each charge and adjustment is due with the statement that took it up (else with its month's
        statement); payments net of returns and refunds pay the oldest due first (as billing.ledger counts)."""
        month_due = dict(self.db.execute(
            select(Statement.coverage_month, func.min(Statement.due_date))
            .where(Statement.account_id == account.id).group_by(Statement.coverage_month)).all())
        debits = [(due_date or month_due.get(month), amount) for amount, month, due_date in self.db.execute(
            select(LedgerEntry.amount, LedgerEntry.coverage_month, Statement.due_date)
            .outerjoin(Statement, Statement.id == LedgerEntry.statement_id)
            .where(LedgerEntry.account_id == account.id, LedgerEntry.kind.in_(("charge", "adjustment"))))]
        credits = -cents(self.db.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.account_id == account.id,
                   LedgerEntry.kind.in_(ledger.CREDIT_KINDS + ("return", "refund")))))
        return stages.assess(as_of, debits, credits, group.grace_days)

    def _change_stage(self, group, account, stage, assessed, as_of):
        previous = account.delinquency_stage
        account.delinquency_stage = stage
        account.stage_changed_on = as_of
        months = ledger.month_balances(self.db, account.id)
        paid_through = stages.paid_through_or_before_first_month(ledger.paid_through(self.db, account.id),
                                                                 months[0][0] if months else None)
        change = {"group_number": group.group_number, "subgroup_number": account.subgroup_number,
                  "account_number": account.account_number, "stage": stage, "previous_stage": previous,
                  "as_of": as_of, "paid_through": paid_through, "amount_past_due": assessed.amount_past_due}
        self.outbox.record(ACCOUNT_DELINQUENCY_CHANGED, DELINQUENCY_CHANGED.dump(change),
                           aggregate_id=account_aggregate(account.account_number), group_id=group.group_number,
                           version=1)
        _log.info("billing account %s: %s -> %s on %s", account.account_number, previous, stage, as_of.isoformat())
        return {"group_number": group.group_number, "account_number": account.account_number,
                "previous_stage": previous, "stage": stage, "paid_through": paid_through,
                "amount_past_due": assessed.amount_past_due}

    # --- shared -------------------------------------------------------------------------------------------

    def _autopay_of(self, account):
        return self.db.scalar(select(AutoPay).where(AutoPay.account_id == account.id))

    def _lock(self, account):
        """One authorisation change of an account at a time (its row, FOR UPDATE)."""
        self.db.execute(select(BillingAccount.id).where(BillingAccount.id == account.id).with_for_update())

    def _method_for_autopay(self, group, data):
        """The method must be an active one of this group, and the terms accepted the ones in force."""
        errors = {}
        method = self.db.scalar(select(PaymentMethod).where(PaymentMethod.id == data["method_id"],
                                                            PaymentMethod.group_id == group.id,
                                                            PaymentMethod.status == ACTIVE))
        if method is None:
            errors["method_id"] = ["Choose an active payment method of group %s." % group.group_number]
        current = self._setting("AUTOPAY_TERMS_VERSION")
        if data["terms_version"] != current:
            errors["terms_version"] = ["The auto-pay terms in force are version %s; accept those." % current]
        if errors:
            raise ValidationFailed("Auto pay cannot be set up as asked; see errors.", errors=errors)
        return method

    def _autopay_answer(self, group, account, autopay):
        method = self.db.get(PaymentMethod, autopay.method_id) if autopay is not None else None
        answer = {"group_number": group.group_number, "account_number": account.account_number,
                  "status": autopay.status if autopay is not None else "none",
                  "current_terms_version": self._setting("AUTOPAY_TERMS_VERSION")}
        if autopay is not None:
            answer.update(method_id=autopay.method_id, days_before_due=autopay.days_before_due,
                          terms_version=autopay.terms_version, authorized_by=autopay.authorized_by,
                          authorized_at=_aware(autopay.authorized_at), cancelled_by=autopay.cancelled_by,
                          cancelled_at=_aware(autopay.cancelled_at))
        if method is not None:
            answer.update(method_last4=method.account_last4, method_nickname=method.nickname,
                          account_type=method.account_type)
        return AUTOPAY.dump(answer)


def _payment_number(day):
    """A reference people can read out: AP, the debit's date and 6 random characters (AP20270226-K7Q2MZ)."""
    return "AP%s-%s" % (day.strftime("%Y%m%d"), "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6)))


@functools.lru_cache(maxsize=8)
def _cipher(encryption_key, hash_key):
    return FieldCipher(encryption_key, hash_key)


def _aware(moment):
    """Timestamps are stored in UTC; a driver may hand them back naive."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
