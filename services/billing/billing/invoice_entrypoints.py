"""Statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice
(issue 6).

Each entrypoint reads the same way: the caller may see (VIEW_BILLING) or pay (PAY_BILLING) the group's billing
(billing.access: another group's statement is a 404, an account outside the caller's subgroups a 403), the input
loads with its wire schema (portal_contracts.billing_invoice), the rules decide (billing.domain.invoices), and the
answer is dumped with the wire schema. A statement's paid state is read from the ledger each time, never stored.

Adjust invoice changes the roster, which billing never writes: it asks roster over RPC (RosterRpc below) as the
caller, with the caller's token, request id and idempotency key, and answers with roster's confirmation. The
premium change follows when roster's event reaches billing's projection: the next statement run adjusts it.
"""
import uuid
from datetime import date

from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select, update

from billing import access, ledger
from billing import invoice_documents as documents
from billing.domain import requests
from billing.domain import invoices as rules
from billing.events import account_aggregate
from billing.events_invoice import REBILL_REQUESTED
from billing.events_statement import STATEMENT_ISSUED, StatementIssued
from billing.models import BillableFamily, BillingAccount, BillingGroup, BillingRequest, ConsolidatedStatement, \
    LedgerEntry, Statement
from portal_contracts import billing_invoice as wire
from servicekit import clock
from servicekit.context import AUTHORIZATION, IDEMPOTENCY_KEY, REQUEST_ID
from servicekit.entrypoints import rpc
from servicekit.errors import BusinessError, Forbidden, NotFound, load_input, problem_from_remote
from servicekit.idempotency import idempotent
from servicekit.roles import PAY_BILLING, VIEW_BILLING

REBILL = "rebill"


# --- asking roster (adjust invoice) -----------------------------------------------------------------------

# What goes with billing's call so that roster sees the same user, request and retry key as billing did
# (servicekit.context; "remote_addr" is the gateway's, for throttles and audit).
FORWARDED_CONTEXT = (AUTHORIZATION, REQUEST_ID, IDEMPOTENCY_KEY, "remote_addr")


class RosterRefused(BusinessError):
    """Roster's own refusal (403, 404, 409, 422...), passed on as roster said it."""

    def __init__(self, problem):
        self.status = problem["status"]
        self.title = problem.get("title") or self.title
        super().__init__(problem.get("detail"), problem.get("errors"), code=problem["code"])


class RosterTimeout(BusinessError):
    status = 504
    code = "roster_timeout"
    title = "The roster service did not answer in time"


class RosterUnavailable(BusinessError):
    status = 503
    code = "roster_unavailable"
    title = "The roster service is not available"


class RosterClient:
    """One worker's way to roster: `call(method, *args)` with the worker's context, within the timeout."""

    def __init__(self, amqp_uri, timeout, context):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.context = context

    def call(self, method, *args):
        # A standalone proxy, because nameko's RpcProxy dependency has no timeout: a roster that hangs must not
        # hold billing's worker (and the gateway's request) forever.
        try:
            with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, context_data=self.context,
                                 timeout=self.timeout) as cluster:
                return getattr(cluster["roster"], method)(*args)
        except RpcTimeout:
            raise RosterTimeout("Roster did not answer within %ss. The change may still be recorded: retry with the "
                                "same Idempotency-Key, which roster recognises." % self.timeout) from None
        except UnknownService:
            raise RosterUnavailable("The roster service is not running; try again shortly.") from None
        except RemoteError as exc:
            problem = problem_from_remote(exc.value)
            if problem is None:
                raise   # a bug in roster: billing answers it as its own failure
            raise RosterRefused(problem) from None


class RosterRpc(DependencyProvider):
    """`self.roster_rpc`: a RosterClient for the worker (config AMQP_URI, ROSTER_RPC_TIMEOUT_SECONDS)."""

    def setup(self):
        config = self.container.config
        self.amqp_uri = config["AMQP_URI"]
        self.timeout = float(config["ROSTER_RPC_TIMEOUT_SECONDS"])

    def get_dependency(self, worker_ctx):
        context = {key: worker_ctx.data[key] for key in FORWARDED_CONTEXT if worker_ctx.data.get(key) is not None}
        return RosterClient(self.amqp_uri, self.timeout, context)


