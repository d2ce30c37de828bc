"""What each member-lifecycle event says changed (issue 5). Every one of these is a family event: the
family's whole state after the change (roster.events.FamilyChanged: members, coverage, the transaction with
its X12 maintenance type and reason) plus `change`, in the schema below. roster.events builds the event
schemas from FAMILY_CHANGES, each with its example (`_transaction`: the example transaction's type, codes
and date).

No SSNs, not even the last 4: a demographic correction names the fields it changed, never their values.
Addresses travel (carriers mail ID cards and notices to them, as an 834 would carry them).
"""
from marshmallow import Schema, fields

MEMBER_ADDRESS_CHANGED = "member_address_changed"
MEMBER_DEMOGRAPHICS_CHANGED = "member_demographics_changed"
COVERAGE_TERMINATED = "coverage_terminated"
COVERAGE_REINSTATED = "coverage_reinstated"
SUBSCRIBER_TERMINATED = "subscriber_terminated"
SUBSCRIBER_REINSTATED = "subscriber_reinstated"
MEMBER_TRANSFERRED = "member_transferred"
DEPENDENT_ADDED = "dependent_added"
DEPENDENT_REMOVED = "dependent_removed"
PCP_CHANGED = "pcp_changed"
ID_CARD_REQUESTED = "id_card_requested"
COBRA_ENROLLED = "cobra_enrolled"
COBRA_EXTENDED = "cobra_extended"
OPEN_ENROLLMENT_ELECTED = "open_enrollment_elected"


class Address(Schema):
    line1 = fields.String(required=True)
    line2 = fields.String(allow_none=True, load_default=None)
    city = fields.String(required=True)
    state = fields.String(required=True)
    zip = fields.String(required=True)


class AddressChange(Schema):
    member_ids = fields.List(fields.String(), required=True)   # the members whose address it now is
    mailing_address = fields.Nested(Address, allow_none=True, required=True)
    physical_address = fields.Nested(Address, allow_none=True, required=True)


class DemographicsChange(Schema):
    member_id = fields.String(required=True)
    changed_fields = fields.List(fields.String(), required=True)  # first_name, last_name, date_of_birth, gender, ssn


class TerminationChange(Schema):
    member_ids = fields.List(fields.String(), required=True)   # whose coverage ends
    termination_date = fields.Date(required=True)              # the last day covered
    cause = fields.String(required=True)                       # X12 INS04: 07, 08, 03 death, 59 non-payment, ...
    date_of_death = fields.Date(allow_none=True, load_default=None)


class ReinstatementChange(Schema):
    member_ids = fields.List(fields.String(), required=True)
    reinstated_from = fields.Date(required=True)               # the day after the termination date
    terminated_by = fields.String(required=True)               # the termination's confirmation number


class TransferChange(Schema):
    member_ids = fields.List(fields.String(), required=True)
    from_subgroup_number = fields.String(required=True)
    to_subgroup_number = fields.String(required=True)
    effective_date = fields.Date(required=True)


class DependentChange(Schema):
    member_id = fields.String(required=True)
    life_event = fields.String(required=True)                  # birth, marriage, divorce, death, court_order, ...
    event_date = fields.Date(required=True)
    effective_date = fields.Date(required=True)


class PcpChange(Schema):
    member_id = fields.String(required=True)
    plan_code = fields.String(required=True)
    npi = fields.String(required=True)
    provider_name = fields.String(required=True)
    effective_from = fields.Date(required=True)


class IdCardRequest(Schema):
    member_ids = fields.List(fields.String(), required=True)
    plan_codes = fields.List(fields.String(), required=True)
    mail_to = fields.Nested(Address, required=True)


class ContinuationChange(Schema):
    kind = fields.String(required=True)                        # cobra | state
    qualifying_event = fields.String(required=True)            # X12 INS07: 1 .. 7
    event_date = fields.Date(required=True)
    notice_date = fields.Date(required=True)
    election_date = fields.Date(required=True)
    coverage_from = fields.Date(required=True)
    coverage_through = fields.Date(required=True)
    months = fields.Integer(required=True)
    disability_extended = fields.Boolean(required=True)
    holder_member_id = fields.String(required=True)            # whose contract it is
    member_ids = fields.List(fields.String(), required=True)   # who elected


class OpenEnrollmentChange(Schema):
    plan_year_start = fields.Date(required=True)
    choice = fields.String(required=True)                      # begin | keep | decline
    plan_code = fields.String(allow_none=True, required=True)  # the plan from the plan year's start (None: declined)
    member_ids = fields.List(fields.String(), required=True)   # covered from the plan year's start
    decline_reason = fields.String(allow_none=True, load_default=None)
    alternate_plan = fields.String(allow_none=True, load_default=None)


