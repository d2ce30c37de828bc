"""The member side of the roster service: new enrollment (seed 002's flow: subscriber, plan, dependents,
review, confirm), the census import of a group moving in, member search, roster export, the subscriber page,
and enrollment transactions (list, edit, cancel; carrier review; the daily job completing due ones).

Each entrypoint reads the same way: check the caller (roster.access), load the input with its wire schema
(portal_contracts.roster_members), apply the rules (roster.domain), write, record the family's event in the
outbox in the same transaction, answer with the wire schema. Every state-changing RPC is idempotent. Every
read of member records writes an access-log line (who, what, group, how many; never an SSN).
"""
import logging
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from portal_contracts import roster_members as wire
from roster import access, coverage, export, search, snapshots
from roster import ssn as ssns
from roster import transactions
from roster.domain import census
from roster.domain import enrollment as rules
from roster.events import SUBSCRIBER_ENROLLED, TRANSACTION_STATUS_CHANGED, publish_family_change, \
    record_family_events
from roster.models import CoverageSpan, EnrollmentTransaction, Group, Member, Plan, PlanOffering
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, NotFound, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled
from servicekit.roles import CHANGE_ROSTER, VIEW_ROSTER

ACCESS_LOG = logging.getLogger("roster.access")
REQUEST_RECORD = wire.EnrollmentInput()


class TransactionNotHeld(Conflict):
    code = "transaction_not_held"
    title = "The transaction is not held for carrier review"


@dataclass
class EnrollmentPlan:
    """Everything decided before anything is written: the rules' decision, the plan chosen, who the people
    already are on the roster (a former subscriber and their former dependents are re-used), and flags."""
    decision: rules.EnrollmentDecision
    plan: Plan
    reason: str
    existing_subscriber: Member = None
    former_dependents: dict = field(default_factory=dict)   # dependent index -> Member
    flags: list = field(default_factory=list)
    subscriber_also_dependent: bool = False
    subscribers_now_also_dependents: list = field(default_factory=list)  # other families' subscribers


