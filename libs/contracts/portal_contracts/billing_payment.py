"""Wire schemas of the billing service: payment methods, payments split across accounts, settlement, returns,
check and lockbox posting, refund requests (issue 6).

The billing service loads its RPC input with these classes and dumps its answers with them; the gateway
validates bodies and query strings with the same classes (gateway.billing_contracts) and builds the OpenAPI
document from them. Money travels as strings with two places ("1234.50"), dates as YYYY-MM-DD. A bank account
number comes in once (adding a method) and never goes out: answers show its last 4 digits only.
"""
from decimal import Decimal

from marshmallow import Schema, fields, validate

from portal_contracts.money import Money
from portal_contracts.roster_members import MAX_PAGE_SIZE, FormInput, Text

ACCOUNT_TYPES = ("checking", "savings")
PAYMENT_STATUSES = ("pending", "settled", "returned")
PAYMENT_SOURCES = ("ach", "autopay", "check", "lockbox")
CARRIER_SOURCES = ("check", "lockbox")
LIST_FORMATS = ("json", "csv")
REFUND_STATUSES = ("requested", "completed", "denied")
DECISIONS = ("approve", "deny")

POSITIVE = validate.Range(min=Decimal("0.01"), max=Decimal("9999999.99"),
                          error="Enter an amount from 0.01 to 9999999.99.")
ACCOUNT_NUMBER = validate.Regexp(r"^[0-9A-Za-z-]{1,24}$", error="A billing account number, e.g. 100234-001.")
STATEMENT_NUMBER = validate.Regexp(r"^[0-9A-Za-z-]{1,24}$", error="A statement number, e.g. S202704-100234-001.")


