"""Wire schemas of the roster service's member side (issue 3): new enrollment, census import, member
search, roster export, subscriber details and enrollment transactions.

The roster service loads its RPC input with these classes (servicekit.errors.load_input) and dumps its
answers with them; the gateway validates HTTP bodies and query strings with the same classes and builds
the OpenAPI document from them. `RPC_SCHEMAS` at the bottom says which class goes with which RPC.

Codes are ASC X12 834's (DOMAIN.md): relationship INS02, maintenance type INS03, reason INS04, tier HD05.
Dates travel as YYYY-MM-DD, times as UTC ISO-8601. SSNs come in as 9 digits (NNN-NN-NNNN accepted) and go
out masked ("***-**-1234") unless the caller may see them (group admins and carrier staff); the service
decides which before it dumps.
"""
import re

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

# --- vocabularies ---------------------------------------------------------------------------------------

# Dependent relationships on the wire, and the X12 INS02 code each maps to. The subscriber is "18" (self).
RELATIONSHIPS = {
    "spouse": "01",
    "domestic_partner": "53",
    "child": "19",
    "adopted_child": "09",
    "stepchild": "17",
    "foster_child": "10",
    "ward": "15",
    "other": "G8",
}
SUBSCRIBER_RELATIONSHIP = "subscriber"
SUBSCRIBER_CODE = "18"
RELATIONSHIP_NAMES = {code: name for name, code in RELATIONSHIPS.items()} | {SUBSCRIBER_CODE: SUBSCRIBER_RELATIONSHIP}

GENDERS = ("M", "F", "U")
# X12 marital status: I single, M married, D divorced, W widowed, R registered partner, U unknown.
MARITAL_STATUSES = ("I", "M", "D", "W", "R", "U")
EMPLOYMENT_STATUSES = ("active", "leave", "retired")

# A member's status, kept current for search: prospective = an enrollment pending a future effective date;
# pending = an enrollment held for carrier review; declined = a dependent recorded without coverage (other
# coverage); cancelled = an enrollment cancelled or rejected before it took effect (left out of searches
# unless asked for).
MEMBER_STATUSES = ("prospective", "pending", "active", "cobra", "terminated", "declined", "cancelled")
TIERS = ("EMP", "ESP", "ECH", "FAM")
TRANSACTION_STATUSES = ("pending", "completed", "rejected", "cancelled")
EXPORT_FORMATS = ("csv", "xlsx")
MAX_PAGE_SIZE = 200

NAME = validate.Length(min=1, max=60)
CODE = validate.Regexp(r"^[A-Za-z0-9-]{1,20}$", error="Use 1 to 20 letters, digits or dashes.")
MEMBER_ID = validate.Regexp(r"^[Mm]\d{9}$", error="A member id is M followed by 9 digits.")