class MemberEntrypoints:
    """Mixed into RosterService (roster.service), which provides db, caller, outbox and config."""

    # --- new enrollment ------------------------------------------------------------------------------------

    @rpc
    def preview_enrollment(self, group_number, enrollment):
        """The review step: what confirming would do (effective date, tier, status, flags); writes nothing."""
        group, subgroup, data = self._enrollment_input(group_number, enrollment)
        plan = self._plan_enrollment(group, subgroup, data)
        return self._preview(subgroup, data, plan)

    @rpc
    @idempotent()
    def enroll_subscriber(self, group_number, enrollment):
        """Confirm an enrollment: the subscriber and dependents, their coverage and a transaction with a
        confirmation number; completed at once, pending until a future date, or held for carrier review."""
        group, subgroup, data = self._enrollment_input(group_number, enrollment)
        plan = self._plan_enrollment(group, subgroup, data)
        subscriber, txn, people = self._write_enrollment(group, subgroup, data, plan)
        publish_family_change(self.outbox, self.db, SUBSCRIBER_ENROLLED, group, subscriber, txn)
        for flag in plan.flags:
            flag["member_id"] = flag["member_id"] or people[flag["person"]].member_id
        details = snapshots.subscriber_details(self.db, self._cipher(), group, subscriber,
                                               self.caller.may_see_ssn(group.group_number, subgroup.subgroup_number))
        self._log_access("enroll_subscriber", group, 1 + len(data["dependents"]))
        return {"confirmation_number": txn.confirmation_number, "status": txn.status,
                "effective_date": txn.effective_date.isoformat(), "subscriber": details,
                "transaction": transactions.transaction_out(txn),
                "flags": wire.EnrollmentFlag(many=True).dump(plan.flags)}

    def _enrollment_input(self, group_number, enrollment):
        # The caller first: a viewer learns nothing from validation messages, another group is a 404.
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        data = load_input(wire.EnrollmentInput(), enrollment)
        subgroup = access.load_subgroup(self.db, self.caller, group.group_number, data["subgroup_number"],
                                        CHANGE_ROSTER)
        return group, subgroup, data

    def _plan_enrollment(self, group, subgroup, data):
        cipher = self._cipher()
        hashes = {person: cipher.lookup_hash(ssn) for person, ssn in _ssns_of(data)}
        existing = self.db.scalar(select(Member).where(
            Member.group_id == group.id, Member.subscriber_id.is_(None),
            Member.ssn_hash == hashes["subscriber"]).with_for_update())
        reason = rules.enrollment_reason(existing.status if existing else None,
                                         existing.member_id if existing else None)
        offerings, plans = self._offerings_of([subgroup])
        decision = rules.decide_enrollment(data, group.waiting_period_days, offerings[subgroup.subgroup_number],
                                           clock.today())
        plan = EnrollmentPlan(decision, plans[data["plan_code"]], reason, existing)
        if existing is not None:
            plan.former_dependents = self._former_dependents(existing, data, hashes)
        self._flag_double_coverage(group, hashes, plan)
        return plan

    def _former_dependents(self, subscriber, data, hashes):
        """A re-enrolled family keeps its member rows: a dependent listed again (same SSN, or same first name
        and birth date) is the same member."""
        former = self.db.scalars(select(Member).where(Member.subscriber_id == subscriber.id)).all()
        matched = {}
        for index, dependent in enumerate(data["dependents"]):
            person = "dependents.%d" % index
            for member in former:
                if member in matched.values():
                    continue
                same_ssn = person in hashes and member.ssn_hash == hashes[person]
                same_person = (member.first_name_key == search.name_key(dependent["first_name"])
                               and member.date_of_birth == dependent["date_of_birth"])
                if same_ssn or same_person:
                    matched[index] = member
                    break
        return matched

    def _flag_double_coverage(self, group, hashes, plan):
        """A person covered in two families of the group is allowed (both spouses may work there) but flagged:
        the new subscriber when already someone's dependent, an existing subscriber when now enrolled as a
        dependent."""
        own_family = plan.existing_subscriber.id if plan.existing_subscriber else None
        head = aliased(Member)
        covered = self.db.execute(
            select(Member, head.member_id.label("family"))
            .join(head, head.id == Member.subscriber_id, isouter=True)
            .where(Member.group_id == group.id, Member.ssn_hash.in_(hashes.values()),
                   Member.status.in_(rules.COVERED_STATUSES))).all()
        for person, ssn_hash in hashes.items():
            for member, family in covered:
                if member.ssn_hash != ssn_hash or own_family in (member.id, member.subscriber_id):
                    continue
                if person == "subscriber" and member.subscriber_id is not None:
                    plan.subscriber_also_dependent = True
                    plan.flags.append(rules.also_dependent_flag(person, family))
                elif person != "subscriber" and member.subscriber_id is None:
                    plan.subscribers_now_also_dependents.append(member)
                    plan.flags.append({"code": "also_dependent_elsewhere", "person": person,
                                       "member_id": member.member_id,
                                       "detail": "Already a subscriber of the group as member %s; flagged as also "
                                                 "covered as a dependent." % member.member_id})

    def _write_enrollment(self, group, subgroup, data, plan):
        decision, cipher, now = plan.decision, self._cipher(), clock.utcnow()
        covered_status = decision.member_status
        statuses_before = {}
        subscriber = plan.existing_subscriber
        if subscriber is None:
            subscriber = Member(member_id=new_member_ids(self.db, 1)[0], group_id=group.id, created_at=now)
            self.db.add(subscriber)
        else:
            statuses_before[subscriber.member_id] = subscriber.status
        _fill_person(subscriber, data["subscriber"], cipher)
        subscriber.relationship_code = wire.SUBSCRIBER_CODE
        subscriber.subgroup_id = subgroup.id
        subscriber.status = covered_status
        subscriber.also_dependent_elsewhere = subscriber.also_dependent_elsewhere or plan.subscriber_also_dependent
        for other in plan.subscribers_now_also_dependents:
            other.also_dependent_elsewhere = True
        try:
            self.db.flush()
        except IntegrityError:
            # Two enrollments of the same person raced; the unique index let one through.
            raise rules.SubscriberAlreadyEnrolled("A subscriber with this SSN was enrolled in the group a moment "
                                                  "ago; search the roster before enrolling again.") from None

        new_ids = iter(new_member_ids(self.db, len(data["dependents"]) - len(plan.former_dependents)))
        dependents = []
        for index, person in enumerate(data["dependents"]):
            member = plan.former_dependents.get(index)
            if member is None:
                member = Member(member_id=next(new_ids), group_id=group.id, created_at=now)
                self.db.add(member)
            else:
                statuses_before[member.member_id] = member.status
            _fill_person(member, person, cipher)
            member.subscriber_id = subscriber.id
            member.subgroup_id = subgroup.id
            member.relationship_code = wire.RELATIONSHIPS[person["relationship"]]
            member.disabled = person["disabled"]
            member.other_coverage = person["other_coverage"]
            member.status = covered_status if index in decision.covered else rules.DECLINED
            dependents.append(member)
        self.db.flush()

        covered = [subscriber] + [dependents[index] for index in decision.covered]
        declined = [member for index, member in enumerate(dependents) if index not in decision.covered]
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=subgroup, subscriber=subscriber, member=subscriber,
            type=transactions.NEW_ENROLLMENT, effective_date=decision.effective_date,
            requested_by=self.caller.actor_id, request=_request_record(data), status=decision.status,
            maintenance_type=rules.ADDITION, reason=plan.reason, hold_reason=decision.hold_reason,
            before={"member_statuses": statuses_before} if statuses_before else None,
            after={"plan_code": plan.plan.plan_code, "tier": decision.tier,
                   "effective_date": decision.effective_date.isoformat(),
                   "covered_member_ids": [member.member_id for member in covered],
                   "declined_member_ids": [member.member_id for member in declined]})
        self.db.add_all(CoverageSpan(member_id=member.id, plan_id=plan.plan.id, tier=decision.tier,
                                     effective_from=decision.effective_date, effective_through=None,
                                     status=rules.span_status_for(decision.status), reason=plan.reason,
                                     transaction_id=txn.id)
                        for member in covered)
        self.db.flush()
        people = {"subscriber": subscriber}
        people.update(("dependents.%d" % index, member) for index, member in enumerate(dependents))
        return subscriber, txn, people

    def _preview(self, subgroup, data, plan):
        decision, offering = plan.decision, plan.decision.offering
        members = [_preview_person("subscriber", wire.SUBSCRIBER_RELATIONSHIP, data["subscriber"], True, None)]
        members += [_preview_person("dependents.%d" % index, person["relationship"], person,
                                    index in decision.covered, person["other_coverage"])
                    for index, person in enumerate(data["dependents"])]
        return wire.EnrollmentPreview().dump({
            "subgroup_number": subgroup.subgroup_number, "effective_date": decision.effective_date,
            "status": decision.status, "hold_reason": decision.hold_reason, "tier": decision.tier,
            "reason": plan.reason,
            "plan": {"plan_code": offering.plan_code, "name": offering.name, "product": offering.product,
                     "plan_type": offering.plan_type, "network": offering.network,
                     "plan_year_start": offering.plan_year_start, "plan_year_end": offering.plan_year_end},
            "members": members, "flags": plan.flags})

    # --- census import (carrier staff) ---------------------------------------------------------------------

    @rpc
    @idempotent()
    def import_census(self, group_number, csv_text):
        """Load the roster of a group moving in: every row checked, all or nothing, set-based writes; one
        completed enrollment (reason 28) and one subscriber_enrolled event per family."""
        access.require_carrier(self.caller)
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        text = load_input(wire.CensusImportInput(), {"csv_text": csv_text})["csv_text"]
        parsed = census.parse(text)
        subgroups = {subgroup.subgroup_number: subgroup for subgroup in group.subgroups}
        offerings, plans = self._offerings_of(subgroups.values())
        cipher = self._cipher()
        hashes = {ssn: cipher.lookup_hash(ssn) for ssn in parsed.ssns()}
        existing, covered = self._people_known_by_ssn(group, hashes)
        families = census.validate(parsed, offerings, clock.today(), existing, covered)
        report, events = _import_families(self.db, cipher, group, subgroups, plans, families, hashes,
                                          self.caller.actor_id)
        record_family_events(self.db, self.name, SUBSCRIBER_ENROLLED, events, actor=self.caller.actor_id,
                             request_id=self.caller.request_id)
        search.refresh_statistics(self.db)
        self._log_access("import_census", group, report["imported"])
        return wire.CensusReport().dump(report)

    def _people_known_by_ssn(self, group, hashes):
        """({ssn: member id} of the group's subscribers, {ssn: subscriber member id} of its covered dependents)
        among `hashes` ({ssn: lookup hash}), in look-ups of a few thousand hashes each."""
        ssn_of = {value: ssn for ssn, value in hashes.items()}
        existing, covered = {}, {}
        head = aliased(Member)
        values = list(ssn_of)
        for start in range(0, len(values), 5000):
            rows = self.db.execute(
                select(Member.ssn_hash, Member.member_id, Member.subscriber_id, Member.status,
                       head.member_id.label("family"))
                .join(head, head.id == Member.subscriber_id, isouter=True)
                .where(Member.group_id == group.id, Member.ssn_hash.in_(values[start:start + 5000])))
            for row in rows:
                if row.subscriber_id is None:
                    existing[ssn_of[row.ssn_hash]] = row.member_id
                elif row.status in rules.COVERED_STATUSES:
                    covered[ssn_of[row.ssn_hash]] = row.family
        return existing, covered

    # --- search, export, the subscriber page ---------------------------------------------------------------

    @rpc
    def search_members(self, group_number, filters):
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        data = load_input(wire.SearchFilters(), filters)
        allowed = self._visible_subgroup_ids(group, VIEW_ROSTER)
        members, total = search.search_members(self.db, group, allowed, data)
        items = search.summaries(self.db, self._cipher(), group.group_number, members, self.caller.may_see_ssn,
                                 clock.today())
        self._log_access("search_members", group, len(items))
        return {"items": items, "total": total, "page": data["page"], "limit": data["limit"]}

    @rpc
    def export_roster(self, group_number, filters, fmt="csv"):
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        data = load_input(wire.ExportQuery(), dict(filters or {}, format=fmt or "csv"))
        allowed = self._visible_subgroup_ids(group, VIEW_ROSTER)
        today = clock.today()
        rows = export.roster_rows(self.db, self._cipher(), group, allowed, data, self.caller.may_see_ssn, today)
        self._log_access("export_roster", group, len(rows), format=data["format"])
        return export.export_file(rows, group.group_number, data, data["format"], today)

    @rpc
    def get_subscriber(self, group_number, member_id):
        """The family page; a dependent's member id opens their subscriber's family."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, VIEW_ROSTER)
        subscriber = member if member.subscriber_id is None else self.db.get(Member, member.subscriber_id)
        subgroup_number = group_subgroup_number(group, subscriber.subgroup_id)
        details = snapshots.subscriber_details(self.db, self._cipher(), group, subscriber,
                                               self.caller.may_see_ssn(group.group_number, subgroup_number))
        self._log_access("get_subscriber", group, 1 + len(details["dependents"]))
        return details

    # --- transactions: the group's view --------------------------------------------------------------------

    @rpc
    def list_transactions(self, group_number, filters):
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        data = load_input(wire.TransactionFilters(), filters)
        txns, total = transactions.list_transactions(self.db, group, self._visible_subgroup_ids(group, VIEW_ROSTER),
                                                     data)
        self._log_access("list_transactions", group, len(txns))
        return {"items": transactions.transactions_out(self.db, txns), "total": total, "page": data["page"],
                "limit": data["limit"]}

    @rpc
    def get_transaction(self, group_number, confirmation):
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        txn = self._visible_transaction(group, confirmation, VIEW_ROSTER)
        self._log_access("get_transaction", group, 1)
        return transactions.transaction_out(txn)

    @rpc
    @idempotent(target=lambda group_number, confirmation, changes: confirmation)
    def edit_transaction(self, group_number, confirmation, changes):
        """A pending enrollment's effective date or plan, checked by the enrollment's own rules."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        data = load_input(wire.TransactionEdit(), changes)
        txn = self._visible_transaction(group, confirmation, CHANGE_ROSTER, for_update=True)
        rules.check_editable(txn.status, txn.confirmation_number)
        if txn.type != transactions.NEW_ENROLLMENT:
            raise ValidationFailed("Only the effective date or plan of a pending new enrollment can be edited.",
                                   code="not_editable")
        subscriber = self.db.get(Member, txn.subscriber_id)
        spans = transactions.family_spans_of(self.db, txn)
        subgroup_number = group_subgroup_number(group, txn.subgroup_id)
        offerings, plans = self._offerings_of([s for s in group.subgroups if s.id == txn.subgroup_id])
        current_plan = spans[0].plan.plan_code
        dependents = [(member.relationship_code, member.date_of_birth, member.disabled,
                       "%s %s" % (member.first_name, member.last_name))
                      for member in (self.db.get(Member, span.member_id) for span in spans)
                      if member.subscriber_id is not None]
        effective_date, offering, status, hold_reason = rules.decide_edit(
            hire_date=subscriber.hire_date, waiting_period_days=group.waiting_period_days,
            current_effective_date=txn.effective_date, requested_effective_date=data["effective_date"],
            plan_code=data["plan_code"] or current_plan, tier=spans[0].tier, dependents=dependents,
            offerings=offerings[subgroup_number], subgroup_number=subgroup_number, today=clock.today())
        transactions.edit(self.db, txn, effective_date=effective_date, offering_plan=plans[offering.plan_code],
                          status=status, hold_reason=hold_reason, edited_by=self.caller.actor_id)
        publish_family_change(self.outbox, self.db, TRANSACTION_STATUS_CHANGED, group, subscriber, txn)
        return transactions.transaction_out(txn)

    @rpc
    @idempotent(target=lambda group_number, confirmation, reason: confirmation)
    def cancel_transaction(self, group_number, confirmation, reason):
        """The group withdraws a pending change; the family's unchanged state is published, so no consumer
        acts on what was cancelled."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        reason = load_input(wire.CancelInput(), {"reason": reason})["reason"]
        txn = self._visible_transaction(group, confirmation, CHANGE_ROSTER, for_update=True)
        transactions.cancel(self.db, txn, self.caller.actor_id, reason)
        self._publish_status_change(txn)
        return transactions.transaction_out(txn)

    def _visible_transaction(self, group, confirmation, action, for_update=False):
        txn = transactions.find_transaction(self.db, group, str(confirmation),
                                            self._visible_subgroup_ids(group, action), for_update=for_update)
        if txn is None:
            raise NotFound("Transaction %s was not found in group %s." % (confirmation, group.group_number),
                           code="transaction_not_found")
        return txn

    # --- transactions: carrier review and the daily job ----------------------------------------------------

    @rpc
    def list_held_transactions(self, filters):
        access.require_carrier(self.caller)
        data = load_input(wire.HeldTransactionFilters(), filters)
        txns, total = transactions.list_held(self.db, data)
        self._log_access("list_held_transactions", None, len(txns))
        return {"items": transactions.transactions_out(self.db, txns), "total": total, "page": data["page"],
                "limit": data["limit"]}

    @rpc
    @idempotent()
    def approve_transaction(self, confirmation, note=None):
        """A held (retroactive) change approved by carrier staff completes at once."""
        access.require_carrier(self.caller)
        note = load_input(wire.ApproveInput(), {"note": note})["note"]
        txn = self._any_transaction(confirmation)
        rules.check_transition(txn.status, rules.TXN_COMPLETED, txn.confirmation_number)
        if not txn.hold_reason:
            raise TransactionNotHeld("Transaction %s is not held for review; it completes on its effective date."
                                     % txn.confirmation_number)
        transactions.complete(self.db, txn, self.caller.actor_id, note or "approved by carrier review")
        self._publish_status_change(txn)
        return transactions.transaction_out(txn)

    @rpc
    @idempotent()
    def reject_transaction(self, confirmation, reason):
        access.require_carrier(self.caller)
        reason = load_input(wire.RejectInput(), {"reason": reason})["reason"]
        txn = self._any_transaction(confirmation)
        transactions.reject(self.db, txn, self.caller.actor_id, reason)
        self._publish_status_change(txn)
        return transactions.transaction_out(txn)

    @rpc
    @idempotent()
    def complete_due_transactions(self, as_of=None):
        """The daily job's admin trigger: complete what is due on `as_of` (default: the business date)."""
        access.require_carrier(self.caller)
        as_of = load_input(wire.CompleteDueInput(), {"as_of": as_of})["as_of"] or clock.today()
        return {"completed": self._complete_due(as_of, self.caller.actor_id)}

    @scheduled("complete_due_transactions", interval_seconds=3600)
    def complete_due_transactions_daily(self, as_of):
        """Once per business date across replicas (the kit's job claim); hourly ticks pick up a new date soon
        after midnight in the carrier's zone."""
        self._complete_due(as_of, transactions.SYSTEM_ACTOR)

    def _complete_due(self, as_of, decided_by):
        completed = 0
        for txn in transactions.due_transactions(self.db, as_of):
            transactions.complete(self.db, txn, decided_by, "effective date %s reached" % txn.effective_date)
            self._publish_status_change(txn)
            completed += 1
        coverage.expire_ended(self.db, as_of)
        return completed

    def _any_transaction(self, confirmation):
        txn = transactions.find_any_transaction(self.db, str(confirmation), for_update=True)
        if txn is None:
            raise NotFound("Transaction %s was not found." % confirmation, code="transaction_not_found")
        return txn

    def _publish_status_change(self, txn):
        if txn.subscriber_id is None:
            return  # group-level changes have no family to publish
        group = self.db.get(Group, txn.group_id)
        publish_family_change(self.outbox, self.db, TRANSACTION_STATUS_CHANGED, group,
                              self.db.get(Member, txn.subscriber_id), txn)

    # --- shared ---------------------------------------------------------------------------------------------

    def _cipher(self):
        return ssns.cipher_for(self.config)

    def _visible_subgroup_ids(self, group, action):
        return search.allowed_subgroup_ids(self.db, group, self.caller.subgroups(group.group_number, action))

    def _offerings_of(self, subgroups):
        """({subgroup number: [Offering]}, {plan code: Plan}) for these subgroups, in one query."""
        by_id = {subgroup.id: subgroup.subgroup_number for subgroup in subgroups}
        offerings = {number: [] for number in by_id.values()}
        plans = {}
        if not by_id:
            return offerings, plans
        for offering, plan in self.db.execute(select(PlanOffering, Plan).join(Plan, Plan.id == PlanOffering.plan_id)
                                              .where(PlanOffering.subgroup_id.in_(by_id))):
            plans[plan.plan_code] = plan
            offerings[by_id[offering.subgroup_id]].append(rules.Offering(
                plan.plan_code, offering.plan_year_start, offering.plan_year_end, tuple(plan.tiers), plan.name,
                plan.product, plan.plan_type, plan.network))
        return offerings, plans

    def _log_access(self, action, group, count, **detail):
        """Who read (or wrote) how many member records of which group (None: across groups), and how."""
        ACCESS_LOG.info("member records: %s" % action, extra=dict(
            access_user_id=self.caller.actor_id, access_group=group.group_number if group is not None else None,
            access_action=action,
            access_count=count, **{"access_%s" % key: value for key, value in detail.items()}))


