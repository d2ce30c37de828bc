"""Renewal (plan year load, notices, the renewal-date carry-over) and open enrollment (issue 5).

Carrier staff load a group's next plan year: each subgroup's offering and, for every plan a subgroup loses,
the plan its families carry over into. Renewal notices go out 60 and 30 days before the renewal date. During
open enrollment (30 days before the renewal date to the day before) the group records each subscriber's
choice: begin (a new plan and who is covered, pending until the renewal date), keep (recorded, nothing
changes), or decline (coverage ends on the plan year's last day). A later choice replaces the earlier one.
On the renewal date the families that did nothing (or kept) move from a retired plan to its mapped plan,
and the group's renewal date moves a year on.

Rates are billing's: the plan-year load cannot check that they were loaded (billing hears plan_year_loaded).
"""
import logging
from datetime import timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from portal_contracts import roster_renewal as wire
from roster import access, coverage, group_events, transactions
from roster.consumes import RatesLoaded
from roster.domain import groups
from roster.domain import renewal as rules
from roster.domain.enrollment import ACTIVE, LIVE_SUBSCRIBER_STATUSES, TXN_COMPLETED, TXN_PENDING, EnrollmentInvalid
from roster.events import publish_family_change
from roster.lifecycle_events import OPEN_ENROLLMENT_ELECTED
from roster.models import CoverageSpan, EnrollmentTransaction, Group, Member, OpenEnrollmentElection, Plan, \
    PlanMapping, PlanOffering, PlanYear, Subgroup
from servicekit import clock, jobs
from servicekit.entrypoints import rpc
from servicekit.errors import load_input
from servicekit.events import consumer
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled
from servicekit.roles import CARRIER_ADMIN, CHANGE_ROSTER, VIEW_ROSTER

log = logging.getLogger(__name__)

RENEWAL_ACTOR = "system:renewal"    # requested_by of the renewal date's carry-over transactions
NOTICE_JOB = "renewal_notice"       # claimed per (group:days, renewal date): each notice once
RENEWAL_JOB = "renewal"             # claimed per (group, plan year start): each renewal once
LIVE_SPANS = (ACTIVE, coverage.PENDING_SPAN)
RATES_LOADED = RatesLoaded()


