"""Wire schemas of the billing service: statement history: search, details, CSV export, PDF, consolidated invoices,
rebill requests, adjust invoice (issue 6).

An invoice is a statement: one billing account's cut of its ledger for one coverage month (docs/billing-contract.md).
Its paid state is not stored: it is read from the ledger (is the coverage month still open after every payment and
return?). A rebill supersedes a statement with a new one ("-R1", "-R2"...) that takes up the same ledger entries.
Amounts are Money ("1234.50" strings); dates are YYYY-MM-DD.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal_contracts.money import Money
from portal_contracts.roster_lifecycle import TERMINATION_CAUSES
from portal_contracts.roster_members import CODE, MEMBER_ID, FormInput, Text

MAX_PAGE_SIZE = 200
EXPORT_FORMATS = ("json", "csv")
STATEMENT_STATUSES = ("issued", "superseded")
REBILL_STATUSES = ("requested", "completed", "denied")
REBILL_DECISIONS = ("approve", "deny")
# What a group may report from an invoice line (seed 002 "Adjust invoice"): roster records the transaction, and
# the premium change follows on the next statement as an adjustment.
ADJUSTMENT_CHANGES = ("terminate_coverage", "terminate_subscriber")

# "S" + coverage month YYYYMM + "-" + account number, a rebill adds "-R1", "-R2"... (never "consolidated").
STATEMENT_NUMBER = validate.Regexp(r"^[Ss][0-9]{6}-[0-9A-Za-z-]{1,30}$",
                                   error="A statement number looks like S202704-G100-001.")
# A number or its beginning, for the quick search.
NUMBER_SEARCH = validate.Regexp(r"^[0-9A-Za-z-]{1,40}$", error="Use letters, digits or dashes.")
REASON = validate.Length(min=1, max=1000)


# --- input ----------------------------------------------------------------------------------------------

class InvoiceQuery(FormInput):
    """Search the statement history; newest cut first. `format=csv` answers every match as a CSV file."""
    date_from = fields.Date(load_default=None, metadata={"description": "Cut on or after this date."})
    date_to = fields.Date(load_default=None, metadata={"description": "Cut on or before this date."})
    subgroup = fields.String(load_default=None, validate=CODE, metadata={"description": "A subgroup number."})
    number = fields.String(load_default=None, validate=NUMBER_SEARCH, metadata={
        "description": "A statement number, or its beginning (S202704 finds every April 2027 statement)."})
    status = fields.String(load_default=None, validate=validate.OneOf(STATEMENT_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    format = fields.String(load_default="json", validate=validate.OneOf(EXPORT_FORMATS), metadata={
        "description": "json (a page), or csv (a file with one row per matching statement, every page)."})

    @validates_schema
    def a_range(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("Must not be before date_from.", "date_to")


class ConsolidatedQuery(FormInput):
    period = fields.Date(required=True, format="%Y-%m", metadata={
        "description": "The coverage month, YYYY-MM."})


class RebillQuery(FormInput):
    status = fields.String(load_default=None, validate=validate.OneOf(REBILL_STATUSES))
    statement_number = fields.String(load_default=None, validate=STATEMENT_NUMBER)


class RebillRequestInput(FormInput):
    statement_number = fields.String(required=True, validate=STATEMENT_NUMBER, metadata={
        "description": "The statement to be reissued: the account's newest, still issued."})
    reason = Text(required=True, validate=REASON, metadata={"description": "What is wrong with it."})


class RebillDecisionInput(FormInput):
    decision = fields.String(required=True, validate=validate.OneOf(REBILL_DECISIONS))
    note = Text(load_default=None, allow_none=True, validate=REASON, metadata={
        "description": "Required to deny: the group reads it."})

    @validates_schema
    def a_reason_to_deny(self, data, **kwargs):
        if data.get("decision") == "deny" and not data.get("note"):
            raise ValidationError("Say why the rebill is denied.", "note")


class InvoiceAdjustmentInput(FormInput):
    """A change of coverage reported from a line of the invoice; roster decides it as it would any termination
    (the caller needs the right to change the roster, at most 60 days back, the member's cause)."""
    member_id = fields.String(required=True, validate=MEMBER_ID, metadata={
        "description": "A member of a family billed on this statement."})
    change = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_CHANGES), metadata={
        "description": "terminate_coverage (one member) or terminate_subscriber (the whole family)."})
    event_date = fields.Date(required=True, metadata={
        "description": "The day of the event (for a death, the date of death)."})
    cause = fields.String(required=True, validate=validate.OneOf(tuple(TERMINATION_CAUSES)), metadata={
        "description": "termination_of_benefits, termination_of_employment, death or divorce."})
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))


