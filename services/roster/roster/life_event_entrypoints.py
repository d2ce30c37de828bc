"""Qualifying life events (add or drop a dependent) and the daily dependent age-off job (issue 5).

Adding: the dependent joins the subscriber's current coverage (same plan) from the effective date the event
gives (roster.domain.life_events), the family's tier recomputed; dropping: the dependent's coverage ends on the
event's last covered day and the rest of the family's tier is recomputed. The age-off job ends a child's
coverage at 26 under the group's age-off policy. Every change is a transaction and a family event
(dependent_added / dependent_removed) with the family's whole state.
"""
from datetime import timedelta

from sqlalchemy import select

from portal_contracts import roster_life_event as wire
from portal_contracts.roster_members import RELATIONSHIPS
from roster import access, coverage, search, snapshots, transactions
from roster import ssn as ssns
from roster.domain import life_events as rules
from roster.domain.enrollment import ACTIVE, CANCELLED, CHILD_CODES, PROSPECTIVE, TXN_COMPLETED, EnrollmentInvalid
from roster.events import publish_family_change
from roster.lifecycle_events import DEPENDENT_ADDED, DEPENDENT_REMOVED
from roster.member_entrypoints import _fill_person, group_subgroup_number, new_member_ids
from roster.models import Group, Member, Plan, Subgroup
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import NotFound, load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled
from servicekit.roles import CHANGE_ROSTER

DEPENDENT_ADDITION = "dependent_addition"
DEPENDENT_REMOVAL = "dependent_removal"
DEPENDENT_AGE_OFF = "dependent_age_off"
REQUEST_RECORD = wire.AddDependentInput()
DEPENDENT_CHANGE_RESULT = wire.DependentChangeResult(exclude=("transaction", "subscriber"))


