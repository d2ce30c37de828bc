"""Wire schemas of the billing service: auto pay (authorisation, the debit run and its NACHA file) and delinquency
(stages, termination for non-payment) (issue 6).

Auto pay is per billing account (a subgroup): a stored bank account of the group (a payment method) is debited
`days_before_due` days before each statement's due date for what the account owes then. Turning it on is an
authorisation the portal keeps (who, when, which terms version), so `accept_terms` must be true and
`terms_version` must name the terms in force (`current_terms_version` of GET). Bank account numbers never
travel: the method's last 4 only.
"""
from marshmallow import Schema, fields, validate

from portal_contracts.forms import Input
from portal_contracts.money import Money

AUTOPAY_STATUSES = ("active", "cancelled", "none")
DELINQUENCY_STAGES = ("current", "past_due", "in_grace", "terminated_nonpayment")


# --- input ----------------------------------------------------------------------------------------------

class AutoPayInput(Input):
    method_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1), metadata={
        "description": "An active payment method of the group (GET .../payment-methods)."})
    days_before_due = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10), metadata={
        "description": "Debit this many days before the due date (0: on the due date)."})
    accept_terms = fields.Boolean(required=True, validate=validate.Equal(
        True, error="Auto pay needs the terms accepted."), metadata={
        "description": "Must be true: the user authorises the debits under the terms named by terms_version."})
    terms_version = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={
        "description": "The version of the auto-pay terms accepted: the current one (GET answers it)."})


class JobInput(Input):
    as_of = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The business date to run for; default: today's."})


# --- output ---------------------------------------------------------------------------------------------

class AutoPay(Schema):
    group_number = fields.String()
    account_number = fields.String()
    status = fields.String(validate=validate.OneOf(AUTOPAY_STATUSES), metadata={
        "description": "active, cancelled, or none (never set up)."})
    method_id = fields.Integer(allow_none=True)
    method_last4 = fields.String(allow_none=True)
    method_nickname = fields.String(allow_none=True)
    account_type = fields.String(allow_none=True, metadata={"description": "checking or savings."})
    days_before_due = fields.Integer(allow_none=True)
    terms_version = fields.String(allow_none=True, metadata={"description": "The terms the authorisation accepted."})
    authorized_by = fields.String(allow_none=True)
    authorized_at = fields.AwareDateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    current_terms_version = fields.String(metadata={"description": "The terms in force: what PUT must accept."})


class FileWritten(Schema):
    name = fields.String(metadata={"description": "The file under VAR_DIR/ach/, e.g. 20270226-autopay.ach."})
    effective_date = fields.Date()
    entry_count = fields.Integer()
    total_debits = Money()
    entry_hash = fields.String()


class DebitScheduled(Schema):
    account_number = fields.String()
    payment_number = fields.String()
    statement_number = fields.String()
    amount = Money()
    trace_number = fields.String()
    settles_on = fields.Date()


class AutopayRun(Schema):
    as_of = fields.Date()
    debits = fields.List(fields.Nested(DebitScheduled))
    total = Money()
    file = fields.Nested(FileWritten, allow_none=True, metadata={
        "description": "null when nothing was due, or the day's file was written already (a rerun adds nothing)."})


class StageChange(Schema):
    group_number = fields.String()
    account_number = fields.String()
    previous_stage = fields.String(validate=validate.OneOf(DELINQUENCY_STAGES))
    stage = fields.String(validate=validate.OneOf(DELINQUENCY_STAGES))
    paid_through = fields.Date(allow_none=True)
    amount_past_due = Money()


class DelinquencyRun(Schema):
    as_of = fields.Date()
    changes = fields.List(fields.Nested(StageChange))


# rpc -> (input schema of its JSON argument (None: path values only), output schema)
RPC_SCHEMAS = {
    "get_autopay": (None, AutoPay),
    "set_autopay": (AutoPayInput, AutoPay),
    "cancel_autopay": (None, AutoPay),
    "run_autopay": (JobInput, AutopayRun),
    "run_delinquency": (JobInput, DelinquencyRun),
}
