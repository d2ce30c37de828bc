"""Issue 3's journeys over HTTP through the gateway: carrier set-up, enrollment, search, export,
transactions and their state machine, authorisation, bad input, census import, events."""
import csv
import io
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from kombu import Queue
from openpyxl import load_workbook

from servicekit.testing import problem

from journeys import drain, events_queue, unique_ssn, user

PLANS = [
    {"plan_code": "HMO-GOLD", "name": "Gold HMO", "product": "medical", "plan_type": "HMO", "network": "METRO",
     "requires_pcp": True, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "PPO-SILVER", "name": "Silver PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "EPO-BASIC", "name": "Basic EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}


def today():
    """The business date: the carrier's time zone, as the services see it."""
    return datetime.now(ZoneInfo("America/New_York")).date()


def first_of_next_month(day):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def retro_first_of_month(today, min_days, max_days):
    """A first-of-month between min_days (exclusive) and max_days (inclusive) before today."""
    day = today.replace(day=1)
    while not (min_days < (today - day).days <= max_days):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


@pytest.fixture(scope="module")
def group_number():
    return "E%s" % uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-e2e", carrier=True))


@pytest.fixture(scope="module")
def family_events(stack):
    """A carrier system's queue bound with plain kombu before anything is enrolled."""
    return events_queue(stack, "roster", ("subscriber_enrolled", "transaction_status_changed"))


@pytest.fixture(scope="module")
def group(stack, carrier, group_number, family_events):
    """Carrier staff create plans, a group with two subgroups, and the plans each subgroup is offered."""
    this_year = today().year
    assert carrier.post("/api/v1/admin/plans", json=PLANS).status_code in (200, 201)
    response = carrier.post("/api/v1/admin/groups", json={
        "group_number": group_number, "legal_name": "End To End Widgets LLC", "ein": "061234567",
        "mailing_address": ADDRESS, "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@e2e.example"}],
        "renewal_date": date(this_year, 1, 1).isoformat(), "employee_count": 45, "waiting_period_days": 0,
        "age_off_policy": "end_of_month", "continuation": "cobra"})
    assert response.status_code == 201, response.text
    for number, name in (("001", "Office"), ("002", "Plant")):
        created = carrier.post("/api/v1/admin/groups/%s/subgroups" % group_number,
                               json={"subgroup_number": number, "name": name})
        assert created.status_code == 201, created.text
    for plan_year in (this_year - 1, this_year, this_year + 1):
        for number, codes in (("001", ["HMO-GOLD", "PPO-SILVER"]), ("002", ["EPO-BASIC"])):
            offered = carrier.put("/api/v1/admin/groups/%s/subgroups/%s/plans" % (group_number, number),
                                  json={"plan_year_start": date(plan_year, 1, 1).isoformat(), "plan_codes": codes})
            assert offered.status_code == 200, offered.text
    return group_number


def enrollment(subgroup="001", plan="PPO-SILVER", hire_date=None, dependents=(), **subscriber):
    person = {"first_name": "Avery", "last_name": "Quinlan-%s" % uuid.uuid4().hex[:4], "date_of_birth": "1985-04-12",
              "gender": "F", "marital_status": "M", "ssn": unique_ssn(), "email": "avery@e2e.example",
              # hired on the 1st with no waiting period: covered from that day, so completed at once
              "mailing_address": ADDRESS, "hire_date": (hire_date or today().replace(day=1)).isoformat(),
              "employment_status": "active"}
    person.update(subscriber)
    return {"subgroup_number": subgroup, "plan_code": plan, "subscriber": person, "dependents": list(dependents)}


def spouse_and_child(child_dob="2015-06-01"):
    return [
        {"relationship": "spouse", "first_name": "Jordan", "last_name": "Quinlan", "date_of_birth": "1984-02-03",
         "gender": "M", "ssn": unique_ssn(), "elect_coverage": True},
        {"relationship": "child", "first_name": "Riley", "last_name": "Quinlan", "date_of_birth": child_dob,
         "gender": "F", "ssn": unique_ssn(), "elect_coverage": True},
    ]


