"""Wire schemas of the roster service's qualifying life events (add or drop a dependent) and the daily
dependent age-off job (issue 5).

A life event adds a dependent (birth, adoption, marriage, ...) or drops one (divorce, death, ...) on a
subscriber's coverage: the family stays in the subscriber's current plan and the tier follows from who is
covered. `GET /life-events` gives a form the table of events with their windows (roster.domain.life_events
holds the rules; the names below are the vocabulary both share).
"""
from marshmallow import Schema, fields, validate

from portal_contracts.roster_members import DependentInput, FormInput, Subscriber, Transaction

# Events that add a dependent, and events that drop one (wire names).
ADD_EVENTS = ("birth", "adoption", "placement_for_adoption", "foster_placement", "marriage", "domestic_partnership",
              "loss_of_other_coverage", "medicaid_chip", "court_order")
REMOVE_EVENTS = ("divorce", "legal_separation", "end_of_partnership", "death")
AGE_OFF = "age_off"  # the life event the daily age-off job records


# --- input ----------------------------------------------------------------------------------------------

class NewDependent(DependentInput):
    """The person added: as on a new enrollment, except that a life event always elects coverage."""

    class Meta:
        exclude = ("elect_coverage", "other_coverage")


class AddDependentInput(FormInput):
    life_event = fields.String(required=True, validate=validate.OneOf(ADD_EVENTS))
    event_date = fields.Date(required=True, metadata={
        "description": "The day of the event (a birth: the date of birth). It must be reported within the "
                       "event's window (GET /life-events): request date - event date <= window days."})
    dependent = fields.Nested(NewDependent, required=True)


class RemoveDependentInput(FormInput):
    life_event = fields.String(required=True, validate=validate.OneOf(REMOVE_EVENTS))
    event_date = fields.Date(required=True, metadata={
        "description": "The day of the divorce, separation, end of partnership or death. Coverage ends on the "
                       "last day of that month (death: on that day)."})


class AgeOffInput(FormInput):
    as_of = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "End the coverage of children whose age-off date is before this date; default: the "
                       "business date (never later than it)."})


# --- output ---------------------------------------------------------------------------------------------

class LifeEventWindow(Schema):
    life_event = fields.String()
    action = fields.String(metadata={"description": "add or remove a dependent"})
    label = fields.String()
    window_days = fields.Integer(allow_none=True, metadata={"description": "None: no window (a court order)."})
    effective_date_rule = fields.String(metadata={
        "description": "event_date | first_of_month_after_request | end_of_event_month | date_of_death"})
    maintenance_type = fields.String(metadata={"description": "X12 INS03: 021 addition, 024 termination"})
    reason = fields.String(metadata={"description": "X12 INS04 recorded on the transaction"})
    relationships = fields.List(fields.String(), metadata={"description": "Who the event may add or drop."})
    source = fields.String()


class LifeEventTable(Schema):
    items = fields.List(fields.Nested(LifeEventWindow))


class DependentChangeResult(Schema):
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "completed, or pending until the effective date"})
    effective_date = fields.Date(metadata={
        "description": "Added: the first covered day. Removed: the last covered day."})
    life_event = fields.String()
    event_date = fields.Date()
    member_id = fields.String(metadata={"description": "The dependent added or removed."})
    tier = fields.String(allow_none=True, metadata={"description": "The family's tier from the effective date "
                                                                     "(None: nobody stays covered)."})
    transaction = fields.Nested(Transaction)
    subscriber = fields.Nested(Subscriber)


class AgedOffMember(Schema):
    group_number = fields.String()
    subscriber_member_id = fields.String()
    member_id = fields.String()
    effective_through = fields.Date(metadata={"description": "The last covered day (the group's age-off policy)."})
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "completed, or pending when held for carrier review"})


class SkippedMember(Schema):
    member_id = fields.String()
    subscriber_member_id = fields.String()
    reason = fields.String()


class AgeOffReport(Schema):
    as_of = fields.Date()
    aged_off = fields.List(fields.Nested(AgedOffMember))
    skipped = fields.List(fields.Nested(SkippedMember), metadata={
        "description": "Children due whose family has a pending change: retried on later runs."})


RPC_SCHEMAS = {
    "list_life_events": (None, LifeEventTable),
    "add_dependent": (AddDependentInput, DependentChangeResult),
    "remove_dependent": (RemoveDependentInput, DependentChangeResult),
    "age_off_dependents": (AgeOffInput, AgeOffReport),
}
