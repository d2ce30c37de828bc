"""Access requests: anyone asks for access to a group; its administrator (or carrier staff, when it has none)
approves, which e-mails an invitation, or denies, which e-mails the reason."""
from sqlalchemy import select

from admintesting import groups_fixture, tokens_fixture  # noqa: F401 (fixtures)
from admintesting import (GROUP_A, GROUP_B, email_for, link_in, mails_to, refusal, set_up_user, wait_events,
                          wait_mail)
from identity.domain.access import typed_code_key
from identity.domain.credentials import hash_code
from identity.models import AuditEntry, Invitation
from servicekit.testing.broker import collect_events


def ask(identity, group, email, role="viewer", **fields):
    body = dict({"group_number": group, "first_name": "Vic", "last_name": "Vance", "email": email,
                 "requested_role": role, "reason": "I reconcile the monthly statements."}, **fields)
    return identity.call("request_access", body, remote_addr="198.51.100.7")


def pending_id(identity, group, reference, token):
    [found] = [row for row in identity.call("list_access_requests", group, "pending", token=token)
               if row["reference"] == reference]
    return found["id"]


def test_an_approved_request_mails_an_invitation_the_requester_registers_with(identity, identity_config, identity_db,
                                                                             mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    email = email_for("vic")
    with collect_events(identity_config, "identity.events") as published:
        receipt = ask(identity, GROUP_A, email)
        assert receipt["status"] == "pending" and receipt["reference"].startswith("AR-")
        request_id = pending_id(identity, GROUP_A, receipt["reference"], admin["token"])
        approved = identity.call("approve_access_request", GROUP_A, request_id, {"subgroups": ["001"]},
                                 token=admin["token"])
        requested_event, granted_event = wait_events(published, "access_requested", "access_granted", count=2)
    assert (approved["status"], approved["decided_by"], approved["granted_role"], approved["granted_subgroups"]) == \
        ("approved", admin["user_id"], "viewer", ["001"])
    assert requested_event["aggregate_id"] == granted_event["aggregate_id"] == \
        "access_request:%s" % receipt["reference"]
    assert [requested_event["sequence"], granted_event["sequence"]] == [1, 2]
    assert granted_event["data"] == {"reference": receipt["reference"], "group_number": GROUP_A, "role": "viewer",
                                     "subgroups": ["001"], "status": "approved"}
    assert email not in str(requested_event) + str(granted_event)

    notice = wait_mail(mail_dir, admin["email"], 2)  # the admin hears of the request
    assert receipt["reference"] in notice["subject"] and "Vic Vance" in notice["body"]
    assert len(mails_to(mail_dir, admin["email"])) == 2  # welcome + this one notice
    invitation = wait_mail(mail_dir, email)
    _url, query = link_in(invitation, "/register")
    assert query["group"] == GROUP_A and receipt["reference"] in invitation["subject"]
    assert query["invitation"] in invitation["body"] and "14 days" in invitation["body"]
    with identity_db.connect() as connection:
        stored = connection.execute(select(Invitation.code_hash, Invitation.role, Invitation.subgroups,
                                           Invitation.email_key)).one()
        addresses = connection.execute(select(AuditEntry.remote_addr).where(AuditEntry.action == "access_requested"))
        assert list(addresses.scalars()) == ["198.51.100.7"]
    assert tuple(stored) == (hash_code(typed_code_key(query["invitation"])), "viewer", ["001"], email.lower())

    # the invitation works for registering (codes typed from the e-mail in lower case work too)
    registered = identity.call("register", {
        "group_number": GROUP_A, "invitation_code": query["invitation"].lower(), "first_name": "Vic",
        "last_name": "Vance", "email": email, "phone": "860-555-0150", "username": "vic.vance",
        "password": "statements every month 9"})
    assert registered == {"status": "verification_sent"}


def test_asking_again_while_a_request_waits_answers_the_same_reference(identity, mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    email = email_for("twice")
    first = ask(identity, GROUP_A, email)
    again = ask(identity, GROUP_A, email.upper(), reason="Did my first request arrive?")
    assert again == first
    assert [row["reference"] for row in identity.call("list_access_requests", GROUP_A, token=admin["token"])] == \
        [first["reference"]]
    wait_mail(mail_dir, admin["email"], 2)
    assert len(mails_to(mail_dir, admin["email"])) == 2  # one notice, not two


def test_a_denied_request_mails_the_reason_and_cannot_be_decided_again(identity, identity_config, mail_dir, tokens,
                                                                      groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    email = email_for("dee")
    receipt = ask(identity, GROUP_A, email, role="group_admin")
    request_id = pending_id(identity, GROUP_A, receipt["reference"], admin["token"])
    reason = "We could not confirm that you work for Harbor Widgets."
    with collect_events(identity_config, "identity.events", "access_denied") as published:
        denied = identity.call("deny_access_request", GROUP_A, request_id, {"reason": reason}, token=admin["token"])
        [event] = wait_events(published, "access_denied")
    assert (denied["status"], denied["decision_reason"]) == ("denied", reason)
    assert event["data"] == {"reference": receipt["reference"], "group_number": GROUP_A, "status": "denied"}
    message = wait_mail(mail_dir, email)
    assert reason in message["body"] and "invitation" not in message["body"].lower()

    again = refusal(identity.call, "approve_access_request", GROUP_A, request_id, {}, token=admin["token"])
    assert (again["status"], again["code"]) == (409, "already_decided")
    assert [row["status"] for row in identity.call("list_access_requests", GROUP_A, token=admin["token"])] == \
        ["denied"]
    assert identity.call("list_access_requests", GROUP_A, "pending", token=admin["token"]) == []


def test_carrier_staff_decide_only_for_a_group_without_an_administrator(identity, identity_db, mail_dir, tokens,
                                                                       groups):
    set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    carrier = tokens.carrier()
    in_a = ask(identity, GROUP_A, email_for("a"))
    in_b = ask(identity, GROUP_B, email_for("b"))
    id_a = pending_id(identity, GROUP_A, in_a["reference"], carrier)  # carrier staff may look
    refused = refusal(identity.call, "approve_access_request", GROUP_A, id_a, {}, token=carrier)
    assert (refused["status"], refused["code"]) == (403, "group_admin_decides")

    id_b = pending_id(identity, GROUP_B, in_b["reference"], carrier)
    approved = identity.call("approve_access_request", GROUP_B, id_b, {"role": "billing_manager"}, token=carrier)
    assert (approved["status"], approved["decided_by"], approved["granted_role"]) == \
        ("approved", "u-carrier-test", "billing_manager")
    listed = identity.call("list_access_requests", GROUP_B, "approved", token=carrier)
    assert [(row["reference"], row["granted_role"]) for row in listed] == [(in_b["reference"], "billing_manager")]
    with identity_db.connect() as connection:
        invited = connection.execute(select(Invitation.group_number, Invitation.role, Invitation.invited_by)).all()
    assert [tuple(row) for row in invited] == [(GROUP_B, "billing_manager", "u-carrier-test")]


def test_who_may_see_and_decide_a_groups_requests(identity, mail_dir, tokens, groups):
    admin_b = set_up_user(identity, tokens, mail_dir, GROUP_B, "group_admin")
    viewer_a = tokens.user("u-viewer-a", GROUP_A, "viewer")
    receipt = ask(identity, GROUP_A, email_for("x"))
    request_id = pending_id(identity, GROUP_A, receipt["reference"], tokens.carrier())
    assert refusal(identity.call, "list_access_requests", GROUP_A, token=viewer_a)["status"] == 403
    assert refusal(identity.call, "list_access_requests", GROUP_A, token=admin_b["token"])["status"] == 404
    # group B's admin cannot decide group A's request through group B
    assert refusal(identity.call, "deny_access_request", GROUP_B, request_id, {"reason": "no"},
                   token=admin_b["token"])["code"] == "access_request_not_found"


def test_a_request_needs_a_known_group_and_a_role_a_group_may_give(identity, mail_dir, groups):
    email = email_for("u")
    unknown = refusal(ask, identity, "999999", email)
    assert unknown["status"] == 422 and unknown["errors"]["group_number"]
    assert refusal(ask, identity, GROUP_A, email, role="broker")["errors"]["requested_role"]
    assert refusal(ask, identity, GROUP_A, "not-an-address")["errors"]["email"]
    assert refusal(ask, identity, GROUP_A, email, remote_addr_in_body="x")["status"] == 422  # unknown field
    assert mails_to(mail_dir, email) == []