@pytest.fixture(scope="module")
def enrolled(stack, group):
    """A group admin enrolls a subscriber with a spouse and a child."""
    admin = user(stack, group, "group_admin")
    body = enrollment(dependents=spouse_and_child(), last_name="Zabriskie")
    summary = admin.post("/api/v1/groups/%s/subscribers/preview" % group, json=body)
    assert summary.status_code == 200, summary.text
    response = admin.post("/api/v1/groups/%s/subscribers" % group, json=body)
    assert response.status_code == 201, response.text
    return body, response.json()


def test_enrollment_gets_a_confirmation_number_and_family_tier(enrolled):
    body, result = enrolled
    assert result["confirmation_number"]
    assert result["subscriber"]["member_id"]
    tiers = {span["tier"] for member in [result["subscriber"], *result["subscriber"]["dependents"]]
             for span in member["coverage"]}
    assert tiers == {"FAM"}


def test_the_enrolled_subscriber_is_found_by_every_search_key(stack, group, enrolled):
    body, result = enrolled
    viewer = user(stack, group, "viewer")
    member_id = result["subscriber"]["member_id"]
    searches = [{"member_id": member_id}, {"q": "zabr"}, {"last_name": "ZABRISKIE"},
                {"date_of_birth": body["subscriber"]["date_of_birth"], "last_name": "zab"},
                {"ssn_last4": body["subscriber"]["ssn"][-4:]}, {"subgroup": "001", "q": "Zab"},
                {"status": "active", "q": "zab"}]
    for params in searches:
        response = viewer.get("/api/v1/groups/%s/members" % group, params=params)
        assert response.status_code == 200, (params, response.text)
        assert member_id in {item["member_id"] for item in response.json()["items"]}, params


def test_the_roster_exports_as_csv_and_xlsx_with_masked_ssns(stack, group, enrolled):
    body, result = enrolled
    manager = user(stack, group, "enrollment_manager")
    exported = manager.get("/api/v1/groups/%s/roster" % group, params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    ours = [row for row in rows if body["subscriber"]["ssn"][-4:] in " ".join(row.values())]
    assert len(ours) == 1
    assert body["subscriber"]["ssn"] not in exported.text  # an enrollment manager sees last 4 only

    workbook = manager.get("/api/v1/groups/%s/roster" % group, params={"format": "xlsx"})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row]
    assert result["subscriber"]["member_id"] in cells


def test_the_transaction_is_listed_and_viewable(stack, group, enrolled):
    body, result = enrolled
    admin = user(stack, group, "group_admin")
    response = admin.get("/api/v1/groups/%s/transactions" % group)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert result["confirmation_number"] in {item["confirmation_number"] for item in listed["items"]}
    one = admin.get("/api/v1/groups/%s/transactions/%s" % (group, result["confirmation_number"]))
    assert one.status_code == 200 and one.json()["status"] == "completed"
    family = admin.get("/api/v1/groups/%s/subscribers/%s" % (group, result["subscriber"]["member_id"]))
    assert family.status_code == 200 and len(family.json()["dependents"]) == 2


def test_a_future_enrollment_is_prospective_until_the_daily_job_passes_its_date(stack, carrier, group):
    admin = user(stack, group, "group_admin")
    start = first_of_next_month(today())
    response = admin.post("/api/v1/groups/%s/subscribers" % group,
                          json=enrollment(hire_date=start - timedelta(days=3), last_name="Futuro"))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "pending" and result["effective_date"] == start.isoformat()
    member_id = result["subscriber"]["member_id"]
    found = admin.get("/api/v1/groups/%s/members" % group, params={"status": "prospective"}).json()
    assert member_id in {item["member_id"] for item in found["items"]}

    job = carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": start.isoformat()})
    assert job.status_code == 200, job.text
    assert admin.get("/api/v1/groups/%s/transactions/%s" % (group, result["confirmation_number"])).json()["status"] \
        == "completed"
    active = admin.get("/api/v1/groups/%s/members" % group, params={"member_id": member_id, "status": "active"})
    assert [item["member_id"] for item in active.json()["items"]] == [member_id]


