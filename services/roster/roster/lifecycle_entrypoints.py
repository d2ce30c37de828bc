"""Address and demographic changes, terminate and reinstate (a member, a subscriber and family), transfer (issue 5).

Each entrypoint reads the same way (docs/lifecycle-contract.md): the caller may change the group's roster, the
member is one the caller's grant reaches (else 404), the input loads with its wire schema
(portal_contracts.roster_lifecycle), the rules decide (roster.domain.lifecycle), the family is locked, a
transaction is recorded, coverage changes through roster.coverage.change_coverage, the family's event goes to
the outbox in the same database transaction, and the answer carries the family as it stands after the change.
"""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal_contracts import roster_lifecycle as wire
from roster import access, coverage, search, snapshots, transactions
from roster import ssn as ssns
from roster.domain import coverage as coverage_rules
from roster.domain import lifecycle as rules
from roster.domain.enrollment import CANCELLED, COVERED_STATUSES, TXN_COMPLETED, TXN_PENDING
from roster.events import publish_family_change
from roster.lifecycle_events import (COVERAGE_REINSTATED, COVERAGE_TERMINATED, MEMBER_ADDRESS_CHANGED,
                                     MEMBER_DEMOGRAPHICS_CHANGED, MEMBER_TRANSFERRED, SUBSCRIBER_REINSTATED,
                                     SUBSCRIBER_TERMINATED)
from roster.member_entrypoints import group_subgroup_number
from roster.models import EnrollmentTransaction, Member, Subgroup
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import Forbidden, load_input
from servicekit.idempotency import idempotent
from servicekit.roles import CHANGE_ROSTER

ADDRESS_KINDS = ("mailing_address", "physical_address")
# Transactions that end a member's coverage, newest first decides what a reinstatement undoes (a dependent
# removed for a life event, issue 5 part B, is one too).
TERMINATION_TYPES = (rules.COVERAGE_TERMINATION, rules.SUBSCRIBER_TERMINATION, "dependent_removal")


def _of_member(group_number, member_id, body=None):
    return "%s/%s" % (group_number, str(member_id).upper())


