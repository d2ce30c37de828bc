"""roster.coverage: the one primitive every lifecycle change uses, on PostgreSQL. A family (subscriber, spouse,
child) on one plan; changes from a date; the tier follows who is covered; a reinstatement re-opens the span;
a pending change is undone exactly or completed on its date."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy.orm import Session

from roster import coverage, transactions
from roster.models import CoverageSpan, Group, Member, Plan, Subgroup
from servicekit import clock

NOW = datetime(2027, 3, 15, 12, tzinfo=timezone.utc)


@pytest.fixture
def session(roster_db):
    with Session(roster_db) as session:
        yield session


@pytest.fixture
def family(session):
    plan = Plan(plan_code="PPO-1", name="PPO", product="medical", plan_type="PPO", network="STATE",
                requires_pcp=False, tiers=["EMP", "ESP", "ECH", "FAM"], status="active")
    group = Group(group_number="CV1", legal_name="Coverage Co", ein="123456789", mailing_address={}, contacts=[],
                  renewal_date=date(2028, 1, 1), created_at=NOW)
    session.add_all([plan, group])
    session.flush()
    subgroup = Subgroup(group_id=group.id, subgroup_number="001", name="Office")
    session.add(subgroup)
    session.flush()

    def person(member_id, code, first, born, subscriber=None):
        member = Member(member_id=member_id, group_id=group.id, subgroup_id=subgroup.id, relationship_code=code,
                        subscriber_id=subscriber.id if subscriber else None, first_name=first, last_name="Lane",
                        first_name_key=first.lower(), last_name_key="lane", date_of_birth=born, gender="U",
                        status="active", created_at=NOW)
        session.add(member)
        session.flush()
        session.add(CoverageSpan(member_id=member.id, plan_id=plan.id, tier="FAM", effective_from=date(2027, 1, 1),
                                 status="active", reason="28"))
        return member

    head = person("M000000001", "18", "Pat", date(1980, 1, 1))
    spouse = person("M000000002", "01", "Sam", date(1981, 2, 2), head)
    child = person("M000000003", "19", "Kim", date(2012, 3, 3), head)
    session.flush()
    return {"group": group, "subgroup": subgroup, "plan": plan, "head": head, "spouse": spouse, "child": child}


def record(session, family, status, effective, completes_on=None):
    return transactions.record_transaction(
        session, group=family["group"], subgroup=family["subgroup"], subscriber=family["head"],
        member=family["spouse"], type="coverage_termination", effective_date=effective, completes_on=completes_on,
        requested_by="tester", request={}, status=status, maintenance_type="024", reason="07")


def spans_of(session, member):
    session.expire_all()
    return [(span.plan.plan_code, span.tier, span.effective_from, span.effective_through, span.status)
            for span in sorted(session.get(Member, member.id).coverage, key=lambda span: (span.effective_from, span.id))]


def rest_of_family(family, *members):
    return {member: coverage.Covered(family["plan"]) for member in members}


def test_ending_a_spouse_splits_the_family_spans_and_the_tier_follows(session, family):
    clock.set_today(date(2027, 4, 2))
    try:
        txn = record(session, family, "completed", date(2027, 3, 31), date(2027, 4, 1))
        members = coverage.family_of(session, family["head"])
        coverage.change_coverage(session, txn, members, date(2027, 4, 1),
                                 rest_of_family(family, family["head"], family["child"]), "07", in_effect=True,
                                 today=date(2027, 4, 2))
        assert spans_of(session, family["spouse"]) == [("PPO-1", "FAM", date(2027, 1, 1), date(2027, 3, 31),
                                                        "terminated")]
        assert spans_of(session, family["child"]) == [
            ("PPO-1", "FAM", date(2027, 1, 1), date(2027, 3, 31), "terminated"),
            ("PPO-1", "ECH", date(2027, 4, 1), None, "active")]
        assert session.get(Member, family["spouse"].id).status == "terminated"
        assert session.get(Member, family["child"].id).status == "active"

        # Reinstating the spouse from the day after: the FAM spans are re-opened (continuous), the ECH ones
        # that started that very day are superseded.
        again = record(session, family, "completed", date(2027, 4, 1))
        coverage.change_coverage(session, again, coverage.family_of(session, family["head"]), date(2027, 4, 1),
                                 rest_of_family(family, family["head"], family["spouse"], family["child"]), "41",
                                 in_effect=True, today=date(2027, 4, 2))
        assert spans_of(session, family["spouse"]) == [("PPO-1", "FAM", date(2027, 1, 1), None, "active")]
        assert spans_of(session, family["child"]) == [
            ("PPO-1", "FAM", date(2027, 1, 1), None, "active"),
            ("PPO-1", "ECH", date(2027, 4, 1), None, "cancelled")]
        assert session.get(Member, family["spouse"].id).status == "active"
    finally:
        clock.reset()


def test_a_pending_change_is_undone_exactly_or_completed_on_its_date(session, family):
    pending = record(session, family, "pending", date(2027, 4, 30), date(2027, 5, 1))
    coverage.change_coverage(session, pending, coverage.family_of(session, family["head"]), date(2027, 5, 1),
                             rest_of_family(family, family["head"], family["child"]), "07", in_effect=False)
    assert spans_of(session, family["spouse"]) == [("PPO-1", "FAM", date(2027, 1, 1), date(2027, 4, 30), "active")]
    assert spans_of(session, family["child"])[-1] == ("PPO-1", "ECH", date(2027, 5, 1), None, "pending")
    assert session.get(Member, family["spouse"].id).status == "active"  # still covered until then

    with pytest.raises(coverage.FamilyHasPendingChange):
        coverage.require_no_pending_change(session, family["head"])

    clock.set_today(date(2027, 3, 20))
    try:
        transactions.cancel(session, pending, "tester", "changed our mind")
    finally:
        clock.reset()
    for member in ("head", "spouse", "child"):
        assert spans_of(session, family[member])[0] == ("PPO-1", "FAM", date(2027, 1, 1), None, "active")
        assert all(span[-1] == "cancelled" for span in spans_of(session, family[member])[1:])
        assert session.get(Member, family[member].id).status == "active"
    coverage.require_no_pending_change(session, family["head"])  # nothing pending any more

    later = record(session, family, "pending", date(2027, 4, 30), date(2027, 5, 1))
    coverage.change_coverage(session, later, coverage.family_of(session, family["head"]), date(2027, 5, 1),
                             rest_of_family(family, family["head"], family["child"]), "07", in_effect=False)
    clock.set_today(date(2027, 5, 1))
    try:
        transactions.complete(session, later, "system:daily-job")
    finally:
        clock.reset()
    assert spans_of(session, family["spouse"]) == [("PPO-1", "FAM", date(2027, 1, 1), date(2027, 4, 30),
                                                    "terminated")]
    assert spans_of(session, family["child"])[-1] == ("PPO-1", "ECH", date(2027, 5, 1), None, "active")
    assert session.get(Member, family["spouse"].id).status == "terminated"


def test_coverage_with_a_known_end_expires_after_it(session, family):
    txn = record(session, family, "completed", date(2027, 3, 1))
    coverage.change_coverage(session, txn, coverage.family_of(session, family["head"]), date(2027, 3, 1),
                             {family["head"]: coverage.Covered(family["plan"], through=date(2027, 6, 30),
                                                               continuation="cobra")},
                             "09", in_effect=True, today=date(2027, 3, 15))
    assert session.get(Member, family["head"].id).status == "cobra"
    assert coverage.expire_ended(session, date(2027, 6, 30)) == 0  # the last day is still covered
    assert coverage.expire_ended(session, date(2027, 7, 1)) == 1
    assert spans_of(session, family["head"])[-1] == ("PPO-1", "EMP", date(2027, 3, 1), date(2027, 6, 30),
                                                     "terminated")
    assert session.get(Member, family["head"].id).status == "terminated"
