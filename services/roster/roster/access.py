"""Who may reach which group and subgroup: object-level checks every roster entrypoint makes before it
reads or writes (ARCHITECTURE.md pattern 8).

A group the caller holds no grant on answers exactly as a group that does not exist (404, same code and
detail), so nobody learns which other groups exist; a grant without the action answers 403.
"""
from sqlalchemy import select

from roster.models import Group, Member, Subgroup
from servicekit.errors import NotFound


def require_carrier(caller):
    """Carrier staff only (plans, groups, subgroups, offerings, providers): 401 anonymous, 403 anyone else."""
    caller.require_carrier()


def group_not_found(group_number):
    return NotFound("Group %s was not found." % group_number, code="group_not_found")


def load_group(session, caller, group_number, action):
    """The group, if the caller may do `action` in it, in at least one subgroup (a subgroup-limited grant
    reaches the group; filter what it shows with `visible_subgroups` or `caller.subgroups`). A group-wide
    change needs `caller.require(action, group_number)` on top."""
    try:
        caller.require_scope(action, group_number)
    except NotFound:
        raise group_not_found(group_number) from None
    group = session.scalar(select(Group).where(Group.group_number == str(group_number)))
    if group is None:
        raise group_not_found(group_number)
    return group


def load_subgroup(session, caller, group_number, subgroup_number, action):
    """The subgroup, if the caller may do `action` in it: 404 for the group as above, 403 when the grant does
    not reach this subgroup (checked before looking, so a limited user learns nothing of the others), then 404
    when the group has no such subgroup."""
    group = load_group(session, caller, group_number, action)
    caller.require(action, group.group_number, str(subgroup_number))
    subgroup = session.scalar(select(Subgroup).where(Subgroup.group_id == group.id,
                                                     Subgroup.subgroup_number == str(subgroup_number)))
    if subgroup is None:
        raise NotFound("Subgroup %s of group %s was not found." % (subgroup_number, group.group_number),
                       code="subgroup_not_found")
    return subgroup


def visible_subgroups(caller, group, action):
    """The group's subgroups the caller may do `action` in, by subgroup number."""
    allowed = caller.subgroups(group.group_number, action)
    return [subgroup for subgroup in group.subgroups if allowed is None or subgroup.subgroup_number in allowed]


def load_member(session, caller, group, member_id, action, subscriber_only=False):
    """The member of `group` by public id, if their subgroup is one the caller's grant reaches for `action`;
    otherwise a 404 exactly as for a member that does not exist. `subscriber_only`: a dependent's id is a 404
    too (`subscriber_not_found`: the path is a subscriber's)."""
    allowed = caller.subgroups(group.group_number, action)
    query = select(Member).where(Member.group_id == group.id, Member.member_id == str(member_id).upper())
    if allowed is not None:
        query = query.join(Subgroup, Subgroup.id == Member.subgroup_id).where(Subgroup.subgroup_number.in_(allowed))
    member = session.scalar(query)
    if member is None:
        raise NotFound("Member %s was not found in group %s." % (member_id, group.group_number),
                       code="member_not_found")
    if subscriber_only and member.subscriber_id is not None:
        raise NotFound("Subscriber %s was not found in group %s (it is a dependent's member id)."
                       % (member_id, group.group_number), code="subscriber_not_found")
    return member
