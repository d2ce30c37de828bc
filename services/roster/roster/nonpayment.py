"""Termination for non-payment (issue 6): roster's side of billing's delinquency saga.

Billing publishes account_delinquency_changed for a billing account (one per subgroup). When the stage is
`terminated_nonpayment` (day 32 after the oldest unpaid due date, by default), every family of the subgroup
whose coverage runs past `paid_through` (the last day of the last fully paid month) loses it from the day
after: one completed subscriber_termination per family, 834 maintenance 024 with reason 59 (non-payment),
decided by "system:nonpayment", and the family's subscriber_terminated event, which billing's projection reads
(the unpaid months are then credited back on the next statement).

Unlike a termination a user asks for, this one is not limited by the 60-day retroactive window: DOMAIN.md's
rescission rule lets only non-payment reach further back.

Idempotent: the kit applies an event id once (and only newer sequences of the account); a family whose coverage
already ends on or before `paid_through` is left alone, so a second event changes nothing. A family with a
pending change is skipped (and logged as a warning): cancelling it first is a person's decision.
"""
import logging
from datetime import timedelta

from sqlalchemy import select

from roster import coverage, transactions
from roster.consumes import AccountDelinquencyChanged
from roster.domain import lifecycle as rules
from roster.domain.enrollment import CANCELLED, TXN_COMPLETED
from roster.events import publish_family_change
from roster.lifecycle_events import SUBSCRIBER_TERMINATED
from roster.models import Group, Member, Subgroup
from servicekit import clock
from servicekit.events import consumer

_log = logging.getLogger(__name__)

NON_PAYMENT = "59"                       # X12 INS04
TERMINATED_NONPAYMENT = "terminated_nonpayment"
SYSTEM_ACTOR = "system:nonpayment"
DELINQUENCY_CHANGE = AccountDelinquencyChanged()


def covered_after(spans, last_day):
    """Whether any of a member's spans (not cancelled) covers a day after `last_day`."""
    return any(span.status != CANCELLED and (span.effective_through is None or span.effective_through > last_day)
               for span in spans)


def nonpayment_termination(paid_through):
    """Coverage ends on the paid-through date, completed at once whatever the date (no retroactive limit)."""
    return rules.TerminationDecision(termination_date=paid_through, completes_on=paid_through + timedelta(days=1),
                                     status=TXN_COMPLETED, hold_reason=None, reason=NON_PAYMENT)


class NonpaymentConsumer:
    """Mixed into RosterService (roster.service)."""

    @consumer("billing", "account_delinquency_changed")
    def on_account_delinquency_changed(self, envelope):
        change = DELINQUENCY_CHANGE.load(envelope["data"])
        if change["stage"] != TERMINATED_NONPAYMENT:
            return  # the earlier stages are billing's notices; only termination changes coverage
        subgroup = self._subgroup_of(change)
        if subgroup is None or change["paid_through"] is None:
            _log.warning("non-payment of account %s: no subgroup %s/%s or no paid-through date; nothing ended",
                         change["account_number"], change["group_number"], change["subgroup_number"])
            return
        decision = nonpayment_termination(change["paid_through"])
        ended, skipped = [], []
        for subscriber in self._subscribers_of(subgroup):
            outcome = self._end_family_for_nonpayment(subgroup, subscriber, decision, change)
            if outcome is True:
                ended.append(subscriber.member_id)
            elif outcome is False:
                skipped.append(subscriber.member_id)
        _log.info("non-payment of account %s: coverage of %d families ends on %s", change["account_number"],
                  len(ended), decision.termination_date.isoformat())
        if skipped:
            _log.warning("non-payment of account %s: %d families with a pending change were not terminated: %s",
                         change["account_number"], len(skipped), ", ".join(skipped))

    def _end_family_for_nonpayment(self, subgroup, subscriber, decision, change):
        """True when the family's coverage was ended, False when a pending change held it, None when its coverage
        already ends by the paid-through date."""
        coverage.lock_family(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        ending = [person for person in family if covered_after(person.coverage, decision.termination_date)]
        if not ending:
            return None
        try:
            coverage.require_no_pending_change(self.db, subscriber)
        except coverage.FamilyHasPendingChange:
            return False
        record = {"member_ids": [person.member_id for person in ending],
                  "termination_date": decision.termination_date.isoformat(), "cause": decision.reason,
                  "date_of_death": None}
        group = self.db.get(Group, subgroup.group_id)
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=subgroup, subscriber=subscriber, member=subscriber,
            type=rules.SUBSCRIBER_TERMINATION, effective_date=decision.termination_date,
            completes_on=decision.completes_on, requested_by=SYSTEM_ACTOR,
            request={"account_number": change["account_number"], "stage": change["stage"],
                     "as_of": change["as_of"].isoformat(), "paid_through": decision.termination_date.isoformat()},
            status=decision.status, maintenance_type=rules.TERMINATION, reason=decision.reason, after=record)
        coverage.change_coverage(self.db, txn, family, decision.completes_on, {}, decision.reason, in_effect=True,
                                 today=clock.today())
        publish_family_change(self.outbox, self.db, SUBSCRIBER_TERMINATED, group, subscriber, txn,
                              change=dict(record, termination_date=decision.termination_date))
        return True

    def _subgroup_of(self, change):
        return self.db.scalar(select(Subgroup).join(Group, Group.id == Subgroup.group_id)
                              .where(Group.group_number == change["group_number"],
                                     Subgroup.subgroup_number == change["subgroup_number"]))

    def _subscribers_of(self, subgroup):
        return self.db.scalars(select(Member).where(Member.subgroup_id == subgroup.id, Member.subscriber_id.is_(None))
                               .order_by(Member.id)).all()
