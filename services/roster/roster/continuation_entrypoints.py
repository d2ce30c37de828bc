"""COBRA and state continuation (issue 5): elect continuation for members who lost coverage, extend COBRA from
18 to 29 months on a disability determination, and show a family's elections and its open election window.

The rules are roster.domain.continuation's. Both changes complete at once: continuation starts the day after
active coverage ended (in the past by the time anyone elects) and is never held for retroactive review, so
neither transaction is ever pending, cannot be cancelled or rejected, and needs no ON_UNDO/ON_COMPLETE hook;
the election row is written with its transaction.

The extension moves the end of the election's spans itself (they keep their ids and start): change_coverage
would re-cut a span that starts on the change's date, and the extension changes no one's coverage but its end.
"""
from dataclasses import asdict

from sqlalchemy import select

from portal_contracts import roster_continuation as wire
from roster import access, coverage, transactions
from roster.domain import continuation as rules
from roster.domain.enrollment import CANCELLED, EnrollmentInvalid
from roster.events import publish_family_change
from roster.lifecycle_events import COBRA_ENROLLED, COBRA_EXTENDED
from roster.models import ContinuationElection, CoverageSpan, EnrollmentTransaction, Member
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import load_input
from servicekit.idempotency import idempotent
from servicekit.roles import CHANGE_ROSTER, VIEW_ROSTER

ELECTION_OUT = wire.ContinuationElection()


