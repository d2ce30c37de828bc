"""Wire schemas of the billing service: billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6).

Amounts are Money ("1234.50" strings, Decimal in Python). A rate key is a tier (composite rating: EMP, ESP,
ECH, FAM, the X12 HD05 coverage levels a plan is sold in) or an ACA age band (age_rated: "0-14", "15" ...
"63", "64+", by the member's age at the plan year's start).
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal_contracts.forms import Input
from portal_contracts.money import Money

RATING_METHODS = ("composite", "age_rated")
PRORATIONS = ("none", "daily", "fifteenth")
COBRA_BILLING = ("group_billed", "direct_billed")
POLICY_FIELDS = ("rating_method", "proration", "grace_days", "cobra_billing", "retro_window_days")
CODE = validate.Regexp(r"^[A-Za-z0-9-]{1,20}$", error="Use 1 to 20 letters, digits or dashes.")
RATE_KEY = validate.Regexp(r"^[A-Za-z0-9+-]{1,8}$", error="A tier (EMP, ESP, ECH, FAM) or an age band (0-14, 15 .. "
                                                           "63, 64+).")
# Numeric(12, 2) holds less than 10 billion; no monthly premium comes near a million.
RATE_AMOUNT = validate.Range(min=0, min_inclusive=False, max=1000000, max_inclusive=False,
                             error="A rate is more than 0.00 and less than 1000000.00.")


# --- input ----------------------------------------------------------------------------------------------

class BillingPolicyInput(Input):
    """The fields sent replace the group's; those left out keep their value (defaults: composite, none, 31,
    group_billed, 60)."""
    rating_method = fields.String(validate=validate.OneOf(RATING_METHODS), metadata={
        "description": "composite (per subscriber by tier) or age_rated (per covered member by ACA age band)."})
    proration = fields.String(validate=validate.OneOf(PRORATIONS), metadata={
        "description": "Mid-month changes: none (a month is billed in full if coverage covers its first day), "
                       "daily (covered days / days in the month) or fifteenth (in full if it covers the 15th)."})
    grace_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=90), metadata={
        "description": "Days after the due date before coverage terminates for non-payment (31 by default)."})
    cobra_billing = fields.String(validate=validate.OneOf(COBRA_BILLING), metadata={
        "description": "group_billed (COBRA members on the group's statement at 100 %) or direct_billed (not on "
                       "the group's statement)."})
    retro_window_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=365), metadata={
        "description": "How far back a change may still adjust months already billed (60 by default)."})

    @validates_schema
    def something_to_set(self, data, **kwargs):
        if not any(name in data for name in POLICY_FIELDS):
            raise ValidationError("Give at least one of: %s." % ", ".join(POLICY_FIELDS), "_schema")


class RateInput(Input):
    plan_code = fields.String(required=True, validate=CODE)
    rate_key = fields.String(required=True, validate=RATE_KEY, metadata={
        "description": "A tier (composite) or an ACA age band (age_rated)."})
    amount = Money(required=True, validate=RATE_AMOUNT, metadata={"description": "The monthly premium."})


class RateSheetInput(Input):
    """A plan year's rates of some plans: they replace what those plans had for that plan year. After the load
    every plan offered to any subgroup in the plan year needs the full set of keys of the group's rating
    method; a 422 names each missing or unknown key by plan code (errors.rates.<plan code>)."""
    plan_year_start = fields.Date(required=True, metadata={
        "description": "The first day of the plan year (the group's renewal day)."})
    rates = fields.List(fields.Nested(RateInput), required=True, validate=validate.Length(min=1, max=5000))


class RatesQuery(Input):
    plan_year_start = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "Any day of the plan year wanted; default: today's plan year."})


# --- output ---------------------------------------------------------------------------------------------

class BillingPolicy(Schema):
    group_number = fields.String()
    legal_name = fields.String()
    rating_method = fields.String()
    proration = fields.String()
    grace_days = fields.Integer()
    cobra_billing = fields.String()
    retro_window_days = fields.Integer()
    updated_at = fields.AwareDateTime(allow_none=True)


class Rate(Schema):
    rate_key = fields.String()
    amount = Money()


class PlanRates(Schema):
    plan_code = fields.String()
    tiers = fields.List(fields.String(), metadata={"description": "The tiers the plan is sold in this plan year."})
    subgroups = fields.List(fields.String(), metadata={
        "description": "The subgroups (of those the caller sees) offered the plan this plan year."})
    rates = fields.List(fields.Nested(Rate))
    missing_rate_keys = fields.List(fields.String(), metadata={
        "description": "Keys the rating method needs that have no rate yet (empty when the sheet is complete)."})


class GroupRates(Schema):
    group_number = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    rating_method = fields.String()
    plans = fields.List(fields.Nested(PlanRates))


class LastStatement(Schema):
    statement_number = fields.String()
    coverage_month = fields.Date()
    due_date = fields.Date()
    amount_due = Money(metadata={"description": "The ledger balance when the statement was cut."})


class AutoPayStatus(Schema):
    active = fields.Boolean()
    days_before_due = fields.Integer(allow_none=True)


class AccountBilling(Schema):
    account_number = fields.String()
    subgroup_number = fields.String()
    name = fields.String()
    status = fields.String()
    balance = Money(metadata={"description": "The ledger balance now (negative: a credit)."})
    amount_due = Money(metadata={"description": "The balance when positive, else 0.00."})
    credit_balance = Money(metadata={"description": "An overpayment left on the account, else 0.00."})
    due_date = fields.Date(allow_none=True, metadata={"description": "The due date of the newest statement."})
    last_statement = fields.Nested(LastStatement, allow_none=True)
    paid_through = fields.Date(allow_none=True, metadata={
        "description": "The last day of the last fully paid coverage month (null: nothing paid yet)."})
    delinquency_stage = fields.String(metadata={
        "description": "current, past_due, in_grace or terminated_nonpayment."})
    autopay = fields.Nested(AutoPayStatus)


class BillingTotals(Schema):
    balance = Money()
    amount_due = Money()
    credit_balance = Money()


class GroupBilling(Schema):
    group_number = fields.String()
    legal_name = fields.String()
    scope = fields.String(metadata={"description": "group (every account, with totals) or subgroups (only the "
                                                   "accounts of the caller's subgroups, no group totals)."})
    accounts = fields.List(fields.Nested(AccountBilling))
    totals = fields.Nested(BillingTotals, allow_none=True, metadata={
        "description": "The sum over the group's accounts; null for a caller limited to some subgroups."})


class DashboardBilling(Schema):
    group_number = fields.String()
    scope = fields.String(metadata={"description": "group, or subgroups: the sum of the caller's accounts only."})
    amount_due = Money()
    due_date = fields.Date(allow_none=True, metadata={"description": "The newest statement's due date."})


# rpc -> (input schema of its JSON argument or query, output schema). None: only path values.
RPC_SCHEMAS = {
    "set_billing_policy": (BillingPolicyInput, BillingPolicy),
    "load_rates": (RateSheetInput, GroupRates),
    "get_rates": (RatesQuery, GroupRates),
    "get_billing": (None, GroupBilling),
    "dashboard": (None, DashboardBilling(many=True)),
}