class LifecycleEntrypoints:
    """Mixed into RosterService (roster.service)."""

    # --- address ----------------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_member)
    def update_address(self, group_number, member_id, body):
        """A change of address (834 reason 43): the subscriber's, and each dependent's who lived there too."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        data = load_input(wire.AddressChangeInput(), body)
        before = {kind: getattr(subscriber, kind) for kind in ADDRESS_KINDS}
        changed = rules.address_changes(before, data)

        coverage.lock_family(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        moved = [subscriber]
        for dependent in family[1:]:
            follows = [kind for kind in changed if rules.follows_subscriber(getattr(dependent, kind), before[kind])]
            for kind in follows:
                setattr(dependent, kind, changed[kind])
            if follows:
                moved.append(dependent)
        for kind, address in changed.items():
            setattr(subscriber, kind, address)
        member_ids = [member.member_id for member in moved]

        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=subscriber, type=rules.ADDRESS_CHANGE, effective_date=clock.today(),
            requested_by=self.caller.actor_id, request=dict(data), status=TXN_COMPLETED,
            maintenance_type=rules.CHANGE, reason=rules.CHANGE_OF_LOCATION,
            before={kind: before[kind] for kind in changed}, after=dict(changed, member_ids=member_ids))
        addresses = {kind: getattr(subscriber, kind) for kind in ADDRESS_KINDS}
        publish_family_change(self.outbox, self.db, MEMBER_ADDRESS_CHANGED, group, subscriber, txn,
                              change=dict(addresses, member_ids=member_ids))
        return self._lifecycle_answer(wire.AddressChangeResult, "update_address", group, subscriber, txn,
                                      member_ids=member_ids, **addresses)

    # --- demographics -----------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_member)
    def correct_demographics(self, group_number, member_id, body):
        """Corrections of name, date of birth, gender or SSN (834 reason 25) of any member of a family. The
        event names the fields changed, never their values."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER)
        data = load_input(wire.DemographicsInput(), body)
        subgroup = self.db.get(Subgroup, member.subgroup_id)
        if "ssn" in data and not self.caller.may_see_ssn(group.group_number, subgroup.subgroup_number):
            raise Forbidden("Your role may not see SSNs, so it may not correct one.", code="ssn_change_not_allowed")
        subscriber = self._subscriber_of(member)
        coverage.lock_family(self.db, subscriber)

        cipher = self._cipher()
        # SSNs are compared by their keyed hash: the number on file is never decrypted for this.
        requested = dict(data, ssn=cipher.lookup_hash(data["ssn"])) if "ssn" in data else dict(data)
        current = {name: getattr(member, name) for name in wire.DEMOGRAPHIC_FIELDS if name != "ssn"}
        current["ssn"] = member.ssn_hash
        today = clock.today()
        changed = rules.demographic_changes(current, requested, self._person_on_file(member, today), today)
        if "ssn" in changed:
            self._refuse_ssn_in_use(group, member, subscriber, changed["ssn"])

        before = _demographics_record(member, changed)
        for name in changed:
            if name == "ssn":
                for column, value in ssns.protected_columns(cipher, data["ssn"]).items():
                    setattr(member, column, value)
            else:
                setattr(member, name, changed[name])
        self._refresh_name_keys(member)
        try:
            self.db.flush()
        except IntegrityError:
            # Another subscriber took this SSN a moment ago; the unique index let only one through.
            raise rules.SsnInUse("This SSN was just given to another subscriber of the group.") from None
        changed_fields = [name for name in wire.DEMOGRAPHIC_FIELDS if name in changed]

        txn = transactions.record_transaction(
            self.db, group=group, subgroup=subgroup, subscriber=subscriber, member=member,
            type=rules.DEMOGRAPHIC_CHANGE, effective_date=today, requested_by=self.caller.actor_id,
            request=_demographics_request(data), status=TXN_COMPLETED, maintenance_type=rules.CHANGE,
            reason=rules.IDENTIFYING_DATA, before=before,
            after=dict(_demographics_record(member, changed), changed_fields=changed_fields))
        publish_family_change(self.outbox, self.db, MEMBER_DEMOGRAPHICS_CHANGED, group, subscriber, txn,
                              change={"member_id": member.member_id, "changed_fields": changed_fields})
        return self._lifecycle_answer(wire.DemographicsResult, "correct_demographics", group, subscriber, txn,
                                      member_ids=[member.member_id], changed_fields=changed_fields)

    # --- termination ------------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_member)
    def terminate_coverage(self, group_number, member_id, body):
        """End one member's coverage; the rest of the family stays covered in the tier it now makes. The
        subscriber's own coverage ends with the whole family's (as terminate_subscriber)."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER)
        data = load_input(wire.TerminationInput(), body)
        return self._terminate(group, member, data, whole_family=member.subscriber_id is None)

    @rpc
    @idempotent(target=_of_member)
    def terminate_subscriber(self, group_number, member_id, body):
        """End the coverage of a subscriber and the whole family."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        data = load_input(wire.TerminationInput(), body)
        return self._terminate(group, subscriber, data, whole_family=True)

    def _terminate(self, group, member, data, whole_family):
        subscriber = self._subscriber_of(member)
        coverage.lock_family(self.db, subscriber)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        last_day = coverage_rules.termination_date(data["event_date"], wire.TERMINATION_CAUSES[data["cause"]])
        span = coverage.covered_now(member, last_day)
        decision = rules.decide_termination(
            cause=data["cause"], event_date=data["event_date"], relationship_code=member.relationship_code,
            whole_family=whole_family, covered_on_last_day=span is not None,
            coverage_ends=span.effective_through if span is not None else None, today=today)

        from_date = decision.completes_on
        ending = [person for person in family if (whole_family or person is member)
                  and _continues_after(coverage.covered_now(person, decision.termination_date),
                                       decision.termination_date)]
        staying = {} if whole_family else _coverage_on(family, from_date, leave_out=[member])
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=member, type=rules.SUBSCRIBER_TERMINATION if whole_family else rules.COVERAGE_TERMINATION,
            effective_date=decision.termination_date, completes_on=decision.completes_on,
            requested_by=self.caller.actor_id,
            request={"event_date": data["event_date"].isoformat(), "cause": data["cause"], "note": data["note"]},
            status=decision.status, hold_reason=decision.hold_reason, maintenance_type=rules.TERMINATION,
            reason=decision.reason, after=_termination_record(ending, decision))
        coverage.change_coverage(self.db, txn, family, from_date, staying, decision.reason,
                                 in_effect=txn.status == TXN_COMPLETED, today=today)
        publish_family_change(self.outbox, self.db, SUBSCRIBER_TERMINATED if whole_family else COVERAGE_TERMINATED,
                              group, subscriber, txn, change=dict(_termination_record(ending, decision),
                                                                  termination_date=decision.termination_date,
                                                                  date_of_death=decision.date_of_death))
        return self._lifecycle_answer(
            wire.TerminationResult, "terminate", group, subscriber, txn,
            member_ids=[person.member_id for person in ending], termination_date=decision.termination_date,
            cause=decision.reason)

    # --- reinstatement ----------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_member)
    def reinstate_coverage(self, group_number, member_id, body):
        """Undo one member's last termination (within 60 days): the very span re-opens, so coverage is
        continuous. The subscriber's is the whole family's (as reinstate_subscriber)."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER)
        data = load_input(wire.ReinstatementInput(), body)
        return self._reinstate(group, member, data, whole_family=member.subscriber_id is None)

    @rpc
    @idempotent(target=_of_member)
    def reinstate_subscriber(self, group_number, member_id, body):
        """Undo the family's last termination (within 60 days)."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        data = load_input(wire.ReinstatementInput(), body)
        return self._reinstate(group, subscriber, data, whole_family=True)

    def _reinstate(self, group, member, data, whole_family):
        subscriber = self._subscriber_of(member)
        coverage.lock_family(self.db, subscriber)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        termination = self._last_termination(subscriber, member, whole_family)
        on_file = termination and rules.TerminationOnFile(termination.confirmation_number, termination.status,
                                                          termination.effective_date)
        from_date = termination.completes_on if termination is not None else None
        decision = rules.decide_reinstatement(
            member_status=member.status, termination=on_file, today=today,
            changed_since=termination is not None and _changed_since(family, termination),
            holder_covered=whole_family or (from_date is not None
                                            and coverage.covered_now(subscriber, from_date) is not None))

        ended_ids = set((termination.after or {}).get("member_ids") or [member.member_id])
        returning = [person for person in family if person.member_id in ended_ids
                     and (whole_family or person is member)]
        covered = _coverage_on(family, decision.reinstated_from, leave_out=returning)
        for person in returning:
            span = _span_ending(person, termination.effective_date)
            if span is None:
                raise rules.MemberNotTerminated("Member %s has no coverage ending on %s to reinstate."
                                                % (person.member_id, termination.effective_date.isoformat()))
            covered[person] = coverage.Covered(span.plan, continuation=span.continuation)
        record = {"member_ids": [person.member_id for person in returning],
                  "reinstated_from": decision.reinstated_from.isoformat(),
                  "terminated_by": termination.confirmation_number}
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=self.db.get(Subgroup, subscriber.subgroup_id), subscriber=subscriber,
            member=member, type=rules.SUBSCRIBER_REINSTATEMENT if whole_family else rules.COVERAGE_REINSTATEMENT,
            effective_date=decision.reinstated_from, requested_by=self.caller.actor_id,
            request={"note": data["note"], "terminated_by": termination.confirmation_number},
            status=decision.status, hold_reason=decision.hold_reason, maintenance_type=rules.REINSTATEMENT,
            reason=rules.RE_ENROLLMENT, after=record)
        coverage.change_coverage(self.db, txn, family, decision.reinstated_from, covered, rules.RE_ENROLLMENT,
                                 in_effect=txn.status == TXN_COMPLETED, today=today)
        publish_family_change(self.outbox, self.db, SUBSCRIBER_REINSTATED if whole_family else COVERAGE_REINSTATED,
                              group, subscriber, txn, change=dict(record, reinstated_from=decision.reinstated_from))
        return self._lifecycle_answer(
            wire.ReinstatementResult, "reinstate", group, subscriber, txn, member_ids=record["member_ids"],
            reinstated_from=decision.reinstated_from, terminated_by=termination.confirmation_number)

    def _last_termination(self, subscriber, member, whole_family):
        """The newest termination (pending or completed) that ended this member's coverage: the family's for a
        subscriber, else one naming the member."""
        candidates = self.db.scalars(
            select(EnrollmentTransaction)
            .where(EnrollmentTransaction.subscriber_id == subscriber.id,
                   EnrollmentTransaction.type.in_(TERMINATION_TYPES),
                   EnrollmentTransaction.status.in_((TXN_PENDING, TXN_COMPLETED)))
            .order_by(EnrollmentTransaction.id.desc()))
        for txn in candidates:
            if whole_family and txn.type == rules.SUBSCRIBER_TERMINATION:
                return txn
            if not whole_family and (txn.member_id == member.id or member.member_id in
                                     ((txn.after or {}).get("member_ids") or ())):
                return txn
        return None

    # --- transfer ---------------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_member)
    def transfer_subscriber(self, group_number, member_id, body):
        """Move a family to another subgroup of the group from a date, coverage continuing: the same plan's
        spans go on untouched; a new plan (one the target offers) starts that day."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        subscriber = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER, subscriber_only=True)
        data = load_input(wire.TransferInput(), body)
        target = access.load_subgroup(self.db, self.caller, group.group_number, data["to_subgroup_number"],
                                      CHANGE_ROSTER)
        source = self.db.get(Subgroup, subscriber.subgroup_id)
        coverage.lock_family(self.db, subscriber)
        coverage.require_no_pending_change(self.db, subscriber)
        family = coverage.family_of(self.db, subscriber)
        today = clock.today()
        effective_date = data["effective_date"] or rules.default_transfer_date(today)
        span = coverage.covered_now(subscriber, effective_date)
        offerings, plans = self._offerings_of([target])
        decision = rules.decide_transfer(
            from_subgroup_number=source.subgroup_number, to_subgroup_number=target.subgroup_number,
            effective_date=effective_date, current_plan_code=span.plan.plan_code if span else None,
            plan_code=data["plan_code"], tier=span.tier if span else None,
            family_covered=span is not None and span.status != coverage.TERMINATED_SPAN,
            target_offerings=offerings[target.subgroup_number], today=today)

        record = {"member_ids": [person.member_id for person in family],
                  "from_subgroup_number": source.subgroup_number, "to_subgroup_number": target.subgroup_number,
                  "effective_date": decision.effective_date.isoformat()}
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=target, subscriber=subscriber, member=subscriber,
            type=rules.TRANSFER_TYPE, effective_date=decision.effective_date, requested_by=self.caller.actor_id,
            request={"to_subgroup_number": target.subgroup_number, "plan_code": data["plan_code"],
                     "effective_date": data["effective_date"] and data["effective_date"].isoformat()},
            status=decision.status, hold_reason=decision.hold_reason, maintenance_type=rules.CHANGE,
            reason=rules.TRANSFER, before={"subgroup_number": source.subgroup_number,
                                           "plan_code": span.plan.plan_code},
            after=dict(record, plan_code=decision.offering.plan_code))
        if decision.plan_changes:
            # Same people, new plan from the transfer date (the old spans end the day before).
            new_plan = plans[decision.offering.plan_code]
            covered = {person: coverage.Covered(new_plan, through=held.effective_through,
                                                continuation=held.continuation)
                       for person, held in _spans_on(family, decision.effective_date).items()}
            coverage.change_coverage(self.db, txn, family, decision.effective_date, covered, rules.TRANSFER,
                                     in_effect=txn.status == TXN_COMPLETED, today=today)
        if txn.status == TXN_COMPLETED:
            _move_family(self.db, txn)
        publish_family_change(self.outbox, self.db, MEMBER_TRANSFERRED, group, subscriber, txn,
                              change=dict(record, effective_date=decision.effective_date))
        return self._lifecycle_answer(
            wire.TransferResult, "transfer_subscriber", group, subscriber, txn, member_ids=record["member_ids"],
            from_subgroup_number=source.subgroup_number, to_subgroup_number=target.subgroup_number,
            plan_code=decision.offering.plan_code)

    # --- shared -----------------------------------------------------------------------------------------

    def _subscriber_of(self, member):
        return member if member.subscriber_id is None else self.db.get(Member, member.subscriber_id)

    def _person_on_file(self, member, today):
        starts = [span.effective_from for span in member.coverage
                  if span.status != CANCELLED and span.effective_from > today]
        return rules.PersonOnFile(member.relationship_code, member.disabled, member.status in COVERED_STATUSES,
                                  min(starts) if starts else None)

    def _refuse_ssn_in_use(self, group, member, subscriber, ssn_hash):
        """One subscriber per SSN in the group; no SSN twice in one family."""
        family_ids = (Member.id == subscriber.id) | (Member.subscriber_id == subscriber.id)
        clash = self.db.scalar(select(Member.member_id).where(
            Member.group_id == group.id, Member.ssn_hash == ssn_hash, Member.id != member.id,
            family_ids if member.subscriber_id is not None else (family_ids | Member.subscriber_id.is_(None))))
        if clash is not None:
            raise rules.SsnInUse("This SSN belongs to member %s already." % clash)

    def _refresh_name_keys(self, member):
        member.first_name_key = search.name_key(member.first_name)
        member.last_name_key = search.name_key(member.last_name)

    def _lifecycle_answer(self, schema, action, group, subscriber, txn, **fields):
        """The change's own fields (dumped by its schema), its transaction and the family after it."""
        subgroup_number = group_subgroup_number(group, subscriber.subgroup_id)
        details = snapshots.subscriber_details(self.db, self._cipher(), group, subscriber,
                                               self.caller.may_see_ssn(group.group_number, subgroup_number))
        self._log_access(action, group, 1 + len(details["dependents"]))
        answer = schema(exclude=("transaction", "subscriber")).dump(dict(
            fields, confirmation_number=txn.confirmation_number, status=txn.status,
            effective_date=txn.effective_date))
        return dict(answer, transaction=transactions.transaction_out(txn), subscriber=details)