_HOME = {"line1": "12 Orchard Ln", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
_FAMILY = ["M104729385", "M583920174", "M771204538"]
_CONTINUATION = {"kind": "cobra", "qualifying_event": "1", "event_date": "2027-02-28", "notice_date": "2027-03-05",
                 "election_date": "2027-04-20", "coverage_from": "2027-03-01", "coverage_through": "2028-08-31",
                 "months": 18, "disability_extended": False, "holder_member_id": "M104729385",
                 "member_ids": _FAMILY}


def _txn(type, maintenance_type, reason, effective_date):
    return {"type": type, "maintenance_type": maintenance_type, "reason": reason, "effective_date": effective_date}


# event type -> (change schema, example change with the example transaction under "_transaction")
FAMILY_CHANGES = {
    MEMBER_ADDRESS_CHANGED: (AddressChange, {
        "member_ids": _FAMILY, "mailing_address": _HOME, "physical_address": None,
        "_transaction": _txn("address_change", "001", "43", "2027-03-15")}),
    MEMBER_DEMOGRAPHICS_CHANGED: (DemographicsChange, {
        "member_id": "M583920174", "changed_fields": ["last_name", "date_of_birth"],
        "_transaction": _txn("demographic_change", "001", "25", "2027-03-15")}),
    COVERAGE_TERMINATED: (TerminationChange, {
        "member_ids": ["M583920174"], "termination_date": "2027-03-31", "cause": "07", "date_of_death": None,
        "_transaction": _txn("coverage_termination", "024", "07", "2027-03-31")}),
    COVERAGE_REINSTATED: (ReinstatementChange, {
        "member_ids": ["M583920174"], "reinstated_from": "2027-04-01", "terminated_by": "E270402K7Q2MZ",
        "_transaction": _txn("coverage_reinstatement", "025", "41", "2027-04-01")}),
    SUBSCRIBER_TERMINATED: (TerminationChange, {
        "member_ids": _FAMILY, "termination_date": "2027-02-28", "cause": "08", "date_of_death": None,
        "_transaction": _txn("subscriber_termination", "024", "08", "2027-02-28")}),
    SUBSCRIBER_REINSTATED: (ReinstatementChange, {
        "member_ids": _FAMILY, "reinstated_from": "2027-03-01", "terminated_by": "E270301A4B5C6",
        "_transaction": _txn("subscriber_reinstatement", "025", "41", "2027-03-01")}),
    MEMBER_TRANSFERRED: (TransferChange, {
        "member_ids": _FAMILY, "from_subgroup_number": "001", "to_subgroup_number": "002",
        "effective_date": "2027-04-01", "_transaction": _txn("transfer", "001", "XT", "2027-04-01")}),
    DEPENDENT_ADDED: (DependentChange, {
        "member_id": "M771204538", "life_event": "birth", "event_date": "2027-03-02",
        "effective_date": "2027-03-02", "_transaction": _txn("dependent_addition", "021", "02", "2027-03-02")}),
    DEPENDENT_REMOVED: (DependentChange, {
        "member_id": "M583920174", "life_event": "divorce", "event_date": "2027-03-10",
        "effective_date": "2027-03-31", "_transaction": _txn("dependent_removal", "024", "01", "2027-03-31")}),
    PCP_CHANGED: (PcpChange, {
        "member_id": "M104729385", "plan_code": "MED-HMO-500", "npi": "1234567893", "provider_name": "Ana Ruiz, MD",
        "effective_from": "2027-04-01", "_transaction": _txn("pcp_change", "001", "15", "2027-04-01")}),
    ID_CARD_REQUESTED: (IdCardRequest, {
        "member_ids": _FAMILY, "plan_codes": ["MED-PPO-1500"], "mail_to": _HOME,
        "_transaction": _txn("id_card_request", "030", None, "2027-03-15")}),
    COBRA_ENROLLED: (ContinuationChange, dict(
        _CONTINUATION, _transaction=_txn("cobra_enrollment", "021", "09", "2027-03-01"))),
    COBRA_EXTENDED: (ContinuationChange, dict(
        _CONTINUATION, months=29, coverage_through="2029-07-31", disability_extended=True,
        _transaction=_txn("cobra_extension", "001", "09", "2027-03-01"))),
    OPEN_ENROLLMENT_ELECTED: (OpenEnrollmentChange, {
        "plan_year_start": "2028-01-01", "choice": "decline", "plan_code": None, "member_ids": [],
        "decline_reason": "spouse_group_coverage", "alternate_plan": "Acme Corp PPO",
        "_transaction": _txn("open_enrollment_decline", "024", "26", "2027-12-31")}),
}