_SSN_FORMAT = re.compile(r"^(?:(\d{3})-(\d{2})-(\d{4})|(\d{3})(\d{2})(\d{4}))$")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Text(fields.String):
    """A string with surrounding blanks removed before validation (names typed into a form)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _strip(super()._deserialize(value, attr, data, **kwargs))


class SSN(fields.String):
    """A Social Security number: 9 digits, or NNN-NN-NNNN; loads as the 9 digits.

    Numbers the SSA never issues are refused: area 000, 666 or 900-999, group 00, serial 0000.
    Error messages never repeat the number (personal data must not reach logs or problem bodies).
    """
    default_error_messages = {
        "format": "Enter 9 digits, e.g. 123-45-6789.",
        "never_issued": "This is not a valid SSN (area 000, 666 or 9xx, group 00 or serial 0000 are never issued).",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        text = _strip(super()._deserialize(value, attr, data, **kwargs))
        match = _SSN_FORMAT.match(text)
        if not match:
            raise self.make_error("format")
        area, group, serial = [part for part in match.groups() if part is not None]
        if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
            raise self.make_error("never_issued")
        return area + group + serial


# --- input ----------------------------------------------------------------------------------------------

class FormInput(Schema):
    """Input as a form or a query string sends it: a field left blank ("" or spaces) counts as absent, so an
    optional one takes its default and a required one says it is missing."""

    @pre_load
    def blanks_are_absent(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}


class PersonAddress(FormInput):
    line1 = Text(required=True, validate=validate.Length(min=1, max=100))
    line2 = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    city = Text(required=True, validate=validate.Length(min=1, max=60))
    state = Text(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="Use the 2-letter state code."))
    zip = Text(required=True, validate=validate.Regexp(r"^\d{5}(-\d{4})?$", error="Use 12345 or 12345-6789."))


class SubscriberInput(FormInput):
    first_name = Text(required=True, validate=NAME)
    middle_name = Text(load_default=None, allow_none=True, validate=validate.Length(max=60))
    last_name = Text(required=True, validate=NAME)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    marital_status = fields.String(required=True, validate=validate.OneOf(MARITAL_STATUSES))
    ssn = SSN(required=True)
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = Text(load_default=None, allow_none=True,
                 validate=validate.Regexp(r"^[0-9+() .-]{7,30}$", error="Enter a phone number."))
    mailing_address = fields.Nested(PersonAddress, required=True)
    physical_address = fields.Nested(PersonAddress, load_default=None, allow_none=True)
    hire_date = fields.Date(required=True)
    employment_status = fields.String(required=True, validate=validate.OneOf(EMPLOYMENT_STATUSES))


class DependentInput(FormInput):
    relationship = fields.String(required=True, validate=validate.OneOf(tuple(RELATIONSHIPS)))
    first_name = Text(required=True, validate=NAME)
    middle_name = Text(load_default=None, allow_none=True, validate=validate.Length(max=60))
    last_name = Text(required=True, validate=NAME)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    # Optional only for a dependent under one year old (a newborn may not have one yet); the service
    # checks that against the business date, which a schema cannot know.
    ssn = SSN(load_default=None, allow_none=True)
    elect_coverage = fields.Boolean(load_default=True)
    other_coverage = Text(load_default=None, allow_none=True, validate=validate.Length(max=120),
                          metadata={"description": "The other plan's name; required when elect_coverage is false."})
    disabled = fields.Boolean(load_default=False,
                              metadata={"description": "A disabled child may stay covered past 26."})

    @validates_schema
    def other_coverage_when_declining(self, data, **kwargs):
        if data.get("elect_coverage") is False and not data.get("other_coverage"):
            raise ValidationError("Name the dependent's other medical coverage when not electing this plan.",
                                  "other_coverage")


class EnrollmentInput(FormInput):
    subgroup_number = fields.String(required=True, validate=CODE)
    plan_code = fields.String(required=True, validate=CODE)
    subscriber = fields.Nested(SubscriberInput, required=True)
    dependents = fields.List(fields.Nested(DependentInput), load_default=list, validate=validate.Length(max=20))
    effective_date = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "A requested later start; never earlier than the group's eligibility policy allows, "
                       "never later than day 91 after hire."})


class Paging(FormInput):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class SearchFilters(Paging):
    q = Text(load_default=None, validate=validate.Length(min=1, max=121), metadata={
        "description": "Name prefix, case-insensitive: 'smi' (last name), 'smith, jo' (last, first) or "
                       "'jo smith' (first last)."})
    member_id = fields.String(load_default=None, validate=MEMBER_ID)
    last_name = Text(load_default=None, validate=NAME, metadata={"description": "Last-name prefix."})
    first_name = Text(load_default=None, validate=NAME, metadata={"description": "First-name prefix."})
    date_of_birth = fields.Date(load_default=None)
    ssn_last4 = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}$", error="Enter 4 digits."))
    subgroup = fields.String(load_default=None, validate=CODE)
    status = fields.String(load_default=None, validate=validate.OneOf(MEMBER_STATUSES))

    @post_load
    def normalise_member_id(self, data, **kwargs):
        if data.get("member_id"):
            data["member_id"] = data["member_id"].upper()
        return data


class ExportFilters(FormInput):
    subgroup = fields.String(load_default=None, validate=CODE)
    status = fields.String(load_default=None, validate=validate.OneOf(MEMBER_STATUSES))
    prospective = fields.Boolean(load_default=False, metadata={"description": "Prospective subscribers only."})


class ExportQuery(ExportFilters):
    """The query string of the roster export path: the filters and the file format."""
    format = fields.String(load_default="csv", validate=validate.OneOf(EXPORT_FORMATS))


class TransactionFilters(Paging):
    date_from = fields.Date(load_default=None, metadata={"description": "Requested on or after (business date)."})
    date_to = fields.Date(load_default=None, metadata={"description": "Requested on or before (business date)."})
    type = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    status = fields.String(load_default=None, validate=validate.OneOf(TRANSACTION_STATUSES))
    member_id = fields.String(load_default=None, validate=MEMBER_ID,
                              metadata={"description": "Transactions of this member's family."})
    requested_by = fields.String(load_default=None, validate=validate.Length(min=1, max=64))

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("date_to is before date_from.", "date_to")

    @post_load
    def normalise_member_id(self, data, **kwargs):
        if data.get("member_id"):
            data["member_id"] = data["member_id"].upper()
        return data


class HeldTransactionFilters(Paging):
    group_number = fields.String(load_default=None, validate=CODE)


class TransactionEdit(FormInput):
    """What may change on a pending transaction."""
    effective_date = fields.Date(load_default=None)
    plan_code = fields.String(load_default=None, validate=CODE)

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if data.get("effective_date") is None and data.get("plan_code") is None:
            raise ValidationError("Give a new effective_date or plan_code.", "_schema")


class CancelInput(FormInput):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class RejectInput(FormInput):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class ApproveInput(FormInput):
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CompleteDueInput(FormInput):
    as_of = fields.Date(load_default=None, allow_none=True,
                        metadata={"description": "Complete what is due on this date; default: the business date."})


class CensusImportInput(Schema):
    csv_text = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "CSV with a header row: subgroup_number, plan_code, relationship (self for the "
                       "subscriber), subscriber_ssn (a dependent's subscriber), first_name, last_name, "
                       "date_of_birth, gender, ssn, hire_date, effective_date; optional middle_name, "
                       "marital_status, employment_status, email, phone, mailing_line1, mailing_line2, "
                       "mailing_city, mailing_state, mailing_zip, disabled."})


# --- output ---------------------------------------------------------------------------------------------

class Coverage(Schema):
    plan_code = fields.String()
    plan_name = fields.String()
    tier = fields.String()
    effective_from = fields.Date()
    effective_through = fields.Date(allow_none=True)
    status = fields.String()
    reason = fields.String()
    continuation = fields.String(allow_none=True, metadata={"description": "cobra or state: continuation coverage."})


class MemberSummary(Schema):
    """A search row: the member and their current coverage."""
    member_id = fields.String()
    subscriber_member_id = fields.String()
    relationship = fields.String()
    relationship_code = fields.String()
    first_name = fields.String()
    middle_name = fields.String(allow_none=True)
    last_name = fields.String()
    date_of_birth = fields.Date()
    gender = fields.String()
    ssn = fields.String(allow_none=True, metadata={"description": "***-**-1234 unless the caller may see SSNs."})
    subgroup_number = fields.String()
    plan_code = fields.String(allow_none=True)
    tier = fields.String(allow_none=True)
    effective_from = fields.Date(allow_none=True)
    effective_through = fields.Date(allow_none=True)
    status = fields.String()
    also_dependent_elsewhere = fields.Boolean()


class MemberPage(Schema):
    items = fields.List(fields.Nested(MemberSummary))
    total = fields.Integer()
    page = fields.Integer()
    limit = fields.Integer()


class Transaction(Schema):
    confirmation_number = fields.String()
    group_number = fields.String()
    subgroup_number = fields.String(allow_none=True)
    subscriber_member_id = fields.String(allow_none=True)
    member_id = fields.String(allow_none=True)
    type = fields.String()
    maintenance_type = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    status = fields.String()
    effective_date = fields.Date()
    requested_by = fields.String(allow_none=True)
    requested_at = fields.DateTime()
    hold_reason = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    request = fields.Dict()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class TransactionPage(Schema):
    items = fields.List(fields.Nested(Transaction))
    total = fields.Integer()
    page = fields.Integer()
    limit = fields.Integer()


class PcpSummary(Schema):
    """A member's primary care provider in one plan, from a date (issue 5)."""
    npi = fields.String()
    name = fields.String()
    specialty = fields.String()
    phone = fields.String(allow_none=True)
    plan_code = fields.String()
    effective_from = fields.Date()
    effective_through = fields.Date(allow_none=True)


