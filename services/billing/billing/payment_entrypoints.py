"""Payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund
requests (issue 6, part P4 of docs/billing-contract.md).

Each entrypoint reads the same way: who may do it (billing.access: another group's object is a 404, a role
without the action a 403), the input loaded with its wire schema (portal_contracts.billing_payment), the rules
deciding (billing.domain.payments, bank_accounts, ach_returns), then the writes, ledger entries
(billing.ledger) and events (the outbox) in the worker's one transaction, so a refusal writes nothing.

A payment posts to the ledger when it is received (the balance shows it at once), settles later (ACH) or at
once (check, lockbox), and a return reverses each of its allocations, which re-opens the months it had paid.
"""
import base64
import csv
import io

from sqlalchemy import func, select

from billing import access, ledger
from billing.domain import ach_returns, bank_accounts, nacha, requests
from billing.domain import payments as rules
from billing.domain.money import ZERO, cents
from billing.events import account_aggregate, payment_aggregate
from billing.events_payment import (PAYMENT_RECEIVED, PAYMENT_RETURNED, PAYMENT_SETTLED, REFUND_REQUESTED,
                                    PaymentReceived, PaymentReturned, PaymentSettled, RefundRequested)
from billing.models import (AutoPay, BillingAccount, BillingGroup, BillingRequest, Payment, PaymentAllocation,
                            PaymentMethod, Statement)
from portal_contracts import billing_payment as wire
from servicekit import clock
from servicekit.crypto import FieldCipher
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, NotFound, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled, skip_locked
from servicekit.roles import PAY_BILLING, VIEW_BILLING

SOURCE_NAMES = {rules.ACH: "ACH payment", rules.AUTOPAY: "Auto-pay debit", rules.CHECK: "Check",
                rules.LOCKBOX: "Lockbox payment"}
CSV_COLUMNS = ("payment_number", "received_on", "source", "status", "settles_on", "payment_amount",
               "account_number", "statement_number", "allocated_amount", "method_last4", "reference",
               "return_code", "returned_on")


def _of_group(group_number, *args, **kwargs):
    return str(group_number)


def _cipher(config):
    return FieldCipher.from_config(config)


