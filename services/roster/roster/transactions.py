"""Enrollment transactions: every roster change gets one (a confirmation number, who asked, what, the
effective date, before/after), and moves through DOMAIN.md's state machine:

    pending -> completed   on its effective date (the daily job) or when carrier staff approve a held one
    pending -> rejected    by carrier staff, with a reason
    pending -> cancelled   by the group, while still pending

Shared by both sides of the roster service: the group side records contact updates with
`record_transaction` and answers them with `transaction_out`; the member side adds the coverage effects of
completing, rejecting, cancelling and editing an enrollment.
"""
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import object_session

from portal_contracts.roster_members import Transaction
from roster import coverage
from roster.domain import enrollment as rules
from roster.models import CoverageSpan, EnrollmentTransaction, Group, Member, Subgroup
from servicekit import clock

TRANSACTION = Transaction()
NEW_ENROLLMENT = "new_enrollment"
CENSUS_ENROLLMENT = "census_enrollment"
SYSTEM_ACTOR = "system:daily-job"  # decided_by of transactions the daily job completes


# --- recording ----------------------------------------------------------------------------------------

def new_confirmation_number(session, today):
    """A confirmation number not used yet (the unique index is the last word; a clash is one in 10^9 a day)."""
    while True:
        number = rules.new_confirmation_number(today)
        if not session.scalar(select(exists().where(EnrollmentTransaction.confirmation_number == number))):
            return number


def new_confirmation_numbers(session, today, count):
    """`count` unused confirmation numbers in one look-up (census imports)."""
    numbers = set()
    while len(numbers) < count:
        candidates = {rules.new_confirmation_number(today) for _ in range(count - len(numbers))} - numbers
        taken = set(session.scalars(select(EnrollmentTransaction.confirmation_number)
                                    .where(EnrollmentTransaction.confirmation_number.in_(candidates))))
        numbers |= candidates - taken
    return list(numbers)


def record_transaction(session, *, group, type, effective_date, requested_by, request, subgroup=None,
                       subscriber=None, member=None, status=rules.TXN_COMPLETED, maintenance_type=None, reason=None,
                       before=None, after=None, hold_reason=None, completes_on=None):
    """Add a transaction to the session (flushed, so it has its id) and return it. `request`, `before` and
    `after` must be JSON-safe and hold no full SSNs (last 4 at most). `completes_on`: the day the daily job
    completes it when pending (default: the effective date; a termination's is the day after its last
    covered day)."""
    now = clock.now()
    txn = EnrollmentTransaction(
        confirmation_number=new_confirmation_number(session, clock.today()), group_id=group.id,
        subgroup_id=subgroup.id if subgroup is not None else None,
        subscriber_id=subscriber.id if subscriber is not None else None,
        member_id=member.id if member is not None else None,
        type=type, maintenance_type=maintenance_type, reason=reason, status=status, effective_date=effective_date,
        completes_on=completes_on or effective_date, requested_by=requested_by, requested_at=now,
        hold_reason=hold_reason, request=request, before=before,
        after=after)
    if status != rules.TXN_PENDING:
        txn.decided_by, txn.decided_at = requested_by, now  # completed as asked
    session.add(txn)
    session.flush()
    return txn


# --- answering ----------------------------------------------------------------------------------------

def transaction_out(txn):
    """The transaction as the wire shows it (portal_contracts.roster_members.Transaction). Looks its group,
    subgroup and members up through the session's identity map: free when they are loaded already
    (`transactions_out` loads a page's in two queries)."""
    session = object_session(txn)
    group = session.get(Group, txn.group_id)
    subgroup = session.get(Subgroup, txn.subgroup_id) if txn.subgroup_id else None
    subscriber = session.get(Member, txn.subscriber_id) if txn.subscriber_id else None
    member = session.get(Member, txn.member_id) if txn.member_id else None
    return TRANSACTION.dump({
        "confirmation_number": txn.confirmation_number,
        "group_number": group.group_number,
        "subgroup_number": subgroup.subgroup_number if subgroup else None,
        "subscriber_member_id": subscriber.member_id if subscriber else None,
        "member_id": member.member_id if member else None,
        "type": txn.type, "maintenance_type": txn.maintenance_type, "reason": txn.reason, "status": txn.status,
        "effective_date": txn.effective_date, "requested_by": txn.requested_by,
        "requested_at": _utc(txn.requested_at), "hold_reason": txn.hold_reason, "decided_by": txn.decided_by,
        "decided_at": _utc(txn.decided_at), "decision_reason": txn.decision_reason,
        "request": txn.request or {}, "before": txn.before, "after": txn.after,
    })


