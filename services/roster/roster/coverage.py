"""Changing a family's coverage from a date: the one primitive every lifecycle change uses.

A change says who in the family is covered, in which plan, from `from_date` on (the set `covered`); the
rest of the family is not covered from that day. Spans that go on unchanged (same plan, tier and kind) are
kept, or re-opened when they ended the day before (a reinstatement restores the very span, so coverage is
continuous); others end the day before `from_date` and new spans start on it. The tier follows from who is
covered (roster.domain.coverage.tier_of), counted from the contract holder (the subscriber, or a dependent
electing COBRA alone).

Before it writes, `change_coverage` keeps a snapshot of the family's spans and member statuses in the
transaction's `before`, so a pending change that is cancelled or rejected is undone exactly (`undo`), and a
pending one that reaches its date is completed (`complete`): its new spans become active and the spans it
ended become terminated.

A family takes one pending coverage change at a time (`require_no_pending_change`): two pending changes
whose undo would interleave cannot both be undone correctly, and the group can edit or cancel the first.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import object_session, selectinload

from roster.domain import coverage as rules
from roster.domain.enrollment import ACTIVE, CANCELLED, TXN_PENDING
from roster.models import CoverageSpan, EnrollmentTransaction, Member, Plan
from servicekit.errors import Conflict

PENDING_SPAN, TERMINATED_SPAN = "pending", "terminated"


class FamilyHasPendingChange(Conflict):
    code = "family_has_pending_change"
    title = "The family has a pending change"


@dataclass
class Covered:
    """What a member has from the change's date on."""
    plan: Plan
    through: date | None = None       # an end known already (COBRA's last day, a plan year's end)
    continuation: str | None = None   # cobra | state for continuation coverage


def lock_family(session, subscriber):
    """Serialise changes to one family (its subscriber's row, FOR UPDATE on PostgreSQL)."""
    session.execute(select(Member.id).where(Member.id == subscriber.id).with_for_update())


def family_of(session, subscriber):
    """The subscriber and every dependent (oldest row first), with spans and plans, fresh from the database."""
    session.flush()
    return session.scalars(
        select(Member).where(or_(Member.id == subscriber.id, Member.subscriber_id == subscriber.id))
        .options(selectinload(Member.coverage).selectinload(CoverageSpan.plan))
        .order_by(Member.subscriber_id.is_not(None), Member.id)
        .execution_options(populate_existing=True)).all()


# Pending transactions that leave coverage spans alone, so they do not block a coverage change.
NOT_COVERAGE_CHANGES = ("pcp_change",)


def require_no_pending_change(session, subscriber, except_types=()):
    """409 naming the family's pending coverage change, if it has one (other than of `except_types`)."""
    query = select(EnrollmentTransaction).where(
        EnrollmentTransaction.subscriber_id == subscriber.id, EnrollmentTransaction.status == TXN_PENDING,
        EnrollmentTransaction.type.not_in(NOT_COVERAGE_CHANGES + tuple(except_types)))
    pending = session.scalars(query.order_by(EnrollmentTransaction.id)).first()
    if pending is not None:
        raise FamilyHasPendingChange(
            "Member %s's family has a pending %s (confirmation %s, effective %s); edit or cancel it first, or "
            "wait until it completes." % (subscriber.member_id, pending.type.replace("_", " "),
                                          pending.confirmation_number, pending.effective_date.isoformat()))


def covered_now(member, on_day):
    """The member's span in force on `on_day` (active or pending review), or None."""
    for span in member.coverage:
        if span.status in (ACTIVE, PENDING_SPAN, TERMINATED_SPAN) and span.effective_from <= on_day \
                and (span.effective_through is None or span.effective_through >= on_day):
            return span
    return None


def snapshot(family):
    """What `undo` restores: every span's end and status, every member's status and subgroup."""
    return {"spans": {str(span.id): {"effective_through": _iso(span.effective_through), "status": span.status}
                      for member in family for span in member.coverage},
            "members": {member.member_id: {"status": member.status, "subgroup_id": member.subgroup_id}
                        for member in family}}