# --- helpers ------------------------------------------------------------------------------------------------

def group_subgroup_number(group, subgroup_id):
    return next(subgroup.subgroup_number for subgroup in group.subgroups if subgroup.id == subgroup_id)


def new_member_ids(session, count):
    """`count` unused member ids, checked in one look-up."""
    ids = set()
    while len(ids) < count:
        candidates = {rules.new_member_id() for _ in range(count - len(ids))} - ids
        taken = set(session.scalars(select(Member.member_id).where(Member.member_id.in_(candidates))))
        ids |= candidates - taken
    return list(ids)


def _ssns_of(data):
    yield "subscriber", data["subscriber"]["ssn"]
    for index, person in enumerate(data["dependents"]):
        if person["ssn"]:
            yield "dependents.%d" % index, person["ssn"]


def _fill_person(member, person, cipher):
    member.first_name, member.middle_name, member.last_name = (person["first_name"], person.get("middle_name"),
                                                               person["last_name"])
    member.first_name_key = search.name_key(person["first_name"])
    member.last_name_key = search.name_key(person["last_name"])
    member.date_of_birth, member.gender = person["date_of_birth"], person["gender"]
    if person.get("ssn") or member.ssn_hash is None:  # a newborn's later enrollment keeps a number on file
        for column, value in ssns.protected_columns(cipher, person.get("ssn")).items():
            setattr(member, column, value)
    for column in ("marital_status", "email", "phone", "mailing_address", "physical_address", "hire_date",
                   "employment_status"):
        if column in person:
            setattr(member, column, person[column])


