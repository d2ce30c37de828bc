"""identity's own copy of the event payloads it consumes (unknown fields are ignored).

identity keeps a copy of roster's groups (models.KnownGroup) for two checks it must make on its own, without
calling roster: that a group someone asks access to exists, and that a grant's subgroup limits name real
subgroups of the group. It copies only the fields it reads: roster may add fields freely; removing or retyping
one of these breaks tests/contracts/test_event_contracts.py first.

All three events are on roster's aggregate `group:<group_number>`; the consumers apply them in sequence order.
"""
from marshmallow import EXCLUDE, Schema, fields


class _Copy(Schema):
    class Meta:
        unknown = EXCLUDE


class SubgroupSummary(_Copy):
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class GroupChanged(_Copy):
    """group_created and group_updated: the group and its subgroups as they are now."""
    group_number = fields.String(required=True)
    legal_name = fields.String(required=True)
    status = fields.String(required=True)
    subgroups = fields.List(fields.Nested(SubgroupSummary), required=True)


class SubgroupCreated(_Copy):
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


CONSUMED = {
    ("roster", "group_created"): GroupChanged,
    ("roster", "group_updated"): GroupChanged,
    ("roster", "subgroup_created"): SubgroupCreated,
}
