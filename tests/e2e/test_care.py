"""Issue 5's care journeys over HTTP through the gateway, on business date 2027-03-15: an HMO member without a
PCP is flagged, the provider search offers the plan's network only, an out-of-network choice is refused and an
in-network one confirmed (pcp_changed published); ID cards listed and downloaded as a real PDF; replacement
cards mailed (id_card_requested published); a viewer may look but not change; another group's member is 404."""
import re
import uuid
from datetime import date

import pytest
from kombu import Connection

from journeys import events_queue, ok, user

TODAY = date(2027, 3, 15)
SUFFIX = uuid.uuid4().hex[:5].upper()
HMO = "CHMO-%s" % SUFFIX             # plan codes and networks of this module only: the stack is shared
PPO = "CPPO-%s" % SUFFIX
HMO_NETWORK, OTHER_NETWORK = "CMETRO-%s" % SUFFIX, "CCOAST-%s" % SUFFIX
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}


def npi(seed):
    """A valid NPI (Luhn check digit over the 80840 prefix) unique to this module run."""
    base = "1%08d" % (int(seed, 16) % 10 ** 8)
    total = 0
    for index, digit in enumerate(reversed("80840" + base)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return base + str((10 - total % 10) % 10)


IN_NETWORK, OUT_OF_NETWORK = npi(uuid.uuid4().hex[:8]), npi(uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def care_events(stack):
    """A carrier system's queue for the care events, bound before anything happens."""
    return events_queue(stack, "care", ("pcp_changed", "id_card_requested"))


def events_of(stack, queue, event_type, confirmation, seconds=15):
    """The events of `event_type` for the transaction `confirmation`, waiting up to `seconds` for one."""
    found = []
    with Connection(stack.amqp_uri) as connection:
        def keep(body, message):
            message.ack()
            if body["event_type"] == event_type \
                    and body["data"]["transaction"]["confirmation_number"] == confirmation:
                found.append(body)
        with connection.Consumer(queue, callbacks=[keep], accept=["json"]):
            for _ in range(seconds):
                try:
                    connection.drain_events(timeout=1)
                except Exception:  # socket.timeout: nothing this second
                    if found:
                        break
    return found


@pytest.fixture(scope="module")
def care_group(stack, care_events):
    """Carrier staff load two plans, providers (one in the HMO's network, one not) and a group; its admin enrolls
    a family in the HMO from 2027-03-01. Returns (group number, subscriber id, spouse id, other group number)."""
    stack.set_business_date(TODAY)
    carrier = stack.client(stack.token("carrier-care-e2e", carrier=True))
    ok(carrier.request("POST", "/api/v1/admin/plans", json=[
        {"plan_code": HMO, "name": "Care Gold HMO", "product": "medical", "plan_type": "HMO", "network": HMO_NETWORK,
         "requires_pcp": True, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
        {"plan_code": PPO, "name": "Care Silver PPO", "product": "medical", "plan_type": "PPO",
         "network": OTHER_NETWORK, "tiers": ["EMP", "ESP", "ECH", "FAM"]}]))
    office = dict(ADDRESS, line1="5 Clinic Rd")
    ok(carrier.request("POST", "/api/v1/admin/providers", json=[
        {"npi": IN_NETWORK, "name": "Ana Ruiz %s, MD" % SUFFIX, "specialty": "Family Medicine",
         "phone": "860-555-0101", "address": office, "networks": [HMO_NETWORK]},
        {"npi": OUT_OF_NETWORK, "name": "Cy Far %s, MD" % SUFFIX, "specialty": "Family Medicine",
         "address": office, "networks": [OTHER_NETWORK]}]))
    numbers = []
    for _ in range(2):
        number = "K%s" % uuid.uuid4().hex[:7].upper()
        ok(carrier.request("POST", "/api/v1/admin/groups", json={
            "group_number": number, "legal_name": "Care Widgets LLC", "ein": "061234567", "mailing_address": ADDRESS,
            "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@e2e.example"}],
            "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 0}), 201)
        ok(carrier.request("POST", "/api/v1/admin/groups/%s/subgroups" % number,
                           json={"subgroup_number": "001", "name": "Office"}), 201)
        ok(carrier.request("PUT", "/api/v1/admin/groups/%s/subgroups/001/plans" % number,
                           json={"plan_year_start": "2027-01-01", "plan_codes": [HMO, PPO]}))
        numbers.append(number)
    n = uuid.uuid4().int
    ssn = "%03d%02d%04d" % (100 + n % 500, 10 + n % 89, 1000 + n % 8999)
    spouse_ssn = "%03d%02d%04d" % (100 + (n >> 20) % 500, 10 + (n >> 20) % 89, 1000 + (n >> 20) % 8999)
    enrolled = ok(user(stack, numbers[0], "group_admin").request(
        "POST", "/api/v1/groups/%s/subscribers" % numbers[0], json={
            "subgroup_number": "001", "plan_code": HMO,
            "subscriber": {"first_name": "Avery", "last_name": "Quinlan", "date_of_birth": "1985-04-12",
                           "gender": "F", "marital_status": "M", "ssn": ssn,
                           "mailing_address": ADDRESS, "hire_date": "2027-03-01", "employment_status": "active"},
            "dependents": [{"relationship": "spouse", "first_name": "Morgan", "last_name": "Quinlan",
                            "date_of_birth": "1984-09-30", "gender": "M", "ssn": spouse_ssn}]}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-03-01")
    subscriber = enrolled["subscriber"]
    yield numbers[0], subscriber["member_id"], subscriber["dependents"][0]["member_id"], numbers[1]
    stack.set_business_date(None)


def test_an_hmo_member_gets_an_in_network_pcp_and_an_out_of_network_one_is_refused(stack, business_date, care_group,
                                                                                    care_events):
    business_date(TODAY)
    group, subscriber, spouse, _other = care_group
    manager = user(stack, group, "enrollment_manager")
    pcp_path = "/api/v1/groups/%s/members/%s/pcp" % (group, spouse)

    before = ok(manager.request("GET", pcp_path))
    assert (before["plan_code"], before["requires_pcp"], before["pcp_required"], before["pcp"]) == (
        HMO, True, True, None)
    page = ok(manager.request("GET", "/api/v1/groups/%s/subscribers/%s" % (group, subscriber)))
    assert [page["pcp_required"], page["dependents"][0]["pcp_required"]] == [True, True]

    offered = ok(manager.request("GET", "/api/v1/providers", params={"plan": HMO, "q": "ana ruiz %s" % SUFFIX}))
    assert ([item["npi"] for item in offered["items"]], offered["total"]) == ([IN_NETWORK], 1)
    assert ok(manager.request("GET", "/api/v1/providers", params={"plan": HMO, "q": "cy far %s" % SUFFIX}))[
        "total"] == 0  # out of network: not offered

    refused = manager.request("PUT", pcp_path, json={"npi": OUT_OF_NETWORK})
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["npi"]
    assert "is not in the %s network of plan %s" % (HMO_NETWORK, HMO) in refused.json()["errors"]["npi"][0]

    changed = ok(manager.request("PUT", pcp_path, json={"npi": IN_NETWORK}))
    assert (changed["status"], changed["effective_date"], changed["pcp"]["npi"]) == ("completed", "2027-03-15",
                                                                                    IN_NETWORK)
    assert re.fullmatch(r"[0-9A-Z]{8,20}", changed["confirmation_number"])
    assert (changed["transaction"]["maintenance_type"], changed["transaction"]["reason"]) == ("001", "15")
    after = ok(manager.request("GET", pcp_path))
    assert (after["pcp"]["npi"], after["pcp"]["effective_from"], after["pcp_required"]) == (
        IN_NETWORK, "2027-03-15", False)

    published = events_of(stack, care_events, "pcp_changed", changed["confirmation_number"])
    assert len(published) == 1
    assert published[0]["data"]["change"] == {"member_id": spouse, "plan_code": HMO, "npi": IN_NETWORK,
                                              "provider_name": "Ana Ruiz %s, MD" % SUFFIX,
                                              "effective_from": "2027-03-15"}


def test_id_cards_download_as_a_pdf_and_replacements_are_mailed(stack, business_date, care_group, care_events):
    business_date(TODAY)
    group, subscriber, _spouse, _other = care_group
    admin = user(stack, group, "group_admin")
    cards = ok(admin.request("GET", "/api/v1/groups/%s/members/%s/id-cards" % (group, subscriber)))["cards"]
    card = "%s-%s" % (subscriber, HMO)
    assert [(c["card_id"], c["member_name"], c["group_number"], c["effective_date"], c["carrier_phone"])
            for c in cards] == [(card, "Avery Quinlan", group, "2027-03-01", "1-800-555-0142")]

    pdf = admin.request("GET", "/api/v1/groups/%s/members/%s/id-cards/%s.pdf" % (group, subscriber, card))
    assert pdf.status_code == 200, pdf.text[:300]
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="id-card-%s.pdf"' % card
    body = pdf.content
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    # the xref table points at real objects: the file parses as a PDF reader reads it
    start = int(re.search(rb"startxref\s+(\d+)", body).group(1))
    assert body[start:start + 4] == b"xref"
    offsets = [int(offset) for offset in re.findall(rb"(\d{10}) 00000 n", body[start:])]
    assert offsets and all(re.match(rb"\d+ 0 obj", body[offset:offset + 12]) for offset in offsets)
    assert b"(Avery Quinlan) Tj" in body and ("(%s) Tj" % subscriber).encode() in body

    mailed = admin.request("POST", "/api/v1/groups/%s/members/%s/id-card-requests" % (group, subscriber),
                           json={"scope": "family", "reason": "lost"})
    requested = ok(mailed, 201)
    assert (requested["status"], requested["effective_date"], len(requested["member_ids"])) == (
        "completed", "2027-03-15", 2)
    assert requested["mail_to"] == dict(ADDRESS, line2=None)
    published = events_of(stack, care_events, "id_card_requested", requested["confirmation_number"])
    assert [event["data"]["change"]["member_ids"] for event in published] == [requested["member_ids"]]


def test_a_viewer_may_look_but_not_change_and_another_groups_member_is_not_found(stack, business_date, care_group):
    business_date(TODAY)
    group, subscriber, _spouse, other = care_group
    viewer = user(stack, group, "viewer")
    member = "/api/v1/groups/%s/members/%s" % (group, subscriber)
    assert ok(viewer.request("GET", member + "/pcp"))["plan_code"] == HMO
    assert len(ok(viewer.request("GET", member + "/id-cards"))["cards"]) == 1
    for method, path, body in (("PUT", "/pcp", {"npi": IN_NETWORK}),
                               ("POST", "/id-card-requests", {"reason": "damaged"})):
        refused = viewer.request(method, member + path, json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), refused.text

    stranger = user(stack, other, "group_admin")
    elsewhere = "/api/v1/groups/%s/members/%s" % (other, subscriber)
    for method, path in (("GET", "/pcp"), ("GET", "/id-cards"), ("GET", "/id-cards/%s-%s.pdf" % (subscriber, HMO))):
        missing = stranger.request(method, elsewhere + path)
        assert (missing.status_code, missing.json()["code"]) == (404, "member_not_found"), missing.text
    assert stranger.request("GET", member + "/pcp").status_code == 404  # no grant on the member's group
