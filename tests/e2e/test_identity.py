"""Issue 4's journeys over HTTP through the gateway, signed in for real: a carrier admin seeded by identity's
bootstrap CLI, registration (registration code, invitation by a group admin, approved access request, an
old-portal account), e-mail verification and codes read from the stack's mail sink, TOTP set-up and sign-in,
recovery, profile, user management with deactivation refused by roster's RPCs directly, broker access, grants
on two groups and on one subgroup; and the refusals: alike answers for wrong password and unknown user, wrong
or reused TOTP, an expired reset token, throttling, a viewer managing users, another group, a tampered token.

Every user and group is this module's own (unique names), so the file runs in any order with the others."""
import base64
import csv
import io
import json
import time
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import create_engine, text

from servicekit.testing import problem, wait_for

API = "/api/v1"
PLANS = [
    {"plan_code": "IDN-PPO", "name": "Identity Test PPO", "product": "medical", "plan_type": "PPO",
     "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
ADDRESS = {"line1": "4 Gatehouse Rd", "city": "Hartford", "state": "CT", "zip": "06103"}
WAIT = 15  # seconds: the longest any bounded wait here (events between services, mail) may take


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def strong_password():
    return "Pw-%s-%s!" % (uuid.uuid4().hex[:10], uuid.uuid4().hex[:6].upper())


def today():
    return datetime.now(ZoneInfo("America/New_York")).date()


def without_request_id(body):
    return {key: value for key, value in body.items() if key not in ("request_id", "instance", "trace_id")}


def roster_rpc(stack, token, method, *args):
    """Call roster's RPC directly over AMQP with the token in the context, as the gateway would."""
    with ServiceRpcProxy("roster", {"AMQP_URI": stack.amqp_uri}, context_data={"authorization": token},
                         timeout=20) as roster:
        return getattr(roster, method)(*args)


def roster_refuses(stack, token, group):
    try:
        roster_rpc(stack, token, "get_group", group)
    except RemoteError as exc:
        return exc.exc_type == "NotAuthenticated"
    return False


class Account:
    """A person of these tests: what they sign in with, and their current signed-in client."""

    def __init__(self, stack, username, password, email, totp_secret=None, user_id=None):
        self.stack, self.username, self.password, self.email = stack, username, password, email
        self.totp_secret, self.user_id = totp_secret, user_id
        self.client = None

    def sign_in(self):
        self.client = self.stack.sign_in(self.username, self.password, totp_secret=self.totp_secret,
                                         email=self.email)
        return self.client

    def me(self):
        return self.stack.succeeded(self.client.get(API + "/me"))


def set_up_from_mail(stack, email, before, username, password):
    """The welcome e-mail's set-up link -> POST /auth/setup (username, password) -> active."""
    message = stack.wait_mail(email, after=before)
    token = stack.link_token_in(message)
    anonymous = stack.client()
    body = stack.succeeded(anonymous.post(API + "/auth/setup", json={"token": token, "username": username,
                                                                      "password": password}))
    assert body["status"] == "active", body
    return token


# --- the carrier admin and the groups ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def carrier(stack):
    """The seeded carrier admin (bootstrap CLI), signed in with password and TOTP."""
    secret = stack.Totp.new_secret()
    seeded = stack.bootstrap_user(unique("carrier.admin."), strong_password(), kind="carrier", first="Carla",
                                  last="Carrier", totp_secret=secret)
    account = Account(stack, seeded["username"], seeded["password"], seeded["email"], secret, seeded["user_id"])
    account.sign_in()
    return account


def census(group, rows):
    out = io.StringIO()
    columns = ["subgroup_number", "plan_code", "relationship", "subscriber_ssn", "first_name", "last_name",
               "date_of_birth", "gender", "ssn", "hire_date", "effective_date"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for subgroup, last_name in rows:
        n = uuid.uuid4().int
        writer.writerow({"subgroup_number": subgroup, "plan_code": "IDN-PPO", "relationship": "self",
                         "subscriber_ssn": "", "first_name": "Sam", "last_name": last_name,
                         "date_of_birth": "1980-03-04", "gender": "F",
                         "ssn": "%03d%02d%04d" % (100 + n % 600, 10 + n % 89, 1000 + n % 8999),
                         "hire_date": "2019-05-01", "effective_date": today().replace(day=1).isoformat()})
    return out.getvalue()


@pytest.fixture(scope="module")
def groups(stack, carrier):
    """Two groups made through roster's admin API by the carrier admin: A (subgroups 001, 002, with two
    subscribers in each) and B (001). Ready once identity knows them from roster's events, i.e. once it
    accepts a registration code for each; A's code is kept for the registration journey."""
    admin = carrier.client
    this_year = today().year
    stack.succeeded(admin.post(API + "/admin/plans", json=PLANS))
    numbers = {"A": unique("IA").upper(), "B": unique("IB").upper()}
    for key, number in numbers.items():
        stack.succeeded(admin.post(API + "/admin/groups", json={
            "group_number": number, "legal_name": "Identity %s Tools Inc" % key, "ein": "061234567",
            "mailing_address": ADDRESS, "contacts": [{"kind": "primary", "name": "Pat", "email": "pat@e2e.example"}],
            "renewal_date": date(this_year, 1, 1).isoformat(), "employee_count": 30, "waiting_period_days": 0,
            "age_off_policy": "end_of_month", "continuation": "cobra"}), 201)
        for subgroup in (("001", "002") if key == "A" else ("001",)):
            stack.succeeded(admin.post(API + "/admin/groups/%s/subgroups" % number,
                                       json={"subgroup_number": subgroup, "name": "Division %s" % subgroup}), 201)
            stack.succeeded(admin.put(API + "/admin/groups/%s/subgroups/%s/plans" % (number, subgroup), json={
                "plan_year_start": date(this_year, 1, 1).isoformat(), "plan_codes": ["IDN-PPO"]}))
    loaded = admin.post(API + "/admin/groups/%s/census" % numbers["A"], headers={"Content-Type": "text/csv"},
                        data=census(numbers["A"], [("001", "Officeone"), ("001", "Officetwo"),
                                                   ("002", "Plantone"), ("002", "Planttwo")]))
    stack.succeeded(loaded)

    def registration_code(number):
        response = admin.post(API + "/admin/groups/%s/registration-codes" % number,
                              json={"role": "group_admin", "valid_days": 30})
        return response.json() if response.status_code in (200, 201) else None

    codes = {key: wait_for(lambda: registration_code(number), timeout=WAIT, interval=0.3,
                           message="identity to learn group %s from roster's events" % number)
             for key, number in numbers.items()}
    assert codes["A"]["code"] and codes["A"]["expires_at"], codes
    return {"A": numbers["A"], "B": numbers["B"], "registration_code": codes["A"]["code"]}


def test_the_seeded_carrier_admin_signs_in_with_password_and_totp(stack, carrier):
    body = carrier.client.signed_in
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    me = carrier.me()
    assert me["username"] == carrier.username and me["kind"] == "carrier" and me["mfa_method"] == "totp"
    assert me["user_id"] == carrier.user_id
    assert "password" not in json.dumps(me).lower() and carrier.totp_secret not in json.dumps(me)


# --- registration -------------------------------------------------------------------------------------------

def register_and_verify(stack, group_number, proof, email, first_name, last_name):
    """POST /auth/register with an invitation or registration code -> the e-mailed code -> active. Returns the
    Account (it signs in with e-mail codes until it sets up TOTP)."""
    username, password = unique("%s." % first_name.lower()), strong_password()
    anonymous = stack.client()
    before = len(stack.mail(to=email))
    registered = anonymous.post(API + "/auth/register", json=dict(proof, **{
        "group_number": group_number, "first_name": first_name, "last_name": last_name, "email": email,
        "phone": "860-555-0101", "username": username, "password": password}))
    assert stack.succeeded(registered)["status"] == "verification_sent"
    code = stack.code_in(stack.wait_mail(email, after=before))
    verified = stack.succeeded(anonymous.post(API + "/auth/register/verify", json={"username": username,
                                                                                    "code": code}))
    assert verified["status"] == "active"
    return Account(stack, username, password, email)


def set_up_totp(stack, account):
    """Sign in with an e-mail code, set up TOTP (secret, otpauth URI, QR), confirm it with a code computed here,
    then sign in with TOTP. Returns what each step answered."""
    client = account.sign_in()
    first_me = account.me()
    setup = stack.succeeded(client.post(API + "/me/mfa/totp"))
    account.totp_secret = setup["secret"]
    confirmed = stack.succeeded(client.post(API + "/me/mfa/totp/confirm",
                                            json={"code": stack.Totp.next_code(setup["secret"])}))
    challenge = stack.succeeded(stack.login(account.username, account.password))
    account.sign_in()
    account.user_id = account.me()["user_id"]
    return {"first_me": first_me, "totp_setup": setup, "confirmed": confirmed,
            "methods_after_setup": challenge["methods"]}


def check_totp_set_up(enrolled):
    setup = enrolled["totp_setup"]
    assert setup["otpauth_uri"].startswith("otpauth://totp/") and "secret=%s" % setup["secret"] in setup["otpauth_uri"]
    assert base64.b64decode(setup["qr_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert enrolled["first_me"]["mfa_method"] == "email"  # until TOTP is set up: e-mailed codes
    assert enrolled["confirmed"]["mfa_method"] == "totp"
    assert enrolled["methods_after_setup"] == ["totp"]


@pytest.fixture(scope="module")
def group_admin(stack, groups):
    """A new user registers with the group's registration code (carrier-issued): e-mail verification, sign-in
    with an e-mail code, TOTP set-up, sign-in with TOTP. The code gives group_admin on group A."""
    email = "%s@harbor-e2e.example" % unique("ga")
    account = register_and_verify(stack, groups["A"], {"registration_code": groups["registration_code"]}, email,
                                  "Gail", "Admin")
    return dict(set_up_totp(stack, account), account=account)


def test_register_with_a_registration_code_verify_email_set_up_totp_and_sign_in(stack, groups, group_admin):
    check_totp_set_up(group_admin)
    me = group_admin["account"].me()
    assert me["username"] == group_admin["account"].username and me["email"] == group_admin["account"].email
    assert [(g["group_number"], g["role"]) for g in me["groups"]] == [(groups["A"], "group_admin")]


def test_a_registration_code_is_not_accepted_for_another_group(stack, groups):
    email = "%s@e2e.example" % unique("wrong")
    response = stack.client().post(API + "/auth/register", json={
        "group_number": groups["B"], "registration_code": groups["registration_code"], "first_name": "Wes",
        "last_name": "Wrong", "email": email, "phone": "860-555-0102", "username": unique("wrong."),
        "password": strong_password()})
    assert 400 <= response.status_code < 500, response.text
    assert stack.mail(to=email) == []


@pytest.fixture(scope="module")
def invited(stack, groups, group_admin):
    """The group admin sets up an enrollment manager: welcome e-mail -> set-up link -> active -> sign-in."""
    admin = group_admin["account"].client
    email = "%s@harbor-e2e.example" % unique("em")
    created = stack.succeeded(admin.post(API + "/groups/%s/users" % groups["A"], json={
        "first_name": "Ines", "last_name": "Invited", "email": email, "phone": "860-555-0111",
        "role": "enrollment_manager"}), 201)
    username, password = unique("ines."), strong_password()
    token = set_up_from_mail(stack, email, 0, username, password)
    account = Account(stack, username, password, email, user_id=created["user_id"])
    account.sign_in()
    return {"account": account, "created": created, "setup_token": token}


def test_invited_user_sets_up_the_account_from_the_welcome_mail_and_signs_in(stack, groups, invited):
    assert invited["created"]["status"] == "invited"
    me = invited["account"].me()
    assert me["user_id"] == invited["created"]["user_id"] and me["username"] == invited["account"].username
    assert [(g["group_number"], g["role"]) for g in me["groups"]] == [(groups["A"], "enrollment_manager")]
    members = invited["account"].client.get(API + "/groups/%s/members" % groups["A"])
    assert members.status_code == 200, members.text
    # the set-up link works once
    again = stack.client().post(API + "/auth/setup", json={"token": invited["setup_token"],
                                                           "username": unique("again."), "password": strong_password()})
    assert 400 <= again.status_code < 500, again.text


@pytest.fixture(scope="module")
def viewer(stack, groups, group_admin):
    """Access requested for group A, approved by its group admin as a viewer: the invitation (a code and a
    registration link) is mailed; the requester registers with it."""
    email = "%s@harbor-e2e.example" % unique("vi")
    requested = stack.succeeded(stack.client().post(API + "/auth/access-requests", json={
        "group_number": groups["A"], "first_name": "Vic", "last_name": "Viewer", "email": email,
        "requested_role": "enrollment_manager", "reason": "I reconcile the monthly statements."}))
    admin = group_admin["account"].client
    pending = stack.succeeded(admin.get(API + "/groups/%s/access-requests" % groups["A"],
                                        params={"status": "pending"}))
    ours = [item for item in pending if item["reference"] == requested["reference"]]
    assert len(ours) == 1, pending
    approved = stack.succeeded(admin.post(API + "/groups/%s/access-requests/%s/approve" % (
        groups["A"], ours[0]["id"]), json={"role": "viewer"}))
    invitation = stack.wait_mail(email)
    code = stack.link_token_in(invitation)
    account = register_and_verify(stack, groups["A"], {"invitation_code": code}, email, "Vic", "Viewer")
    return dict(set_up_totp(stack, account), account=account, requested=requested, approved=approved,
                invitation=invitation, code=code)


def test_an_access_request_is_approved_and_the_requester_registers_with_the_invitation(stack, groups, viewer):
    assert viewer["requested"]["status"] == "pending" and viewer["requested"]["reference"]
    assert viewer["approved"]["status"] == "approved" and viewer["approved"]["granted_role"] == "viewer"
    assert viewer["requested"]["reference"] in viewer["invitation"]["subject"] + viewer["invitation"]["body"]
    assert viewer["code"] in viewer["invitation"]["body"]
    check_totp_set_up(viewer)
    me = viewer["account"].me()
    assert [(g["group_number"], g["role"]) for g in me["groups"]] == [(groups["A"], "viewer")]


def test_an_access_request_is_denied_and_the_reason_mailed(stack, groups, carrier):
    """Group B has no group admin: carrier staff decide."""
    email = "%s@elm-e2e.example" % unique("dn")
    requested = stack.succeeded(stack.client().post(API + "/auth/access-requests", json={
        "group_number": groups["B"], "first_name": "Dana", "last_name": "Denied", "email": email,
        "requested_role": "group_admin", "reason": "I run HR."}))
    listed = stack.succeeded(carrier.client.get(API + "/groups/%s/access-requests" % groups["B"],
                                                params={"status": "pending"}))
    ours = [item for item in listed if item["reference"] == requested["reference"]]
    assert len(ours) == 1, listed
    reason = "We could not confirm you work for this employer."
    denied = stack.succeeded(carrier.client.post(API + "/groups/%s/access-requests/%s/deny" % (
        groups["B"], ours[0]["id"]), json={"reason": reason}))
    assert denied["status"] == "denied"
    message = stack.wait_mail(email)
    assert reason in message["body"]
    assert "token=" not in message["body"]


def test_an_imported_old_portal_account_is_linked_by_its_emailed_code_and_gets_the_mapped_role(stack, groups,
                                                                                                 carrier):
    old_username, email = unique("OLDUSER"), "%s@legacy-e2e.example" % unique("lg")
    csv_text = "old_username,first_name,last_name,email,old_role,groups\n%s,Lee,Legacy,%s,Eligibility User,%s\n" % (
        old_username, email, groups["A"])
    imported = stack.succeeded(carrier.client.post(API + "/admin/legacy-users", data=csv_text.encode(),
                                                   headers={"Content-Type": "text/csv"}))
    assert imported["imported"] == 1

    anonymous = stack.client()
    sent = stack.succeeded(anonymous.post(API + "/auth/register/existing", json={"old_username": old_username}))
    unknown = stack.succeeded(anonymous.post(API + "/auth/register/existing", json={"old_username": unique("NOSUCH")}))
    assert sent == unknown == {"status": "code_sent"}
    code = stack.code_in(stack.wait_mail(email))

    username, password = unique("lee."), strong_password()
    wrong = anonymous.post(API + "/auth/register/existing/confirm", json={
        "old_username": old_username, "code": "000000" if code != "000000" else "111111", "username": username,
        "password": password})
    assert 400 <= wrong.status_code < 500, wrong.text  # knowing the username (or the e-mail) is not enough
    linked = stack.succeeded(anonymous.post(API + "/auth/register/existing/confirm", json={
        "old_username": old_username, "code": code, "username": username, "password": password}))
    assert linked["status"] == "active" and linked["role"] == "enrollment_manager"
    assert linked["groups"] == [groups["A"]]

    account = Account(stack, username, password, email)
    account.sign_in()
    assert [(g["group_number"], g["role"]) for g in account.me()["groups"]] == [(groups["A"], "enrollment_manager")]


# --- recovery and profile ------------------------------------------------------------------------------------

@pytest.fixture
def plain_user(stack, groups):
    """A bootstrapped group user signing in with e-mail codes."""
    seeded = stack.bootstrap_user(unique("pat."), strong_password(), email="%s@e2e.example" % unique("pu"),
                                  group=groups["A"], role="viewer")
    return Account(stack, seeded["username"], seeded["password"], seeded["email"], user_id=seeded["user_id"])


def test_recover_username_mails_it_and_answers_alike_for_an_unknown_address(stack, plain_user):
    anonymous = stack.client()
    known = anonymous.post(API + "/auth/recover-username", json={"email": plain_user.email})
    unknown = anonymous.post(API + "/auth/recover-username", json={"email": "%s@nowhere.example" % unique("n")})
    assert known.status_code == unknown.status_code and stack.succeeded(known) == stack.succeeded(unknown) \
        == {"status": "sent"}
    assert plain_user.username in stack.wait_mail(plain_user.email)["body"]


def test_reset_password_by_the_mailed_link_then_sign_in_with_the_new_one(stack, plain_user):
    anonymous = stack.client()
    known = stack.succeeded(anonymous.post(API + "/auth/password-reset",
                                           json={"username_or_email": plain_user.username}))
    unknown = stack.succeeded(anonymous.post(API + "/auth/password-reset",
                                             json={"username_or_email": unique("nobody.")}))
    assert known == unknown == {"status": "sent"}
    token = stack.link_token_in(stack.wait_mail(plain_user.email))
    new_password = strong_password()
    changed = stack.succeeded(anonymous.post(API + "/auth/password-reset/confirm",
                                             json={"token": token, "password": new_password}))
    assert changed == {"status": "changed"}
    assert stack.login(plain_user.username, plain_user.password).status_code == 401
    plain_user.password = new_password
    plain_user.sign_in()
    assert plain_user.me()["username"] == plain_user.username
    reused = anonymous.post(API + "/auth/password-reset/confirm", json={"token": token, "password": strong_password()})
    assert 400 <= reused.status_code < 500, reused.text  # single use


def test_an_expired_reset_token_is_refused(stack, plain_user):
    before = len(stack.mail(to=plain_user.email))
    stack.succeeded(stack.client().post(API + "/auth/password-reset", json={"username_or_email": plain_user.email}))
    token = stack.link_token_in(stack.wait_mail(plain_user.email, after=before))
    engine = create_engine(stack.database_urls["identity"])
    try:
        with engine.begin() as connection:
            expired = connection.execute(text(
                "UPDATE one_time_codes SET expires_at = now() - interval '1 minute' "
                "WHERE purpose = 'password_reset' AND used_at IS NULL "
                "AND user_id = (SELECT id FROM users WHERE user_id = :user_id)"), {"user_id": plain_user.user_id})
            assert expired.rowcount == 1
    finally:
        engine.dispose()
    attempted = strong_password()
    refused = stack.client().post(API + "/auth/password-reset/confirm", json={"token": token, "password": attempted})
    assert 400 <= refused.status_code < 500 and refused.status_code != 429, refused.text
    problem(refused)
    assert stack.login(plain_user.username, attempted).status_code == 401
    plain_user.sign_in()  # the old password still works


def test_change_username(stack, plain_user):
    client = plain_user.sign_in()
    new_username = unique("renamed.")
    updated = stack.succeeded(client.patch(API + "/me", json={"username": new_username}))
    assert updated["username"] == new_username
    assert stack.login(plain_user.username, plain_user.password).status_code == 401
    plain_user.username = new_username
    plain_user.sign_in()
    assert plain_user.me()["username"] == new_username


def test_refresh_rotates_and_logout_revokes(stack, plain_user):
    client = plain_user.sign_in()
    anonymous = stack.client()
    first = client.refresh_token
    rotated = stack.succeeded(anonymous.post(API + "/auth/refresh", json={"refresh_token": first}))
    assert rotated["access_token"] and rotated["refresh_token"] != first
    assert anonymous.post(API + "/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert stack.succeeded(anonymous.post(API + "/auth/logout", json={"refresh_token": rotated["refresh_token"]}))
    assert anonymous.post(API + "/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401


# --- user management -------------------------------------------------------------------------------------------

def test_update_deactivate_and_reactivate_a_user(stack, groups, group_admin, invited):
    admin, user = group_admin["account"].client, invited["account"]
    path = API + "/groups/%s/users/%s" % (groups["A"], user.user_id)
    updated = stack.succeeded(admin.patch(path, json={"phone": "860-555-0199", "role": "billing_manager"}))
    assert updated["phone"] == "860-555-0199" and updated["role"] == "billing_manager"
    listed = stack.succeeded(admin.get(API + "/groups/%s/users" % groups["A"]))
    assert {u["user_id"]: u["role"] for u in listed}[user.user_id] == "billing_manager"

    user.sign_in()  # the role change revoked the old tokens
    assert [g["role"] for g in user.me()["groups"]] == ["billing_manager"]
    token = user.client.token
    assert roster_rpc(stack, token, "get_group", groups["A"])["group"]["group_number"] == groups["A"]

    deactivated = stack.succeeded(admin.post(path + "/deactivate"))
    assert deactivated["status"] == "deactivated"
    # the still-unexpired token is refused by roster's own RPCs, not only by the gateway
    wait_for(lambda: roster_refuses(stack, token, groups["A"]), timeout=WAIT, interval=0.2,
             message="roster to refuse the deactivated user's token")
    assert user.client.get(API + "/groups/%s/members" % groups["A"]).status_code == 401
    assert user.client.get(API + "/me").status_code == 401
    assert stack.login(user.username, user.password).status_code == 401

    reactivated = stack.succeeded(admin.post(path + "/reactivate"))
    assert reactivated["status"] == "active"
    user.sign_in()
    assert user.client.get(API + "/groups/%s/members" % groups["A"]).status_code == 200


def test_broker_access_is_granted_on_two_groups_and_revoked(stack, groups, carrier, group_admin):
    email = "%s@shoreline-e2e.example" % unique("br")
    created = stack.succeeded(carrier.client.post(API + "/admin/users", json={
        "first_name": "Bo", "last_name": "Broker", "email": email, "kind": "broker",
        "firm_name": "Shoreline Benefits"}), 201)
    username, password = unique("bo."), strong_password()
    set_up_from_mail(stack, email, 0, username, password)
    broker = Account(stack, username, password, email, user_id=created["user_id"])

    granted_a = stack.succeeded(group_admin["account"].client.post(
        API + "/groups/%s/delegates" % groups["A"], json={"username": username, "actions": ["change_roster"]}))
    stack.succeeded(carrier.client.post(API + "/groups/%s/delegates" % groups["B"],
                                        json={"username": username, "actions": []}))
    broker.sign_in()
    mine = stack.succeeded(broker.client.get(API + "/me/groups"))
    assert sorted(g["group_number"] for g in mine) == sorted([groups["A"], groups["B"]])  # both, nothing else
    by_group = {g["group_number"]: g for g in mine}
    assert "change_roster" in by_group[groups["A"]]["actions"] and "change_roster" not in by_group[groups["B"]][
        "actions"]
    assert "pay_billing" not in by_group[groups["A"]]["actions"]
    for number in (groups["A"], groups["B"]):
        assert broker.client.get(API + "/groups/%s/members" % number).status_code == 200

    delegates = stack.succeeded(group_admin["account"].client.get(API + "/groups/%s/delegates" % groups["A"]))
    ours = [d for d in delegates if d["user_id"] == broker.user_id]
    assert len(ours) == 1 and ours[0]["grant_id"] == granted_a["grant_id"] and ours[0]["username"] == username
    revoked = group_admin["account"].client.delete(API + "/groups/%s/delegates/%s" % (groups["A"], ours[0]["grant_id"]))
    assert revoked.status_code in (200, 204), revoked.text
    # the broker's next call to that group fails: the token is revoked (401), or the grant is gone (404)
    wait_for(lambda: broker.client.get(API + "/groups/%s/members" % groups["A"]).status_code in (401, 404),
             timeout=WAIT, interval=0.2, message="the revoked broker to be refused on group A")
    broker.sign_in()
    assert broker.client.get(API + "/groups/%s/members" % groups["A"]).status_code == 404
    assert broker.client.get(API + "/groups/%s/members" % groups["B"]).status_code == 200
    assert [g["group_number"] for g in stack.succeeded(broker.client.get(API + "/me/groups"))] == [groups["B"]]


def test_a_subgroup_limited_user_sees_only_that_subgroups_members(stack, groups, group_admin):
    email = "%s@harbor-e2e.example" % unique("sg")
    stack.succeeded(group_admin["account"].client.post(API + "/groups/%s/users" % groups["A"], json={
        "first_name": "Sid", "last_name": "Subgroup", "email": email, "phone": "860-555-0122",
        "role": "enrollment_manager", "subgroups": ["002"]}), 201)
    username, password = unique("sid."), strong_password()
    set_up_from_mail(stack, email, 0, username, password)
    limited = Account(stack, username, password, email)
    limited.sign_in()
    grant = [g for g in limited.me()["groups"] if g["group_number"] == groups["A"]]
    assert grant and grant[0]["subgroups"] == ["002"]

    seen = stack.succeeded(limited.client.get(API + "/groups/%s/members" % groups["A"], params={"limit": 100}))
    assert sorted(m["last_name"] for m in seen["items"]) == ["Plantone", "Planttwo"]
    assert {m["subgroup_number"] for m in seen["items"]} == {"002"}
    other = limited.client.get(API + "/groups/%s/members" % groups["A"], params={"subgroup": "001"})
    assert other.status_code in (200, 403, 404), other.text
    if other.status_code == 200:
        assert other.json()["items"] == []
    everyone = stack.succeeded(group_admin["account"].client.get(API + "/groups/%s/members" % groups["A"],
                                                                 params={"limit": 100}))
    assert {m["subgroup_number"] for m in everyone["items"]} == {"001", "002"}


# --- refusals --------------------------------------------------------------------------------------------------

def test_wrong_password_and_unknown_user_answer_alike(stack, plain_user):
    wrong = stack.login(plain_user.username, "Not-the-password-1!")
    unknown = stack.login(unique("nobody."), "Not-the-password-1!")
    assert wrong.status_code == unknown.status_code == 401
    assert without_request_id(problem(wrong)) == without_request_id(problem(unknown))
    assert problem(wrong)["code"] == "invalid_credentials"
    assert plain_user.username not in wrong.text


def test_wrong_or_reused_totp_codes_are_refused(stack, groups):
    secret = stack.Totp.new_secret()
    seeded = stack.bootstrap_user(unique("tot."), strong_password(), group=groups["A"], role="viewer",
                                  totp_secret=secret)
    client = stack.client()

    def challenge():
        body = stack.succeeded(stack.login(seeded["username"], seeded["password"], client))
        assert body["methods"] == ["totp"]
        return body["mfa_token"]

    wrong_code = stack.totp_code(secret, int(time.time() // 30) + 5)  # a real code, but far outside the ±1 step window
    refused = client.post(API + "/auth/mfa/verify", json={"mfa_token": challenge(), "code": wrong_code})
    assert refused.status_code == 401, refused.text
    garbage = client.post(API + "/auth/mfa/verify", json={"mfa_token": challenge(), "code": "12345x"})
    assert 400 <= garbage.status_code < 500 and "access_token" not in garbage.text

    code = stack.Totp.next_code(secret)
    accepted = client.post(API + "/auth/mfa/verify", json={"mfa_token": challenge(), "code": code})
    assert accepted.status_code == 200, accepted.text
    reused = client.post(API + "/auth/mfa/verify", json={"mfa_token": challenge(), "code": code})
    assert reused.status_code == 401 and "access_token" not in reused.text, reused.text


def test_repeated_failures_are_throttled(stack, groups):
    seeded = stack.bootstrap_user(unique("thr."), strong_password(), group=groups["A"], role="viewer")
    client = stack.client()
    statuses = []
    for attempt in range(110):  # at most 100 guesses an hour per account
        statuses.append(stack.login(seeded["username"], "Wrong-guess-%d!" % attempt, client).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}
    throttled = stack.login(seeded["username"], "Another-guess-1!", client)
    assert throttled.status_code == 429 and problem(throttled)["code"]


def test_a_viewer_cannot_manage_users(stack, groups, viewer):
    client = viewer["account"].client
    created = client.post(API + "/groups/%s/users" % groups["A"], json={
        "first_name": "Not", "last_name": "Allowed", "email": "%s@e2e.example" % unique("na"), "phone": "860-555-0100",
        "role": "group_admin"})
    assert created.status_code == 403 and problem(created)["code"] == "forbidden"
    assert client.get(API + "/groups/%s/users" % groups["A"]).status_code == 403
    assert client.post(API + "/groups/%s/delegates" % groups["A"],
                       json={"username": "anyone", "actions": ["pay_billing"]}).status_code == 403


def test_a_token_for_group_a_is_404_on_group_b(stack, groups, group_admin):
    client = group_admin["account"].client
    for path in ("/groups/%s" % groups["B"], "/groups/%s/members" % groups["B"], "/groups/%s/users" % groups["B"],
                 "/groups/%s/access-requests" % groups["B"], "/groups/%s/delegates" % groups["B"]):
        response = client.get(API + path)
        assert response.status_code == 404, (path, response.text)
    created = client.post(API + "/groups/%s/users" % groups["B"], json={
        "first_name": "Cross", "last_name": "Group", "email": "%s@e2e.example" % unique("cg"), "phone": "860-555-0100",
        "role": "viewer"})
    assert created.status_code == 404, created.text


def test_a_tampered_token_is_refused(stack, groups, carrier, group_admin):
    header, payload, signature = group_admin["account"].client.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["carrier"] = True
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = stack.client("%s.%s.%s" % (header, forged_payload, signature))
    flipped = stack.client("%s.%s.%s" % (header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    for client in (forged, flipped):
        for path in ("/me", "/groups/%s/members" % groups["B"], "/admin/plans"):
            response = client.get(API + path)
            assert response.status_code == 401, (path, response.text)
            assert problem(response)["code"]
    try:
        roster_rpc(stack, forged.token, "get_group", groups["B"])
        raise AssertionError("roster accepted a tampered token")
    except RemoteError as exc:
        assert exc.exc_type == "NotAuthenticated"


def test_the_audit_log_shows_sign_ins_and_failures_to_carrier_staff_only(stack, carrier, group_admin, plain_user):
    stack.login(plain_user.username, "Not-the-password-2!")
    plain_user.sign_in()
    entries = stack.succeeded(carrier.client.get(API + "/audit", params={"user_id": plain_user.user_id,
                                                                         "limit": 100}))
    actions = {entry["action"] for entry in entries["items"]}
    assert entries["total"] >= 2 and {"sign_in_failed"} <= actions, actions
    assert any(entry["outcome"] == "success" for entry in entries["items"])
    assert plain_user.password not in json.dumps(entries) and "Not-the-password-2!" not in json.dumps(entries)
    assert group_admin["account"].client.get(API + "/audit").status_code == 403
