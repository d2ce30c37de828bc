"""What the roster's end-to-end journeys share: signed-in clients of a group's users, answers checked with
their status, SSNs that are valid and new, and a carrier system's queue on roster.events."""
import uuid

from kombu import Connection, Exchange, Queue, binding

from servicekit.auth import compact_grant


def user(stack, group, role, subgroups=None, actions=None):
    """A client signed in as a user of `group` with `role` (limited to `subgroups`, or the delegate `actions`)."""
    user_id = "%s-%s-%s" % (role, group, "-".join(subgroups or ["all"]))
    return stack.client(stack.token(user_id, grants=[compact_grant(group, role, subgroups, actions)]))


def ok(response, status=200):
    """The JSON body of an answer with exactly `status`, else an AssertionError showing the answer."""
    assert response.status_code == status, (response.request.method, response.request.path_url,
                                            response.status_code, response.text[:1000])
    return response.json()


def unique_ssn():
    """A valid SSN no other test uses: area 100-665 (never 000, 666 or 9xx), group 10-98, serial 1000-9998."""
    n = uuid.uuid4().int
    return "%03d%02d%04d" % (100 + n % 566, 10 + (n >> 16) % 89, 1000 + (n >> 32) % 8999)


def events_queue(stack, name, event_types, exchange="roster.events"):
    """A carrier system's durable queue bound to `event_types`, declared before anything happens."""
    queue = Queue("carrier.e2e.%s.%s" % (name, uuid.uuid4().hex[:6]), durable=True,
                  bindings=[binding(Exchange(exchange, type="topic", durable=True), routing_key=event_type)
                            for event_type in event_types])
    with Connection(stack.amqp_uri) as connection:
        queue(connection.default_channel).declare()
    return queue


def drain(stack, queue, seconds=3):
    """Every event waiting in `queue` (and arriving until `seconds` pass without one), acked."""
    received = []
    with Connection(stack.amqp_uri) as connection:
        with connection.Consumer(queue, callbacks=[lambda body, message: (received.append(body), message.ack())],
                                 accept=["json"]):
            try:
                while True:
                    connection.drain_events(timeout=seconds)
            except Exception:  # socket.timeout: nothing more arrived
                pass
    return received


GROUP_ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}


def create_group(carrier, prefix, offerings, legal_name=None, plan_year_start="2027-01-01"):
    """As carrier staff: a new group `prefix` + 6 hex digits (45 employees, COBRA, no waiting period, renewing
    on `plan_year_start`) and its subgroups, each offered its plans for that plan year. `offerings`:
    {subgroup number: (name, [plan codes])}. Returns the group number."""
    number = "%s%s" % (prefix, uuid.uuid4().hex[:6].upper())
    ok(carrier.post("/api/v1/admin/groups", json={
        "group_number": number, "legal_name": legal_name or "Widgets %s LLC" % prefix, "ein": "061234567",
        "mailing_address": GROUP_ADDRESS, "contacts": [{"kind": "primary", "name": "Pat Admin",
                                                        "email": "pat@e2e.example"}],
        "renewal_date": plan_year_start, "employee_count": 45, "waiting_period_days": 0,
        "age_off_policy": "end_of_month", "continuation": "cobra"}), 201)
    for subgroup, (name, plan_codes) in offerings.items():
        ok(carrier.post("/api/v1/admin/groups/%s/subgroups" % number,
                        json={"subgroup_number": subgroup, "name": name}), 201)
        ok(carrier.put("/api/v1/admin/groups/%s/subgroups/%s/plans" % (number, subgroup),
                       json={"plan_year_start": plan_year_start, "plan_codes": list(plan_codes)}))
    return number
