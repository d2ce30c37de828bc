"""Wire schemas of the roster service's renewal (plan year load, notices, the renewal-date carry-over) and open enrollment (issue 5).

Carrier staff load the next plan year (offerings per subgroup and the retired plan -> replacement mappings);
during open enrollment (30 days before the renewal date to the day before) the group records each
subscriber's choice: begin (a plan of the new year and who is covered), keep, or decline with a reason.
Dates travel as YYYY-MM-DD. `RPC_SCHEMAS` at the bottom says which class goes with which RPC.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal_contracts.roster_groups import Plan
from portal_contracts.roster_members import CODE, MEMBER_ID, FormInput, Text, Transaction

PLAN_CODE = validate.Regexp(r"^[A-Z0-9-]{2,20}$", error="2 to 20 of A-Z, 0-9, -.")

BEGIN, KEEP, DECLINE = "begin", "keep", "decline"
CHOICES = (BEGIN, KEEP, DECLINE)
# DOMAIN.md's decline (waiver) reasons, as codes.
DECLINE_REASONS = ("other_employer_coverage", "spouse_group_coverage", "parent_group_coverage",
                   "individual_coverage", "cobra_elsewhere", "medicare", "medicaid", "va_tricare", "no_coverage",
                   "voluntary_withdrawal")


# --- input ----------------------------------------------------------------------------------------------

class SubgroupOfferingInput(FormInput):
    subgroup_number = fields.String(required=True, validate=CODE)
    plan_codes = fields.List(fields.String(validate=PLAN_CODE), required=True,
                             validate=validate.Length(min=1, max=50))


class PlanMappingInput(FormInput):
    from_plan_code = fields.String(required=True, validate=PLAN_CODE,
                                   metadata={"description": "A plan of the ending plan year."})
    to_plan_code = fields.String(required=True, validate=PLAN_CODE,
                                 metadata={"description": "The plan its members carry over into."})


class PlanYearInput(FormInput):
    plan_year_start = fields.Date(required=True, metadata={
        "description": "The group's renewal date: the day after the current plan year ends."})
    offerings = fields.List(fields.Nested(SubgroupOfferingInput), required=True,
                            validate=validate.Length(min=1, max=500))
    plan_mappings = fields.List(fields.Nested(PlanMappingInput), load_default=list,
                                validate=validate.Length(max=200))


class OpenEnrollmentElectionInput(FormInput):
    choice = fields.String(required=True, validate=validate.OneOf(CHOICES))
    plan_code = fields.String(load_default=None, allow_none=True, validate=PLAN_CODE, metadata={
        "description": "begin: a plan offered to the subscriber's subgroup in the new plan year."})
    dependent_member_ids = fields.List(fields.String(validate=MEMBER_ID), load_default=list, metadata={
        "description": "begin: the dependents covered from the renewal date (the subscriber always is)."})
    decline_reason = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(DECLINE_REASONS))
    alternate_plan = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=120), metadata={
        "description": "decline: the name of the other plan the family has, where given."})

    @validates_schema
    def fields_of_the_choice(self, data, **kwargs):
        errors = {}
        choice = data.get("choice")
        if choice == BEGIN and not data.get("plan_code"):
            errors["plan_code"] = ["Choose the plan to begin."]
        if choice == DECLINE and not data.get("decline_reason"):
            errors["decline_reason"] = ["Give the reason for declining."]
        if choice != BEGIN:
            for name in ("plan_code", "dependent_member_ids"):
                if data.get(name):
                    errors[name] = ["Only with choice begin."]
        if choice != DECLINE:
            for name in ("decline_reason", "alternate_plan"):
                if data.get(name):
                    errors[name] = ["Only with choice decline."]
        if len(set(data.get("dependent_member_ids") or ())) != len(data.get("dependent_member_ids") or ()):
            errors["dependent_member_ids"] = ["Each dependent once."]
        if errors:
            raise ValidationError(errors)


class RunRenewalsInput(FormInput):
    as_of = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The business date to run for (notices due, renewal dates reached); default: today's."})


# --- output ---------------------------------------------------------------------------------------------

class NewYearOffering(Schema):
    subgroup_number = fields.String()
    plans = fields.List(fields.Nested(Plan))


class RetiredPlanMapping(Schema):
    from_plan_code = fields.String()
    to_plan_code = fields.String()


class LoadedPlanYear(Schema):
    group_number = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    open_enrollment_start = fields.Date()
    open_enrollment_end = fields.Date()
    loaded_by = fields.String(allow_none=True)
    loaded_at = fields.DateTime()
    renewed_at = fields.DateTime(allow_none=True)
    offerings = fields.List(fields.Nested(NewYearOffering))
    plan_mappings = fields.List(fields.Nested(RetiredPlanMapping))


class OpenEnrollmentCounts(Schema):
    begin = fields.Integer()
    keep = fields.Integer()
    decline = fields.Integer()
    not_elected = fields.Integer(metadata={"description": "Covered subscribers without a choice (they carry over)."})


class OpenEnrollment(Schema):
    group_number = fields.String()
    renewal_date = fields.Date()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    open_enrollment_start = fields.Date()
    open_enrollment_end = fields.Date()
    is_open = fields.Boolean()
    plan_year_loaded = fields.Boolean()
    rates_loaded = fields.Boolean(metadata={
        "description": "Billing holds a complete rate sheet for every plan offered: choices may be made."})
    offerings = fields.List(fields.Nested(NewYearOffering), metadata={
        "description": "The new plan year's plans of the subgroups the caller may see."})
    plan_mappings = fields.List(fields.Nested(RetiredPlanMapping))
    elections = fields.Nested(OpenEnrollmentCounts)


class OpenEnrollmentElection(Schema):
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "The transaction's: pending, completed or cancelled."})
    choice = fields.String()
    plan_year_start = fields.Date()
    plan_code = fields.String(allow_none=True)
    member_ids = fields.List(fields.String(), metadata={"description": "Covered from the plan year's start."})
    decline_reason = fields.String(allow_none=True)
    alternate_plan = fields.String(allow_none=True)
    superseded = fields.Boolean()
    elected_at = fields.DateTime()


class OpenEnrollmentElected(Schema):
    confirmation_number = fields.String()
    status = fields.String()
    effective_date = fields.Date()
    transaction = fields.Nested(Transaction)
    election = fields.Nested(OpenEnrollmentElection)
    superseded_confirmation_number = fields.String(allow_none=True)


class SubscriberOpenEnrollment(Schema):
    subscriber_member_id = fields.String()
    plan_year_start = fields.Date()
    open_enrollment_start = fields.Date()
    open_enrollment_end = fields.Date()
    is_open = fields.Boolean()
    election = fields.Nested(OpenEnrollmentElection, allow_none=True,
                             metadata={"description": "The choice in force, if any."})
    history = fields.List(fields.Nested(OpenEnrollmentElection),
                          metadata={"description": "Every choice, newest first."})


class RenewalNotice(Schema):
    group_number = fields.String()
    renewal_date = fields.Date()
    days_before = fields.Integer()


class GroupRenewal(Schema):
    group_number = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    carried_over = fields.Integer()
    kept = fields.Integer()
    began = fields.Integer()
    declined = fields.Integer()


class RenewalRun(Schema):
    as_of = fields.Date()
    notices = fields.List(fields.Nested(RenewalNotice))
    renewed = fields.List(fields.Nested(GroupRenewal))


# The renewal RPCs: (input, output). `input` loads the RPC's JSON argument (None: path values only).
RPC_SCHEMAS = {
    "load_plan_year": (PlanYearInput, LoadedPlanYear),
    "get_open_enrollment": (None, OpenEnrollment),
    "elect_open_enrollment": (OpenEnrollmentElectionInput, OpenEnrollmentElected),
    "get_open_enrollment_election": (None, SubscriberOpenEnrollment),
    "run_renewals": (RunRenewalsInput, RenewalRun),
}