class IdCardSummary(Schema):
    """One ID card of a member: one per plan of the current (or next pending) coverage (issue 5)."""
    card_id = fields.String(metadata={"description": "<member id>-<plan code>; GET …/id-cards/{card_id}.pdf"})
    plan_code = fields.String()
    plan_name = fields.String()
    effective_date = fields.Date()


class MemberCare(Schema):
    """What the subscriber page shows of each member's care (issue 5)."""
    pcp = fields.Nested(PcpSummary, allow_none=True, metadata={"description": "The current PCP, if any."})
    pcp_required = fields.Boolean(metadata={"description": "The plan requires a PCP and none is on file."})
    id_cards = fields.List(fields.Nested(IdCardSummary))


class FamilyMemberDetails(MemberCare):
    """What the subscriber page shows of every member of the family, the subscriber and each dependent."""
    member_id = fields.String()
    relationship = fields.String()
    relationship_code = fields.String()
    first_name = fields.String()
    middle_name = fields.String(allow_none=True)
    last_name = fields.String()
    date_of_birth = fields.Date()
    gender = fields.String()
    ssn = fields.String(allow_none=True)
    status = fields.String()
    also_dependent_elsewhere = fields.Boolean()
    coverage = fields.List(fields.Nested(Coverage), metadata={"description": "Coverage history, oldest first."})


