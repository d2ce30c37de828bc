"""Issue 6: billing's coverage projection is rebuilt exactly by replaying roster's outbox. Families are enrolled
and changed through the gateway; billing's projection of them is wiped (with what billing remembered of those
events); the operator's replay (servicekit.outbox.replay, what `python -m servicekit.outbox replay` runs) puts
roster's stored events back into billing's queues; the projection comes back the same, sequence for sequence."""

import pytest
import requests
from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.orm import Session
from servicekit import outbox as servicekit_outbox
from servicekit import tables
from servicekit.testing import wait_for

from journeys import create_group, ok, unique_ssn, user

PLAN = {"plan_code": "RB-PPO", "name": "Rebuild PPO", "product": "medical", "plan_type": "PPO",
        "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}
RABBIT_API = "http://guest:guest@127.0.0.1:15672/api"


@pytest.fixture
def families(stack, business_date):
    """A group with two families enrolled from 2027-03-01; one loses its spouse at the end of March."""
    business_date("2027-03-10")
    carrier = stack.client(stack.token("carrier-rebuild", carrier=True))
    ok(carrier.post("/api/v1/admin/plans", json=[PLAN]))
    number = create_group(carrier, "RB", {"001": ("HQ", ["RB-PPO"])}, legal_name="Rebuild Co")
    admin = user(stack, number, "group_admin")
    subscribers = []
    for last in ("Ames", "Brook"):
        enrolled = ok(admin.post("/api/v1/groups/%s/subscribers" % number, json={
            "subgroup_number": "001", "plan_code": "RB-PPO", "effective_date": "2027-03-01",
            "subscriber": {"first_name": "Dana", "last_name": last, "date_of_birth": "1985-04-12", "gender": "F",
                           "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                           "hire_date": "2027-02-20", "employment_status": "active"},
            "dependents": [{"relationship": "spouse", "first_name": "Sam", "last_name": last,
                            "date_of_birth": "1984-02-03", "gender": "M", "ssn": unique_ssn()}]}), 201)
        subscribers.append(enrolled["subscriber"])
    spouse = subscribers[0]["dependents"][0]["member_id"]
    ok(admin.post("/api/v1/groups/%s/members/%s/coverage/terminate" % (number, spouse),
                  json={"cause": "divorce", "event_date": "2027-03-05"}))
    return [subscriber["member_id"] for subscriber in subscribers]


def test_replaying_rosters_outbox_rebuilds_the_projection(stack, families):
    roster_db = create_engine(stack.database_urls["roster"])
    billing_db = create_engine(stack.database_urls["billing"])
    aggregates = ["family:%s" % member_id for member_id in families]
    with roster_db.connect() as connection:
        last = dict(connection.execute(select(tables.aggregate_sequences.c.aggregate_id,
                                              tables.aggregate_sequences.c.last_sequence)
                                       .where(tables.aggregate_sequences.c.aggregate_id.in_(aggregates))).all())
        event_ids = connection.scalars(select(tables.outbox.c.event_id)
                                       .where(tables.outbox.c.aggregate_id.in_(aggregates))).all()
    assert last["family:%s" % families[0]] == 2 and last["family:%s" % families[1]] == 1  # enrolled (+ a spouse
    #                                                                                     termination pending)

    def projection():
        with billing_db.connect() as connection:
            return {row.subscriber_member_id: (row.subgroup_number, row.sequence, row.members) for row in
                    connection.execute(text("SELECT subscriber_member_id, subgroup_number, sequence, members "
                                            "FROM billable_families WHERE subscriber_member_id = ANY(:ids)"),
                                       {"ids": families})}

    wait_for(lambda: {key: value[1] for key, value in projection().items()}
             == {member_id: last["family:%s" % member_id] for member_id in families},
             timeout=30, message="billing to project both families")
    before = projection()
    spouse_coverage = before[families[0]][2][1]["coverage"]
    assert [(span["effective_from"], span["effective_through"]) for span in spouse_coverage] == [
        ("2027-03-01", "2027-03-31")]

    # The projection is lost, and with it what billing remembered of these events.
    with Session(billing_db) as session:
        session.execute(text("DELETE FROM billable_families WHERE subscriber_member_id = ANY(:ids)"),
                        {"ids": families})
        session.execute(delete(tables.consumer_positions).where(tables.consumer_positions.c.aggregate_id
                                                                .in_(aggregates)))
        session.execute(delete(tables.processed_events).where(tables.processed_events.c.event_id.in_(event_ids)))
        session.commit()
    assert projection() == {}

    # The operator replays roster's outbox into each of billing's family-event queues.
    queues = requests.get("%s/queues/%s" % (RABBIT_API, stack.vhost), timeout=10).json()
    replayed = 0
    with Session(roster_db) as session:
        event_types = session.scalars(select(tables.outbox.c.event_type).distinct()
                                      .where(tables.outbox.c.aggregate_id.in_(aggregates))).all()
        for event_type in event_types:
            [queue] = [q["name"] for q in queues if q["name"].startswith("evt-roster-%s--billing." % event_type)
                       and "." not in q["name"].split("--billing.")[1]]
            replayed += servicekit_outbox.replay(session, stack.amqp_uri, queue, event_type=event_type)
    assert replayed >= 3  # these families' three events (and those of any other family of the same types)
    wait_for(lambda: projection() == before, timeout=30, message="the projection to be rebuilt as it was")