def transactions_out(session, txns):
    group_ids = {txn.group_id for txn in txns}
    subgroup_ids = {txn.subgroup_id for txn in txns if txn.subgroup_id}
    member_ids = {txn.subscriber_id for txn in txns if txn.subscriber_id} | {txn.member_id for txn in txns
                                                                              if txn.member_id}
    # Loaded into the identity map, where transaction_out's session.get finds them.
    if group_ids:
        session.scalars(select(Group).where(Group.id.in_(group_ids))).all()
    if subgroup_ids:
        session.scalars(select(Subgroup).where(Subgroup.id.in_(subgroup_ids))).all()
    if member_ids:
        session.scalars(select(Member).where(Member.id.in_(member_ids))).all()
    return [transaction_out(txn) for txn in txns]


def _utc(value):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --- finding ------------------------------------------------------------------------------------------

def visible(query, allowed_subgroup_ids):
    """Limit a transaction query to the subgroups a limited caller may see (None: the whole group). Group-level
    transactions (no subgroup) are group-wide information, which a subgroup-limited caller does not get."""
    if allowed_subgroup_ids is None:
        return query
    return query.where(EnrollmentTransaction.subgroup_id.in_(allowed_subgroup_ids))


def find_transaction(session, group, confirmation_number, allowed_subgroup_ids=None, for_update=False):
    query = visible(select(EnrollmentTransaction).where(
        EnrollmentTransaction.group_id == group.id,
        EnrollmentTransaction.confirmation_number == confirmation_number.upper()), allowed_subgroup_ids)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def find_any_transaction(session, confirmation_number, for_update=False):
    query = select(EnrollmentTransaction).where(
        EnrollmentTransaction.confirmation_number == confirmation_number.upper())
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def list_transactions(session, group, allowed_subgroup_ids, filters):
    """A page of the group's transactions, newest first, and the total matching."""
    query = visible(select(EnrollmentTransaction).where(EnrollmentTransaction.group_id == group.id),
                    allowed_subgroup_ids)
    zone = clock.carrier_timezone()
    if filters.get("date_from"):
        query = query.where(EnrollmentTransaction.requested_at >= datetime.combine(filters["date_from"], time.min, zone))
    if filters.get("date_to"):
        day_after = filters["date_to"] + timedelta(days=1)
        query = query.where(EnrollmentTransaction.requested_at < datetime.combine(day_after, time.min, zone))
    if filters.get("type"):
        query = query.where(EnrollmentTransaction.type == filters["type"])
    if filters.get("status"):
        query = query.where(EnrollmentTransaction.status == filters["status"])
    if filters.get("requested_by"):
        query = query.where(EnrollmentTransaction.requested_by == filters["requested_by"])
    if filters.get("member_id"):
        member = session.scalar(select(Member).where(Member.group_id == group.id,
                                                     Member.member_id == filters["member_id"]))
        if member is None:
            return [], 0
        family_id = member.subscriber_id or member.id
        query = query.where(or_(EnrollmentTransaction.subscriber_id == family_id,
                                EnrollmentTransaction.member_id == member.id))
    return _page(session, query, filters)


def list_held(session, filters):
    """Pending transactions held for carrier review, all groups (or one), oldest first."""
    query = select(EnrollmentTransaction).where(EnrollmentTransaction.status == rules.TXN_PENDING,
                                                EnrollmentTransaction.hold_reason.is_not(None))
    if filters.get("group_number"):
        query = query.join(Group, Group.id == EnrollmentTransaction.group_id).where(
            Group.group_number == filters["group_number"])
    return _page(session, query, filters, newest_first=False)


def _page(session, query, filters, newest_first=True):
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    order = EnrollmentTransaction.requested_at.desc() if newest_first else EnrollmentTransaction.requested_at
    items = session.scalars(query.order_by(order, EnrollmentTransaction.id.desc() if newest_first
                                           else EnrollmentTransaction.id)
                            .offset((filters["page"] - 1) * filters["limit"]).limit(filters["limit"])).all()
    return items, total


def due_transactions(session, as_of, limit=None):
    """Pending transactions without a hold whose effective date has come, oldest date first. On PostgreSQL
    each row is locked FOR UPDATE SKIP LOCKED: replicas running the job at once take disjoint rows and a row
    another replica is completing is skipped (it will not be pending when that one commits)."""
    query = (select(EnrollmentTransaction)
             .where(EnrollmentTransaction.status == rules.TXN_PENDING, EnrollmentTransaction.hold_reason.is_(None),
                    EnrollmentTransaction.completes_on <= as_of)
             .order_by(EnrollmentTransaction.completes_on, EnrollmentTransaction.id))
    if limit:
        query = query.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).all()


# --- state changes and their effect on coverage -------------------------------------------------------

def family_spans_of(session, txn):
    """The coverage spans a transaction started, with their members (found through the family's index)."""
    if txn.subscriber_id is None:
        return []
    return session.scalars(
        select(CoverageSpan).join(Member, CoverageSpan.member_id == Member.id)
        .where(or_(Member.id == txn.subscriber_id, Member.subscriber_id == txn.subscriber_id),
               CoverageSpan.transaction_id == txn.id)).all()


