"""identity's copy of roster's groups: KnownGroup rows kept from roster's group events.

group_created and group_updated carry the whole group with its subgroups, so they replace the copy; they are
ordered per aggregate (the group), so a stale group_updated never overwrites a newer one. subgroup_created adds
one subgroup and is NOT ordered: every subgroup of a group shares the group's aggregate, so ordering would skip
subgroup 001's event as stale when subgroup 002's (a later sequence) happened to be applied first; adding is
idempotent instead, and one arriving after a newer group_updated that already lists the subgroup changes
nothing.
"""
from identity.consumes import GroupChanged, SubgroupCreated
from identity.models import KnownGroup
from servicekit.events import consumer

GROUP_CHANGED = GroupChanged()
SUBGROUP_CREATED = SubgroupCreated()


class GroupCopyConsumers:
    """Mixed into IdentityService, which provides `db`."""

    @consumer("roster", "group_created")
    def on_roster_group_created(self, envelope):
        copy_group(self.db, GROUP_CHANGED.load(envelope["data"]))

    @consumer("roster", "group_updated")
    def on_roster_group_updated(self, envelope):
        copy_group(self.db, GROUP_CHANGED.load(envelope["data"]))

    @consumer("roster", "subgroup_created", ordered=False)
    def on_roster_subgroup_created(self, envelope):
        copy_subgroup(self.db, SUBGROUP_CREATED.load(envelope["data"]))


def _subgroup(data):
    return {"subgroup_number": data["subgroup_number"], "name": data["name"], "status": data["status"]}


def copy_group(session, data):
    group = session.get(KnownGroup, data["group_number"])
    if group is None:
        group = KnownGroup(group_number=data["group_number"])
        session.add(group)
    group.legal_name = data["legal_name"]
    group.status = data["status"]
    group.subgroups = sorted((_subgroup(s) for s in data["subgroups"]), key=lambda s: s["subgroup_number"])


def copy_subgroup(session, data):
    group = session.get(KnownGroup, data["group_number"], with_for_update=True)
    if group is None:
        # roster publishes group_created before any subgroup_created of the group, on the same aggregate,
        # so this only happens if the group's events were lost: fail, retry, and dead-letter it visibly.
        raise LookupError("subgroup_created for group %s, which identity does not know" % data["group_number"])
    known = list(group.subgroups or [])
    if any(s["subgroup_number"] == data["subgroup_number"] for s in known):
        return
    # A new list (not an in-place append): the JSON column only notices assignment.
    group.subgroups = sorted(known + [_subgroup(data)], key=lambda s: s["subgroup_number"])