# --- helpers ----------------------------------------------------------------------------------------------

def _continues_after(span, day):
    return span is not None and (span.effective_through is None or span.effective_through > day)


def _spans_on(family, day, leave_out=()):
    """{member: the span covering `day`} for the family's members covered that day (cancelled spans aside)."""
    found = {}
    for person in family:
        if person in leave_out:
            continue
        span = next((span for span in person.coverage if span.status != CANCELLED and span.effective_from <= day
                     and (span.effective_through is None or span.effective_through >= day)), None)
        if span is not None:
            found[person] = span
    return found


def _coverage_on(family, day, leave_out=()):
    """What the rest of the family has on `day`, as change_coverage takes it: they stay as they are."""
    return {person: coverage.Covered(span.plan, through=span.effective_through, continuation=span.continuation)
            for person, span in _spans_on(family, day, leave_out).items()}


def _span_ending(person, day):
    return next((span for span in person.coverage if span.status != CANCELLED and span.effective_through == day),
                None)


def _changed_since(family, termination):
    """Whether any of the family's coverage changed after the termination's last day other than by the
    termination itself (the rest of the family's new tier): a reinstatement would overwrite that change."""
    for person in family:
        for span in person.coverage:
            if span.status == CANCELLED or span.transaction_id == termination.id:
                continue
            if span.effective_from > termination.effective_date or (
                    span.effective_through is not None and span.effective_through > termination.effective_date):
                return True
    return False


