"""PCPs and ID cards through the real roster service (RabbitMQ, PostgreSQL): the provider directory, viewing and
changing a member's PCP (in-network only, confirmed by a transaction and a pcp_changed event, future-dated ones
pending until the daily job, cancellable), ID cards and their PDF, mailed replacements, and who may do what."""
import base64
import uuid
from datetime import date

from servicekit import clock
from servicekit.testing.broker import collect_events
from rostertesting import ADDRESS, refusal, user

PLANS = [
    {"plan_code": "HMO-CARE", "name": "Care HMO", "product": "medical", "plan_type": "HMO", "network": "METRO",
     "requires_pcp": True},
    {"plan_code": "PPO-CARE", "name": "Care PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
]
OFFICE = {"line1": "5 Clinic Rd", "city": "Hartford", "state": "CT", "zip": "06103"}
RUIZ, FULL, FAR, KIM, LEE = "1234567893", "1407008923", "1902938475", "1555000011", "1666000025"
PROVIDERS = [
    {"npi": RUIZ, "name": "Ana Ruiz, MD", "specialty": "Family Medicine", "phone": "860-555-0101", "address": OFFICE,
     "networks": ["METRO", "STATEWIDE"]},
    {"npi": FULL, "name": "Ben Full, DO", "specialty": "Internal Medicine", "address": OFFICE, "networks": ["METRO"],
     "accepting_new_patients": False},
    {"npi": FAR, "name": "Cy Far, MD", "specialty": "Family Medicine", "address": dict(OFFICE, zip="06320"),
     "networks": ["COASTAL"]},
    {"npi": KIM, "name": "Anh Kim, MD", "specialty": "Pediatrics", "phone": "860-555-0104",
     "address": dict(OFFICE, zip="06106"), "networks": ["METRO"]},
    {"npi": LEE, "name": "Dee Lee, NP", "specialty": "Family Medicine", "address": OFFICE, "networks": ["STATEWIDE"]},
]
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}


def set_up_group(roster):
    number = "C%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("load_providers", PROVIDERS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup, plans in (("001", ["HMO-CARE", "PPO-CARE"]), ("002", ["PPO-CARE"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": "Sub %s" % subgroup})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def enroll(roster, number, ssn="123-45-6789", hire="2027-03-01", plan="HMO-CARE", subgroup="001", dependents=()):
    """A family enrolled by the group admin; hired on the 1st with no waiting period: covered from that day."""
    body = {"subgroup_number": subgroup, "plan_code": plan, "dependents": list(dependents),
            "subscriber": {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1986-04-12",
                           "gender": "F", "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS,
                           "hire_date": hire, "employment_status": "active"}}
    return roster.call("enroll_subscriber", number, body, token=user(number, "group_admin"))