def change_coverage(session, txn, family, from_date, covered, reason, in_effect, holder=None, today=None):
    """From `from_date` on, exactly the members in `covered` ({Member: Covered}) are covered. `in_effect`:
    the transaction completes now (spans take their final status); otherwise it is pending and `complete`
    finishes it. Keeps the snapshot in txn.before["coverage"]. Returns the new spans."""
    txn.before = dict(txn.before or {}, coverage=snapshot(family))
    holder = holder or family[0]
    tier = rules.tier_of(member.relationship_code for member in covered if member is not holder)
    day_before = from_date - timedelta(days=1)
    new_spans = []
    for member in family:
        want = covered.get(member)
        live = [span for span in member.coverage if span.status != CANCELLED]
        for span in live:
            if span.effective_from >= from_date:
                span.status = CANCELLED  # superseded before it began
        current = next((span for span in live if span.status != CANCELLED and span.effective_from <= day_before
                        and (span.effective_through is None or span.effective_through >= day_before)), None)
        if want is not None and current is not None and _same(current, want, tier):
            current.effective_through = want.through
            if in_effect and current.status == TERMINATED_SPAN:
                current.status = ACTIVE
            continue
        if current is not None and (current.effective_through is None or current.effective_through > day_before):
            current.effective_through = day_before
            if in_effect:
                current.status = TERMINATED_SPAN
        if want is not None:
            span = CoverageSpan(member_id=member.id, plan_id=want.plan.id, plan=want.plan, tier=tier,
                                effective_from=from_date, effective_through=want.through,
                                status=ACTIVE if in_effect else PENDING_SPAN, reason=reason,
                                transaction_id=txn.id, continuation=want.continuation)
            session.add(span)
            new_spans.append(span)
    session.flush()
    if in_effect:
        refresh_statuses(family_of(session, family[0]), today)
    return new_spans


def complete(session, txn, today):
    """A pending coverage change reached its date (or was approved): its spans take their final status."""
    if "coverage" not in (txn.before or {}):
        return False
    ended = {int(span_id) for span_id in txn.before["coverage"]["spans"]}
    subscriber = session.get(Member, txn.subscriber_id)
    family = family_of(session, subscriber)
    for member in family:
        for span in member.coverage:
            if span.transaction_id == txn.id and span.status == PENDING_SPAN:
                span.status = ACTIVE
            elif span.id in ended and span.status == ACTIVE and span.effective_through is not None \
                    and txn.completes_on is not None and span.effective_through < txn.completes_on:
                span.status = TERMINATED_SPAN
            elif span.id in ended and span.status == TERMINATED_SPAN and (
                    span.effective_through is None or span.effective_through >= txn.completes_on):
                span.status = ACTIVE  # a span the change re-opened (a held or future reinstatement)
    session.flush()
    refresh_statuses(family, today)
    return True


def undo(session, txn):
    """A pending coverage change cancelled or rejected: the family's spans and statuses as they were."""
    saved = (txn.before or {}).get("coverage")
    if saved is None:
        return False
    subscriber = session.get(Member, txn.subscriber_id)
    for member in family_of(session, subscriber):
        for span in member.coverage:
            before = saved["spans"].get(str(span.id))
            if before is not None:
                span.effective_through = _date(before["effective_through"])
                span.status = before["status"]
            elif span.transaction_id == txn.id:
                span.status = CANCELLED
        if member.member_id in saved["members"]:
            member.status = saved["members"][member.member_id]["status"]
            member.subgroup_id = saved["members"][member.member_id]["subgroup_id"]
    session.flush()
    return True


def expire_ended(session, today):
    """Spans that ended before `today` without a transaction ending them then (COBRA's last month, a completed
    change whose end has passed) become terminated, and their members' statuses follow. The daily job runs
    it; the dates were published when the end was set, so there is no event to send."""
    spans = session.scalars(select(CoverageSpan).where(CoverageSpan.status == ACTIVE,
                                                       CoverageSpan.effective_through.is_not(None),
                                                       CoverageSpan.effective_through < today)).all()
    for span in spans:
        span.status = TERMINATED_SPAN
    members = {span.member_id for span in spans}
    if members:
        session.flush()
        refresh_statuses(session.scalars(select(Member).where(Member.id.in_(members))
                                         .options(selectinload(Member.coverage))
                                         .execution_options(populate_existing=True)).all(), today)
    return len(members)


def refresh_statuses(family, today):
    """Each member's status from their spans on `today` (roster.domain.coverage.member_status)."""
    for member in family:
        member.status = rules.member_status(
            [rules.SpanView(span.effective_from, span.effective_through, span.status, span.continuation)
             for span in member.coverage], today, member.status)
    if family:
        object_session(family[0]).flush()


def _same(span, want, tier):
    return span.plan_id == want.plan.id and span.tier == tier and span.continuation == want.continuation


def _iso(day):
    return day.isoformat() if day else None


def _date(text):
    return date.fromisoformat(text) if text else None