# Type-specific effects beyond coverage spans (a PCP assignment, a COBRA election, an open-enrollment
# choice), registered by the module that records that type: {type: function(session, txn)}.
ON_COMPLETE = {}
ON_UNDO = {}


def complete(session, txn, decided_by, note=None):
    """pending -> completed: the coverage it started becomes active, and so do its members; a lifecycle
    change (roster.coverage) gives its spans their final status."""
    rules.check_transition(txn.status, rules.TXN_COMPLETED, txn.confirmation_number)
    _decide(txn, rules.TXN_COMPLETED, decided_by, note)
    txn.hold_reason = None
    if txn.type in ON_COMPLETE:
        ON_COMPLETE[txn.type](session, txn)
    if coverage.complete(session, txn, max(clock.today(), txn.completes_on or txn.effective_date)):
        session.flush()
        return txn
    for span in family_spans_of(session, txn):
        if span.status == "pending":
            span.status = rules.ACTIVE
        member = session.get(Member, span.member_id)
        if member.status in (rules.PROSPECTIVE, rules.PENDING_REVIEW):
            member.status = rules.ACTIVE
    session.flush()
    return txn


def reject(session, txn, decided_by, reason):
    """pending -> rejected (carrier staff): the coverage never starts; the family is as it was before."""
    rules.check_transition(txn.status, rules.TXN_REJECTED, txn.confirmation_number)
    _undo_coverage(session, txn)
    _decide(txn, rules.TXN_REJECTED, decided_by, reason)
    session.flush()
    return txn


def cancel(session, txn, cancelled_by, reason):
    """pending -> cancelled (the group): the coverage never starts; the family is as it was before."""
    rules.check_transition(txn.status, rules.TXN_CANCELLED, txn.confirmation_number)
    _undo_coverage(session, txn)
    _decide(txn, rules.TXN_CANCELLED, cancelled_by, reason)
    session.flush()
    return txn


def _undo_coverage(session, txn):
    if txn.type in ON_UNDO:
        ON_UNDO[txn.type](session, txn)
    if coverage.undo(session, txn):
        return
    # A new enrollment: members who existed before (a rehire's row) get back the status they had; members the enrollment
    # created stay on file (their transaction names them) as cancelled, out of default searches.
    previous = ((txn.before or {}).get("member_statuses")) or {}
    for span in family_spans_of(session, txn):
        span.status = rules.CANCELLED
        member = session.get(Member, span.member_id)
        member.status = previous.get(member.member_id, rules.CANCELLED)
    for member in _declined_members_of(session, txn):
        member.status = previous.get(member.member_id, rules.CANCELLED)


def _declined_members_of(session, txn):
    """Dependents the enrollment recorded without coverage (no span to find them by)."""
    created = set((txn.after or {}).get("declined_member_ids") or ())
    if not created:
        return []
    return session.scalars(select(Member).where(Member.member_id.in_(created))).all()


def _decide(txn, status, decided_by, reason):
    txn.status = status
    txn.decided_by = decided_by
    txn.decided_at = clock.now()
    txn.decision_reason = reason


def edit(session, txn, *, effective_date, offering_plan, status, hold_reason, edited_by):
    """Apply a checked edit (roster.domain.enrollment.decide_edit) to a pending enrollment: the new date and
    plan on its coverage, the members' pending status, and a line in the transaction's history. Completes
    it at once when the new date needs no wait, as the enrollment itself would have."""
    rules.check_editable(txn.status, txn.confirmation_number)
    changes = {}
    if effective_date != txn.effective_date:
        changes["effective_date"] = [txn.effective_date.isoformat(), effective_date.isoformat()]
    spans = family_spans_of(session, txn)
    old_plan = spans[0].plan.plan_code if spans else None
    if offering_plan is not None and old_plan != offering_plan.plan_code:
        changes["plan_code"] = [old_plan, offering_plan.plan_code]
    for span in spans:
        span.effective_from = effective_date
        if offering_plan is not None:
            span.plan_id = offering_plan.id
            span.plan = offering_plan
        member = session.get(Member, span.member_id)
        member.status = rules.member_status_for(rules.TXN_PENDING, hold_reason)
    txn.effective_date = txn.completes_on = effective_date
    txn.hold_reason = hold_reason
    after = dict(txn.after or {})
    after["effective_date"] = effective_date.isoformat()
    if offering_plan is not None:
        after["plan_code"] = offering_plan.plan_code
    after["edits"] = list(after.get("edits") or ()) + [
        {"at": _utc(clock.now()).isoformat(), "by": edited_by, "changes": changes}]
    txn.after = after  # a new dict: the JSON column notices reassignment, not mutation
    session.flush()
    if status == rules.TXN_COMPLETED:
        complete(session, txn, edited_by, "completed on edit: the new effective date needs no wait")
    return txn