# --- output ---------------------------------------------------------------------------------------------

class InvoiceSummary(Schema):
    statement_number = fields.String()
    account_number = fields.String()
    subgroup_number = fields.String()
    account_name = fields.String()
    coverage_month = fields.Date(metadata={"description": "The first day of the month the premium pays for."})
    cut_date = fields.Date()
    due_date = fields.Date()
    balance_forward = Money(metadata={"description": "The balance at the previous cut."})
    payments = Money(metadata={"description": "Payments, returns and refunds since (credits negative)."})
    charges = Money(metadata={"description": "The coverage month's premium."})
    adjustments = Money(metadata={"description": "Retroactive changes since the previous cut."})
    amount_due = Money(metadata={"description": "The account's ledger balance at the cut."})
    status = fields.String(metadata={"description": "issued, or superseded by a rebill."})
    paid = fields.Boolean(metadata={"description": "The coverage month is paid in full (from the ledger, now)."})
    open_amount = Money(metadata={"description": "What is still open of the coverage month's premium."})
    supersedes = fields.String(allow_none=True, metadata={"description": "The statement this rebill replaces."})
    superseded_by = fields.String(allow_none=True, metadata={"description": "The rebill that replaced it."})


class InvoiceLine(Schema):
    kind = fields.String(metadata={"description": "charge (the month's premium) or adjustment (a retro change)."})
    coverage_month = fields.Date()
    line_key = fields.String(allow_none=True, metadata={"description": "member (or subscriber) : plan code"})
    member_id = fields.String(allow_none=True)
    subscriber_member_id = fields.String(allow_none=True)
    plan_code = fields.String(allow_none=True)
    rate_key = fields.String(allow_none=True, metadata={"description": "The tier or the age band rated."})
    description = fields.String()
    amount = Money()


class Invoice(InvoiceSummary):
    group_number = fields.String()
    group_name = fields.String()
    issued_at = fields.DateTime()
    lines = fields.List(fields.Nested(InvoiceLine))


class InvoiceList(Schema):
    items = fields.List(fields.Nested(InvoiceSummary))
    total = fields.Integer()
    page = fields.Integer()
    limit = fields.Integer()


class InvoiceFile(Schema):
    """A file to download (the CSV export, the PDF), base64 on the wire; the gateway answers it as the file."""
    filename = fields.String()
    content_type = fields.String()
    content_base64 = fields.String()
    rows = fields.Integer(allow_none=True)


class ConsolidatedInvoice(Schema):
    statement_number = fields.String(metadata={"description": "C + YYYYMM + - + group number."})
    group_number = fields.String()
    group_name = fields.String()
    coverage_month = fields.Date()
    due_date = fields.Date()
    amount_due = Money(metadata={"description": "The sum of its subgroup statements' amounts due."})
    issued_at = fields.DateTime()
    statements = fields.List(fields.Nested(InvoiceSummary))


class RebillRequest(Schema):
    request_number = fields.String()
    group_number = fields.String()
    account_number = fields.String()
    subgroup_number = fields.String()
    statement_number = fields.String()
    reason = fields.String()
    status = fields.String(metadata={"description": "requested, completed (rebilled) or denied."})
    requested_by = fields.String()
    requested_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    new_statement_number = fields.String(allow_none=True, metadata={"description": "The rebill, once approved."})


class RebillRequestList(Schema):
    items = fields.List(fields.Nested(RebillRequest))
    total = fields.Integer()


class InvoiceAdjustmentResult(Schema):
    """Roster's answer: the transaction it recorded. The premium change shows on the next statement."""
    statement_number = fields.String()
    member_id = fields.String()
    change = fields.String()
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "completed, or pending (a future date, or carrier review)."})
    effective_date = fields.Date(allow_none=True)
    termination_date = fields.Date(allow_none=True, metadata={"description": "The last day covered."})
    member_ids = fields.List(fields.String(), metadata={"description": "Whose coverage ends."})


# rpc -> (input schema of its JSON argument, output schema)
RPC_SCHEMAS = {
    "list_invoices": (InvoiceQuery, InvoiceList),
    "get_invoice": (None, Invoice),
    "invoice_pdf": (None, InvoiceFile),
    "get_consolidated": (ConsolidatedQuery, ConsolidatedInvoice),
    "list_rebill_requests": (RebillQuery, RebillRequestList),
    "request_rebill": (RebillRequestInput, RebillRequest),
    "decide_rebill": (RebillDecisionInput, RebillRequest),
    "adjust_invoice": (InvoiceAdjustmentInput, InvoiceAdjustmentResult),
}