class ContinuationEntrypoints:
    """Mixed into RosterService (roster.service), which provides db, caller, outbox and config."""

    @rpc
    @idempotent(target=lambda group_number, member_id, election: "%s/%s" % (group_number, member_id))
    def elect_continuation(self, group_number, member_id, election):
        """Continue the coverage of members who lost it (default: everyone who lost it with the family's latest
        loss), from the day after it ended, in the plan they had; COBRA, or state continuation for a small
        group. A transaction completed at once (maintenance 021, reason 09) and a cobra_enrolled event."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = self._continuation_family_head(group, member_id, CHANGE_ROSTER)
        data = load_input(wire.ContinuationElectionInput(), election)
        coverage.lock_family(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        decision = rules.decide_election(
            family=[_person(member) for member in family], policy=group.continuation,
            state_months=group.continuation_months, qualifying_event=data["qualifying_event"],
            event_date=data["event_date"], notice_date=data["notice_date"], member_ids=data["member_ids"],
            today=today)
        coverage.require_no_pending_change(self.db, subscriber)
        txn, row, holder = self._record_election(group, subscriber, family, decision, data)
        publish_family_change(self.outbox, self.db, COBRA_ENROLLED, group, subscriber, txn,
                              change=_change(row, holder.member_id))
        return self._continuation_result(txn, row, holder.member_id)

    @rpc
    @idempotent(target=lambda group_number, member_id, extension: "%s/%s" % (group_number, member_id))
    def extend_continuation(self, group_number, member_id, extension):
        """COBRA of a termination of employment or reduced hours, 18 -> 29 months on a disability
        determination: the election's end and its spans' end move (maintenance 001, reason 09)."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = self._continuation_family_head(group, member_id, CHANGE_ROSTER)
        data = load_input(wire.ContinuationExtensionInput(), extension)
        coverage.lock_family(self.db, subscriber)
        today = clock.today()
        row = self._election_to_extend(subscriber, data["holder_member_id"], today)
        decided = rules.decide_extension(
            kind=row.kind, qualifying_event=row.qualifying_event, disability_extended=row.disability_extended,
            coverage_from=row.coverage_from, current_through=row.coverage_through,
            determination_date=data["determination_date"], today=today)
        coverage.require_no_pending_change(self.db, subscriber)
        txn, holder = self._record_extension(group, subscriber, row, decided, data)
        publish_family_change(self.outbox, self.db, COBRA_EXTENDED, group, subscriber, txn,
                              change=_change(row, holder.member_id))
        return self._continuation_result(txn, row, holder.member_id)

    @rpc
    def get_continuation(self, group_number, member_id):
        """The family's elections (newest first) and, when members lost coverage without continuing it yet,
        the election window of that loss, so a page can show the deadline."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        subscriber = self._continuation_family_head(group, member_id, VIEW_ROSTER)
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        rows = self.db.scalars(select(ContinuationElection).where(ContinuationElection.subscriber_id == subscriber.id)
                               .order_by(ContinuationElection.id.desc())).all()
        holders = {member.id: member.member_id for member in family}
        window = rules.election_window([_person(member) for member in family], today)
        self._log_access("get_continuation", group, len(family))
        return wire.ContinuationOverview().dump({
            "subscriber_member_id": subscriber.member_id, "continuation": group.continuation,
            "continuation_months": group.continuation_months,
            "elections": [_election_data(self.db.get(EnrollmentTransaction, row.transaction_id), row,
                                        holders[row.holder_id], today) for row in rows],
            "election_window": asdict(window) if window else None})

    # --- writing ----------------------------------------------------------------------------------------------

    def _record_election(self, group, subscriber, family, decision, data):
        """The transaction (completed), the continuation spans from the day after active coverage ended, the
        members' statuses (cobra) and the election row. Returns (transaction, election row, holder)."""
        by_id = {member.member_id: member for member in family}
        electing = [by_id[member_id] for member_id in decision.member_ids]
        holder = by_id[decision.holder_member_id]
        plans = {span.plan.plan_code: span.plan for member in electing for span in member.coverage}
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=_subgroup_of(group, holder), subscriber=subscriber, member=holder,
            type=rules.COBRA_ENROLLMENT, effective_date=decision.coverage_from, completes_on=decision.coverage_from,
            requested_by=self.caller.actor_id, request=wire.ContinuationElectionInput().dump(data),
            maintenance_type=rules.ADDITION, reason=rules.COBRA_REASON,
            after=_election_after(decision, holder.member_id))
        # Only the electing members' spans change, on the holder's contract: the others in the family keep
        # theirs (a divorced spouse's election leaves the subscriber's own coverage as it is).
        coverage.change_coverage(
            self.db, txn, [holder] + [member for member in electing if member is not holder],
            decision.coverage_from,
            {member: coverage.Covered(plans[decision.plan_codes[member.member_id]], decision.coverage_through,
                                      decision.kind) for member in electing},
            rules.COBRA_REASON, in_effect=True, holder=holder, today=decision.election_date)
        coverage.refresh_statuses(coverage.family_of(self.db, subscriber), decision.election_date)
        row = ContinuationElection(
            group_id=group.id, subscriber_id=subscriber.id, holder_id=holder.id, kind=decision.kind,
            qualifying_event=decision.qualifying_event, event_date=decision.event_date,
            notice_date=decision.notice_date, election_date=decision.election_date,
            coverage_from=decision.coverage_from, coverage_through=decision.coverage_through,
            months=decision.months, disability_extended=False, member_ids=list(decision.member_ids),
            transaction_id=txn.id, created_at=clock.utcnow())
        self.db.add(row)
        self.db.flush()
        return txn, row, holder

    def _record_extension(self, group, subscriber, row, decided, data):
        """The transaction (completed), the new end on the election and on its spans that still ran to the old
        end (a member who dropped continuation early stays dropped). Returns (transaction, holder)."""
        holder = self.db.get(Member, row.holder_id)
        election_txn = self.db.get(EnrollmentTransaction, row.transaction_id)
        spans = self.db.scalars(select(CoverageSpan).where(
            CoverageSpan.transaction_id == row.transaction_id, CoverageSpan.continuation.is_not(None),
            CoverageSpan.status != CANCELLED, CoverageSpan.effective_through == row.coverage_through)).all()
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=_subgroup_of(group, holder), subscriber=subscriber, member=holder,
            type=rules.COBRA_EXTENSION, effective_date=row.coverage_from, completes_on=row.coverage_from,
            requested_by=self.caller.actor_id, request=wire.ContinuationExtensionInput().dump(data),
            maintenance_type=rules.CHANGE, reason=rules.COBRA_REASON,
            before={"coverage_through": row.coverage_through.isoformat(), "months": row.months},
            after={"coverage_through": decided.coverage_through.isoformat(), "months": decided.months,
                   "disability_extended": True, "determination_date": data["determination_date"].isoformat(),
                   "election_confirmation_number": election_txn.confirmation_number})
        for span in spans:
            span.effective_through = decided.coverage_through
        row.coverage_through, row.months, row.disability_extended = decided.coverage_through, decided.months, True
        self.db.flush()
        coverage.refresh_statuses(coverage.family_of(self.db, subscriber), clock.today())
        return txn, holder

    # --- helpers ----------------------------------------------------------------------------------------------

    def _continuation_family_head(self, group, member_id, action):
        """The subscriber of the family `member_id` belongs to (a dependent's id opens their family), if the
        caller's grant reaches its subgroup for `action`; otherwise 404, as a member that does not exist."""
        member = access.load_member(self.db, self.caller, group, member_id, action)
        return member if member.subscriber_id is None else self.db.get(Member, member.subscriber_id)

    def _election_to_extend(self, subscriber, holder_member_id, today):
        """The holder's latest election, or the family's: the only one still running, else the latest."""
        rows = self.db.scalars(select(ContinuationElection).where(ContinuationElection.subscriber_id == subscriber.id)
                               .order_by(ContinuationElection.id.desc())).all()
        if holder_member_id is not None:
            holder = self.db.scalar(select(Member).where(Member.member_id == holder_member_id))
            rows = [row for row in rows if holder is not None and row.holder_id == holder.id]
        if not rows:
            raise rules.NoContinuation("Member %s's family has no continuation election%s to extend."
                                       % (subscriber.member_id, " held by %s" % holder_member_id
                                          if holder_member_id else ""))
        running = {row.holder_id: row for row in reversed(rows) if row.coverage_through >= today}
        if len(running) > 1:
            raise EnrollmentInvalid("The family has more than one continuation contract.", errors={
                "holder_member_id": ["Name whose contract to extend: the family has %d running." % len(running)]})
        return next(iter(running.values()), rows[0])

    def _continuation_result(self, txn, row, holder_member_id):
        # wire.ContinuationResult; the transaction is dumped already (transactions.transaction_out).
        return {"confirmation_number": txn.confirmation_number, "status": txn.status,
                "effective_date": txn.effective_date.isoformat(),
                "election": ELECTION_OUT.dump(_election_data(
                    self.db.get(EnrollmentTransaction, row.transaction_id), row, holder_member_id, clock.today())),
                "transaction": transactions.transaction_out(txn)}