def _request_record(data):
    """What was asked, as the transaction keeps it: dates as text, SSNs reduced to the last 4."""
    record = REQUEST_RECORD.dump(data)
    record["subscriber"]["ssn"] = ssns.masked_request_ssn(data["subscriber"]["ssn"])
    for dumped, person in zip(record["dependents"], data["dependents"]):
        dumped["ssn"] = ssns.masked_request_ssn(person["ssn"])
    return record


def _preview_person(person, relationship, data, elect, other_coverage):
    return {"person": person, "relationship": relationship, "first_name": data["first_name"],
            "last_name": data["last_name"], "date_of_birth": data["date_of_birth"],
            "ssn": ssns.masked_request_ssn(data.get("ssn")), "elect_coverage": elect,
            "other_coverage": other_coverage}


# --- census import: set-based writes ------------------------------------------------------------------------

def _import_families(session, cipher, group, subgroups, plans, families, hashes, requested_by):
    """Insert the checked families with a few multi-row statements (members, then dependents pointing at their
    subscribers, then one completed transaction per family, then the coverage spans). Returns the per-row
    report and each family's subscriber_enrolled payload."""
    today, now, requested_at = clock.today(), clock.utcnow(), clock.now()
    member_count = sum(len(family.rows) for family in families)
    member_ids = iter(new_member_ids(session, member_count))
    confirmations = transactions.new_confirmation_numbers(session, today, len(families))

    def member_row(person, subgroup_id, relationship_code, subscriber_id=None, also_dependent=False):
        row = {"member_id": next(member_ids), "group_id": group.id, "subgroup_id": subgroup_id,
               "subscriber_id": subscriber_id, "relationship_code": relationship_code,
               "first_name": person["first_name"], "middle_name": person.get("middle_name"),
               "last_name": person["last_name"], "last_name_key": search.name_key(person["last_name"]),
               "first_name_key": search.name_key(person["first_name"]), "date_of_birth": person["date_of_birth"],
               "gender": person["gender"], "marital_status": person.get("marital_status"),
               "email": person.get("email"), "phone": person.get("phone"),
               "mailing_address": person.get("mailing_address"), "physical_address": None,
               "hire_date": person.get("hire_date"), "employment_status": person.get("employment_status"),
               "disabled": bool(person.get("disabled")), "other_coverage": None,
               "also_dependent_elsewhere": also_dependent, "status": rules.ACTIVE, "created_at": now}
        ssn = person.get("ssn")
        row.update({"ssn_ciphertext": cipher.encrypt(ssn) if ssn else None, "ssn_last4": ssn[-4:] if ssn else None,
                    "ssn_hash": hashes[ssn] if ssn else None})
        return row

    subscriber_rows = [member_row(family.enrollment["subscriber"],
                                  subgroups[family.enrollment["subgroup_number"]].id, wire.SUBSCRIBER_CODE,
                                  also_dependent=family.also_dependent_elsewhere) for family in families]
    subscriber_ids = session.scalars(insert(Member).returning(Member.id, sort_by_parameter_order=True),
                                     subscriber_rows).all()
    dependent_rows, owners = [], []
    for family, subscriber_row, subscriber_id in zip(families, subscriber_rows, subscriber_ids):
        for person in family.enrollment["dependents"]:
            dependent_rows.append(member_row(person, subscriber_row["subgroup_id"],
                                             wire.RELATIONSHIPS[person["relationship"]], subscriber_id))
            owners.append(family)
    dependent_ids = session.scalars(insert(Member).returning(Member.id, sort_by_parameter_order=True),
                                    dependent_rows).all() if dependent_rows else []

    txn_rows = []
    for family, subscriber_row, subscriber_id, confirmation in zip(families, subscriber_rows, subscriber_ids,
                                                                   confirmations):
        decision, enrollment = family.decision, family.enrollment
        txn_rows.append({
            "confirmation_number": confirmation, "group_id": group.id, "subgroup_id": subscriber_row["subgroup_id"],
            "subscriber_id": subscriber_id, "member_id": subscriber_id, "type": transactions.CENSUS_ENROLLMENT,
            "maintenance_type": rules.ADDITION, "reason": rules.INITIAL_ENROLLMENT, "status": rules.TXN_COMPLETED,
            "effective_date": decision.effective_date, "completes_on": decision.effective_date,
            "requested_by": requested_by, "requested_at": requested_at,
            "hold_reason": None, "decided_by": requested_by, "decided_at": requested_at, "decision_reason": None,
            "request": {"source": "census", "rows": family.rows}, "before": None,
            "after": {"plan_code": enrollment["plan_code"], "tier": decision.tier,
                      "effective_date": decision.effective_date.isoformat()}})
    txn_ids = session.scalars(insert(EnrollmentTransaction).returning(EnrollmentTransaction.id,
                                                                      sort_by_parameter_order=True), txn_rows).all()

    # Dependent rows by family, in the order they were inserted (each family's in file order).
    family_dependents = {}
    for family, row, member_pk in zip(owners, dependent_rows, dependent_ids):
        family_dependents.setdefault(id(family), []).append((row, member_pk))
    span_rows, report, events = [], [], []
    for family, subscriber_row, subscriber_id, txn_id, confirmation in zip(
            families, subscriber_rows, subscriber_ids, txn_ids, confirmations):
        decision, enrollment = family.decision, family.enrollment
        plan = plans[enrollment["plan_code"]]
        members = [(subscriber_row, subscriber_id)] + family_dependents.get(id(family), [])
        coverage = {"plan_code": plan.plan_code, "tier": decision.tier, "effective_from": decision.effective_date,
                    "effective_through": None, "status": rules.ACTIVE, "reason": rules.INITIAL_ENROLLMENT}
        for row, member_pk in members:
            span_rows.append({"member_id": member_pk, "plan_id": plan.id, "tier": decision.tier,
                              "effective_from": decision.effective_date, "effective_through": None,
                              "status": rules.ACTIVE, "reason": rules.INITIAL_ENROLLMENT, "transaction_id": txn_id})
        events.append({
            "group_number": group.group_number, "subgroup_number": enrollment["subgroup_number"],
            "subscriber_member_id": subscriber_row["member_id"],
            "transaction": {"confirmation_number": confirmation, "type": transactions.CENSUS_ENROLLMENT,
                            "maintenance_type": rules.ADDITION, "reason": rules.INITIAL_ENROLLMENT,
                            "status": rules.TXN_COMPLETED, "effective_date": decision.effective_date},
            "members": [{"member_id": row["member_id"], "relationship_code": row["relationship_code"],
                         "first_name": row["first_name"], "last_name": row["last_name"],
                         "date_of_birth": row["date_of_birth"], "gender": row["gender"], "status": row["status"],
                         "coverage": [coverage]} for row, _pk in members]})
        for row_number, (row, _pk) in zip(family.rows, members):
            report.append({"row": row_number, "member_id": row["member_id"],
                           "subscriber_member_id": subscriber_row["member_id"],
                           "relationship": wire.RELATIONSHIP_NAMES[row["relationship_code"]],
                           "confirmation_number": confirmation, "status": "imported"})
    session.execute(insert(CoverageSpan), span_rows)
    report.sort(key=lambda entry: entry["row"])
    return {"imported": len(report), "families": len(families), "rows": report}, events