def _termination_record(ending, decision):
    return {"member_ids": [person.member_id for person in ending],
            "termination_date": decision.termination_date.isoformat(), "cause": decision.reason,
            "date_of_death": decision.date_of_death.isoformat() if decision.date_of_death else None}


def _demographics_record(member, changed):
    """The changed fields' values on the member, as a transaction may keep them (an SSN as its last 4)."""
    record = {}
    for name in changed:
        if name == "ssn":
            record[name] = ssns.masked(member.ssn_last4)
        else:
            value = getattr(member, name)
            record[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return record


def _demographics_request(data):
    return {name: (ssns.masked_request_ssn(value) if name == "ssn"
                   else value.isoformat() if hasattr(value, "isoformat") else value) for name, value in data.items()}


def _move_family(session, txn):
    """A transfer takes effect: every member of the family is in the target subgroup."""
    target = session.scalar(select(Subgroup).where(Subgroup.group_id == txn.group_id,
                                                   Subgroup.subgroup_number == txn.after["to_subgroup_number"]))
    for person in session.scalars(select(Member).where((Member.id == txn.subscriber_id)
                                                       | (Member.subscriber_id == txn.subscriber_id))):
        person.subgroup_id = target.id
    session.flush()


# A pending transfer moves the family when it completes (roster.coverage.complete re-activates the span a
# held or future reinstatement re-opened).
transactions.ON_COMPLETE[rules.TRANSFER_TYPE] = _move_family