class RenewalEntrypoints:
    """Mixed into RosterService (roster.service), which provides db, caller, outbox and config."""

    # --- carrier staff load the next plan year -------------------------------------------------------------

    @rpc
    @idempotent(target=lambda group_number, plan_year: "plan-year:%s" % group_number)
    def load_plan_year(self, group_number, plan_year):
        """The next plan year's offering per subgroup and the retired-plan mappings. Replaces an earlier load
        until open enrollment opens (409 after)."""
        access.require_carrier(self.caller)
        group = access.load_group(self.db, self.caller, group_number, CARRIER_ADMIN)
        data = load_input(wire.PlanYearInput(), plan_year)
        self.db.execute(select(Group.id).where(Group.id == group.id).with_for_update())  # one load at a time
        today = clock.today()
        window = rules.Window(rules.upcoming_renewal(group.renewal_date, today))
        loaded = self._plan_year(group, window.renewal_date, for_update=True)
        if loaded is not None:
            rules.check_replaceable(window, today)

        subgroups = {subgroup.subgroup_number: subgroup for subgroup in group.subgroups}
        ending_plans = self._ending_plans(group, window)
        named = {code for offering in data["offerings"] for code in offering["plan_codes"]}
        named |= {mapping[end] for mapping in data["plan_mappings"] for end in ("from_plan_code", "to_plan_code")}
        plans = {plan.plan_code: plan for plan in self.db.scalars(
            select(Plan).where(Plan.plan_code.in_(named | set().union(*ending_plans.values()))))}
        offerings, mappings = rules.check_plan_year(
            data, window.renewal_date, set(subgroups), ending_plans,
            {code: rules.PlanView(plan.plan_code, plan.status, tuple(plan.tiers)) for code, plan in plans.items()})

        new_year = groups.plan_year_of(window.renewal_date, group.renewal_date)
        if loaded is None:
            loaded = PlanYear(group_id=group.id, plan_year_start=new_year.start)
            self.db.add(loaded)
        loaded.plan_year_end, loaded.loaded_by, loaded.loaded_at = new_year.end, self.caller.actor_id, clock.utcnow()
        self.db.flush()
        for mapping in self.db.scalars(select(PlanMapping).where(PlanMapping.plan_year_id == loaded.id)):
            self.db.delete(mapping)
        self.db.flush()
        self.db.add_all(PlanMapping(plan_year_id=loaded.id, from_plan_id=plans[source].id, to_plan_id=plans[target].id)
                        for source, target in mappings.items())
        for number, codes in offerings.items():
            self._replace_offering(group, subgroups[number], new_year, [plans[code] for code in codes])
        self.db.flush()

        view = self._plan_year_view(group, loaded, window, list(subgroups.values()))
        self.outbox.record(group_events.PLAN_YEAR_LOADED, group_events.PlanYearLoaded().dump(view),
                           aggregate_id=group_events.group_aggregate(group.group_number), group_id=group.group_number)
        return wire.LoadedPlanYear().dump(view)

    def _ending_plans(self, group, window):
        """{subgroup number: plan codes of the ending plan year}: offered there, or covering someone there
        into the new plan year (both need a place to go)."""
        ending = groups.plan_year_of(window.plan_year_end, group.renewal_date)
        numbers = {subgroup.id: subgroup.subgroup_number for subgroup in group.subgroups}
        found = {number: set() for number in numbers.values()}
        offered = self.db.execute(
            select(PlanOffering.subgroup_id, Plan.plan_code).join(Plan, Plan.id == PlanOffering.plan_id)
            .where(PlanOffering.subgroup_id.in_(list(numbers)), PlanOffering.plan_year_start == ending.start))
        in_use = self.db.execute(
            select(Member.subgroup_id, Plan.plan_code).distinct()
            .join(CoverageSpan, CoverageSpan.member_id == Member.id).join(Plan, Plan.id == CoverageSpan.plan_id)
            .where(Member.group_id == group.id, CoverageSpan.status.in_(LIVE_SPANS),
                   CoverageSpan.effective_from <= ending.end,
                   or_(CoverageSpan.effective_through.is_(None),
                       CoverageSpan.effective_through >= window.renewal_date)))
        for subgroup_id, code in list(offered) + list(in_use):
            found[numbers[subgroup_id]].add(code)
        return found

    def _replace_offering(self, group, subgroup, plan_year, plans):
        """The subgroup's offering for the new plan year, as set_subgroup_plans would set it (and published
        the same way)."""
        current = {offer.plan_id: offer for offer in self.db.scalars(
            select(PlanOffering).where(PlanOffering.subgroup_id == subgroup.id,
                                       PlanOffering.plan_year_start == plan_year.start))}
        chosen = {plan.id for plan in plans}
        for plan_id, offer in current.items():
            if plan_id not in chosen:
                self.db.delete(offer)
        self.db.add_all(PlanOffering(subgroup_id=subgroup.id, plan_id=plan.id, plan_year_start=plan_year.start,
                                     plan_year_end=plan_year.end) for plan in plans if plan.id not in current)
        ordered = sorted(plans, key=lambda plan: plan.plan_code)
        self.outbox.record(group_events.GROUP_PLANS_SET, group_events.GroupPlansSet().dump({
            "group_number": group.group_number, "subgroup_number": subgroup.subgroup_number,
            "plan_year_start": plan_year.start, "plan_year_end": plan_year.end, "plans": ordered}),
            aggregate_id=group_events.group_aggregate(group.group_number), group_id=group.group_number)

    # --- open enrollment: the group's view ----------------------------------------------------------------

    @rpc
    def get_open_enrollment(self, group_number):
        """The coming plan year's window, whether it is open, the plans offered to the caller's subgroups, the
        mappings, and how many subscribers chose what."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        today = clock.today()
        window = rules.Window(rules.upcoming_renewal(group.renewal_date, today))
        shown = access.visible_subgroups(self.caller, group, VIEW_ROSTER)
        plan_year = self._plan_year(group, window.renewal_date)
        new_year = groups.plan_year_of(window.renewal_date, group.renewal_date)
        view = self._plan_year_view(group, plan_year, window, shown) if plan_year is not None else \
            {"offerings": [], "plan_mappings": []}
        return wire.OpenEnrollment().dump({
            "group_number": group.group_number, "renewal_date": window.renewal_date,
            "plan_year_start": new_year.start, "plan_year_end": new_year.end,
            "open_enrollment_start": window.opens, "open_enrollment_end": window.closes,
            "is_open": window.is_open(today), "plan_year_loaded": plan_year is not None,
            "rates_loaded": plan_year is not None and not rules.unrated_plans(self._offered_codes(group, plan_year),
                                                                               plan_year.rated_plan_codes),
            "offerings": view["offerings"], "plan_mappings": view["plan_mappings"],
            "elections": self._election_counts(group, shown, window.renewal_date)})

    def _election_counts(self, group, subgroups, renewal_date):
        subgroup_ids = [subgroup.id for subgroup in subgroups]
        counts = {choice: 0 for choice in wire.CHOICES}
        for choice, how_many in self.db.execute(
                select(OpenEnrollmentElection.choice, func.count())
                .join(Member, Member.id == OpenEnrollmentElection.subscriber_id)
                .where(OpenEnrollmentElection.group_id == group.id, Member.subgroup_id.in_(subgroup_ids),
                       OpenEnrollmentElection.plan_year_start == renewal_date,
                       OpenEnrollmentElection.superseded.is_(False))
                .group_by(OpenEnrollmentElection.choice)):
            counts[choice] = how_many
        counts["not_elected"] = self.db.scalar(
            select(func.count()).select_from(Member)
            .where(Member.group_id == group.id, Member.subgroup_id.in_(subgroup_ids), Member.subscriber_id.is_(None),
                   Member.status.in_(LIVE_SUBSCRIBER_STATUSES),
                   ~exists().where(OpenEnrollmentElection.subscriber_id == Member.id,
                                   OpenEnrollmentElection.plan_year_start == renewal_date,
                                   OpenEnrollmentElection.superseded.is_(False))))
        return counts

    # --- open enrollment: a subscriber's choice -----------------------------------------------------------

    @rpc
    @idempotent(target=lambda group_number, member_id, election: "%s/%s" % (group_number, member_id))
    def elect_open_enrollment(self, group_number, member_id, election):
        """begin, keep or decline for the coming plan year; a later choice in the window replaces the earlier
        one (its pending transaction is cancelled)."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        data = load_input(wire.OpenEnrollmentElectionInput(), election)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        today = clock.today()
        window = rules.Window(rules.upcoming_renewal(group.renewal_date, today))
        rules.check_window(window, today, groups.plan_year_of(today, group.renewal_date).start)
        plan_year = self._plan_year(group, window.renewal_date)
        if plan_year is None:
            raise rules.PlanYearNotLoaded("The plan year starting %s is not loaded yet; carrier staff load its plans "
                                          "before open enrollment choices can be made."
                                          % window.renewal_date.isoformat())
        unrated = rules.unrated_plans(self._offered_codes(group, plan_year), plan_year.rated_plan_codes)
        if unrated:
            raise rules.RatesNotLoaded("The rates of the plan year starting %s are not loaded yet for %s; choices "
                                       "open once the carrier has loaded them."
                                       % (window.renewal_date.isoformat(), ", ".join(unrated)))

        # The earlier choice goes first (its pending change would block this one); a refusal below rolls
        # the whole call back, the earlier choice with it.
        coverage.lock_family(self.db, subscriber)
        superseded = self._supersede_earlier_choice(group, subscriber, window.renewal_date)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        continuing = _continuing_spans(family, window)
        if subscriber not in continuing:
            raise EnrollmentInvalid("Member %s is not covered on %s, the plan year's last day: there is no coverage "
                                    "to renew." % (subscriber.member_id, window.plan_year_end.isoformat()),
                                    errors={"choice": ["The subscriber is not covered at the end of the plan year."]})
        subgroup = self.db.get(Subgroup, subscriber.subgroup_id)
        offered = {plan.plan_code: plan for plan in self._offered([subgroup], window.renewal_date)[subgroup.id]}
        plan = offered.get(data["plan_code"])
        if data["choice"] == wire.BEGIN:
            rules.check_begin(data["plan_code"], {code: tuple(p.tiers) for code, p in offered.items()},
                              data["dependent_member_ids"], [_dependent(member) for member in family[1:]],
                              window.renewal_date)
        txn, covered = self._record_choice(group, subgroup, subscriber, family, continuing, data, plan, window,
                                           self._mappings(plan_year), set(offered))
        chosen = OpenEnrollmentElection(
            group_id=group.id, subscriber_id=subscriber.id, plan_year_start=window.renewal_date,
            choice=data["choice"], plan_id=covered["plan"].id if covered["plan"] else None,
            member_ids=covered["member_ids"], decline_reason=data["decline_reason"],
            alternate_plan=data["alternate_plan"], superseded=False, transaction_id=txn.id,
            elected_at=clock.utcnow())
        self.db.add(chosen)
        self.db.flush()
        publish_family_change(self.outbox, self.db, OPEN_ENROLLMENT_ELECTED, group, subscriber, txn, change={
            "plan_year_start": window.renewal_date, "choice": data["choice"],
            "plan_code": covered["plan"].plan_code if covered["plan"] else None,
            "member_ids": covered["member_ids"], "decline_reason": data["decline_reason"],
            "alternate_plan": data["alternate_plan"]})
        answer = wire.OpenEnrollmentElected().dump({
            "confirmation_number": txn.confirmation_number, "status": txn.status,
            "effective_date": txn.effective_date, "election": _election_out(chosen, txn, covered["plan"]),
            "superseded_confirmation_number": superseded.confirmation_number if superseded else None})
        return dict(answer, transaction=transactions.transaction_out(txn))  # serialised already

    def _supersede_earlier_choice(self, group, subscriber, renewal_date):
        """The choice in force is replaced: its pending transaction cancelled (which undoes its coverage and
        marks it superseded, see _withdraw_election), a completed one (keep) just marked. Returns its
        transaction, or None."""
        earlier = self.db.scalar(select(OpenEnrollmentElection).where(
            OpenEnrollmentElection.subscriber_id == subscriber.id,
            OpenEnrollmentElection.plan_year_start == renewal_date,
            OpenEnrollmentElection.superseded.is_(False)).with_for_update())
        if earlier is None:
            return None
        txn = self.db.get(EnrollmentTransaction, earlier.transaction_id)
        if txn.status == TXN_PENDING:
            transactions.cancel(self.db, txn, self.caller.actor_id, "superseded by a later open-enrollment choice")
            self._publish_status_change(txn)
        earlier.superseded = True
        self.db.flush()
        return txn

    def _record_choice(self, group, subgroup, subscriber, family, continuing, data, plan, window, mappings,
                       offered_codes):
        """The transaction of a choice and its coverage; returns (txn, {"plan", "member_ids"}: what the family
        has from the renewal date)."""
        choice, renewal_date = data["choice"], window.renewal_date
        request = {"plan_year_start": renewal_date.isoformat(), **wire.OpenEnrollmentElectionInput().dump(data)}
        common = dict(group=group, subgroup=subgroup, subscriber=subscriber, member=subscriber,
                      type=rules.ELECTION_TYPES[choice], requested_by=self.caller.actor_id, request=request)
        if choice == wire.DECLINE:
            txn = transactions.record_transaction(
                self.db, **common, effective_date=window.plan_year_end, completes_on=renewal_date,
                status=TXN_PENDING, maintenance_type=rules.TERMINATION, reason=rules.DECLINED_COVERAGE,
                after={"plan_year_start": renewal_date.isoformat(), "choice": choice, "member_ids": [],
                       "termination_date": window.plan_year_end.isoformat(),
                       "decline_reason": data["decline_reason"], "alternate_plan": data["alternate_plan"]})
            coverage.change_coverage(self.db, txn, family, renewal_date, {}, rules.DECLINED_COVERAGE, in_effect=False,
                                     today=clock.today())
            return txn, {"plan": None, "member_ids": []}
        if choice == wire.BEGIN:
            wanted = {member_id.upper() for member_id in data["dependent_member_ids"]}
            members = [family[0]] + [member for member in family[1:] if member.member_id in wanted]
            kind = continuing[subscriber]  # continuation coverage stays continuation, with its end
            covered = {member: coverage.Covered(plan, through=kind.effective_through, continuation=kind.continuation)
                       for member in members}
            txn = transactions.record_transaction(
                self.db, **common, effective_date=renewal_date, status=TXN_PENDING,
                maintenance_type=rules.CHANGE, reason=rules.PLAN_CHANGE,
                after={"plan_year_start": renewal_date.isoformat(), "choice": choice, "plan_code": plan.plan_code,
                       "member_ids": [member.member_id for member in members]})
            coverage.change_coverage(self.db, txn, family, renewal_date, covered, rules.PLAN_CHANGE, in_effect=False,
                                     today=clock.today())
            return txn, {"plan": plan, "member_ids": [member.member_id for member in members]}
        # keep: nothing changes now; on the renewal date the family carries over like one that did nothing.
        current = continuing[subscriber].plan
        target = rules.carry_over_plan(current.plan_code, offered_codes,
                                       {source: target.plan_code for source, target in mappings.items()})
        kept_plan = mappings[current.plan_code] if target else current
        member_ids = [member.member_id for member in family if member in continuing]
        txn = transactions.record_transaction(
            self.db, **common, effective_date=renewal_date, status=TXN_COMPLETED, maintenance_type=rules.AUDIT,
            reason=None, after={"plan_year_start": renewal_date.isoformat(), "choice": choice,
                                "plan_code": kept_plan.plan_code, "member_ids": member_ids})
        return txn, {"plan": kept_plan, "member_ids": member_ids}

    @rpc
    def get_open_enrollment_election(self, group_number, member_id):
        """A subscriber's choice for the coming plan year (the one in force and every earlier one)."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, VIEW_ROSTER, subscriber_only=True)
        today = clock.today()
        window = rules.Window(rules.upcoming_renewal(group.renewal_date, today))
        rows = self.db.execute(
            select(OpenEnrollmentElection, EnrollmentTransaction, Plan)
            .join(EnrollmentTransaction, EnrollmentTransaction.id == OpenEnrollmentElection.transaction_id)
            .join(Plan, Plan.id == OpenEnrollmentElection.plan_id, isouter=True)
            .where(OpenEnrollmentElection.subscriber_id == subscriber.id,
                   OpenEnrollmentElection.plan_year_start == window.renewal_date)
            .order_by(OpenEnrollmentElection.elected_at.desc(), OpenEnrollmentElection.id.desc())).all()
        history = [_election_out(election, txn, plan) for election, txn, plan in rows]
        self._log_access("get_open_enrollment_election", group, 1)
        return wire.SubscriberOpenEnrollment().dump({
            "subscriber_member_id": subscriber.member_id, "plan_year_start": window.renewal_date,
            "open_enrollment_start": window.opens, "open_enrollment_end": window.closes,
            "is_open": window.is_open(today),
            "election": next((entry for entry in history if not entry["superseded"]), None), "history": history})

    # --- notices and the renewal date (the daily job and its admin trigger) -------------------------------

    @rpc
    @idempotent(target=lambda as_of=None: "renewals:%s" % as_of)
    def run_renewals(self, as_of=None):
        """The daily job on demand: notices due on `as_of` and the renewals it reaches (each once)."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.RunRenewalsInput(), {"as_of": as_of})["as_of"] or clock.today()
        return wire.RenewalRun().dump(self._run_renewals(as_of, self.caller.actor_id))

    @scheduled("renewals", interval_seconds=3600)
    def run_renewals_daily(self, as_of):
        """Once per business date across replicas; each notice and renewal is claimed on its own too, so the
        admin trigger and the job never do one twice."""
        self._run_renewals(as_of, transactions.SYSTEM_ACTOR)

    def _run_renewals(self, as_of, actor):
        notices = self._send_notices(as_of)
        due = self.db.scalars(jobs.skip_locked(
            select(PlanYear).where(PlanYear.renewed_at.is_(None), PlanYear.plan_year_start <= as_of)
            .order_by(PlanYear.plan_year_start, PlanYear.id), self.db)).all()
        renewed = [outcome for outcome in (self._renew(plan_year, as_of, actor) for plan_year in due) if outcome]
        return {"as_of": as_of, "notices": notices, "renewed": renewed}

    def _send_notices(self, as_of):
        sent = []
        for group in self.db.scalars(select(Group).where(Group.status == "active").order_by(Group.group_number)):
            renewal_date = rules.renewal_on_or_after(group.renewal_date, as_of)
            days = rules.notice_due(renewal_date, as_of)
            unit = "%s:%s" % (group.group_number, days)
            if days is None or not jobs.claim(self.db, NOTICE_JOB, unit, renewal_date):
                continue
            window = rules.Window(renewal_date)
            self.outbox.record(group_events.GROUP_RENEWAL_UPCOMING, group_events.GroupRenewalUpcoming().dump({
                "group_number": group.group_number, "renewal_date": renewal_date, "days_before": days,
                "open_enrollment_start": window.opens, "open_enrollment_end": window.closes,
                "plan_year_loaded": self._plan_year(group, renewal_date) is not None}),
                aggregate_id=group_events.group_aggregate(group.group_number), group_id=group.group_number)
            jobs.mark_done(self.db, NOTICE_JOB, unit, renewal_date)
            sent.append({"group_number": group.group_number, "renewal_date": renewal_date, "days_before": days})
        return sent

    def _renew(self, plan_year, as_of, actor):
        """The renewal date came: due choices complete, families without a choice (or keeping) carry over into
        the mapped plan, the group's renewal date moves a year on."""
        group = self.db.get(Group, plan_year.group_id)
        renewal_date = plan_year.plan_year_start
        if not jobs.claim(self.db, RENEWAL_JOB, group.group_number, renewal_date):
            return None
        self._complete_due_choices(group, as_of, actor)  # whichever of this and the complete-due job runs first
        window = rules.Window(renewal_date)
        mappings = self._mappings(plan_year)
        mapped_codes = {source: target.plan_code for source, target in mappings.items()}
        offered = {subgroup_id: {plan.plan_code for plan in plans}
                   for subgroup_id, plans in self._offered(group.subgroups, renewal_date).items()}
        choices = dict(self.db.execute(
            select(OpenEnrollmentElection.subscriber_id, OpenEnrollmentElection.choice)
            .where(OpenEnrollmentElection.group_id == group.id, OpenEnrollmentElection.plan_year_start == renewal_date,
                   OpenEnrollmentElection.superseded.is_(False))).all())
        without_choice = 0
        for subscriber in self._families_covered_into(group, window):
            choice = choices.get(subscriber.id)
            if choice in (wire.BEGIN, wire.DECLINE):
                continue  # their own transaction decides
            if choice is None:
                without_choice += 1
            self._carry_over(group, subscriber, window, offered.get(subscriber.subgroup_id, set()), mapped_codes,
                             mappings)
        plan_year.renewed_at = clock.utcnow()
        group.renewal_date = plan_year.plan_year_end + timedelta(days=1)
        self.db.flush()
        self._publish_group(group_events.GROUP_UPDATED, group)
        counts = rules.renewal_counts(list(choices.values()), without_choice)
        outcome = {"group_number": group.group_number, "plan_year_start": plan_year.plan_year_start,
                   "plan_year_end": plan_year.plan_year_end, **counts}
        self.outbox.record(group_events.GROUP_RENEWED, group_events.GroupRenewed().dump(outcome),
                           aggregate_id=group_events.group_aggregate(group.group_number), group_id=group.group_number)
        jobs.mark_done(self.db, RENEWAL_JOB, group.group_number, renewal_date)
        return outcome

    def _complete_due_choices(self, group, as_of, actor):
        """The group's pending transactions due by `as_of` (begin and decline choices complete on the renewal
        date), completed as the daily complete-due job would, so the carry-over sees the families as they are."""
        due = self.db.scalars(jobs.skip_locked(
            select(EnrollmentTransaction)
            .where(EnrollmentTransaction.group_id == group.id, EnrollmentTransaction.status == TXN_PENDING,
                   EnrollmentTransaction.hold_reason.is_(None), EnrollmentTransaction.completes_on <= as_of)
            .order_by(EnrollmentTransaction.completes_on, EnrollmentTransaction.id), self.db)).all()
        for txn in due:
            transactions.complete(self.db, txn, actor, "effective date %s reached" % txn.effective_date)
            self._publish_status_change(txn)

    def _families_covered_into(self, group, window):
        """Subscribers whose family has active coverage on the ending plan year's last day going on past it."""
        family_id = func.coalesce(Member.subscriber_id, Member.id)
        ids = select(family_id).join(CoverageSpan, CoverageSpan.member_id == Member.id).where(
            Member.group_id == group.id, CoverageSpan.status == ACTIVE,
            CoverageSpan.effective_from <= window.plan_year_end,
            or_(CoverageSpan.effective_through.is_(None), CoverageSpan.effective_through >= window.renewal_date))
        return self.db.scalars(select(Member).where(Member.id.in_(ids)).order_by(Member.id)).all()

    def _carry_over(self, group, subscriber, window, offered_codes, mapped_codes, mappings):
        """A family on a plan its subgroup is no longer offered moves to the mapped plan from the renewal date
        (a completed transaction, published as transaction_status_changed); one still offered its plan just
        continues. A family with another pending change is left as it is (its undo would not survive the move)
        and logged for carrier staff."""
        coverage.lock_family(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        continuing = _continuing_spans(family, window)
        targets = {member: rules.carry_over_plan(span.plan.plan_code, offered_codes, mapped_codes)
                   for member, span in continuing.items()}
        if not any(targets.values()):
            return None
        try:
            coverage.require_no_pending_change(self.db, subscriber)
        except coverage.FamilyHasPendingChange as pending:
            log.warning("renewal of group %s: family %s not carried over: %s", group.group_number,
                        subscriber.member_id, pending.detail)
            return None
        covered = {member: coverage.Covered(mappings[span.plan.plan_code] if targets[member] else span.plan,
                                            through=span.effective_through, continuation=span.continuation)
                   for member, span in continuing.items()}
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=subscriber, type=rules.RENEWAL_CARRY_OVER, effective_date=window.renewal_date,
            requested_by=RENEWAL_ACTOR, request={"plan_year_start": window.renewal_date.isoformat()},
            status=TXN_COMPLETED, maintenance_type=rules.CHANGE, reason=rules.PLAN_CHANGE,
            after={"plan_year_start": window.renewal_date.isoformat(),
                   "plans": {member.member_id: covered[member].plan.plan_code for member in covered}})
        holder = subscriber if subscriber in covered else next(iter(covered))
        coverage.change_coverage(self.db, txn, family, window.renewal_date, covered, rules.PLAN_CHANGE,
                                 in_effect=True, holder=holder, today=clock.today())
        self._publish_status_change(txn)
        return txn

    # --- shared -------------------------------------------------------------------------------------------

    def _plan_year(self, group, start, for_update=False):
        query = select(PlanYear).where(PlanYear.group_id == group.id, PlanYear.plan_year_start == start)
        return self.db.scalar(query.with_for_update() if for_update else query)

    def _mappings(self, plan_year):
        """{from plan code: the Plan it carries over into}."""
        rows = self.db.scalars(select(PlanMapping).options(selectinload(PlanMapping.from_plan),
                                                           selectinload(PlanMapping.to_plan))
                               .where(PlanMapping.plan_year_id == plan_year.id))
        return {mapping.from_plan.plan_code: mapping.to_plan for mapping in rows}

    def _offered(self, subgroups, plan_year_start):
        """{subgroup id: [Plan]} offered in the plan year starting then, by plan code."""
        offered = {subgroup.id: [] for subgroup in subgroups}
        if offered:
            for subgroup_id, plan in self.db.execute(
                    select(PlanOffering.subgroup_id, Plan).join(Plan, Plan.id == PlanOffering.plan_id)
                    .where(PlanOffering.subgroup_id.in_(list(offered)),
                           PlanOffering.plan_year_start == plan_year_start).order_by(Plan.plan_code)):
                offered[subgroup_id].append(plan)
        return offered

    def _offered_codes(self, group, plan_year):
        """Every plan offered to any subgroup of the group for the plan year."""
        return {plan.plan_code for plans in self._offered(group.subgroups, plan_year.plan_year_start).values()
                for plan in plans}

    @consumer("billing", "rates_loaded")
    def on_rates_loaded(self, envelope):
        """Billing's rate sheet for a plan year is complete for these plans (ordered per group and plan year:
        the newest load says which plans are rated)."""
        data = RATES_LOADED.load(envelope["data"])
        group = self.db.scalar(select(Group).where(Group.group_number == data["group_number"]))
        plan_year = self._plan_year(group, data["plan_year_start"], for_update=True) if group else None
        if plan_year is not None:  # a plan year loaded for renewal; the first plan year has no open enrollment
            plan_year.rated_plan_codes = sorted(data["plan_codes"])

    def _plan_year_view(self, group, plan_year, window, subgroups):
        offered = self._offered(subgroups, plan_year.plan_year_start)
        return {"group_number": group.group_number, "plan_year_start": plan_year.plan_year_start,
                "plan_year_end": plan_year.plan_year_end, "open_enrollment_start": window.opens,
                "open_enrollment_end": window.closes, "loaded_by": plan_year.loaded_by,
                "loaded_at": plan_year.loaded_at, "renewed_at": plan_year.renewed_at,
                "offerings": [{"subgroup_number": subgroup.subgroup_number, "plans": offered[subgroup.id]}
                              for subgroup in subgroups if offered[subgroup.id]],
                "plan_mappings": [{"from_plan_code": source, "to_plan_code": target.plan_code}
                                  for source, target in sorted(self._mappings(plan_year).items())]}