def test_held_retro_enrollments_are_approved_or_rejected_by_carrier_staff(stack, carrier, group):
    admin = user(stack, group, "group_admin")
    start = retro_first_of_month(today(), 30, 60)
    confirmations = []
    for name in ("Heldapprove", "Heldreject"):
        response = admin.post("/api/v1/groups/%s/subscribers" % group,
                              json=enrollment(hire_date=start - timedelta(days=1), last_name=name))
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        confirmations.append(response.json()["confirmation_number"])
    held = carrier.get("/api/v1/admin/transactions", params={"group_number": group}).json()
    assert set(confirmations) <= {item["confirmation_number"] for item in held["items"]}

    approved = carrier.post("/api/v1/admin/transactions/%s/approve" % confirmations[0], json={"note": "retro ok"})
    rejected = carrier.post("/api/v1/admin/transactions/%s/reject" % confirmations[1],
                            json={"reason": "No proof of hire date"})
    assert approved.status_code == 200 and approved.json()["status"] == "completed"
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    # the group cannot act on a decided transaction any more
    late = admin.post("/api/v1/groups/%s/transactions/%s/cancel" % (group, confirmations[1]), json={"reason": "x"})
    assert late.status_code == 409


def test_a_cancelled_pending_enrollment_publishes_the_unchanged_family(stack, group, family_events):
    drain(stack, family_events, seconds=1)  # what earlier tests produced
    admin = user(stack, group, "group_admin")
    start = first_of_next_month(today())
    response = admin.post("/api/v1/groups/%s/subscribers" % group,
                          json=enrollment(hire_date=start - timedelta(days=3), last_name="Cancelme"))
    confirmation = response.json()["confirmation_number"]
    cancelled = admin.post("/api/v1/groups/%s/transactions/%s/cancel" % (group, confirmation),
                           json={"reason": "Offer withdrawn"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    events = drain(stack, family_events)
    kinds = [(event["event_type"], event["data"]["transaction"]["status"]) for event in events
             if event["data"]["transaction"]["confirmation_number"] == confirmation]
    assert kinds == [("subscriber_enrolled", "pending"), ("transaction_status_changed", "cancelled")]
    last = [event for event in events if event["data"]["transaction"]["confirmation_number"] == confirmation][-1]
    assert all(span["status"] != "active" for member in last["data"]["members"] for span in member["coverage"])
    assert last["sequence"] == 2
    assert "ssn" not in str(last).lower()


def test_roles_and_groups_are_enforced(stack, group, carrier):
    viewer = user(stack, group, "viewer")
    assert viewer.get("/api/v1/groups/%s/members" % group).status_code == 200
    refused = viewer.post("/api/v1/groups/%s/subscribers" % group, json=enrollment())
    assert refused.status_code == 403 and problem(refused)["code"] == "forbidden"

    stranger = user(stack, "OTHER1", "group_admin")
    for path in ("/api/v1/groups/%s" % group, "/api/v1/groups/%s/members" % group):
        assert stranger.get(path).status_code == 404
    assert stranger.post("/api/v1/groups/%s/subscribers" % group, json=enrollment()).status_code == 404

    admin = user(stack, group, "group_admin")
    assert admin.post("/api/v1/admin/groups", json={"group_number": "NOPE1"}).status_code in (403, 422)


def member_count(stack, group):
    carrier = stack.client(stack.token("carrier-count", carrier=True))
    return carrier.get("/api/v1/groups/%s/members" % group, params={"limit": 1}).json()["total"]


@pytest.mark.parametrize("case", ["plan_not_offered", "child_of_27", "start_after_day_91", "missing_field",
                                  "duplicate_ssn"])
def test_bad_enrollments_get_a_clear_4xx_and_write_nothing(stack, group, enrolled, case):
    admin = user(stack, group, "group_admin")
    body = enrollment(dependents=spouse_and_child())
    if case == "plan_not_offered":
        body["plan_code"] = "EPO-BASIC"  # offered to subgroup 002 only
    elif case == "child_of_27":
        body["dependents"][1]["date_of_birth"] = (today() - timedelta(days=27 * 366)).isoformat()
    elif case == "start_after_day_91":
        body["subscriber"]["hire_date"] = (today() - timedelta(days=5)).isoformat()
        body["effective_date"] = first_of_next_month(today() + timedelta(days=95)).isoformat()
    elif case == "missing_field":
        del body["subscriber"]["date_of_birth"]
    elif case == "duplicate_ssn":
        body["subscriber"]["ssn"] = enrolled[0]["subscriber"]["ssn"]
    before = member_count(stack, group)
    response = admin.post("/api/v1/groups/%s/subscribers" % group, json=body)
    assert 400 <= response.status_code < 500, response.text
    details = problem(response)
    assert details["detail"] and details["code"]
    expected = {"plan_not_offered": (422, "plan_code"), "child_of_27": (422, "dependents"),
                "start_after_day_91": (422, "effective_date"), "missing_field": (422, "subscriber.date_of_birth"),
                "duplicate_ssn": (409, None)}[case]
    assert response.status_code == expected[0], details
    if expected[1]:
        assert expected[1] in details["errors"], details
    else:
        assert enrolled[1]["subscriber"]["member_id"] in details["detail"]  # names who already has it
    assert member_count(stack, group) == before


def test_a_census_with_one_bad_row_imports_nothing_and_names_the_row(stack, carrier, group):
    header = "subgroup_number,plan_code,relationship,subscriber_ssn,first_name,last_name,date_of_birth,gender,ssn," \
             "hire_date,effective_date\n"
    first = unique_ssn()
    good = "001,PPO-SILVER,self,,Casey,Censusone,1980-01-01,F,%s,2020-01-01,%s\n" % (
        first, today().replace(day=1).isoformat())
    bad = "001,PPO-SILVER,child,%s,Kid,Censusone,not-a-date,M,,,%s\n" % (first, today().replace(day=1).isoformat())
    before = member_count(stack, group)
    response = carrier.post("/api/v1/admin/groups/%s/census" % group, data=header + good + bad,
                            headers={"Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    # rows are numbered as a spreadsheet shows the file: the header is row 1
    assert list(problem(response)["errors"]) == ["row 3"]
    assert "date_of_birth" in problem(response)["errors"]["row 3"]
    assert member_count(stack, group) == before


def test_subscriber_enrolled_arrives_once_and_replays_from_the_outbox(stack, group, family_events):
    drain(stack, family_events, seconds=1)
    admin = user(stack, group, "group_admin")
    key = "enroll-%s" % uuid.uuid4()
    body = enrollment(last_name="Eventful")
    first = admin.post("/api/v1/groups/%s/subscribers" % group, json=body, headers={"Idempotency-Key": key})
    again = admin.post("/api/v1/groups/%s/subscribers" % group, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["confirmation_number"] == again.json()["confirmation_number"]
    confirmation = first.json()["confirmation_number"]
    events = [event for event in drain(stack, family_events)
              if event["data"]["transaction"]["confirmation_number"] == confirmation]
    assert [event["event_type"] for event in events] == ["subscriber_enrolled"]

    import subprocess
    import sys
    replay_queue = "carrier.e2e.replay.%s" % uuid.uuid4().hex[:6]
    result = subprocess.run([sys.executable, "-m", "servicekit.outbox", "replay", "--config",
                             "services/roster/config.yaml", "--queue", replay_queue, "--event-type",
                             "subscriber_enrolled"], cwd=stack.root, env=stack.env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    replayed = drain(stack, Queue(replay_queue, durable=True))
    assert events[0]["event_id"] in {event["event_id"] for event in replayed}


def test_dashboard_shows_pending_transactions_and_renewal(stack, group):
    admin = user(stack, group, "group_admin")
    response = admin.get("/api/v1/dashboard")
    assert response.status_code == 200, response.text
    ours = [entry for entry in response.json()["groups"] if entry["group_number"] == group]
    assert len(ours) == 1 and "pending_transactions" in ours[0] and ours[0]["renewal_date"]
