"""Events the roster service publishes on `roster.events` (through the outbox).

Member side: the family aggregate `family:<subscriber member id>`. Each event carries the family's whole
state after the change (every member and coverage span), so a consumer (billing's coverage projection, a
carrier system) applies the newest sequence and never acts on a change that was later cancelled: a
cancelled or rejected enrollment is published too, with the family as it stands (members cancelled, no
active coverage). Codes are X12 834's. No SSNs, not even the last 4.

`PUBLISHED` merges the group side's events (roster.group_events) with these, for the contract tests.
"""
from marshmallow import Schema, fields, validate

from portal_contracts.roster_members import MEMBER_STATUSES, TIERS, TRANSACTION_STATUSES
from roster.group_events import PUBLISHED as GROUP_PUBLISHED
from roster.lifecycle_events import FAMILY_CHANGES
from roster.snapshots import family_event_data
from servicekit import outbox as servicekit_outbox

SUBSCRIBER_ENROLLED = "subscriber_enrolled"
TRANSACTION_STATUS_CHANGED = "transaction_status_changed"
VERSION = 1


class FamilyCoverage(Schema):
    plan_code = fields.String(required=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    effective_from = fields.Date(required=True)
    effective_through = fields.Date(required=True, allow_none=True)
    status = fields.String(required=True)        # pending | active | terminated | cancelled
    reason = fields.String(required=True)        # X12 INS04 that started it
    continuation = fields.String(allow_none=True, load_default=None)  # cobra | state: continuation coverage


class FamilyMember(Schema):
    member_id = fields.String(required=True)
    relationship_code = fields.String(required=True)  # X12 INS02: 18 self, 01 spouse, 19 child, ...
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(MEMBER_STATUSES))
    coverage = fields.List(fields.Nested(FamilyCoverage), required=True)


class FamilyTransaction(Schema):
    confirmation_number = fields.String(required=True)
    type = fields.String(required=True)
    maintenance_type = fields.String(required=True, allow_none=True)  # X12 INS03: 021 addition, ...
    reason = fields.String(required=True, allow_none=True)            # X12 INS04: 28, 41, ...
    status = fields.String(required=True, validate=validate.OneOf(TRANSACTION_STATUSES))
    effective_date = fields.Date(required=True)


class FamilyChanged(Schema):
    """subscriber_enrolled and transaction_status_changed: the family after the change."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    subscriber_member_id = fields.String(required=True)
    transaction = fields.Nested(FamilyTransaction, required=True)
    members = fields.List(fields.Nested(FamilyMember), required=True)


FAMILY_CHANGED = FamilyChanged()

_EXAMPLE_MEMBERS = [
    {"member_id": "M104729385", "relationship_code": "18", "first_name": "Dana", "last_name": "Whitfield",
     "date_of_birth": "1986-04-12", "gender": "F", "status": "active",
     "coverage": [{"plan_code": "MED-PPO-1500", "tier": "FAM", "effective_from": "2026-12-01",
                   "effective_through": None, "status": "active", "reason": "28"}]},
    {"member_id": "M583920174", "relationship_code": "01", "first_name": "Sam", "last_name": "Whitfield",
     "date_of_birth": "1985-09-30", "gender": "M", "status": "active",
     "coverage": [{"plan_code": "MED-PPO-1500", "tier": "FAM", "effective_from": "2026-12-01",
                   "effective_through": None, "status": "active", "reason": "28"}]},
    {"member_id": "M771204538", "relationship_code": "19", "first_name": "Riley", "last_name": "Whitfield",
     "date_of_birth": "2015-02-03", "gender": "U", "status": "active",
     "coverage": [{"plan_code": "MED-PPO-1500", "tier": "FAM", "effective_from": "2026-12-01",
                   "effective_through": None, "status": "active", "reason": "28"}]},
]

MEMBER_PUBLISHED = {
    SUBSCRIBER_ENROLLED: {
        "version": VERSION,
        "schema": FamilyChanged,
        "example": {
            "group_number": "100234", "subgroup_number": "001", "subscriber_member_id": "M104729385",
            "transaction": {"confirmation_number": "E261115K7Q2MZ", "type": "new_enrollment",
                            "maintenance_type": "021", "reason": "28", "status": "completed",
                            "effective_date": "2026-12-01"},
            "members": _EXAMPLE_MEMBERS,
        },
    },
    TRANSACTION_STATUS_CHANGED: {
        "version": VERSION,
        "schema": FamilyChanged,
        "example": {
            "group_number": "100234", "subgroup_number": "001", "subscriber_member_id": "M104729385",
            "transaction": {"confirmation_number": "E261115K7Q2MZ", "type": "new_enrollment",
                            "maintenance_type": "021", "reason": "28", "status": "cancelled",
                            "effective_date": "2026-12-01"},
            "members": [dict(member, status="cancelled",
                             coverage=[dict(span, status="cancelled") for span in member["coverage"]])
                        for member in _EXAMPLE_MEMBERS],
        },
    },
}

def _lifecycle_event(event_type, change_schema, example_change, version=VERSION):
    """A family event that also says what changed: FamilyChanged + `change` in the event's own schema."""
    schema = type(change_schema.__name__ + "Event", (FamilyChanged,),
                  {"change": fields.Nested(change_schema, required=True)})
    example = dict(MEMBER_PUBLISHED[TRANSACTION_STATUS_CHANGED]["example"], change=example_change)
    example["members"] = _EXAMPLE_MEMBERS
    example["transaction"] = dict(example["transaction"], status="completed", **example_change.pop("_transaction"))
    return {"version": version, "schema": schema, "example": example}


LIFECYCLE_PUBLISHED = {event_type: _lifecycle_event(event_type, schema, dict(example))
                       for event_type, (schema, example) in FAMILY_CHANGES.items()}
PUBLISHED = {**GROUP_PUBLISHED, **MEMBER_PUBLISHED, **LIFECYCLE_PUBLISHED}


def family_aggregate(subscriber_member_id):
    return "family:%s" % subscriber_member_id


def publish_family_change(outbox, session, event_type, group, subscriber, txn, change=None):
    """Record the family's state after `txn` changed it, in the worker's transaction (the outbox). A
    lifecycle event also carries `change`: what changed, in its own schema (lifecycle_events.CHANGES)."""
    data = family_event_data(session, group, subscriber, txn)
    if event_type in LIFECYCLE_PUBLISHED:
        data = LIFECYCLE_PUBLISHED[event_type]["schema"]().dump(dict(data, change=change))
    else:
        data = FAMILY_CHANGED.dump(data)
    return outbox.record(event_type, data, aggregate_id=family_aggregate(subscriber.member_id),
                         group_id=group.group_number, version=VERSION)


def record_family_events(session, service_name, event_type, payloads, actor=None, request_id=None):
    """One family event per payload (family_event_data-style, before dumping), written in batches by the kit:
    a census of 10,000 rows makes thousands of families."""
    servicekit_outbox.record_events(session, service_name, [
        {"event_type": event_type, "data": FAMILY_CHANGED.dump(data), "group_id": data["group_number"],
         "aggregate_id": family_aggregate(data["subscriber_member_id"]), "version": VERSION} for data in payloads],
        actor=actor, request_id=request_id)