class LifeEventEntrypoints:
    """Mixed into RosterService (roster.service)."""

    @rpc
    def list_life_events(self):
        """The window table a form shows: each event, whom it adds or drops, its window and effective date."""
        self.caller.require_authenticated()
        return wire.LifeEventTable().dump({"items": rules.window_table()})

    # --- adding a dependent --------------------------------------------------------------------------------

    @rpc
    @idempotent()
    def add_dependent(self, group_number, member_id, body):
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        data = load_input(wire.AddDependentInput(), body)
        person = data["dependent"]
        coverage.lock_family(self.db, subscriber)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        returning = self._same_person_on_file(family, person)
        decision = rules.decide_addition(
            data["life_event"], data["event_date"], person, clock.today(), _relative(family[0]),
            [_relative(member) for member in family[1:]], self._plan_tiers(family),
            returning_member_id=returning.member_id if returning is not None else None)

        dependent = self._dependent_row(group, subscriber, person, returning)
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=dependent, type=DEPENDENT_ADDITION, effective_date=decision.effective_date,
            requested_by=self.caller.actor_id, request=_request_record(data), status=decision.status,
            maintenance_type=decision.event.maintenance_type, reason=decision.event.reason,
            before={"returning_member": _returning_record(returning)} if returning is not None else None,
            after={"life_event": decision.event.name, "event_date": data["event_date"].isoformat(),
                   "member_id": dependent.member_id, "plan_code": decision.holder_span.plan_code,
                   "tier": decision.tier, "effective_date": decision.effective_date.isoformat(),
                   "covered_member_ids": decision.covered_member_ids + [dependent.member_id]})
        _set_dependent_fields(dependent, person)

        def join_subscriber(covered, day):
            holder = covered.get(subscriber)
            if holder is not None:
                covered[dependent] = coverage.Covered(holder.plan, holder.through, holder.continuation)
            return covered
        self._change_family_coverage(txn, subscriber, decision.effective_date, join_subscriber)
        if txn.status != TXN_COMPLETED:
            dependent.status = PROSPECTIVE  # covered from a future date

        return self._answer(group, subscriber, txn, DEPENDENT_ADDED, dependent, decision.event.name,
                            data["event_date"], decision.effective_date, decision.tier)

    def _same_person_on_file(self, family, person):
        """A dependent of this family who is the person added (same SSN, or same first name and birth date):
        they come back on their member row (e.g. a child declined at enrollment, now without other coverage).
        The subscriber's own SSN is refused."""
        cipher = self._cipher()
        ssn_hash = cipher.lookup_hash(person["ssn"]) if person.get("ssn") else None
        if ssn_hash is not None and ssn_hash == family[0].ssn_hash:
            raise EnrollmentInvalid("The life event cannot add this dependent; see errors.",
                                    errors={"dependent": {"ssn": ["This is the subscriber's own SSN."]}})
        first_name_key = search.name_key(person["first_name"])
        for member in family[1:]:
            same_ssn = ssn_hash is not None and member.ssn_hash == ssn_hash
            same_person = member.first_name_key == first_name_key and member.date_of_birth == person["date_of_birth"]
            if same_ssn or same_person:
                return member
        return None

    def _dependent_row(self, group, subscriber, person, returning):
        """The member row of the dependent added. Until the coverage change is applied its status is the one a
        cancellation restores (roster.coverage snapshots the family): its status before, or cancelled for a
        new row (on file, named by the transaction, out of default searches)."""
        if returning is not None:
            if person.get("ssn") and returning.ssn_hash is None:  # a newborn's number arrived
                for column, value in ssns.protected_columns(self._cipher(), person["ssn"]).items():
                    setattr(returning, column, value)
            return returning
        member = Member(member_id=new_member_ids(self.db, 1)[0], group_id=group.id, subgroup_id=subscriber.subgroup_id,
                        subscriber_id=subscriber.id, created_at=clock.utcnow(), status=CANCELLED,
                        relationship_code=RELATIONSHIPS[person["relationship"]])
        _fill_person(member, person, self._cipher())
        self.db.add(member)
        self.db.flush()
        return member

    # --- dropping a dependent ------------------------------------------------------------------------------

    @rpc
    @idempotent()
    def remove_dependent(self, group_number, member_id, dependent_id, body):
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        dependent = self._dependent_of(subscriber, dependent_id)
        data = load_input(wire.RemoveDependentInput(), body)
        coverage.lock_family(self.db, subscriber)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        decision = rules.decide_removal(
            data["life_event"], data["event_date"], _relative(dependent), clock.today(), _relative(family[0]),
            [_relative(member) for member in family[1:] if member is not dependent])

        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=dependent, type=DEPENDENT_REMOVAL, effective_date=decision.last_covered_day,
            completes_on=decision.last_covered_day + timedelta(days=1), requested_by=self.caller.actor_id,
            request=wire.RemoveDependentInput().dump(data), status=decision.status,
            hold_reason=decision.hold_reason, maintenance_type=decision.event.maintenance_type,
            reason=decision.event.reason,
            after={"life_event": decision.event.name, "event_date": data["event_date"].isoformat(),
                   "member_id": dependent.member_id, "termination_date": decision.last_covered_day.isoformat(),
                   "tier": decision.tier, "covered_member_ids": decision.covered_member_ids})
        self._change_family_coverage(txn, subscriber, decision.last_covered_day + timedelta(days=1),
                                     _without(dependent))

        return self._answer(group, subscriber, txn, DEPENDENT_REMOVED, dependent, decision.event.name,
                            data["event_date"], decision.last_covered_day, decision.tier)

    # --- dependent age-off (daily job) ---------------------------------------------------------------------

    @rpc
    @idempotent()
    def age_off_dependents(self, as_of=None):
        """The daily age-off job on demand (carrier staff): `as_of` defaults to the business date and may not
        be later (the job ends coverage that has run out, it does not schedule ends)."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.AgeOffInput(), {"as_of": as_of})["as_of"] or clock.today()
        if as_of > clock.today():
            raise EnrollmentInvalid("The age-off job runs up to the business date.", errors={
                "as_of": ["%s is after the business date %s." % (as_of.isoformat(), clock.today().isoformat())]})
        return wire.AgeOffReport().dump(self._age_off(as_of, triggered_by=self.caller.actor_id))

    @scheduled("dependent_age_off", interval_seconds=3600)
    def age_off_dependents_daily(self, as_of):
        """Once per business date across replicas (the kit's job claim), like complete_due_transactions."""
        self._age_off(as_of, triggered_by=transactions.SYSTEM_ACTOR)

    def _age_off(self, as_of, triggered_by):
        """End the coverage of every child whose age-off day has passed and who is still covered (a run that
        was missed, or a family that had a pending change, is caught up). A family with a pending change is
        skipped today and retried on later runs."""
        report = {"as_of": as_of, "aged_off": [], "skipped": []}
        for child, policy in self._children_maybe_due(as_of):
            subscriber = self.db.get(Member, child.subscriber_id)
            coverage.lock_family(self.db, subscriber)
            family = coverage.family_of(self.db, subscriber)
            last_day = rules.age_off_due(_relative(child), policy, as_of)
            if last_day is None:
                continue
            try:
                coverage.require_no_pending_change(self.db, subscriber)
            except coverage.FamilyHasPendingChange:
                report["skipped"].append({"member_id": child.member_id, "subscriber_member_id": subscriber.member_id,
                                          "reason": "family_has_pending_change"})
                continue
            report["aged_off"].append(self._age_off_child(child, subscriber, family, policy, last_day, as_of,
                                                          triggered_by))
        return report

    def _children_maybe_due(self, as_of):
        """Covered, non-disabled children old enough to be due under any policy, with their group's policy."""
        return self.db.execute(
            select(Member, Group.age_off_policy).join(Group, Group.id == Member.group_id)
            .where(Member.subscriber_id.is_not(None), Member.relationship_code.in_(CHILD_CODES),
                   Member.disabled.is_(False), Member.status == ACTIVE,
                   Member.date_of_birth <= rules.oldest_birth_date_due(as_of))
            .order_by(Member.subscriber_id, Member.id)).all()

    def _age_off_child(self, child, subscriber, family, policy, last_day, as_of, triggered_by):
        group = self.db.get(Group, subscriber.group_id)
        status, hold_reason = rules.age_off_timing(last_day, as_of)
        day_after = last_day + timedelta(days=1)
        staying = [member.member_id for member in family
                   if member is not child and coverage.covered_now(member, day_after) is not None]
        # The system ends the coverage (the rule does); who ran the job is kept in the request.
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=child, type=DEPENDENT_AGE_OFF, effective_date=last_day, completes_on=day_after,
            requested_by=transactions.SYSTEM_ACTOR, status=status, hold_reason=hold_reason,
            maintenance_type=rules.TERMINATION, reason=rules.TERMINATION_OF_BENEFITS,
            request={"life_event": wire.AGE_OFF, "as_of": as_of.isoformat(), "age_off_policy": policy,
                     "triggered_by": triggered_by},
            after={"life_event": wire.AGE_OFF, "member_id": child.member_id,
                   "termination_date": last_day.isoformat(), "covered_member_ids": staying})
        self._change_family_coverage(txn, subscriber, day_after, _without(child))
        publish_family_change(self.outbox, self.db, DEPENDENT_REMOVED, group, subscriber, txn, change={
            "member_id": child.member_id, "life_event": wire.AGE_OFF,
            "event_date": rules.twenty_sixth_birthday(child.date_of_birth), "effective_date": last_day})
        return {"group_number": group.group_number, "subscriber_member_id": subscriber.member_id,
                "member_id": child.member_id, "effective_through": last_day,
                "confirmation_number": txn.confirmation_number, "status": txn.status}

    # --- shared ---------------------------------------------------------------------------------------------

    def _change_family_coverage(self, txn, subscriber, from_date, adjust):
        """From `from_date` on, the family's coverage as it is, changed by `adjust(covered, day)`
        ({Member: Covered} -> {Member: Covered}). A change dated back (a birth weeks ago) is applied up to
        each later day on which the family's coverage changed since (up to today), so what changed in between
        keeps its own dates. The transaction keeps the snapshot from before the first step: a cancellation
        undoes all of it."""
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        spans = [rules.Span(span.effective_from, span.effective_through, span.status)
                 for member in family for span in member.coverage]
        days = [from_date] + [day for day in rules.change_points(spans, from_date) if day <= today]
        steps = [(day, adjust(_covered_on(family, day), day)) for day in days]  # from the coverage as it was
        snapshot = None
        for day, covered in steps:
            coverage.change_coverage(self.db, txn, coverage.family_of(self.db, subscriber), day, covered,
                                     txn.reason, in_effect=(txn.status == TXN_COMPLETED), today=today)
            snapshot = snapshot or txn.before
        txn.before = snapshot
        if txn.status == TXN_COMPLETED:
            # A step that ended before today (the weeks between a birth and a later change) is history.
            for member in coverage.family_of(self.db, subscriber):
                for span in member.coverage:
                    if span.transaction_id == txn.id and span.status == ACTIVE \
                            and span.effective_through is not None and span.effective_through < today:
                        span.status = coverage.TERMINATED_SPAN

    def _answer(self, group, subscriber, txn, event_type, dependent, life_event, event_date, effective_date, tier):
        publish_family_change(self.outbox, self.db, event_type, group, subscriber, txn, change={
            "member_id": dependent.member_id, "life_event": life_event, "event_date": event_date,
            "effective_date": effective_date})
        subgroup_number = group_subgroup_number(group, subscriber.subgroup_id)
        details = snapshots.subscriber_details(self.db, self._cipher(), group, subscriber,
                                               self.caller.may_see_ssn(group.group_number, subgroup_number))
        self._log_access(txn.type, group, 1 + len(details["dependents"]))
        # The transaction and the family come dumped already (transaction_out, subscriber_details).
        answer = DEPENDENT_CHANGE_RESULT.dump({
            "confirmation_number": txn.confirmation_number, "status": txn.status, "effective_date": effective_date,
            "life_event": life_event, "event_date": event_date, "member_id": dependent.member_id, "tier": tier})
        return dict(answer, transaction=transactions.transaction_out(txn), subscriber=details)

    def _dependent_of(self, subscriber, dependent_id):
        dependent = self.db.scalar(select(Member).where(Member.subscriber_id == subscriber.id,
                                                        Member.member_id == str(dependent_id).upper()))
        if dependent is None:
            raise NotFound("Member %s is not a dependent of subscriber %s." % (dependent_id, subscriber.member_id),
                           code="member_not_found")
        return dependent

    def _plan_tiers(self, family):
        plan_ids = {span.plan_id for member in family for span in member.coverage}
        return {plan.plan_code: tuple(plan.tiers)
                for plan in self.db.scalars(select(Plan).where(Plan.id.in_(plan_ids)))} if plan_ids else {}


