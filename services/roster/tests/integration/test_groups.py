"""The group side of roster through the real service (RabbitMQ RPC, PostgreSQL): carrier set-up and its
events, validation and conflicts that write nothing, who may see and change what, the overview's counts,
contact updates as transactions, the dashboard, idempotent replays."""
import uuid
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from roster.models import CoverageSpan, EnrollmentTransaction, Group, Member, Plan, PlanOffering, Provider, \
    ProviderNetwork, Subgroup
from servicekit import tables
from servicekit.testing.broker import collect_events
from servicekit.testing.tokens import grant, mint_token
from rostertesting import TODAY, refusal, user

CARRIER = mint_token("carrier-1", carrier=True)

PLANS = [
    {"plan_code": "HMO-GOLD", "name": "Gold HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
    {"plan_code": "PPO-SILVER", "name": "Silver PPO", "product": "medical", "plan_type": "PPO",
     "network": "STATEWIDE"},
    {"plan_code": "EPO-BASIC", "name": "Basic EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "tiers": ["EMP", "ESP"]},
    {"plan_code": "DENTAL-1", "name": "Dental Core", "product": "dental", "plan_type": "PPO", "network": "DENTAL"},
]
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}



def group_body(number, **changes):
    return dict({"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                 "mailing_address": ADDRESS,
                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}],
                 "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 30}, **changes)




@pytest.fixture
def db(roster_db):
    with Session(roster_db) as session:
        yield session


def count(db, what, *where):
    db.rollback()  # see what the service committed since
    return db.scalar(select(func.count()).select_from(what).where(*where))


def new_number():
    return "G%s" % uuid.uuid4().hex[:7].upper()


@pytest.fixture
def set_up_group(roster):
    """A group with subgroups 001 and 002 and this plan year's offerings; returns its number."""
    def set_up(number=None, offerings=(("001", ["HMO-GOLD", "PPO-SILVER"]), ("002", ["EPO-BASIC"]))):
        number = number or new_number()
        roster.call("load_plans", PLANS)
        roster.call("create_group", group_body(number))
        for subgroup_number, name in (("001", "Office"), ("002", "Plant")):
            roster.call("create_subgroup", number, {"subgroup_number": subgroup_number, "name": name})
        for subgroup_number, codes in offerings:
            roster.call("set_subgroup_plans", number, subgroup_number,
                        {"plan_year_start": "2027-01-01", "plan_codes": codes})
        return number
    return set_up


# --- carrier set-up and its events ----------------------------------------------------------------

def test_carrier_staff_set_up_a_group_and_each_step_is_published_in_order(roster, roster_config):
    number = new_number()
    with collect_events(roster_config, "roster.events") as events:
        loaded = roster.call("load_plans", PLANS)
        group = roster.call("create_group", group_body(number))
        subgroup = roster.call("create_subgroup", number, {"subgroup_number": "001", "name": "Office",
                                                           "mailing_address": ADDRESS})
        offering = roster.call("set_subgroup_plans", number, "001",
                               {"plan_year_start": "2027-01-01", "plan_codes": ["PPO-SILVER", "HMO-GOLD"]})
        received = events.wait_for(3)

    by_code = {plan["plan_code"]: plan for plan in loaded["plans"]}
    assert by_code["HMO-GOLD"]["requires_pcp"] is True and by_code["PPO-SILVER"]["requires_pcp"] is False
    assert by_code["HMO-GOLD"]["tiers"] == ["EMP", "ESP", "ECH", "FAM"]
    assert by_code["EPO-BASIC"]["tiers"] == ["EMP", "ESP"]
    assert group["group_number"] == number and group["ein"] == "06-1234567" and group["subgroups"] == []
    assert (group["continuation"], group["continuation_months"], group["status"]) == ("cobra", None, "active")
    assert subgroup == {"group_number": number, "subgroup_number": "001", "name": "Office",
                        "mailing_address": dict(ADDRESS, line2=None), "contact": None, "status": "active"}
    assert [plan["plan_code"] for plan in offering["plans"]] == ["HMO-GOLD", "PPO-SILVER"]
    assert (offering["plan_year_start"], offering["plan_year_end"]) == ("2027-01-01", "2027-12-31")

    ours = [event for event in received if event["aggregate_id"] == "group:%s" % number]
    assert [(event["event_type"], event["sequence"]) for event in ours] == [
        ("group_created", 1), ("subgroup_created", 2), ("group_plans_set", 3)]
    assert {(event["group_id"], event["actor"]) for event in ours} == {(number, "carrier-1")}
    created, subgroup_created, plans_set = (event["data"] for event in ours)
    assert created == {"group_number": number, "legal_name": "Harbor Widgets LLC", "status": "active",
                       "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 30,
                       "age_off_policy": "end_of_month", "continuation": "cobra", "continuation_months": None,
                       "subgroups": []}
    assert subgroup_created == {"group_number": number, "subgroup_number": "001", "name": "Office",
                                "status": "active"}
    assert plans_set["plan_year_end"] == "2027-12-31"
    assert plans_set["plans"][0] == {"plan_code": "HMO-GOLD", "name": "Gold HMO", "product": "medical",
                                     "plan_type": "HMO", "network": "METRO", "tiers": ["EMP", "ESP", "ECH", "FAM"]}


def test_loading_plans_again_updates_them_by_code(roster, db):
    roster.call("load_plans", PLANS)
    roster.call("load_plans", [dict(PLANS[0], name="Gold HMO 2027", status="retired", requires_pcp=False)])
    plans = roster.call("list_plans")
    assert [plan["plan_code"] for plan in plans] == ["DENTAL-1", "EPO-BASIC", "HMO-GOLD", "PPO-SILVER"]
    gold = next(plan for plan in plans if plan["plan_code"] == "HMO-GOLD")
    assert (gold["name"], gold["status"], gold["requires_pcp"]) == ("Gold HMO 2027", "retired", False)
    assert count(db, Plan) == 4


def test_a_small_group_gets_state_continuation(roster):
    group = roster.call("create_group", group_body(new_number(), employee_count=12))
    assert (group["continuation"], group["continuation_months"]) == ("state", 30)


def test_offerings_replace_the_plan_year_s_plans_and_refuse_what_the_rules_forbid(roster, roster_db, db,
                                                                                set_up_group):
    number = set_up_group()
    changed = roster.call("set_subgroup_plans", number, "001",
                          {"plan_year_start": "2027-01-01", "plan_codes": ["PPO-SILVER", "DENTAL-1"]})
    assert [plan["plan_code"] for plan in changed["plans"]] == ["DENTAL-1", "PPO-SILVER"]
    listed = roster.call("list_group_plans", number, token=user(number, "viewer"))
    assert {(o["subgroup_number"], tuple(p["plan_code"] for p in o["plans"])) for o in listed["offerings"]} == {
        ("001", ("DENTAL-1", "PPO-SILVER")), ("002", ("EPO-BASIC",))}
    assert roster.call("list_group_plans", number, "2026-06-01")["offerings"][0]["plans"] == []

    not_a_renewal = refusal(roster.call, "set_subgroup_plans", number, "001",
                            {"plan_year_start": "2027-02-01", "plan_codes": ["PPO-SILVER"]})
    assert not_a_renewal["status"] == 422 and "2027-01-01" in not_a_renewal["errors"]["plan_year_start"][0]
    roster.call("load_plans", [dict(PLANS[2], status="retired")])
    bad_plans = refusal(roster.call, "set_subgroup_plans", number, "001",
                        {"plan_year_start": "2027-01-01", "plan_codes": ["EPO-BASIC", "NO-SUCH"]})
    assert bad_plans["status"] == 422
    assert "NO-SUCH" in bad_plans["errors"]["plan_codes"][0] and "EPO-BASIC" in bad_plans["errors"]["plan_codes"][0]
    assert refusal(roster.call, "set_subgroup_plans", number, "009",
                   {"plan_year_start": "2027-01-01", "plan_codes": ["PPO-SILVER"]})["code"] == "subgroup_not_found"

    # A plan members of the subgroup are covered by this plan year cannot be withdrawn from it.
    members = Roster(roster_db, number)
    members.subscriber("001", "active", spans=[("PPO-SILVER", "EMP", "2027-01-01", None, "active")])
    in_use = refusal(roster.call, "set_subgroup_plans", number, "001",
                     {"plan_year_start": "2027-01-01", "plan_codes": ["HMO-GOLD"]})
    assert (in_use["status"], in_use["code"]) == (409, "plan_in_use") and "PPO-SILVER" in in_use["detail"]
    offered = db.scalars(select(Plan.plan_code).join(PlanOffering, PlanOffering.plan_id == Plan.id)
                         .join(Subgroup, Subgroup.id == PlanOffering.subgroup_id)
                         .where(Subgroup.subgroup_number == "001", Subgroup.group.has(group_number=number))).all()
    assert sorted(offered) == ["DENTAL-1", "PPO-SILVER"]


def test_the_provider_directory_is_loaded_by_npi_with_its_networks(roster, db):
    first = {"npi": "1234567893", "name": "Ada Park MD", "specialty": "Family Medicine", "phone": "860-555-0100",
             "address": dict(ADDRESS, zip="06103-1234"), "networks": ["METRO", "STATEWIDE"]}
    second = dict(first, npi="1245319599", name="Ben Ortiz DO", networks=["METRO"], accepting_new_patients=False)
    assert roster.call("load_providers", [first, second]) == {"loaded": 2}
    assert roster.call("load_providers", [dict(first, name="Ada Park-Lee MD", networks=["DENTAL"])]) == {"loaded": 1}

    db.rollback()
    ada = db.scalar(select(Provider).where(Provider.npi == "1234567893"))
    assert (ada.name, ada.name_key, ada.zip) == ("Ada Park-Lee MD", "ada park-lee md", "06103")
    networks = db.execute(select(Provider.npi, ProviderNetwork.network)
                          .join(ProviderNetwork, ProviderNetwork.provider_id == Provider.id)).all()
    assert sorted(networks) == [("1234567893", "DENTAL"), ("1245319599", "METRO")]

    bad = refusal(roster.call, "load_providers", [dict(first, npi="1234567890")])
    assert bad["status"] == 422 and bad["errors"] == {"0": {"npi": ["An NPI is 10 digits ending in its check digit."]}}
    assert count(db, Provider) == 2


# --- refusals that write nothing ------------------------------------------------------------------

def test_an_invalid_group_is_422_naming_each_field_and_writes_nothing(roster, db):
    number = new_number()
    problem = refusal(roster.call, "create_group", group_body(
        number, ein="12-345", waiting_period_days=90, mailing_address=dict(ADDRESS, state="ZZ"), contacts=[]))
    assert (problem["status"], problem["code"]) == (422, "validation_failed")
    assert set(problem["errors"]) == {"ein", "waiting_period_days", "mailing_address", "contacts"}
    assert problem["errors"]["mailing_address"] == {"state": ["Not a US state code."]}

    rule = refusal(roster.call, "create_group", group_body(number, continuation="state"))
    assert rule["status"] == 422 and list(rule["errors"]) == ["continuation"] and "COBRA" in rule["detail"]

    assert count(db, Group) == 0
    assert count(db, tables.outbox) == 0


def test_a_second_group_with_the_same_number_is_a_conflict(roster, db):
    number = new_number()
    roster.call("create_group", group_body(number))
    problem = refusal(roster.call, "create_group", group_body(number, legal_name="Someone Else Inc"))
    assert (problem["status"], problem["code"]) == (409, "group_exists")
    assert count(db, Group, Group.group_number == number) == 1
    assert count(db, tables.outbox, tables.outbox.c.aggregate_id == "group:%s" % number) == 1

    roster.call("create_subgroup", number, {"subgroup_number": "001", "name": "Office"})
    again = refusal(roster.call, "create_subgroup", number, {"subgroup_number": "001", "name": "Other"})
    assert (again["status"], again["code"]) == (409, "subgroup_exists")


def test_only_carrier_staff_set_up_groups_plans_and_providers(roster, db, set_up_group):
    number = set_up_group()
    admin = user(number, "group_admin")
    calls = [("load_plans", PLANS), ("list_plans",), ("create_group", group_body(new_number())),
             ("create_subgroup", number, {"subgroup_number": "003", "name": "Remote"}),
             ("set_subgroup_plans", number, "001", {"plan_year_start": "2027-01-01", "plan_codes": ["HMO-GOLD"]}),
             ("load_providers", [])]
    for method, *args in calls:
        problem = refusal(roster.call, method, *args, token=admin)
        assert (problem["status"], problem["code"]) == (403, "forbidden"), method
    assert refusal(roster.call, "create_group", group_body(new_number()), token=None)["status"] == 401
    assert count(db, Group) == 1 and count(db, Subgroup) == 2


def test_an_idempotent_replay_of_create_group_answers_the_same_and_creates_once(roster, db):
    number = new_number()
    key = str(uuid.uuid4())
    first = roster.call("create_group", group_body(number), idempotency_key=key)
    again = roster.call("create_group", group_body(number), idempotency_key=key)
    assert again == first
    assert count(db, Group, Group.group_number == number) == 1
    assert count(db, tables.outbox, tables.outbox.c.aggregate_id == "group:%s" % number) == 1
    reused = refusal(roster.call, "create_group", group_body(number, legal_name="Other"), idempotency_key=key)
    assert (reused["status"], reused["code"]) == (422, "idempotency_key_reused")


# --- what a group's users see --------------------------------------------------------------------

class Roster:
    """Members and coverage written straight into roster's tables (the member side's enrollment writes them
    the same way), so the overview can be checked against known numbers."""

    def __init__(self, engine, group_number):
        self.engine = engine
        self.group_number = group_number

    def subscriber(self, subgroup_number, status, spans=(), dependents=()):
        """spans: (plan code, tier, from, through, span status); dependents: their statuses (they share the
        subscriber's spans, as a family does)."""
        with Session(self.engine) as session:
            group = session.scalar(select(Group).where(Group.group_number == self.group_number))
            subgroup = session.scalar(select(Subgroup).where(Subgroup.group_id == group.id,
                                                             Subgroup.subgroup_number == subgroup_number))
            plans = {plan.plan_code: plan.id for plan in session.scalars(select(Plan))}
            subscriber = self._member(session, group, subgroup, status, "18")
            for dependent_status in dependents:
                self._member(session, group, subgroup, dependent_status, "19", subscriber)
            session.flush()
            for member in [subscriber, *subscriber.dependents]:
                if member.status in ("declined", "cancelled"):
                    continue  # on file without coverage, or an enrollment that never took effect
                for code, tier, start, through, span_status in spans:
                    session.add(CoverageSpan(
                        member_id=member.id, plan_id=plans[code], tier=tier, effective_from=date.fromisoformat(start),
                        effective_through=through and date.fromisoformat(through), status=span_status, reason="28"))
            session.commit()
            return subscriber.id

    def _member(self, session, group, subgroup, status, relationship, subscriber=None):
        member = Member(member_id=uuid.uuid4().hex[:12].upper(), group_id=group.id, subgroup_id=subgroup.id,
                        subscriber=subscriber, relationship_code=relationship, first_name="Avery",
                        last_name="Quinlan", last_name_key="quinlan", first_name_key="avery",
                        date_of_birth=date(1985, 4, 12), gender="F", status=status,
                        created_at=datetime.now(timezone.utc))
        session.add(member)
        return member

    def pending_transaction(self, subgroup_number):
        with Session(self.engine) as session:
            group = session.scalar(select(Group).where(Group.group_number == self.group_number))
            subgroup = session.scalar(select(Subgroup).where(Subgroup.group_id == group.id,
                                                             Subgroup.subgroup_number == subgroup_number))
            session.add(EnrollmentTransaction(
                confirmation_number="T%s" % uuid.uuid4().hex[:12].upper(), group_id=group.id,
                subgroup_id=subgroup.id, type="new_enrollment", maintenance_type="021", reason="28",
                status="pending", effective_date=date(2027, 4, 1), requested_by="someone",
                requested_at=datetime.now(timezone.utc), request={}))
            session.commit()


@pytest.fixture
def populated_group(roster, roster_db, set_up_group):
    """Subgroup 001: a family of three on FAM (plus dental at EMP) with a child who declined, a prospective
    subscriber, a terminated one, a cancelled enrollment (not counted); subgroup 002: an employee-only subscriber
    and a subscriber on COBRA at ESP with a spouse."""
    number = set_up_group()
    members = Roster(roster_db, number)
    members.subscriber("001", "active", dependents=["active", "active", "declined"],
                       spans=[("HMO-GOLD", "FAM", "2027-01-01", None, "active"),
                              ("DENTAL-1", "EMP", "2027-02-01", None, "active")])
    members.subscriber("001", "prospective", spans=[("PPO-SILVER", "EMP", "2027-04-01", None, "pending")])
    members.subscriber("001", "terminated", spans=[("PPO-SILVER", "ESP", "2027-01-01", "2027-02-28", "terminated")])
    members.subscriber("001", "cancelled")
    members.subscriber("002", "active", spans=[("EPO-BASIC", "EMP", "2027-01-01", None, "active")])
    members.subscriber("002", "cobra", dependents=["cobra"],
                       spans=[("EPO-BASIC", "ESP", "2026-01-01", "2026-12-31", "terminated"),
                              ("EPO-BASIC", "ESP", "2027-01-01", None, "active")])
    return number


def test_the_overview_counts_members_by_tier_and_status(roster, populated_group):
    number = populated_group
    overview = roster.call("get_group", number, token=user(number, "billing_manager"))

    assert overview["group"]["group_number"] == number and "subgroups" not in overview["group"]
    assert overview["renewal_date"] == "2028-01-01"
    assert overview["plan_year"] == {"start": "2027-01-01", "end": "2027-12-31"}
    assert overview["limited_to_subgroups"] is False
    assert overview["counts"] == {
        "subscribers": 5, "members": 9,
        "subscribers_by_tier": {"EMP": 1, "ESP": 1, "ECH": 0, "FAM": 1},
        "subscribers_by_status": {"prospective": 1, "pending": 0, "active": 2, "cobra": 1, "terminated": 1,
                                  "declined": 0},
        "members_by_status": {"prospective": 1, "pending": 0, "active": 4, "cobra": 2, "terminated": 1,
                              "declined": 1},
    }
    office, plant = overview["subgroups"]
    assert [plan["plan_code"] for plan in office["plans"]] == ["HMO-GOLD", "PPO-SILVER"]
    assert office["counts"]["subscribers_by_tier"] == {"EMP": 0, "ESP": 0, "ECH": 0, "FAM": 1}
    assert plant["counts"]["subscribers_by_tier"] == {"EMP": 1, "ESP": 1, "ECH": 0, "FAM": 0}
    assert plant["counts"]["members"] == 3

    assert roster.call("get_subgroup", number, "002")["counts"] == plant["counts"]


def test_a_subgroup_limited_user_sees_only_their_subgroup(roster, populated_group):
    number = populated_group
    limited = user(number, "enrollment_manager", subgroups=["002"])

    overview = roster.call("get_group", number, token=limited)
    assert overview["limited_to_subgroups"] is True
    assert [subgroup["subgroup_number"] for subgroup in overview["subgroups"]] == ["002"]
    assert overview["counts"] == overview["subgroups"][0]["counts"]   # no group-wide totals
    assert overview["counts"]["subscribers"] == 2 and overview["counts"]["members"] == 3

    assert [s["subgroup_number"] for s in roster.call("list_subgroups", number, token=limited)] == ["002"]
    assert [o["subgroup_number"] for o in roster.call("list_group_plans", number, token=limited)["offerings"]] \
        == ["002"]
    assert roster.call("get_subgroup", number, "002", token=limited)["subgroup_number"] == "002"
    assert refusal(roster.call, "get_subgroup", number, "001", token=limited)["status"] == 403


def test_a_user_of_another_group_is_told_the_group_does_not_exist(roster, set_up_group):
    number = set_up_group()
    stranger = user("OTHER1", "group_admin")
    for method, *args in [("get_group", number), ("list_subgroups", number), ("get_subgroup", number, "001"),
                          ("list_group_plans", number),
                          ("update_group_contact", number, {"kind": "primary", "phone": "860-555-0100"})]:
        problem = refusal(roster.call, method, *args, token=stranger)
        assert (problem["status"], problem["code"]) == (404, "group_not_found"), method
    missing = refusal(roster.call, "get_group", "NOSUCH1")
    hidden = refusal(roster.call, "get_group", "NOSUCH1", token=stranger)
    assert missing == hidden == {"status": 404, "code": "group_not_found", "title": "Not found",
                                 "detail": "Group NOSUCH1 was not found."}


def test_a_viewer_reads_the_group_but_may_not_change_its_contacts(roster, db, set_up_group):
    number = set_up_group()
    viewer = user(number, "viewer")
    assert roster.call("get_group", number, token=viewer)["group"]["legal_name"] == "Harbor Widgets LLC"
    for method, *args in [("update_group_contact", number, {"kind": "primary", "phone": "860-555-0100"}),
                          ("update_subgroup_contact", number, "001", {"phone": "860-555-0100"})]:
        problem = refusal(roster.call, method, *args, token=viewer)
        assert (problem["status"], problem["code"]) == (403, "forbidden"), method
    assert count(db, EnrollmentTransaction) == 0


def test_a_contact_update_is_a_completed_transaction_and_publishes_the_group(roster, roster_config, db,
                                                                           set_up_group):
    number = set_up_group()
    admin = user(number, "group_admin")
    with collect_events(roster_config, "roster.events", routing_key="group_updated") as events:
        result = roster.call("update_group_contact", number,
                             {"kind": "billing", "name": "Lee Chen", "email": "lee@harbor.example"}, token=admin)
        changed = roster.call("update_group_contact", number, {"kind": "primary", "phone": "860-555-0100"},
                              token=admin)
        received = events.wait_for(2)

    transaction = result["transaction"]
    assert (transaction["type"], transaction["status"]) == ("group_contact_update", "completed")
    assert transaction["confirmation_number"] and transaction["effective_date"] == TODAY.isoformat()
    assert [contact["kind"] for contact in result["group"]["contacts"]] == ["primary", "billing"]
    primary = changed["group"]["contacts"][0]
    assert (primary["name"], primary["email"], primary["phone"]) == ("Pat Admin", "pat@harbor.example",
                                                                     "860-555-0100")

    db.rollback()
    stored = db.scalar(select(EnrollmentTransaction).where(
        EnrollmentTransaction.confirmation_number == changed["transaction"]["confirmation_number"]))
    assert (stored.status, stored.maintenance_type, stored.requested_by) == ("completed", None, "group_admin-%s-all"
                                                                              % number)
    assert stored.before["phone"] is None and stored.after["phone"] == "860-555-0100"
    assert [event["sequence"] for event in received] == [6, 7]  # after created, 2 subgroups, 2 offerings
    assert received[0]["data"]["subgroups"] == [{"subgroup_number": "001", "name": "Office", "status": "active"},
                                                {"subgroup_number": "002", "name": "Plant", "status": "active"}]

    # a new kind of contact needs a name; nothing is recorded for a refused update
    problem = refusal(roster.call, "update_group_contact", number, {"kind": "enrollment", "phone": "860-555-0101"},
                      token=admin)
    assert problem["status"] == 422 and "name" in problem["errors"]
    assert count(db, EnrollmentTransaction) == 2


def test_a_subgroup_contact_is_changed_only_within_the_grant(roster, db, set_up_group):
    number = set_up_group()
    limited = user(number, "enrollment_manager", subgroups=["001"])
    result = roster.call("update_subgroup_contact", number, "001",
                         {"name": "Sam Ruiz", "email": "sam@harbor.example"}, token=limited)
    assert result["subgroup"]["contact"] == {"name": "Sam Ruiz", "email": "sam@harbor.example", "title": None,
                                             "phone": None}
    assert (result["transaction"]["type"], result["transaction"]["status"]) == ("subgroup_contact_update",
                                                                                "completed")
    assert refusal(roster.call, "update_subgroup_contact", number, "002", {"name": "X", "phone": "8605550100"},
                   token=limited)["status"] == 403
    # the group's own contacts are group-wide: not for a grant limited to a subgroup
    assert refusal(roster.call, "update_group_contact", number, {"kind": "primary", "phone": "860-555-0100"},
                   token=limited)["status"] == 403
    assert count(db, EnrollmentTransaction) == 1


def test_the_dashboard_lists_the_caller_s_groups_with_pending_transactions(roster, roster_db, set_up_group):
    first, second = set_up_group(), set_up_group()
    for group_number, subgroup_number in [(first, "001"), (first, "002"), (second, "001"), (second, "002")]:
        Roster(roster_db, group_number).pending_transaction(subgroup_number)
    both = mint_token("broker-1", grants=[grant(first, "broker"), grant(second, "viewer", subgroups=["002"]),
                                          grant("NOTHERE1", "viewer")])
    dashboard = roster.call("dashboard", token=both)
    assert sorted(dashboard, key=lambda entry: entry["group_number"]) == sorted([
        {"group_number": first, "legal_name": "Harbor Widgets LLC", "renewal_date": "2028-01-01",
         "pending_transactions": 2},
        {"group_number": second, "legal_name": "Harbor Widgets LLC", "renewal_date": "2028-01-01",
         "pending_transactions": 1},
    ], key=lambda entry: entry["group_number"])
    assert roster.call("dashboard") == []  # carrier staff
    assert refusal(roster.call, "dashboard", token=None)["status"] == 401