def _of_statement(group_number, statement_number, body=None):
    return "%s/%s" % (group_number, str(statement_number).upper())


def _of_group(group_number, body=None):
    return str(group_number)


def _of_request(request_number, body=None):
    return str(request_number).upper()


class InvoiceEntrypoints:
    """Mixed into BillingService (billing.service)."""

    roster_rpc = RosterRpc()

    # --- the statement history ------------------------------------------------------------------------

    @rpc
    def list_invoices(self, group_number, query):
        """Statements of the accounts the caller may see, newest cut first: a page, or (format=csv) every match
        as a CSV file."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.InvoiceQuery(), query)
        accounts = access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)
        search = self._statement_search(group, accounts, data)
        if data["format"] == "csv":
            summaries = self._summaries(self.db.scalars(search).all())
            content = documents.invoices_csv(summaries)
            return wire.InvoiceFile().dump(documents.as_file(
                documents.csv_filename(group.group_number, clock.today()), documents.CSV_TYPE, content,
                rows=len(summaries)))
        total = self.db.scalar(select(func.count()).select_from(search.order_by(None).subquery()))
        page = self.db.scalars(search.offset((data["page"] - 1) * data["limit"]).limit(data["limit"])).all()
        return wire.InvoiceList().dump({"items": self._summaries(page), "total": total, "page": data["page"],
                                        "limit": data["limit"]})

    @rpc
    def get_invoice(self, group_number, statement_number):
        """A statement's header (paid state from the ledger now) and its lines."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        statement = self._statement(group, statement_number, VIEW_BILLING)
        return wire.Invoice().dump(self._invoice(group, statement))

    @rpc
    def invoice_pdf(self, group_number, statement_number):
        """The same statement as a PDF: {filename, content_type, content_base64}."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        statement = self._statement(group, statement_number, VIEW_BILLING)
        invoice = wire.Invoice().dump(self._invoice(group, statement))
        content = documents.invoice_pdf(invoice, self._carrier_name())
        return wire.InvoiceFile().dump(documents.as_file(documents.pdf_filename(invoice), documents.PDF_TYPE,
                                                         content))

    @rpc
    def get_consolidated(self, group_number, query):
        """The group's consolidated invoice of a coverage month and its subgroup statements: for a grant on the
        whole group only (DOMAIN.md: no group-wide totals for a subgroup-limited user)."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        if not access.is_group_wide(self.caller, group, VIEW_BILLING):
            raise Forbidden("The consolidated invoice is for users of the whole group; yours reaches some "
                            "subgroups only.", code="group_wide_only")
        data = load_input(wire.ConsolidatedQuery(), query)
        month = data["period"].replace(day=1)
        consolidated = self.db.scalar(select(ConsolidatedStatement).where(
            ConsolidatedStatement.group_id == group.id, ConsolidatedStatement.coverage_month == month))
        if consolidated is None:
            raise NotFound("Group %s has no consolidated invoice for %s." % (group.group_number,
                                                                             month.strftime("%Y-%m")),
                           code="consolidated_not_found")
        statements = self.db.scalars(select(Statement).where(Statement.id.in_(consolidated.statement_ids))
                                     .join(BillingAccount).order_by(BillingAccount.subgroup_number)).all()
        return wire.ConsolidatedInvoice().dump({
            "statement_number": consolidated.statement_number, "group_number": group.group_number,
            "group_name": group.legal_name, "coverage_month": consolidated.coverage_month,
            "due_date": consolidated.due_date, "amount_due": consolidated.amount_due,
            "issued_at": consolidated.issued_at, "statements": self._summaries(statements)})

    # --- rebill requests ------------------------------------------------------------------------------

    @rpc
    def list_rebill_requests(self, group_number, query):
        """The group's rebill requests on the accounts the caller may see, newest first."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.RebillQuery(), query)
        accounts = access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)
        search = select(BillingRequest).where(BillingRequest.group_id == group.id, BillingRequest.kind == REBILL,
                                              BillingRequest.account_id.in_([a.id for a in accounts]))
        if data["status"]:
            search = search.where(BillingRequest.status == data["status"])
        if data["statement_number"]:
            asked = select(Statement.id).where(Statement.group_id == group.id,
                                               Statement.statement_number == data["statement_number"].upper())
            search = search.where(BillingRequest.statement_id.in_(asked))
        requests = self.db.scalars(search.order_by(BillingRequest.requested_at.desc(),
                                                   BillingRequest.id.desc())).all()
        return wire.RebillRequestList().dump({"items": [self._rebill(r) for r in requests],
                                              "total": len(requests)})

    @rpc
    @idempotent(target=_of_group)
    def request_rebill(self, group_number, body):
        """Ask the carrier to reissue a statement (the account's newest, still issued; one request at a time)."""
        group = access.load_group(self.db, self.caller, group_number, PAY_BILLING)
        data = load_input(wire.RebillRequestInput(), body)
        statement = self._statement(group, data["statement_number"], PAY_BILLING, lock=True)
        rules.require_rebillable(statement, self._newest_month(statement.account_id),
                                 self._pending_rebill(statement.id))

        request = BillingRequest(
            request_number="RB" + uuid.uuid4().hex[:10].upper(), kind=REBILL, group_id=group.id,
            account_id=statement.account_id, statement_id=statement.id, reason=data["reason"],
            status=requests.REQUESTED, requested_by=self.caller.actor_id, requested_at=clock.utcnow())
        self.db.add(request)
        self.db.flush()
        account = statement.account
        self.outbox.record(REBILL_REQUESTED, {
            "request_number": request.request_number, "group_number": group.group_number,
            "account_number": account.account_number, "subgroup_number": account.subgroup_number,
            "statement_number": statement.statement_number, "coverage_month": statement.coverage_month.isoformat(),
            "reason": request.reason, "requested_by": request.requested_by,
        }, aggregate_id=account_aggregate(account.account_number), group_id=group.group_number, version=1)
        return wire.RebillRequest().dump(self._rebill(request))

    @rpc
    @idempotent(target=_of_request)
    def decide_rebill(self, request_number, body):
        """Carrier staff approve (the statement is superseded by a rebill taking up the same ledger entries) or
        deny (with a note the group reads)."""
        access.require_carrier(self.caller)
        data = load_input(wire.RebillDecisionInput(), body)
        request = self.db.scalar(select(BillingRequest).where(
            BillingRequest.request_number == str(request_number).upper(), BillingRequest.kind == REBILL)
            .with_for_update())
        if request is None:
            raise NotFound("Rebill request %s was not found." % request_number, code="rebill_request_not_found")
        requests.require_undecided(request)

        approved = data["decision"] == "approve"
        if approved:
            request.new_statement_id = self._reissue(request).id
        requests.decide(request, approved, self.caller.actor_id, clock.utcnow(), data["note"])
        self.db.flush()
        return wire.RebillRequest().dump(self._rebill(request))

    def _reissue(self, request):
        """Supersede the requested statement with a new one for the same account and month: it takes up the
        same ledger entries (no new charges) and what was posted since, with its amounts recomputed from the
        ledger. The month's consolidated invoice then sums the new statement instead of the old."""
        # The group row as the statement run holds it while it cuts (FOR NO KEY UPDATE), then the account row as a
        # payment holds it: neither a cut nor a payment of this account runs meanwhile, so the entries moved are
        # all there are and no later statement appears.
        self.db.scalar(select(BillingGroup).where(BillingGroup.id == request.group_id).with_for_update(key_share=True))
        self.db.scalar(select(BillingAccount).where(BillingAccount.id == request.account_id).with_for_update())
        old = self.db.scalar(select(Statement).where(Statement.id == request.statement_id).with_for_update())
        rules.require_rebillable(old, self._newest_month(old.account_id), None)

        new = Statement(statement_number=rules.rebill_number(old.statement_number), account_id=old.account_id,
                        group_id=old.group_id, coverage_month=old.coverage_month, cut_date=clock.today(),
                        due_date=old.due_date, balance_forward=0, payments=0, charges=0, adjustments=0,
                        amount_due=0, status=rules.ISSUED, supersedes_id=old.id, lines=[],
                        issued_at=clock.utcnow())
        self.db.add(new)
        old.status = rules.SUPERSEDED
        self.db.flush()
        self.db.execute(update(LedgerEntry).where(
            LedgerEntry.account_id == old.account_id,
            (LedgerEntry.statement_id == old.id) | LedgerEntry.statement_id.is_(None))
            .values(statement_id=new.id).execution_options(synchronize_session=False))
        taken = self.db.scalars(select(LedgerEntry).where(LedgerEntry.statement_id == new.id)).all()
        for name, amount in rules.rebill_amounts(taken, ledger.balance(self.db, old.account_id)).items():
            setattr(new, name, amount)
        new.lines = rules.statement_lines(taken)
        self._resum_consolidated(old, new)
        self.db.flush()
        self._announce_statement(new)
        return new

    def _announce_statement(self, statement):
        """The rebill is a statement issued like any other: statement_issued (part P2's event) says so, so the
        group hears of it as of the statement run's ("invoice available")."""
        account = statement.account
        self.outbox.record(STATEMENT_ISSUED, StatementIssued().dump({
            "statement_number": statement.statement_number, "account_number": account.account_number,
            "group_number": account.group.group_number, "subgroup_number": account.subgroup_number,
            "coverage_month": statement.coverage_month, "cut_date": statement.cut_date,
            "due_date": statement.due_date, "balance_forward": statement.balance_forward,
            "payments": statement.payments, "charges": statement.charges, "adjustments": statement.adjustments,
            "amount_due": statement.amount_due}),
            aggregate_id=account_aggregate(account.account_number), group_id=account.group.group_number, version=1)

    def _resum_consolidated(self, old, new):
        consolidated = self.db.scalar(select(ConsolidatedStatement).where(
            ConsolidatedStatement.group_id == old.group_id, ConsolidatedStatement.coverage_month == old.coverage_month)
            .with_for_update())
        if consolidated is None or old.id not in (consolidated.statement_ids or []):
            return
        consolidated.statement_ids = [new.id if sid == old.id else sid for sid in consolidated.statement_ids]
        self.db.flush()
        consolidated.amount_due = self.db.scalar(select(func.coalesce(func.sum(Statement.amount_due), 0))
                                                 .where(Statement.id.in_(consolidated.statement_ids)))

    # --- adjust invoice -------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_statement)
    def adjust_invoice(self, group_number, statement_number, body):
        """From a statement's line, the group reports that a member's or a family's coverage ended: roster records
        the termination (its rules, and CHANGE_ROSTER, apply to the caller); the premium change shows as an
        adjustment on the next statement."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        statement = self._statement(group, statement_number, VIEW_BILLING)
        data = load_input(wire.InvoiceAdjustmentInput(), body)
        rules.require_member_on_statement(statement.lines or [], self._families_on(group, statement),
                                          data["member_id"], data["change"])

        answer = self.roster_rpc.call(data["change"], group.group_number, data["member_id"].upper(), {
            "event_date": data["event_date"].isoformat(), "cause": data["cause"], "note": data["note"]})
        return wire.InvoiceAdjustmentResult().dump({
            "statement_number": statement.statement_number, "member_id": data["member_id"].upper(),
            "change": data["change"], "confirmation_number": answer.get("confirmation_number"),
            "status": answer.get("status"), "effective_date": _date(answer.get("effective_date")),
            "termination_date": _date(answer.get("termination_date")), "member_ids": answer.get("member_ids") or []})

    # --- shared ---------------------------------------------------------------------------------------

    def _statement(self, group, statement_number, action, lock=False):
        """The group's statement by number (404 for another group's or none), on an account the caller's grant
        reaches for `action` (else 403)."""
        search = select(Statement).where(Statement.group_id == group.id,
                                         Statement.statement_number == str(statement_number).upper())
        statement = self.db.scalar(search.with_for_update() if lock else search)
        if statement is None:
            raise NotFound("Statement %s was not found in group %s." % (statement_number, group.group_number),
                           code="statement_not_found")
        access.load_account(self.db, self.caller, group, statement.account.account_number, action)
        return statement

    def _statement_search(self, group, accounts, data):
        search = select(Statement).where(Statement.group_id == group.id,
                                         Statement.account_id.in_([account.id for account in accounts]))
        if data["date_from"]:
            search = search.where(Statement.cut_date >= data["date_from"])
        if data["date_to"]:
            search = search.where(Statement.cut_date <= data["date_to"])
        if data["subgroup"]:
            search = search.where(Statement.account_id.in_(
                [account.id for account in accounts if account.subgroup_number == data["subgroup"]]))
        if data["number"]:
            search = search.where(Statement.statement_number.startswith(data["number"].upper(), autoescape=True))
        if data["status"]:
            search = search.where(Statement.status == data["status"])
        return search.order_by(Statement.cut_date.desc(), Statement.coverage_month.desc(), Statement.id.desc())

    def _summaries(self, statements):
        """InvoiceSummary values of statements, their paid state from each account's ledger as it is now."""
        open_months = {}
        for account_id in {statement.account_id for statement in statements}:
            open_months[account_id], _credit = ledger.open_months(self.db, account_id)
        ids = [statement.id for statement in statements]
        linked_ids = {statement.supersedes_id for statement in statements if statement.supersedes_id}
        numbers = dict(self.db.execute(select(Statement.id, Statement.statement_number)
                                       .where(Statement.id.in_(linked_ids))).all()) if linked_ids else {}
        superseded_by = dict(self.db.execute(select(Statement.supersedes_id, Statement.statement_number)
                                             .where(Statement.supersedes_id.in_(ids))).all()) if ids else {}
        summaries = []
        for statement in statements:
            paid, open_amount = rules.month_paid(open_months[statement.account_id], statement.coverage_month)
            summaries.append({
                "statement_number": statement.statement_number, "account_number": statement.account.account_number,
                "subgroup_number": statement.account.subgroup_number, "account_name": statement.account.name,
                "coverage_month": statement.coverage_month, "cut_date": statement.cut_date,
                "due_date": statement.due_date, "balance_forward": statement.balance_forward,
                "payments": statement.payments, "charges": statement.charges,
                "adjustments": statement.adjustments, "amount_due": statement.amount_due,
                "status": statement.status, "paid": paid, "open_amount": open_amount,
                "supersedes": numbers.get(statement.supersedes_id),
                "superseded_by": superseded_by.get(statement.id)})
        return summaries

    def _invoice(self, group, statement):
        summary = self._summaries([statement])[0]
        return dict(summary, group_number=group.group_number, group_name=group.legal_name,
                    issued_at=statement.issued_at, lines=[rules.line_out(line) for line in statement.lines or []])

    def _newest_month(self, account_id):
        return self.db.scalar(select(func.max(Statement.coverage_month)).where(Statement.account_id == account_id))

    def _pending_rebill(self, statement_id):
        return self.db.scalar(select(BillingRequest).where(
            BillingRequest.kind == REBILL, BillingRequest.statement_id == statement_id,
            BillingRequest.status == requests.REQUESTED))

    def _families_on(self, group, statement):
        """[(subscriber, [member ids])] of the families the statement's lines name (billing's projection)."""
        subscribers = {line.get("subscriber_member_id") for line in statement.lines or []} - {None}
        if not subscribers:
            return []
        families = self.db.scalars(select(BillableFamily).where(
            BillableFamily.group_id == group.id, BillableFamily.subscriber_member_id.in_(subscribers))).all()
        return [(family.subscriber_member_id, [member["member_id"] for member in family.members or []])
                for family in families]

    def _rebill(self, request):
        """RebillRequest values of a request."""
        account = self.db.get(BillingAccount, request.account_id)
        statement = self.db.get(Statement, request.statement_id)
        new = self.db.get(Statement, request.new_statement_id) if request.new_statement_id else None
        return {
            "request_number": request.request_number, "group_number": account.group.group_number,
            "account_number": account.account_number, "subgroup_number": account.subgroup_number,
            "statement_number": statement.statement_number, "reason": request.reason, "status": request.status,
            "requested_by": request.requested_by, "requested_at": request.requested_at,
            "decided_by": request.decided_by, "decided_at": request.decided_at,
            "decision_note": request.decision_note, "new_statement_number": new.statement_number if new else None}

    def _carrier_name(self):
        return self.config["CARRIER_NAME"]


def _date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value
