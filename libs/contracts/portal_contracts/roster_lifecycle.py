"""Wire schemas of the roster service's address and demographic changes, terminate and reinstate (a member, a
subscriber and family), transfer (issue 5).

Each change answers with its confirmation number, the transaction, and the family as it stands after it (the
subscriber page), plus what the change itself decided (the last covered day, the day coverage resumes, ...).
Causes travel as names and are kept as their ASC X12 834 INS04 codes (TERMINATION_CAUSES).
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal_contracts.roster_members import (CODE, GENDERS, NAME, SSN, FormInput, PersonAddress, Subscriber, Text,
                                             Transaction)

# Why coverage ends, and the X12 INS04 code each maps to. death: the event date is the date of death (coverage
# ends that day); divorce: a spouse or domestic partner only; termination_of_employment: the subscriber only.
TERMINATION_CAUSES = {
    "termination_of_benefits": "07",
    "termination_of_employment": "08",
    "death": "03",
    "divorce": "01",
}
TERMINATION_CAUSE_NAMES = {code: name for name, code in TERMINATION_CAUSES.items()}

NOTE = validate.Length(max=500)


def _something_given(data, names):
    if not any(name in data for name in names):
        raise ValidationError("Give at least one of: %s." % ", ".join(names), "_schema")


# --- input ----------------------------------------------------------------------------------------------

class AddressChangeInput(FormInput):
    """Either address or both. Dependents whose address was the subscriber's (or who have none) follow."""
    mailing_address = fields.Nested(PersonAddress, metadata={"description": "Absent: unchanged."})
    physical_address = fields.Nested(PersonAddress, allow_none=True, metadata={
        "description": "Absent: unchanged; null: none on file (the mailing address is where the member lives)."})

    @validates_schema
    def an_address(self, data, **kwargs):
        _something_given(data, ("mailing_address", "physical_address"))


DEMOGRAPHIC_FIELDS = ("first_name", "middle_name", "last_name", "date_of_birth", "gender", "ssn")


class DemographicsInput(FormInput):
    """Corrections of identifying data (834 reason 25); only the fields sent are changed. Correcting an SSN
    needs a role that may see SSNs (group admin, carrier staff)."""
    first_name = Text(validate=NAME)
    middle_name = Text(allow_none=True, validate=validate.Length(max=60))
    last_name = Text(validate=NAME)
    date_of_birth = fields.Date()
    gender = fields.String(validate=validate.OneOf(GENDERS))
    ssn = SSN()

    @validates_schema
    def a_correction(self, data, **kwargs):
        _something_given(data, DEMOGRAPHIC_FIELDS)


class TerminationInput(FormInput):
    event_date = fields.Date(required=True, metadata={
        "description": "The day of the event (for a death, the date of death). Coverage ends on the last day of "
                       "its month, or on the date of death; at most 60 days back."})
    cause = fields.String(required=True, validate=validate.OneOf(tuple(TERMINATION_CAUSES)), metadata={
        "description": "termination_of_benefits (X12 07), termination_of_employment (08, the subscriber), death "
                       "(03), divorce (01, a spouse or domestic partner)."})
    note = Text(load_default=None, allow_none=True, validate=NOTE)


class ReinstatementInput(FormInput):
    """The member's (or family's) last termination is undone: asked within 60 days of its termination date."""
    note = Text(load_default=None, allow_none=True, validate=NOTE)


class TransferInput(FormInput):
    to_subgroup_number = fields.String(required=True, validate=CODE)
    effective_date = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "Default: the first of next month; at most 60 days back."})
    plan_code = fields.String(load_default=None, allow_none=True, validate=CODE, metadata={
        "description": "A plan the target subgroup offers, when it does not offer the family's plan."})


# --- output ---------------------------------------------------------------------------------------------

class LifecycleResult(Schema):
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "completed, or pending (a future date, or carrier review)."})
    effective_date = fields.Date()
    member_ids = fields.List(fields.String(), metadata={"description": "The members the change applies to."})
    transaction = fields.Nested(Transaction)
    subscriber = fields.Nested(Subscriber, metadata={"description": "The family after the change."})


class AddressChangeResult(LifecycleResult):
    mailing_address = fields.Dict(allow_none=True)
    physical_address = fields.Dict(allow_none=True)


class DemographicsResult(LifecycleResult):
    changed_fields = fields.List(fields.String())


class TerminationResult(LifecycleResult):
    termination_date = fields.Date(metadata={"description": "The last day covered."})
    cause = fields.String(metadata={"description": "X12 INS04 code."})


class ReinstatementResult(LifecycleResult):
    reinstated_from = fields.Date(metadata={"description": "The day after the termination date."})
    terminated_by = fields.String(metadata={"description": "The confirmation number of the termination undone."})


class TransferResult(LifecycleResult):
    from_subgroup_number = fields.String()
    to_subgroup_number = fields.String()
    plan_code = fields.String()


# rpc -> (input schema of its JSON argument, output schema)
RPC_SCHEMAS = {
    "update_address": (AddressChangeInput, AddressChangeResult),
    "correct_demographics": (DemographicsInput, DemographicsResult),
    "terminate_coverage": (TerminationInput, TerminationResult),
    "reinstate_coverage": (ReinstatementInput, ReinstatementResult),
    "terminate_subscriber": (TerminationInput, TerminationResult),
    "reinstate_subscriber": (ReinstatementInput, ReinstatementResult),
    "transfer_subscriber": (TransferInput, TransferResult),
}
