"""The roster service: groups, subgroups, plans offered, members, coverage, enrollment transactions.

Entrypoints live in two mixins, each reading top-down:
  roster.group_entrypoints.GroupEntrypoints    carrier set-up (plans, groups, subgroups, offerings,
                                                providers), group/subgroup overview, contact updates,
                                                dashboard
  roster.member_entrypoints.MemberEntrypoints  new enrollment (and its preview), census import, search,
                                                roster export, subscriber details, transactions (list, edit, cancel, approve,
                                                reject) and the daily job completing due ones
Rules live in roster.domain (no nameko), tables in roster.models, wire schemas in portal_contracts.roster_*.
"""
from roster.group_entrypoints import GroupEntrypoints
from roster.member_entrypoints import MemberEntrypoints
from servicekit.service import PortalService


class RosterService(GroupEntrypoints, MemberEntrypoints, PortalService):
    name = "roster"