def test_an_hmo_member_chooses_an_in_network_pcp_and_a_future_change_waits_for_its_date(roster, roster_config):
    number = set_up_group(roster)
    family = enroll(roster, number, dependents=[SPOUSE])["subscriber"]
    subscriber, spouse = family["member_id"], family["dependents"][0]["member_id"]
    viewer, manager = user(number, "viewer"), user(number, "enrollment_manager")

    # No PCP yet in an HMO: flagged, on the PCP view and on the subscriber page, for a viewer too.
    view = roster.call("get_pcp", number, spouse, token=viewer)
    assert view == {"member_id": spouse, "plan_code": "HMO-CARE", "plan_name": "Care HMO", "plan_type": "HMO",
                    "network": "METRO", "requires_pcp": True, "pcp_required": True, "pcp": None,
                    "scheduled_pcp": None}
    page = roster.call("get_subscriber", number, subscriber, token=viewer)
    assert (page["pcp_required"], page["pcp"], page["dependents"][0]["pcp_required"]) == (True, None, True)
    assert page["id_cards"] == [{"card_id": "%s-HMO-CARE" % subscriber, "plan_code": "HMO-CARE",
                                 "plan_name": "Care HMO", "effective_date": "2027-03-01"}]

    # The directory for the plan offers its network only.
    in_network = roster.call("list_providers", {"plan": "HMO-CARE"}, token=viewer)
    assert ([item["npi"] for item in in_network["items"]], in_network["total"], in_network["network"]) == (
        [RUIZ, KIM, FULL], 3, "METRO")
    named = roster.call("list_providers", {"plan": "HMO-CARE", "q": "an", "zip": "06103"}, token=viewer)
    assert [item["name"] for item in named["items"]] == ["Ana Ruiz, MD"]
    assert named["items"][0]["networks"] == ["METRO", "STATEWIDE"]
    family_doctors = roster.call("list_providers", {"specialty": "family medicine", "limit": 2}, token=viewer)
    assert ([item["npi"] for item in family_doctors["items"]], family_doctors["total"]) == ([RUIZ, FAR], 3)
    unknown = refusal(roster.call, "list_providers", {"plan": "NOPE"}, token=viewer)
    assert (unknown["status"], list(unknown["errors"])) == (422, ["plan"])

    # Out of network, and not accepting new patients: refused on the npi, nothing written.
    far = refusal(roster.call, "change_pcp", number, spouse, {"npi": FAR}, token=manager)
    assert (far["status"], far["errors"]) == (422, {"npi": [
        "Cy Far, MD is not in the METRO network of plan HMO-CARE: choose an in-network provider."]})
    full = refusal(roster.call, "change_pcp", number, spouse, {"npi": FULL}, token=manager)
    assert full["errors"] == {"npi": ["Ben Full, DO is not accepting new patients."]}
    removed = refusal(roster.call, "change_pcp", number, spouse, {"npi": None}, token=manager)
    assert removed["errors"]["npi"][0].startswith("Plan HMO-CARE (HMO) requires a primary care provider")
    assert roster.call("list_transactions", number, {"type": "pcp_change"}, token=viewer)["total"] == 0

    with collect_events(roster_config, "roster.events", "pcp_changed") as events:
        changed = roster.call("change_pcp", number, spouse, {"npi": RUIZ}, token=manager)
        received = events.wait_for(1)
    assert (changed["status"], changed["effective_date"], changed["previous_pcp"]) == ("completed", "2027-03-15", None)
    assert changed["pcp"] == {"npi": RUIZ, "name": "Ana Ruiz, MD", "specialty": "Family Medicine",
                              "phone": "860-555-0101", "plan_code": "HMO-CARE", "effective_from": "2027-03-15",
                              "effective_through": None}
    txn = changed["transaction"]
    assert (txn["confirmation_number"], txn["type"], txn["maintenance_type"], txn["reason"], txn["member_id"]) == (
        changed["confirmation_number"], "pcp_change", "001", "15", spouse)
    event = received[0]
    assert (event["aggregate_id"], event["data"]["transaction"]["confirmation_number"]) == (
        "family:%s" % subscriber, changed["confirmation_number"])
    assert event["data"]["change"] == {"member_id": spouse, "plan_code": "HMO-CARE", "npi": RUIZ,
                                       "provider_name": "Ana Ruiz, MD", "effective_from": "2027-03-15"}
    view = roster.call("get_pcp", number, spouse, token=viewer)
    assert (view["pcp"]["npi"], view["pcp_required"]) == (RUIZ, False)
    assert roster.call("get_subscriber", number, subscriber, token=viewer)["dependents"][0]["pcp"]["npi"] == RUIZ

    # A change from 2027-04-01 is pending; Dr Ruiz stays until the day before; one pending change at a time.
    later = roster.call("change_pcp", number, spouse, {"npi": KIM, "effective_date": "2027-04-01"}, token=manager)
    assert (later["status"], later["effective_date"], later["previous_pcp"]["npi"]) == ("pending", "2027-04-01", RUIZ)
    view = roster.call("get_pcp", number, spouse, token=viewer)
    assert (view["pcp"]["npi"], view["pcp"]["effective_through"], view["scheduled_pcp"]["npi"]) == (
        RUIZ, "2027-03-31", KIM)
    busy = refusal(roster.call, "change_pcp", number, spouse, {"npi": FULL}, token=manager)
    assert (busy["status"], busy["code"]) == (409, "pcp_change_pending")
    assert later["confirmation_number"] in busy["detail"]

    # Cancelled: Dr Ruiz runs on with no end. Asked again, the daily job completes it on its date.
    roster.call("cancel_transaction", number, later["confirmation_number"], "changed our mind", token=manager)
    view = roster.call("get_pcp", number, spouse, token=viewer)
    assert (view["pcp"]["npi"], view["pcp"]["effective_through"], view["scheduled_pcp"]) == (RUIZ, None, None)
    again = roster.call("change_pcp", number, spouse, {"npi": KIM, "effective_date": "2027-04-01"}, token=manager)
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
    assert roster.call("get_transaction", number, again["confirmation_number"], token=viewer)["status"] == "completed"
    clock.set_today(date(2027, 4, 1))
    view = roster.call("get_pcp", number, spouse, token=viewer)
    assert (view["pcp"]["npi"], view["pcp"]["effective_from"], view["scheduled_pcp"]) == (KIM, "2027-04-01", None)