# --- helpers ------------------------------------------------------------------------------------------------

def _relative(member):
    return rules.Relative(member.member_id, member.relationship_code, member.first_name, member.last_name,
                          member.date_of_birth, bool(member.disabled),
                          tuple(rules.Span(span.effective_from, span.effective_through, span.status,
                                           span.plan.plan_code, span.continuation) for span in member.coverage))


def _covered_on(family, day):
    """{Member: Covered} of who is covered on `day`, as their spans say (plan, known end, continuation)."""
    covered = {}
    for member in family:
        span = coverage.covered_now(member, day)
        if span is not None:
            covered[member] = coverage.Covered(span.plan, span.effective_through, span.continuation)
    return covered


def _without(member):
    def drop(covered, day):
        covered.pop(member, None)
        return covered
    return drop


def _set_dependent_fields(member, person):
    member.relationship_code = RELATIONSHIPS[person["relationship"]]
    member.disabled = person["disabled"]


def _returning_record(member):
    """What a returning dependent's row said before (restored if the addition is cancelled or rejected)."""
    return {"member_id": member.member_id, "relationship_code": member.relationship_code,
            "disabled": bool(member.disabled)}


def _restore_returning_member(session, txn):
    saved = (txn.before or {}).get("returning_member")
    if not saved:
        return
    member = session.scalar(select(Member).where(Member.member_id == saved["member_id"]))
    member.relationship_code, member.disabled = saved["relationship_code"], saved["disabled"]


transactions.ON_UNDO[DEPENDENT_ADDITION] = _restore_returning_member


def _request_record(data):
    """What was asked, as the transaction keeps it: dates as text, the SSN reduced to the last 4."""
    record = REQUEST_RECORD.dump(data)
    record["dependent"]["ssn"] = ssns.masked_request_ssn(data["dependent"].get("ssn"))
    return record