# --- helpers ------------------------------------------------------------------------------------------------

def _continuing_spans(family, window):
    """{member: span} of the members covered on the ending plan year's last day whose coverage goes on past
    it (active, or pending a start on or before that day)."""
    found = {}
    for member in family:
        span = coverage.covered_now(member, window.plan_year_end)
        if span is not None and span.status in LIVE_SPANS and \
                (span.effective_through is None or span.effective_through >= window.renewal_date):
            found[member] = span
    return found


def _dependent(member):
    return rules.Dependent(member.member_id, member.relationship_code, member.date_of_birth, member.disabled,
                           member.status)


def _election_out(election, txn, plan):
    return {"confirmation_number": txn.confirmation_number, "status": txn.status, "choice": election.choice,
            "plan_year_start": election.plan_year_start, "plan_code": plan.plan_code if plan else None,
            "member_ids": election.member_ids or [], "decline_reason": election.decline_reason,
            "alternate_plan": election.alternate_plan, "superseded": election.superseded,
            "elected_at": election.elected_at}


def _withdraw_election(session, txn):
    """A choice's pending transaction cancelled (by a later choice, or by the group through the transaction
    itself): the choice is no longer in force; the family carries over as if it had made none."""
    for election in session.scalars(select(OpenEnrollmentElection)
                                    .where(OpenEnrollmentElection.transaction_id == txn.id)):
        election.superseded = True


transactions.ON_UNDO[rules.OPEN_ENROLLMENT_CHANGE] = _withdraw_election
transactions.ON_UNDO[rules.OPEN_ENROLLMENT_DECLINE] = _withdraw_election