def test_a_prospective_members_pcp_starts_with_their_coverage(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    enrolled = enroll(roster, number, hire="2027-03-20")  # covered from 2027-04-01
    member = enrolled["subscriber"]["member_id"]
    assert enrolled["status"] == "pending"
    early = refusal(roster.call, "change_pcp", number, member, {"npi": RUIZ, "effective_date": "2027-03-20"},
                    token=admin)
    assert early["errors"] == {"effective_date": [
        "Coverage in plan HMO-CARE starts on 2027-04-01: choose that date or later."]}
    changed = roster.call("change_pcp", number, member, {"npi": RUIZ}, token=admin)
    assert (changed["status"], changed["effective_date"]) == ("pending", "2027-04-01")
    view = roster.call("get_pcp", number, member, token=admin)
    assert (view["pcp"]["npi"], view["pcp_required"]) == (RUIZ, False)  # as of the day coverage starts


def test_id_cards_are_listed_downloaded_as_pdf_and_mailed_again(roster, roster_config):
    number = set_up_group(roster)
    family = enroll(roster, number, dependents=[SPOUSE])["subscriber"]
    subscriber, spouse = family["member_id"], family["dependents"][0]["member_id"]
    viewer, manager = user(number, "viewer"), user(number, "enrollment_manager")

    cards = roster.call("list_id_cards", number, spouse, token=viewer)
    card = "%s-HMO-CARE" % spouse
    assert cards == {"member_id": spouse, "cards": [{
        "card_id": card, "member_id": spouse, "member_name": "Sam Whitfield", "relationship": "spouse",
        "subscriber_member_id": subscriber, "subscriber_name": "Dana Whitfield", "group_number": number,
        "group_name": "Harbor Widgets LLC", "plan_code": "HMO-CARE", "plan_name": "Care HMO", "product": "medical",
        "plan_type": "HMO", "network": "METRO", "tier": "ESP", "effective_date": "2027-03-01",
        "coverage_status": "active", "pcp": None, "pcp_required": True, "carrier_name": "Harbor Health Plan",
        "carrier_phone": "1-800-555-0142"}]}

    download = roster.call("id_card_pdf", number, spouse, card.lower(), token=viewer)
    pdf = base64.b64decode(download["content_base64"])
    assert (download["filename"], download["content_type"]) == ("id-card-%s.pdf" % card, "application/pdf")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"(Sam Whitfield) Tj" in pdf and ("(%s) Tj" % spouse).encode() in pdf
    missing = refusal(roster.call, "id_card_pdf", number, spouse, "%s-PPO-CARE" % spouse, token=viewer)
    assert (missing["status"], missing["code"]) == (404, "id_card_not_found")

    with collect_events(roster_config, "roster.events", "id_card_requested") as events:
        mailed = roster.call("request_id_cards", number, spouse, {"scope": "family", "reason": "lost"}, token=manager)
        received = events.wait_for(1)
    home = dict(ADDRESS, line2=None)
    assert (mailed["status"], mailed["effective_date"], mailed["member_ids"], mailed["mail_to"]) == (
        "completed", "2027-03-15", [subscriber, spouse], home)
    assert mailed["card_ids"] == ["%s-HMO-CARE" % subscriber, card]
    txn = mailed["transaction"]
    assert (txn["confirmation_number"], txn["type"], txn["maintenance_type"], txn["reason"]) == (
        mailed["confirmation_number"], "id_card_request", "030", None)
    assert received[0]["data"]["change"] == {"member_ids": [subscriber, spouse], "plan_codes": ["HMO-CARE"],
                                             "mail_to": home}
    assert received[0]["data"]["transaction"]["confirmation_number"] == mailed["confirmation_number"]

    elsewhere = {"line1": "9 Elm St", "line2": "Apt 2", "city": "New Haven", "state": "CT", "zip": "06510"}
    one = roster.call("request_id_cards", number, subscriber, {"reason": "damaged", "mail_to": elsewhere},
                      token=manager)
    assert (one["member_ids"], one["mail_to"], one["scope"]) == ([subscriber], elsewhere, "member")


def test_viewers_may_look_but_not_change_and_other_groups_members_are_not_found(roster):
    number, other = set_up_group(roster), set_up_group(roster)
    member = enroll(roster, number)["subscriber"]["member_id"]
    viewer = user(number, "viewer")
    assert roster.call("get_pcp", number, member, token=viewer)["pcp_required"] is True
    assert len(roster.call("list_id_cards", number, member, token=viewer)["cards"]) == 1
    for rpc, args in (("change_pcp", ({"npi": RUIZ},)), ("request_id_cards", ({"reason": "lost"},))):
        assert refusal(roster.call, rpc, number, member, *args, token=viewer)["status"] == 403
        assert refusal(roster.call, rpc, number, member, *args, token=user(number, "billing_manager"))["status"] == 403

    # Another group's admin asking with their own group's number: no such member there.
    stranger = user(other, "group_admin")
    for rpc, args in (("get_pcp", ()), ("list_id_cards", ()), ("id_card_pdf", ("%s-HMO-CARE" % member,)),
                      ("change_pcp", ({"npi": RUIZ},)), ("request_id_cards", ({"reason": "lost"},))):
        found = refusal(roster.call, rpc, other, member, *args, token=stranger)
        assert (found["status"], found["code"]) == (404, "member_not_found")
    # ... and with the member's group number: no grant on that group.
    assert refusal(roster.call, "get_pcp", number, member, token=stranger)["status"] == 404
    # A user limited to subgroup 002 does not reach a member of 001.
    limited = user(number, "group_admin", subgroups=["002"])
    assert refusal(roster.call, "change_pcp", number, member, {"npi": RUIZ}, token=limited)["status"] == 404
    assert refusal(roster.call, "get_pcp", number, member, token=limited)["status"] == 404