class PaymentEntrypoints:
    """Mixed into BillingService (billing.service)."""

    # --- payment methods ------------------------------------------------------------------------------------

    @rpc
    def list_payment_methods(self, group_number):
        """The group's active bank accounts, by their last 4 digits."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        methods = self.db.scalars(select(PaymentMethod).where(PaymentMethod.group_id == group.id,
                                                              PaymentMethod.status == bank_accounts.ACTIVE)
                                  .order_by(PaymentMethod.id)).all()
        return wire.PaymentMethodList().dump({"items": methods})

    @rpc
    @idempotent(target=_of_group)
    def add_payment_method(self, group_number, body):
        """A bank account of the group: the number encrypted, its keyed hash to spot the same account twice."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        data = load_input(wire.PaymentMethodInput(), body)
        errors = bank_accounts.routing_number_errors(data["routing_number"])
        if errors:
            raise ValidationFailed(errors=errors)
        cipher = _cipher(self.config)
        account_hash = cipher.lookup_hash(data["account_number"])
        if self.db.scalar(select(PaymentMethod.id).where(
                PaymentMethod.group_id == group.id, PaymentMethod.status == bank_accounts.ACTIVE,
                PaymentMethod.routing_number == data["routing_number"], PaymentMethod.account_hash == account_hash)):
            raise Conflict("This bank account is already a payment method of the group.",
                           code="payment_method_exists")
        method = PaymentMethod(group_id=group.id, nickname=data["nickname"], holder_name=data["holder_name"],
                               account_type=data["account_type"], routing_number=data["routing_number"],
                               account_ciphertext=cipher.encrypt(data["account_number"]),
                               account_last4=cipher.last4(data["account_number"]), account_hash=account_hash,
                               status=bank_accounts.ACTIVE, created_by=self.caller.actor_id,
                               created_at=clock.utcnow())
        self.db.add(method)
        self.db.flush()
        return wire.PaymentMethod().dump(method)

    @rpc
    @idempotent(target=_of_group)
    def remove_payment_method(self, group_number, method_id):
        """Soft: the row stays for the payments made with it. Refused while an active auto pay debits it."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        method = self._method_of(group, method_id, for_update=True)
        in_use = self.db.scalars(
            select(BillingAccount.account_number).join(AutoPay, AutoPay.account_id == BillingAccount.id)
            .where(AutoPay.method_id == method.id, AutoPay.status == "active")).all()
        if in_use:
            raise Conflict("Auto pay of account %s uses this bank account: cancel it (or move it to another "
                           "account) first." % ", ".join(sorted(in_use)), code="payment_method_in_use")
        method.status = bank_accounts.REMOVED
        self.db.flush()
        return wire.PaymentMethod().dump(method)

    # --- payments -------------------------------------------------------------------------------------------

    @rpc
    def list_payments(self, group_number, query=None):
        """Payments with an allocation to an account the caller sees (only those allocations shown), newest
        first; `format=csv`: every match as a file, one row per allocation."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.PaymentFilters(), query or {})
        accounts = access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)
        matching = self._visible_payments(group, accounts, data)
        ordered = matching.order_by(Payment.received_on.desc(), Payment.id.desc())
        if data["format"] == "csv":
            return self._payments_file(group, wire.Payment(many=True).dump(
                self._payments_out(group, self.db.scalars(ordered).all())))
        total = self.db.scalar(select(func.count()).select_from(matching.subquery()))
        page = self.db.scalars(ordered.offset((data["page"] - 1) * data["limit"]).limit(data["limit"])).all()
        return wire.PaymentPage().dump({"items": self._payments_out(group, page), "total": total,
                                        "page": data["page"], "limit": data["limit"]})

    @rpc
    @idempotent(target=_of_group)
    def make_payment(self, group_number, body):
        """An ACH payment from one of the group's bank accounts, split across the accounts the caller may pay
        for. Posted to the ledger now (pending), settled 2 business days later unless returned."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        data = load_input(wire.PaymentInput(), body)
        method = self._method_of(group, data["method_id"])
        if method.status != bank_accounts.ACTIVE:
            raise ValidationFailed(errors={"method_id": ["This bank account was removed from the group."]})
        allocations = self._allocations(group, data, PAY_BILLING)
        today = clock.today()
        payment = self._record_payment(group, rules.ACH, data["amount"], allocations, received_on=today,
                                       status=rules.PENDING, settles_on=rules.settlement_date(today), method=method)
        # The carrier's bank (the ODFI) prefixes every trace number, as in auto pay's file.
        payment.trace_number = nacha.trace_number(str(self.config["ACH_ODFI_ROUTING"]), payment.id % 10 ** 7)
        self.db.flush()
        self._publish_received(group, payment, allocations, method)
        return wire.Payment().dump(self._payments_out(group, [payment])[0])

    @rpc
    @idempotent(target=_of_group)
    def post_check_payment(self, group_number, body):
        """Carrier staff post a check or lockbox payment the carrier received: to any account of the group,
        settled at once (the money is in hand)."""
        access.require_carrier(self.caller)
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.CheckPaymentInput(), body)
        today = clock.today()
        received_on = data["received_on"] or today
        if received_on > today:
            raise ValidationFailed(errors={"received_on": ["A payment cannot be received after today (%s)." % today]})
        allocations = self._allocations(group, data, VIEW_BILLING)
        payment = self._record_payment(group, data["source"], data["amount"], allocations, received_on=received_on,
                                       status=rules.SETTLED, settles_on=received_on, reference=data["reference"])
        self._publish_received(group, payment, allocations, None)
        self._publish_settled(group, payment, received_on)
        return wire.Payment().dump(self._payments_out(group, [payment])[0])

    # --- settlement and returns ---------------------------------------------------------------------------

    @rpc
    @idempotent()
    def settle_payments(self, as_of=None):
        """The daily settlement on demand (carrier staff): ACH payments due by `as_of` (default today) settle."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.SettlementInput(), {"as_of": as_of})["as_of"] or clock.today()
        return wire.SettlementResult().dump({"as_of": as_of, "settled": self._settle(as_of)})

    @scheduled("payment_settlement", interval_seconds=3600)
    def settle_payments_daily(self, as_of):
        """Once per business date across replicas (the kit's job claim); hourly ticks pick up a new date."""
        self._settle(as_of)

    @rpc
    @idempotent(target=lambda text: "ach-returns")
    def import_ach_returns(self, text):
        """The bank's NACHA return file (carrier staff): each returned entry's payment is marked returned and its
        allocations reversed; traces we never sent are reported, payments already returned skipped."""
        access.require_carrier(self.caller)
        data = load_input(wire.AchReturnsInput(), {"file": text})
        try:
            entries = ach_returns.parse_returns(data["file"])
        except ach_returns.ReturnFileError as unreadable:
            raise ValidationFailed("The file is not a NACHA return file that can be read; nothing was imported.",
                                   errors={"file": unreadable.problems}) from None
        traces = sorted({entry.original_trace for entry in entries})
        found = {payment.trace_number: payment for payment in self.db.scalars(
            select(Payment).where(Payment.trace_number.in_(traces)).order_by(Payment.id).with_for_update())}
        today = clock.today()
        returned, skipped, unknown = [], [], []
        for entry in entries:
            payment = found.get(entry.original_trace)
            if payment is None:
                unknown.append(entry.original_trace)
            elif payment.status == rules.RETURNED:
                skipped.append(entry.original_trace)
            else:
                group = self.db.get(BillingGroup, payment.group_id)
                self._return_payment(group, payment, entry.return_code, today)
                returned.append({"payment_number": payment.payment_number, "trace_number": payment.trace_number,
                                 "return_code": entry.return_code,
                                 "return_reason": ach_returns.reason_of(entry.return_code),
                                 "amount": payment.amount, "group_number": group.group_number})
        return wire.AchReturnsResult().dump({"returned": returned, "skipped": skipped, "unknown": unknown})

    # --- refunds ----------------------------------------------------------------------------------------

    @rpc
    def list_refund_requests(self, group_number, query=None):
        """The refund requests of the accounts the caller sees, newest first."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.RefundFilters(), query or {})
        accounts = {account.id: account for account in access.visible_accounts(self.db, self.caller, group,
                                                                                 VIEW_BILLING)}
        found = select(BillingRequest).where(BillingRequest.group_id == group.id,
                                             BillingRequest.kind == rules.REFUND,
                                             BillingRequest.account_id.in_(list(accounts)))
        if data["status"]:
            found = found.where(BillingRequest.status == data["status"])
        requests = self.db.scalars(found.order_by(BillingRequest.requested_at.desc(), BillingRequest.id.desc())).all()
        return wire.RefundRequestList().dump(
            {"items": [_refund_out(group, accounts[request.account_id], request) for request in requests]})

    @rpc
    @idempotent(target=_of_group)
    def request_refund(self, group_number, body):
        """A refund of an account's credit balance (all of it by default); carrier staff decide."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        data = load_input(wire.RefundRequestInput(), body)
        account = access.load_account(self.db, self.caller, group, data["account_number"], PAY_BILLING)
        self._lock(account)
        asked_already = self.db.scalar(select(func.coalesce(func.sum(BillingRequest.amount), 0)).where(
            BillingRequest.account_id == account.id, BillingRequest.kind == rules.REFUND,
            BillingRequest.status == requests.REQUESTED))
        credit = rules.refundable_credit(ledger.balance(self.db, account.id), asked_already)
        amount, errors = rules.refund_amount(data["amount"], credit)
        if errors:
            raise ValidationFailed(errors=errors)
        request = BillingRequest(request_number=rules.new_number("F", clock.today()), kind=rules.REFUND,
                                 group_id=group.id, account_id=account.id, amount=amount, reason=data["reason"],
                                 status=requests.REQUESTED, requested_by=self.caller.actor_id,
                                 requested_at=clock.utcnow())
        self.db.add(request)
        self.db.flush()
        self.outbox.record(REFUND_REQUESTED, RefundRequested().dump({
            "group_number": group.group_number, "account_number": account.account_number,
            "request_number": request.request_number, "amount": amount, "reason": request.reason,
            "requested_by": request.requested_by}),
            aggregate_id=account_aggregate(account.account_number), group_id=group.group_number)
        return wire.RefundRequest().dump(_refund_out(group, account, request))

    @rpc
    @idempotent()
    def decide_refund(self, request_number, body):
        """Carrier staff approve (the refund is posted to the ledger: the credit is paid out) or deny."""
        access.require_carrier(self.caller)
        data = load_input(wire.RefundDecisionInput(), body)
        request = self.db.scalar(select(BillingRequest).where(BillingRequest.request_number == str(request_number),
                                                              BillingRequest.kind == rules.REFUND).with_for_update())
        if request is None:
            raise NotFound("Refund request %s was not found." % request_number, code="refund_request_not_found")
        requests.require_undecided(request)
        account = self.db.get(BillingAccount, request.account_id)
        self._lock(account)
        approved = data["decision"] == rules.APPROVE
        if approved:
            credit = rules.refundable_credit(ledger.balance(self.db, account.id), ZERO)
            if request.amount > credit:
                # A return since the request took the credit away: paying it out would lend the group money.
                raise Conflict("The account's credit balance is now %s, less than the %s asked for; deny the "
                               "request and ask for a new one." % (credit, cents(request.amount)),
                               code="credit_balance_changed")
            ledger.post(self.db, account, "refund", request.amount,
                        "Refund %s of the credit balance" % request.request_number)
        requests.decide(request, approved, self.caller.actor_id, clock.utcnow(), data["note"])
        self.db.flush()
        return wire.RefundRequest().dump(_refund_out(self.db.get(BillingGroup, request.group_id), account, request))

    # --- how a payment is split and written -------------------------------------------------------------

    def _allocations(self, group, data, action):
        """[(account, statement or None, amount)]: as the caller split it, or the oldest open months first."""
        if not data["allocations"]:
            return self._default_allocations(group, data["amount"], action)
        errors = rules.allocation_errors(data["amount"], data["allocations"])
        if errors:
            raise ValidationFailed(errors=errors)
        chosen = []
        for index, allocation in enumerate(data["allocations"]):
            account = access.load_account(self.db, self.caller, group, allocation["account_number"], action)
            statement = self._statement_of(account, allocation["statement_number"], index)
            chosen.append((account, statement, cents(allocation["amount"])))
        return chosen

    def _default_allocations(self, group, amount, action):
        accounts = access.visible_accounts(self.db, self.caller, group, action)
        if not accounts:
            raise ValidationFailed(errors={"allocations": ["The group has no billing account to pay for yet."]})
        by_number = {account.account_number: account for account in accounts}
        split = rules.default_allocations(amount, [(account.account_number, ledger.open_months(self.db, account.id)[0])
                                                   for account in accounts])
        return [(by_number[number], None, share) for number, share in split]

    def _statement_of(self, account, statement_number, index):
        if not statement_number:
            return None
        statement = self.db.scalar(select(Statement).where(Statement.statement_number == statement_number,
                                                           Statement.account_id == account.id))
        if statement is None:
            raise ValidationFailed(errors={"allocations.%d.statement_number" % index: [
                "Account %s has no statement %s." % (account.account_number, statement_number)]})
        return statement

    def _record_payment(self, group, source, amount, allocations, received_on, status, settles_on, method=None,
                        reference=None):
        """The payment, its allocations and one ledger credit per allocation (flushed, not committed). The
        credits are posted on today's business date even for a check received earlier: the next statement cut
        takes up what was posted since the last one, so a back-dated entry is never left out of a statement."""
        payment = Payment(payment_number=rules.new_number("P", received_on), group_id=group.id,
                          method_id=method.id if method else None, source=source, amount=cents(amount), status=status,
                          received_on=received_on, settles_on=settles_on, reference=reference,
                          requested_by=self.caller.actor_id, created_at=clock.utcnow())
        self.db.add(payment)
        self.db.flush()
        paid_with = " (%s)" % bank_accounts.described(method) if method else (" %s" % reference if reference else "")
        for account, statement, share in allocations:
            self.db.add(PaymentAllocation(payment_id=payment.id, account_id=account.id,
                                          statement_id=statement.id if statement else None, amount=share))
            ledger.post(self.db, account, "payment", -share,
                        "%s %s%s" % (SOURCE_NAMES[source], payment.payment_number, paid_with), payment_id=payment.id)
        self.db.flush()
        return payment

    def _settle(self, as_of):
        """Pending ACH payments due by `as_of` settle, each once (rows another replica holds are skipped)."""
        due = self.db.scalars(skip_locked(
            select(Payment).where(Payment.status == rules.PENDING, Payment.source.in_(rules.ACH_SOURCES),
                                  Payment.settles_on <= as_of).order_by(Payment.id), self.db)).all()
        for payment in due:
            payment.status = rules.SETTLED
            self._publish_settled(self.db.get(BillingGroup, payment.group_id), payment, payment.settles_on)
        self.db.flush()
        return [payment.payment_number for payment in due]

    def _return_payment(self, group, payment, return_code, today):
        """Returned: every allocation is owed again (a `return` debit), which re-opens the months it paid."""
        payment.status = rules.RETURNED
        payment.return_code = return_code
        payment.returned_on = today
        for allocation in payment.allocations:
            account = self.db.get(BillingAccount, allocation.account_id)
            ledger.post(self.db, account, "return", allocation.amount,
                        "Return %s (%s) of payment %s" % (return_code, ach_returns.reason_of(return_code),
                                                          payment.payment_number), payment_id=payment.id)
        self.db.flush()
        self.outbox.record(PAYMENT_RETURNED, PaymentReturned().dump({
            "group_number": group.group_number, "payment_number": payment.payment_number, "amount": payment.amount,
            "trace_number": payment.trace_number, "return_code": return_code,
            "return_reason": ach_returns.reason_of(return_code), "returned_on": today,
            "allocations": self._allocations_out([payment.id])[payment.id]}),
            aggregate_id=payment_aggregate(payment.payment_number), group_id=group.group_number)

    def _publish_received(self, group, payment, allocations, method):
        self.outbox.record(PAYMENT_RECEIVED, PaymentReceived().dump({
            "group_number": group.group_number, "payment_number": payment.payment_number, "source": payment.source,
            "status": payment.status, "amount": payment.amount, "received_on": payment.received_on,
            "settles_on": payment.settles_on, "trace_number": payment.trace_number, "reference": payment.reference,
            "method_last4": method.account_last4 if method else None,
            "allocations": [{"account_number": account.account_number,
                             "statement_number": statement.statement_number if statement else None,
                             "amount": share} for account, statement, share in allocations]}),
            aggregate_id=payment_aggregate(payment.payment_number), group_id=group.group_number)

    def _publish_settled(self, group, payment, settled_on):
        self.outbox.record(PAYMENT_SETTLED, PaymentSettled().dump({
            "group_number": group.group_number, "payment_number": payment.payment_number, "amount": payment.amount,
            "settled_on": settled_on}),
            aggregate_id=payment_aggregate(payment.payment_number), group_id=group.group_number)

    # --- reading payments back ---------------------------------------------------------------------------

    def _visible_payments(self, group, accounts, data):
        """The payments of the group with an allocation to one of `accounts`, filtered."""
        to_visible = select(PaymentAllocation.payment_id).where(
            PaymentAllocation.account_id.in_([account.id for account in accounts]))
        found = select(Payment).where(Payment.group_id == group.id, Payment.id.in_(to_visible))
        if data["date_from"]:
            found = found.where(Payment.received_on >= data["date_from"])
        if data["date_to"]:
            found = found.where(Payment.received_on <= data["date_to"])
        if data["status"]:
            found = found.where(Payment.status == data["status"])
        return found

    def _payments_out(self, group, payments):
        """Payments (to dump with wire.Payment) as the caller may see them: only allocations to accounts they see; a caller limited to some
        subgroups sees the part of the amount that went to those (never another subgroup's money)."""
        visible = {account.id for account in access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)}
        group_wide = access.is_group_wide(self.caller, group, VIEW_BILLING)
        allocations = self._allocations_out([payment.id for payment in payments], visible)
        method_ids = {payment.method_id for payment in payments if payment.method_id}
        methods = {method.id: method for method in self.db.scalars(
            select(PaymentMethod).where(PaymentMethod.id.in_(method_ids)))} if method_ids else {}
        answers = []
        for payment in payments:
            shown = allocations.get(payment.id, [])
            method = methods.get(payment.method_id)
            answers.append({
                "payment_number": payment.payment_number, "source": payment.source, "status": payment.status,
                "amount": payment.amount if group_wide else sum((row["amount"] for row in shown), ZERO),
                "received_on": payment.received_on, "settles_on": payment.settles_on,
                "trace_number": payment.trace_number, "reference": payment.reference,
                "method": {"id": method.id, "nickname": method.nickname, "account_type": method.account_type,
                           "account_last4": method.account_last4} if method else None,
                "return_code": payment.return_code,
                "return_reason": ach_returns.reason_of(payment.return_code) if payment.return_code else None,
                "returned_on": payment.returned_on, "allocations": shown})
        return answers

    def _allocations_out(self, payment_ids, visible_account_ids=None):
        """{payment id: [{account_number, statement_number, amount}]}, optionally only to some accounts."""
        if not payment_ids:
            return {}
        found = (select(PaymentAllocation.payment_id, PaymentAllocation.account_id, BillingAccount.account_number,
                        Statement.statement_number, PaymentAllocation.amount)
                 .join(BillingAccount, BillingAccount.id == PaymentAllocation.account_id)
                 .outerjoin(Statement, Statement.id == PaymentAllocation.statement_id)
                 .where(PaymentAllocation.payment_id.in_(payment_ids)).order_by(PaymentAllocation.id))
        rows = {payment_id: [] for payment_id in payment_ids}
        for payment_id, account_id, account_number, statement_number, amount in self.db.execute(found):
            if visible_account_ids is None or account_id in visible_account_ids:
                rows[payment_id].append({"account_number": account_number, "statement_number": statement_number,
                                         "amount": cents(amount)})
        return rows

    def _payments_file(self, group, answers):
        """The payments as CSV, one row per allocation shown (a payment's amount repeats on each)."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        rows = 0
        for payment in answers:
            method = payment["method"] or {}
            for allocation in payment["allocations"]:
                writer.writerow([payment["payment_number"], payment["received_on"], payment["source"],
                                 payment["status"], payment["settles_on"] or "", payment["amount"],
                                 allocation["account_number"], allocation["statement_number"] or "",
                                 allocation["amount"], method.get("account_last4") or "", payment["reference"] or "",
                                 payment["return_code"] or "", payment["returned_on"] or ""])
                rows += 1
        return wire.ExportFile().dump({
            "filename": "payments-%s-%s.csv" % (group.group_number, clock.today().strftime("%Y%m%d")),
            "content_type": "text/csv",
            "content_base64": base64.b64encode(text.getvalue().encode("utf-8")).decode("ascii"), "rows": rows})

    # --- look-ups ----------------------------------------------------------------------------------------

    def _method_of(self, group, method_id, for_update=False):
        """One of the group's payment methods (another group's is not found, as one that does not exist)."""
        try:
            method_id = int(method_id)
        except (TypeError, ValueError):
            method_id = None
        found = select(PaymentMethod).where(PaymentMethod.id == method_id, PaymentMethod.group_id == group.id)
        method = self.db.scalar(found.with_for_update() if for_update else found) if method_id is not None else None
        if method is None:
            raise NotFound("Payment method %s was not found in group %s." % (method_id, group.group_number),
                           code="payment_method_not_found")
        return method

    def _lock(self, account):
        """Serialise refund requests and decisions on one account (its credit must not be asked for twice)."""
        self.db.execute(select(BillingAccount.id).where(BillingAccount.id == account.id).with_for_update())


def _refund_out(group, account, request):
    return {"request_number": request.request_number, "group_number": group.group_number,
            "account_number": account.account_number, "amount": request.amount, "reason": request.reason,
            "status": request.status, "requested_by": request.requested_by, "requested_at": request.requested_at,
            "decided_by": request.decided_by, "decided_at": request.decided_at,
            "decision_note": request.decision_note}
