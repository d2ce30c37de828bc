"""Wire schemas of the roster service's COBRA and state continuation (issue 5): elect continuation for a
terminated family (or some of its members), extend COBRA 18 -> 29 months on a disability determination, and
read a family's elections and open election window.

Codes are X12's (DOMAIN.md): the qualifying event is INS07 (1 termination of employment, 2 reduction of
hours, 3 Medicare, 4 death, 5 divorce, 6 separation, 7 ineligible child); the election's transaction is
maintenance 021 (extension 001), reason 09 COBRA. Dates travel as YYYY-MM-DD.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates

from portal_contracts.roster_members import MEMBER_ID, FormInput, Transaction

QUALIFYING_EVENTS = ("1", "2", "3", "4", "5", "6", "7")
CONTINUATION_KINDS = ("cobra", "state")


class MemberId(fields.String):
    """A member id, upper-cased (M + 9 digits)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().upper()


# --- input ----------------------------------------------------------------------------------------------

class ContinuationElectionInput(FormInput):
    qualifying_event = fields.String(required=True, validate=validate.OneOf(QUALIFYING_EVENTS), metadata={
        "description": "X12 INS07: 1 termination of employment, 2 reduction of hours, 3 Medicare, 4 death, "
                       "5 divorce, 6 separation, 7 ineligible child."})
    event_date = fields.Date(required=True)
    notice_date = fields.Date(required=True, metadata={
        "description": "When the election notice was sent; the window is 60 days from the later of it and the "
                       "loss of coverage. The election itself is dated the business date it is made."})
    member_ids = fields.List(MemberId(validate=MEMBER_ID), load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=21), metadata={
                                 "description": "Who elects (default: everyone who lost coverage with the "
                                                "family's latest loss). Without the subscriber, a dependent's "
                                                "own contract with its own tier."})

    @validates("member_ids")
    def each_once(self, value, **kwargs):
        if value is not None and len(set(value)) != len(value):
            raise ValidationError("Name each member once.")


class ContinuationExtensionInput(FormInput):
    determination_date = fields.Date(required=True, metadata={
        "description": "The date of the Social Security disability determination."})
    holder_member_id = MemberId(load_default=None, allow_none=True, validate=MEMBER_ID, metadata={
        "description": "Whose contract to extend, when the family has more than one continuation contract."})


# --- output ---------------------------------------------------------------------------------------------

class ContinuationElection(Schema):
    confirmation_number = fields.String()
    kind = fields.String(validate=validate.OneOf(CONTINUATION_KINDS))
    qualifying_event = fields.String()
    qualifying_event_name = fields.String()
    event_date = fields.Date()
    notice_date = fields.Date()
    election_date = fields.Date()
    election_deadline = fields.Date()
    coverage_from = fields.Date(metadata={"description": "The day after active coverage ended."})
    coverage_through = fields.Date(metadata={"description": "coverage_from + months - 1 day."})
    months = fields.Integer()
    disability_extended = fields.Boolean()
    holder_member_id = fields.String(metadata={"description": "Whose contract it is."})
    member_ids = fields.List(fields.String())
    plan_code = fields.String()
    tier = fields.String()
    status = fields.String(metadata={"description": "active or ended (on the business date)."})


class ElectionWindow(Schema):
    member_ids = fields.List(fields.String(), metadata={"description": "Who lost coverage and may elect."})
    last_covered_day = fields.Date()
    loss_of_coverage_date = fields.Date()
    deadline = fields.Date(metadata={"description": "If the notice was sent by the loss of coverage; a later "
                                                    "notice moves it to 60 days after the notice."})
    open = fields.Boolean()


class ContinuationOverview(Schema):
    subscriber_member_id = fields.String()
    continuation = fields.String(metadata={"description": "The group's policy: cobra, or state (under 20)."})
    continuation_months = fields.Integer(allow_none=True)
    elections = fields.List(fields.Nested(ContinuationElection))
    election_window = fields.Nested(ElectionWindow, allow_none=True)


class ContinuationResult(Schema):
    confirmation_number = fields.String()
    status = fields.String()
    effective_date = fields.Date()
    election = fields.Nested(ContinuationElection)
    transaction = fields.Nested(Transaction)


RPC_SCHEMAS = {
    "elect_continuation": (ContinuationElectionInput, ContinuationResult),
    "extend_continuation": (ContinuationExtensionInput, ContinuationResult),
    "get_continuation": (None, ContinuationOverview),
}