def _person(member):
    return rules.Person(member.member_id, member.relationship_code, member.date_of_birth, tuple(
        rules.Span(span.plan.plan_code, span.effective_from, span.effective_through, span.status, span.continuation)
        for span in member.coverage))


def _subgroup_of(group, member):
    return next(subgroup for subgroup in group.subgroups if subgroup.id == member.subgroup_id)


def _election_after(decision, holder_member_id):
    return {"kind": decision.kind, "qualifying_event": decision.qualifying_event,
            "coverage_from": decision.coverage_from.isoformat(),
            "coverage_through": decision.coverage_through.isoformat(), "months": decision.months,
            "holder_member_id": holder_member_id, "member_ids": list(decision.member_ids),
            "plan_code": decision.plan_codes[holder_member_id], "tier": decision.tier}


def _change(row, holder_member_id):
    """lifecycle_events.ContinuationChange of an election row."""
    return {"kind": row.kind, "qualifying_event": row.qualifying_event, "event_date": row.event_date,
            "notice_date": row.notice_date, "election_date": row.election_date, "coverage_from": row.coverage_from,
            "coverage_through": row.coverage_through, "months": row.months,
            "disability_extended": row.disability_extended, "holder_member_id": holder_member_id,
            "member_ids": list(row.member_ids)}


def _election_data(election_txn, row, holder_member_id, today):
    """wire.ContinuationElection of an election row (not dumped yet)."""
    after = election_txn.after or {}
    return dict(
        _change(row, holder_member_id), confirmation_number=election_txn.confirmation_number,
        qualifying_event_name=rules.QUALIFYING_EVENTS[row.qualifying_event],
        election_deadline=rules.election_deadline(row.notice_date, row.coverage_from),
        plan_code=after.get("plan_code"), tier=after.get("tier"),
        status="active" if row.coverage_from <= today <= row.coverage_through else
        ("ended" if today > row.coverage_through else "upcoming"))