class Digits(fields.String):
    """Digits typed with spaces or dashes between groups ("0210 0002 1"): loads as the digits alone. Messages
    never repeat the value (a bank account number must not reach logs or problem bodies)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return "".join(character for character in text if character not in " -")


# --- payment methods ------------------------------------------------------------------------------------

class PaymentMethodInput(FormInput):
    holder_name = Text(required=True, validate=validate.Length(min=1, max=120))
    account_type = fields.String(required=True, validate=validate.OneOf(ACCOUNT_TYPES))
    routing_number = Digits(required=True, validate=validate.Regexp(r"^\d{9}$", error="A routing number is 9 digits."),
                            metadata={"description": "The bank's ABA routing number; its check digit is verified."})
    account_number = Digits(required=True, load_only=True,
                            validate=validate.Regexp(r"^\d{4,17}$", error="An account number is 4 to 17 digits."),
                            metadata={"description": "Stored encrypted; never shown again (only its last 4)."})
    nickname = Text(load_default=None, allow_none=True, validate=validate.Length(max=60))


class PaymentMethod(Schema):
    id = fields.Integer(required=True)
    nickname = fields.String(allow_none=True)
    holder_name = fields.String(required=True)
    account_type = fields.String(required=True)
    routing_number = fields.String(required=True)
    account_last4 = fields.String(required=True, metadata={"description": "The only digits of the account shown."})
    status = fields.String(required=True, metadata={"description": "active | removed"})
    created_at = fields.DateTime(required=True)


class PaymentMethodList(Schema):
    items = fields.List(fields.Nested(PaymentMethod), required=True)


# --- payments -------------------------------------------------------------------------------------------

class AllocationInput(FormInput):
    account_number = fields.String(required=True, validate=ACCOUNT_NUMBER)
    statement_number = fields.String(load_default=None, allow_none=True, validate=STATEMENT_NUMBER)
    amount = Money(required=True)   # > 0: checked with the sum, so every bad allocation is named at once


class PaymentInput(FormInput):
    """A payment from a stored bank account (ACH). Without `allocations` the amount pays the oldest open months
    of the accounts the caller may pay for; with them, they must add up to `amount` exactly."""
    method_id = fields.Integer(required=True, strict=True)
    amount = Money(required=True, validate=POSITIVE)
    allocations = fields.List(fields.Nested(AllocationInput), load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=200))


class CheckPaymentInput(FormInput):
    """A check or lockbox payment the carrier received for the group: settled at once."""
    source = fields.String(required=True, validate=validate.OneOf(CARRIER_SOURCES))
    reference = Text(required=True, validate=validate.Length(min=1, max=40),
                     metadata={"description": "The check number or lockbox batch."})
    amount = Money(required=True, validate=POSITIVE)
    received_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today."})
    allocations = fields.List(fields.Nested(AllocationInput), load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=200))


class Allocation(Schema):
    account_number = fields.String(required=True)
    statement_number = fields.String(allow_none=True)
    amount = Money(required=True)


class PaymentMethodSummary(Schema):
    id = fields.Integer(required=True)
    nickname = fields.String(allow_none=True)
    account_type = fields.String(required=True)
    account_last4 = fields.String(required=True)


class Payment(Schema):
    payment_number = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "ach | autopay | check | lockbox"})
    status = fields.String(required=True, metadata={"description": "pending | settled | returned"})
    amount = Money(required=True, metadata={
        "description": "The payment's amount; for a caller limited to some subgroups, what went to their accounts."})
    received_on = fields.Date(required=True)
    settles_on = fields.Date(allow_none=True)
    trace_number = fields.String(allow_none=True, metadata={"description": "The ACH entry's trace number."})
    reference = fields.String(allow_none=True)
    method = fields.Nested(PaymentMethodSummary, allow_none=True)
    return_code = fields.String(allow_none=True)
    return_reason = fields.String(allow_none=True)
    returned_on = fields.Date(allow_none=True)
    allocations = fields.List(fields.Nested(Allocation), required=True)


class PaymentFilters(FormInput):
    date_from = fields.Date(load_default=None, metadata={"description": "Received on or after."})
    date_to = fields.Date(load_default=None, metadata={"description": "Received on or before."})
    status = fields.String(load_default=None, validate=validate.OneOf(PAYMENT_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    format = fields.String(load_default="json", validate=validate.OneOf(LIST_FORMATS),
                           metadata={"description": "csv: every matching payment as a file (no paging)."})


class PaymentPage(Schema):
    items = fields.List(fields.Nested(Payment), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    limit = fields.Integer(required=True)


# --- settlement and returns (carrier) ---------------------------------------------------------------------

class SettlementInput(FormInput):
    as_of = fields.Date(load_default=None, allow_none=True, metadata={"description": "Default: today."})


class SettlementResult(Schema):
    as_of = fields.Date(required=True)
    settled = fields.List(fields.String(), required=True, metadata={"description": "Payment numbers."})


class AchReturnsInput(Schema):
    file = fields.String(required=True, validate=validate.Length(min=1, max=5_000_000), metadata={
        "description": "The bank's NACHA return file: 94-character records; each return is an entry detail (6) "
                       "record followed by a return addenda (7, type 99) with the reason code and the original "
                       "entry's trace number."})


class ReturnedPayment(Schema):
    payment_number = fields.String(required=True)
    trace_number = fields.String(required=True)
    return_code = fields.String(required=True)
    return_reason = fields.String(required=True)
    amount = Money(required=True)
    group_number = fields.String(required=True)


class AchReturnsResult(Schema):
    returned = fields.List(fields.Nested(ReturnedPayment), required=True)
    skipped = fields.List(fields.String(), required=True,
                          metadata={"description": "Trace numbers of payments already returned."})
    unknown = fields.List(fields.String(), required=True,
                          metadata={"description": "Trace numbers that match no payment."})


# --- refunds --------------------------------------------------------------------------------------------

class RefundRequestInput(FormInput):
    account_number = fields.String(required=True, validate=ACCOUNT_NUMBER)
    amount = Money(load_default=None, allow_none=True, validate=POSITIVE,
                   metadata={"description": "Default: the whole credit balance."})
    reason = Text(required=True, validate=validate.Length(min=1, max=1000))


class RefundFilters(FormInput):
    status = fields.String(load_default=None, validate=validate.OneOf(REFUND_STATUSES))


class RefundDecisionInput(FormInput):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class RefundRequest(Schema):
    request_number = fields.String(required=True)
    group_number = fields.String(required=True)
    account_number = fields.String(required=True)
    amount = Money(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "requested | completed | denied"})
    requested_by = fields.String(required=True)
    requested_at = fields.DateTime(required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class RefundRequestList(Schema):
    items = fields.List(fields.Nested(RefundRequest), required=True)


class ExportFile(Schema):
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    content_base64 = fields.String(required=True)
    rows = fields.Integer(required=True)


RPC_SCHEMAS = {
    "list_payment_methods": (None, PaymentMethodList),
    "add_payment_method": (PaymentMethodInput, PaymentMethod),
    "remove_payment_method": (None, PaymentMethod),
    "list_payments": (PaymentFilters, PaymentPage),
    "make_payment": (PaymentInput, Payment),
    "post_check_payment": (CheckPaymentInput, Payment),
    "settle_payments": (SettlementInput, SettlementResult),
    "import_ach_returns": (AchReturnsInput, AchReturnsResult),
    "list_refund_requests": (RefundFilters, RefundRequestList),
    "request_refund": (RefundRequestInput, RefundRequest),
    "decide_refund": (RefundDecisionInput, RefundRequest),
}
