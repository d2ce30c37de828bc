"""New enrollment through the real roster service (RabbitMQ RPC, PostgreSQL): seed 002's flow end to end,
the refusals that write nothing, who may enroll, the identity of people (one subscriber per SSN, also a
dependent elsewhere, rehires), the census import, and the subscriber_enrolled event on a plain kombu queue
and from the outbox replay."""
import io
import json
import re
import time
import uuid
from datetime import date

import yaml
from kombu import Connection, Exchange, Queue
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from roster.models import CoverageSpan, EnrollmentTransaction, Member
from servicekit import clock, outbox as outbox_module, tables
from servicekit.testing import wait_for
from servicekit.testing.broker import body_text, collect_events, get_messages
from rostertesting import ADDRESS, refusal, user

PLANS = [
    {"plan_code": "PPO-FAM", "name": "Family PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "EPO-DUO", "name": "Duo EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "tiers": ["EMP", "ESP"]},
    {"plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
]
CONFIRMATION = re.compile(r"^E270315[0-9A-HJKMNP-TV-Z]{6}$")
MEMBER_ID = re.compile(r"^M\d{9}$")


# --- helpers ------------------------------------------------------------------------------------------



def set_up_group(roster, waiting=30):
    """A group (renewing 2027-01-01) with subgroups 001 (PPO-FAM, EPO-DUO) and 002 (HMO-PLANT)."""
    number = "G%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": waiting,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup, name, plans in (("001", "Office", ["PPO-FAM", "EPO-DUO"]), ("002", "Plant", ["HMO-PLANT"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": name})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def subscriber(ssn="123-45-6789", hire="2027-01-20", first="Dana", last="Whitfield", **changes):
    return dict({"first_name": first, "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                 "marital_status": "M", "ssn": ssn, "email": "dana@mail.example", "mailing_address": ADDRESS,
                 "hire_date": hire, "employment_status": "active"}, **changes)


def spouse(ssn="234-56-7890", **changes):
    return dict({"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield",
                 "date_of_birth": "1985-09-30", "gender": "M", "ssn": ssn, "elect_coverage": True}, **changes)


def child(ssn="345-67-8901", born="2015-02-03", **changes):
    return dict({"relationship": "child", "first_name": "Riley", "last_name": "Whitfield", "date_of_birth": born,
                 "gender": "U", "ssn": ssn, "elect_coverage": True}, **changes)


def enrollment(person=None, dependents=(), subgroup="001", plan="PPO-FAM", effective=None):
    body = {"subgroup_number": subgroup, "plan_code": plan, "subscriber": person or subscriber(),
            "dependents": list(dependents)}
    if effective:
        body["effective_date"] = effective
    return body


def row_counts(engine):
    with Session(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(table))
                     for table in (Member, CoverageSpan, EnrollmentTransaction, tables.outbox))



# --- the enrollment flow ------------------------------------------------------------------------------

def test_a_group_admin_enrolls_a_subscriber_with_a_spouse_and_a_child(roster, roster_db):
    number = set_up_group(roster, waiting=30)
    admin = user(number, "group_admin")
    body = enrollment(dependents=[spouse(), child()])

    preview = roster.call("preview_enrollment", number, body, token=admin)
    assert row_counts(roster_db)[:3] == (0, 0, 0)  # the review step writes nothing
    # hire 2027-01-20 + 30 days = 2027-02-19 -> the first of the next month
    assert (preview["effective_date"], preview["tier"], preview["status"], preview["reason"]) == (
        "2027-03-01", "FAM", "completed", "28")
    assert [(m["relationship"], m["ssn"]) for m in preview["members"]] == [
        ("subscriber", "***-**-6789"), ("spouse", "***-**-7890"), ("child", "***-**-8901")]

    enrolled = roster.call("enroll_subscriber", number, body, token=admin)
    assert CONFIRMATION.match(enrolled["confirmation_number"])
    assert (enrolled["status"], enrolled["effective_date"], enrolled["flags"]) == ("completed", "2027-03-01", [])
    family = enrolled["subscriber"]
    assert MEMBER_ID.match(family["member_id"]) and family["ssn"] == "123-45-6789"  # a group admin sees SSNs
    assert (family["status"], family["subgroup_number"], family["relationship_code"]) == ("active", "001", "18")
    assert [(d["relationship_code"], d["ssn"], d["status"]) for d in family["dependents"]] == [
        ("01", "234-56-7890", "active"), ("19", "345-67-8901", "active")]
    for member in [family] + family["dependents"]:
        assert [(c["plan_code"], c["tier"], c["effective_from"], c["effective_through"], c["status"], c["reason"])
                for c in member["coverage"]] == [("PPO-FAM", "FAM", "2027-03-01", None, "active", "28")]
    txn = enrolled["transaction"]
    assert (txn["confirmation_number"], txn["type"], txn["maintenance_type"], txn["reason"], txn["status"]) == (
        enrolled["confirmation_number"], "new_enrollment", "021", "28", "completed")
    assert (txn["subscriber_member_id"], txn["requested_by"]) == (family["member_id"], "group_admin-%s-all" % number)
    assert txn["request"]["subscriber"]["ssn"] == "***-**-6789"  # the stored request keeps the last 4 only
    assert "123456789" not in json.dumps(txn) and "123-45-6789" not in json.dumps(txn)
    assert family["transactions"] == [txn]

    with Session(roster_db) as session:
        stored = session.scalar(select(Member).where(Member.member_id == family["member_id"]))
        assert "6789" not in stored.ssn_ciphertext and stored.ssn_last4 == "6789" and len(stored.ssn_hash) == 64
        assert (stored.last_name_key, stored.first_name_key) == ("whitfield", "dana")
    assert row_counts(roster_db)[:3] == (3, 3, 1)

    # The subscriber page and the transaction list show the same.
    page = roster.call("get_subscriber", number, family["member_id"], token=admin)
    assert page == family
    by_dependent = roster.call("get_subscriber", number, family["dependents"][1]["member_id"], token=admin)
    assert by_dependent["member_id"] == family["member_id"]  # a dependent's id opens the family
    listed = roster.call("list_transactions", number, {}, token=admin)
    assert listed["total"] == 1 and listed["items"] == [txn]
    assert roster.call("get_transaction", number, txn["confirmation_number"], token=admin) == txn


def test_an_enrollment_manager_sees_masked_ssns_and_a_declining_dependent_is_recorded_without_coverage(roster):
    number = set_up_group(roster, waiting=0)
    manager = user(number, "enrollment_manager")
    body = enrollment(subscriber(hire="2027-03-01"),
                      [spouse(elect_coverage=False, other_coverage="Aetna through her employer"), child()])
    enrolled = roster.call("enroll_subscriber", number, body, token=manager)
    family = enrolled["subscriber"]
    assert family["ssn"] == "***-**-6789" and family["dependents"][0]["ssn"] == "***-**-7890"
    assert (enrolled["effective_date"], family["coverage"][0]["tier"]) == ("2027-03-01", "ECH")
    declined = family["dependents"][0]
    assert (declined["status"], declined["coverage"], declined["other_coverage"]) == (
        "declined", [], "Aetna through her employer")


def test_an_idempotent_retry_answers_the_first_enrollment_again(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    first = roster.call("enroll_subscriber", number, enrollment(), token=admin, idempotency_key="retry-1")
    again = roster.call("enroll_subscriber", number, enrollment(), token=admin, idempotency_key="retry-1")
    assert again == first
    assert row_counts(roster_db)[:3] == (1, 1, 1)
    reused = refusal(roster.call, "enroll_subscriber", number, enrollment(subscriber(first="Other")),
                     token=admin, idempotency_key="retry-1")
    assert reused["code"] == "idempotency_key_reused"


# --- refusals write nothing -----------------------------------------------------------------------------

def test_refused_enrollments_say_why_and_write_nothing(roster, roster_db):
    number = set_up_group(roster, waiting=30)
    admin = user(number, "group_admin")
    enrolled = roster.call("enroll_subscriber", number, enrollment(), token=admin)
    before = row_counts(roster_db)

    not_offered = refusal(roster.call, "enroll_subscriber", number,
                          enrollment(subscriber("456-78-9012"), plan="HMO-PLANT"), token=admin)
    assert (not_offered["status"], not_offered["code"]) == (422, "enrollment_invalid")
    assert "HMO-PLANT is not offered to subgroup 001" in not_offered["errors"]["plan_code"][0]

    too_old = refusal(roster.call, "enroll_subscriber", number,
                      enrollment(subscriber("456-78-9012"), [child(born="2000-01-10")]), token=admin)
    assert too_old["status"] == 422
    assert "until age 26" in too_old["errors"]["dependents"]["0"]["date_of_birth"][0]
    assert "is 27 on the effective date 2027-03-01" in too_old["errors"]["dependents"]["0"]["date_of_birth"][0]

    # hire 2027-01-20: day 91 is 2027-04-20, so a requested 2027-05-01 start is past it
    too_late = refusal(roster.call, "enroll_subscriber", number,
                       enrollment(subscriber("456-78-9012"), effective="2027-05-01"), token=admin)
    assert too_late["status"] == 422 and "2027-04-20" in too_late["errors"]["effective_date"][0]
    assert "day 91" in too_late["errors"]["effective_date"][0]

    person = subscriber("456-78-9012")
    del person["hire_date"]
    missing = refusal(roster.call, "enroll_subscriber", number, enrollment(person), token=admin)
    assert (missing["status"], missing["code"]) == (422, "validation_failed")
    assert missing["errors"] == {"subscriber": {"hire_date": ["Missing data for required field."]}}

    same_ssn = refusal(roster.call, "enroll_subscriber", number,
                       enrollment(subscriber("123456789", first="Danielle")), token=admin)
    assert (same_ssn["status"], same_ssn["code"]) == (409, "subscriber_exists")
    assert enrolled["subscriber"]["member_id"] in same_ssn["detail"]
    assert "6789" not in same_ssn["detail"]  # names the member, never the number

    retro = refusal(roster.call, "enroll_subscriber", number,
                    enrollment(subscriber("456-78-9012", hire="2026-11-02")), token=admin)  # from 2027-01-01
    assert "73 days in the past" in retro["errors"]["effective_date"][0]

    assert row_counts(roster_db) == before


def test_who_may_enroll_and_see(roster, roster_db):
    number = set_up_group(roster)
    other = set_up_group(roster)
    viewer = user(number, "viewer")
    roster.call("enroll_subscriber", number, enrollment(), token=user(number, "group_admin"))
    before = row_counts(roster_db)

    assert roster.call("search_members", number, {"q": "whit"}, token=viewer)["total"] == 1
    forbidden = refusal(roster.call, "enroll_subscriber", number, enrollment(subscriber("456-78-9012")), token=viewer)
    assert forbidden["status"] == 403
    # Another group's user, with a perfectly good body: the group does not exist for them.
    stranger = user(other, "group_admin")
    for method, args in (("enroll_subscriber", (number, enrollment(subscriber("456-78-9012")))),
                         ("search_members", (number, {})), ("list_transactions", (number, {})),
                         ("export_roster", (number, {}, "csv"))):
        assert refusal(roster.call, method, *args, token=stranger)["status"] == 404
    # A grant limited to subgroup 002 reaches neither 001's enrollment nor its members.
    plant = user(number, "enrollment_manager", subgroups=["002"])
    assert refusal(roster.call, "enroll_subscriber", number, enrollment(subscriber("456-78-9012")),
                   token=plant)["status"] == 403
    assert roster.call("search_members", number, {"q": "whit"}, token=plant)["total"] == 0
    assert row_counts(roster_db) == before
    in_plant = roster.call("enroll_subscriber", number, enrollment(subscriber("456-78-9012", last="Plantman"),
                                                                  subgroup="002", plan="HMO-PLANT"), token=plant)
    assert in_plant["subscriber"]["subgroup_number"] == "002"
    assert [item["last_name"] for item in roster.call("search_members", number, {}, token=plant)["items"]] == [
        "Plantman"]


# --- the identity of people ---------------------------------------------------------------------------

def test_a_person_covered_as_a_dependent_is_flagged_when_enrolled_as_a_subscriber(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    first = roster.call("enroll_subscriber", number, enrollment(dependents=[spouse()]), token=admin)
    sam = enrollment(subscriber("234-56-7890", first="Sam", hire="2027-01-25"))
    enrolled = roster.call("enroll_subscriber", number, sam, token=admin)
    assert enrolled["status"] == "completed" and enrolled["subscriber"]["also_dependent_elsewhere"] is True
    assert enrolled["flags"] == [{"code": "also_dependent_elsewhere", "person": "subscriber",
                                  "member_id": enrolled["subscriber"]["member_id"],
                                  "detail": "Also covered as a dependent in the family of subscriber %s."
                                            % first["subscriber"]["member_id"]}]


def test_a_rehired_former_subscriber_is_re_enrolled_on_the_same_member_with_reason_41(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    first = roster.call("enroll_subscriber", number, enrollment(dependents=[child()]), token=admin)
    family_ids = [first["subscriber"]["member_id"], first["subscriber"]["dependents"][0]["member_id"]]
    with Session(roster_db) as session:  # the family left (terminations come with a later issue)
        ids = session.scalars(select(Member.id).where(Member.member_id.in_(family_ids))).all()
        session.execute(update(Member).where(Member.id.in_(ids)).values(status="terminated"))
        session.execute(update(CoverageSpan).where(CoverageSpan.member_id.in_(ids))
                        .values(status="terminated", effective_through=date(2027, 3, 31)))
        session.commit()
    clock.set_today(date(2027, 7, 10))
    rehired = roster.call("enroll_subscriber", number,
                          enrollment(subscriber(hire="2027-07-06", last="Whitfield-Ray"), [child()]),
                          token=admin)
    family = rehired["subscriber"]
    assert [family["member_id"], family["dependents"][0]["member_id"]] == family_ids
    assert (family["last_name"], family["status"], rehired["transaction"]["reason"]) == (
        "Whitfield-Ray", "prospective", "41")
    assert [(c["status"], c["reason"], c["effective_from"]) for c in family["coverage"]] == [
        ("terminated", "28", "2027-03-01"), ("pending", "41", "2027-09-01")]
    assert rehired["transaction"]["before"] == {"member_statuses": {family_ids[0]: "terminated",
                                                                    family_ids[1]: "terminated"}}
    assert row_counts(roster_db)[0] == 2


# --- census import --------------------------------------------------------------------------------------

CENSUS_HEADER = ("subgroup_number,plan_code,relationship,subscriber_ssn,first_name,last_name,date_of_birth,gender,"
                 "ssn,hire_date,effective_date,mailing_line1,mailing_city,mailing_state,mailing_zip\n")


def census_rows(families):
    lines = []
    for index in range(families):
        ssn = "5%02d-%02d-%04d" % (index % 90 + 1, index % 50 + 1, index + 1)
        lines.append("001,PPO-FAM,self,,Pat%d,Census,1980-05-0%d,F,%s,2015-06-01,2027-01-01,1 Elm St,Hartford,CT,"
                     "06103" % (index, index % 9 + 1, ssn))
        lines.append("001,,spouse,%s,Lee%d,Census,1981-02-02,M,6%02d-11-%04d,,,,,," % (
            ssn, index, index % 90 + 1, index + 1))
        lines.append(",,child,%s,Kim%d,Census,2012-07-07,U,,,,,,," % (ssn, index))  # 14: no SSN -> bad row
    return lines


def test_a_census_with_one_bad_row_imports_nothing_and_names_the_row(roster, roster_db):
    number = set_up_group(roster)
    good = [line for line in census_rows(3) if ",child," not in line]
    bad = good[:3] + ["001,PPO-FAM,self,,Bad,Census,1980-02-31,F,777-12-3456,2015-06-01,2027-01-01,,,,"] + good[3:]
    before = row_counts(roster_db)
    problem = refusal(roster.call, "import_census", number, CENSUS_HEADER + "\n".join(bad) + "\n")
    assert (problem["status"], problem["code"]) == (422, "census_rejected")
    assert problem["errors"] == {"row 5": {"date_of_birth": ["Not a valid date."]}}
    assert row_counts(roster_db) == before

    with_children = census_rows(2)
    problem = refusal(roster.call, "import_census", number, CENSUS_HEADER + "\n".join(with_children))
    assert set(problem["errors"]) == {"row 4", "row 7"}
    assert "SSN is required" in problem["errors"]["row 4"]["ssn"][0]
    assert row_counts(roster_db) == before


def test_a_census_imports_completed_families_with_one_event_each(roster, roster_db, roster_config):
    number = set_up_group(roster)
    lines = [line for line in census_rows(40) if ",child," not in line]
    with collect_events(roster_config, "roster.events", "subscriber_enrolled") as events:
        report = roster.call("import_census", number, "\ufeff" + CENSUS_HEADER + "\n".join(lines) + "\n")
        received = events.wait_for(40)
    assert (report["imported"], report["families"]) == (80, 40)
    assert [entry["row"] for entry in report["rows"]] == list(range(2, 82))
    first, spouse_row = report["rows"][:2]
    assert (first["relationship"], spouse_row["relationship"]) == ("subscriber", "spouse")
    assert spouse_row["subscriber_member_id"] == first["member_id"] == first["subscriber_member_id"]
    assert first["confirmation_number"] == spouse_row["confirmation_number"]
    by_family = {event["aggregate_id"]: event for event in received}
    assert len(by_family) == 40 and {event["sequence"] for event in received} == {1}
    data = by_family["family:%s" % first["member_id"]]["data"]
    assert data["transaction"]["type"] == "census_enrollment" and data["transaction"]["reason"] == "28"
    assert [(m["relationship_code"], m["status"], m["coverage"][0]["tier"], m["coverage"][0]["effective_from"])
            for m in data["members"]] == [("18", "active", "ESP", "2027-01-01"), ("01", "active", "ESP", "2027-01-01")]
    assert "ssn" not in json.dumps(data).lower()
    assert row_counts(roster_db)[:3] == (80, 80, 40)

    found = roster.call("search_members", number, {"q": "census", "limit": 200})
    assert found["total"] == 80
    details = roster.call("get_subscriber", number, first["member_id"])
    assert details["mailing_address"] == dict(ADDRESS, line1="1 Elm St", line2=None)
    assert details["ssn"] == "501-01-0001"  # carrier staff see SSNs

    again = refusal(roster.call, "import_census", number, CENSUS_HEADER + lines[0] + "\n")
    assert "Already a subscriber of this group as member %s" % first["member_id"] in again["errors"]["row 2"]["ssn"][0]
    assert refusal(roster.call, "import_census", number, CENSUS_HEADER + lines[0],
                   token=user(number, "group_admin"))["status"] == 403


def test_ten_thousand_census_rows_import_in_seconds(roster, roster_db):
    number = set_up_group(roster)
    lines = []
    for index in range(5000):
        ssn = "%03d-%02d-%04d" % (100 + index % 500, index % 90 + 1, index + 1)
        lines.append("001,PPO-FAM,self,,P%d,Bulk%d,1980-05-05,F,%s,2015-06-01,2027-01-01,,,," % (
            index, index % 300, ssn))
        lines.append(",,child,%s,C%d,Bulk%d,2016-07-07,U,%03d-%02d-%04d,,,,,," % (
            ssn, index, index % 300, 100 + index % 500, index % 90 + 1, 5000 + index))
    began = time.perf_counter()
    report = roster.call("import_census", number, CENSUS_HEADER + "\n".join(lines))
    elapsed = time.perf_counter() - began
    assert report["imported"] == 10_000 and row_counts(roster_db)[:3] == (10_000, 10_000, 5000)
    assert elapsed < 30, "10,000 census rows took %.1f s" % elapsed


# --- the event, on a plain kombu queue and from the outbox ---------------------------------------------

def test_subscriber_enrolled_arrives_once_on_a_plain_kombu_queue_and_replays_from_the_outbox(
        roster, roster_config, roster_db, tmp_path):
    number = set_up_group(roster)
    queue_name = "carrier.eligibility.%s" % uuid.uuid4().hex[:8]
    with Connection(roster_config["AMQP_URI"]) as connection:  # a carrier system binding its own queue
        Queue(queue_name, exchange=Exchange("roster.events", type="topic", durable=True),
              routing_key="subscriber_enrolled", durable=True)(connection.channel()).declare()

    enrolled = roster.call("enroll_subscriber", number, enrollment(dependents=[spouse(), child()]),
                           token=user(number, "group_admin"), idempotency_key="once-only")
    roster.call("enroll_subscriber", number, enrollment(dependents=[spouse(), child()]),
                token=user(number, "group_admin"), idempotency_key="once-only")  # a retry

    def arrived():
        return get_messages(roster_config, queue_name)
    messages = wait_for(arrived, timeout=10, message="subscriber_enrolled on the carrier's queue")
    time.sleep(1.0)  # anything sent twice would be here by now
    messages += get_messages(roster_config, queue_name)
    assert len(messages) == 1
    envelope = json.loads(body_text(messages[0]))
    family_id = enrolled["subscriber"]["member_id"]
    assert (envelope["event_type"], envelope["aggregate_id"], envelope["sequence"], envelope["group_id"]) == (
        "subscriber_enrolled", "family:%s" % family_id, 1, number)
    data = envelope["data"]
    assert (data["group_number"], data["subgroup_number"], data["subscriber_member_id"]) == (number, "001", family_id)
    assert data["transaction"] == {"confirmation_number": enrolled["confirmation_number"], "type": "new_enrollment",
                                   "maintenance_type": "021", "reason": "28", "status": "completed",
                                   "effective_date": "2027-03-01"}
    assert [(m["relationship_code"], m["first_name"], m["status"], [c["tier"] for c in m["coverage"]])
            for m in data["members"]] == [("18", "Dana", "active", ["FAM"]), ("01", "Sam", "active", ["FAM"]),
                                          ("19", "Riley", "active", ["FAM"])]
    assert not re.search(r"ssn|6789|7890|8901", json.dumps(data), re.IGNORECASE)

    config = tmp_path / "services" / "roster" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(yaml.safe_dump({"AMQP_URI": roster_config["AMQP_URI"],
                                      "DATABASE_URL": roster_config["DATABASE_URL"]}))
    out = io.StringIO()
    outbox_module.main(["replay", "--config", str(config), "--queue", "carrier.catchup",
                        "--event-type", "subscriber_enrolled"], out=out)
    assert out.getvalue().strip() == "replayed 1 roster event(s) to queue carrier.catchup"
    replayed = get_messages(roster_config, "carrier.catchup")
    assert [body_text(message) for message in replayed] == [body_text(messages[0])]
