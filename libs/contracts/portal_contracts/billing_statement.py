"""Wire schemas of the billing service: the statement run (issue 6). Carrier staff run it for a business date
(the daily job does it on its own); what it cut is read through the invoice paths (billing_invoice)."""
from marshmallow import Schema, fields

from portal_contracts.roster_members import FormInput


# --- input ----------------------------------------------------------------------------------------------

class RunStatementsInput(FormInput):
    as_of = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The business date to run for (default: today's). From the 15th on, the statements of "
                       "the next coverage month are cut; before the 15th there is nothing new to cut."})


# --- output ---------------------------------------------------------------------------------------------

class AccountNotCut(Schema):
    account_number = fields.String()
    detail = fields.String(metadata={"description": "Why, e.g. the plan and rate key with no rate loaded."})


class StatementRun(Schema):
    coverage_month = fields.Date(allow_none=True, metadata={
        "description": "The 1st of the month cut (null before the 15th: nothing to cut)."})
    statements = fields.Integer(metadata={"description": "Statements this run cut."})
    skipped = fields.Integer(metadata={"description": "Active accounts already cut for the month (earlier, or "
                                                     "by another replica)."})
    errors = fields.List(fields.Nested(AccountNotCut), metadata={
        "description": "Accounts not cut; a later run cuts them once the cause is fixed."})


# The statement RPCs: (input, output). `input` loads the RPC's JSON argument (None: path values only).
RPC_SCHEMAS = {
    "run_statements": (RunStatementsInput, StatementRun),
}