class Dependent(FamilyMemberDetails):
    disabled = fields.Boolean()
    other_coverage = fields.String(allow_none=True)


class Subscriber(FamilyMemberDetails):
    """A subscriber's details, dependents, coverage history and the family's transactions."""
    group_number = fields.String()
    subgroup_number = fields.String()
    marital_status = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    mailing_address = fields.Dict(allow_none=True)
    physical_address = fields.Dict(allow_none=True)
    hire_date = fields.Date(allow_none=True)
    employment_status = fields.String(allow_none=True)
    dependents = fields.List(fields.Nested(Dependent))
    transactions = fields.List(fields.Nested(Transaction), metadata={"description": "Newest first."})


class EnrollmentFlag(Schema):
    """Something the enrollment allows but somebody should know, e.g. a person covered in two families."""
    code = fields.String()
    person = fields.String(metadata={"description": "subscriber, or dependents.N (0-based)"})
    member_id = fields.String(allow_none=True)
    detail = fields.String()


class PlanChoice(Schema):
    plan_code = fields.String()
    name = fields.String()
    product = fields.String()
    plan_type = fields.String()
    network = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()


class PreviewPerson(Schema):
    person = fields.String()
    relationship = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    date_of_birth = fields.Date()
    ssn = fields.String(allow_none=True)
    elect_coverage = fields.Boolean()
    other_coverage = fields.String(allow_none=True)


class EnrollmentPreview(Schema):
    """The review page before confirming: nothing is written."""
    subgroup_number = fields.String()
    effective_date = fields.Date()
    status = fields.String(metadata={"description": "What confirming would give: completed or pending."})
    hold_reason = fields.String(allow_none=True)
    tier = fields.String()
    reason = fields.String(metadata={"description": "X12 INS04: 28 initial enrollment, 41 re-enrollment."})
    plan = fields.Nested(PlanChoice)
    members = fields.List(fields.Nested(PreviewPerson))
    flags = fields.List(fields.Nested(EnrollmentFlag))


class EnrollmentResult(Schema):
    confirmation_number = fields.String()
    status = fields.String()
    effective_date = fields.Date()
    subscriber = fields.Nested(Subscriber)
    transaction = fields.Nested(Transaction)
    flags = fields.List(fields.Nested(EnrollmentFlag))


class CensusRowReport(Schema):
    row = fields.Integer(metadata={"description": "Line number in the file; the header is row 1."})
    member_id = fields.String()
    subscriber_member_id = fields.String()
    relationship = fields.String()
    confirmation_number = fields.String()
    status = fields.String()


class CensusReport(Schema):
    imported = fields.Integer()
    families = fields.Integer()
    rows = fields.List(fields.Nested(CensusRowReport))


class RosterExport(Schema):
    filename = fields.String()
    content_type = fields.String()
    content_base64 = fields.String()
    rows = fields.Integer()


class CompletedCount(Schema):
    completed = fields.Integer()


# The member side's RPCs: (input, output). `input` loads the RPC's JSON argument (None: path values only), `output` dumps
# the answer. The gateway validates with `input` and documents both.
RPC_SCHEMAS = {
    "preview_enrollment": (EnrollmentInput, EnrollmentPreview),
    "enroll_subscriber": (EnrollmentInput, EnrollmentResult),
    "import_census": (CensusImportInput, CensusReport),
    "search_members": (SearchFilters, MemberPage),
    "export_roster": (ExportQuery, RosterExport),
    "get_subscriber": (None, Subscriber),
    "list_transactions": (TransactionFilters, TransactionPage),
    "get_transaction": (None, Transaction),
    "edit_transaction": (TransactionEdit, Transaction),
    "cancel_transaction": (CancelInput, Transaction),
    "list_held_transactions": (HeldTransactionFilters, TransactionPage),
    "approve_transaction": (ApproveInput, Transaction),
    "reject_transaction": (RejectInput, Transaction),
    "complete_due_transactions": (CompleteDueInput, CompletedCount),
}
