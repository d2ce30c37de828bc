"""The roster service: groups, subgroups, plans offered, members, coverage, enrollment transactions.

Entrypoints live in mixins, one per part of the business, each reading top-down:
  roster.group_entrypoints.GroupEntrypoints            carrier set-up (plans, groups, subgroups, offerings,
                                                        providers), group/subgroup overview, contact updates,
                                                        dashboard
  roster.member_entrypoints.MemberEntrypoints          new enrollment (and its preview), census import, search,
                                                        roster export, subscriber details, transactions (list,
                                                        edit, cancel, approve, reject) and the daily job
                                                        completing due ones
  roster.lifecycle_entrypoints.LifecycleEntrypoints    address and demographics, terminate and reinstate (a
                                                        member, a family), transfer to another subgroup
  roster.life_event_entrypoints.LifeEventEntrypoints   life events (add or drop a dependent), dependent age-off
  roster.care_entrypoints.CareEntrypoints              primary care providers, provider search, ID cards
  roster.continuation_entrypoints.ContinuationEntrypoints  COBRA and state continuation
  roster.renewal_entrypoints.RenewalEntrypoints        plan-year load, renewal notices, open enrollment, the
                                                        renewal-date carry-over
  roster.nonpayment.NonpaymentConsumer                 billing's delinquency: coverage ends for non-payment
Rules live in roster.domain (no nameko), tables in roster.models, wire schemas in portal_contracts.roster_*;
every coverage change goes through roster.coverage.
"""
from roster.care_entrypoints import CareEntrypoints
from roster.continuation_entrypoints import ContinuationEntrypoints
from roster.group_entrypoints import GroupEntrypoints
from roster.life_event_entrypoints import LifeEventEntrypoints
from roster.lifecycle_entrypoints import LifecycleEntrypoints
from roster.member_entrypoints import MemberEntrypoints
from roster.nonpayment import NonpaymentConsumer
from roster.renewal_entrypoints import RenewalEntrypoints
from servicekit.service import PortalService


class RosterService(GroupEntrypoints, MemberEntrypoints, LifecycleEntrypoints, LifeEventEntrypoints,
                    CareEntrypoints, ContinuationEntrypoints, RenewalEntrypoints, NonpaymentConsumer, PortalService):
    name = "roster"
