"""Registration over real RPC: a new user with an invitation or the group's registration code (e-mail
verification, e-mail-code sign-in, TOTP set-up, TOTP sign-in, /me), an old-portal user linking the account by an
e-mailed code (the old role mapped), and the welcome e-mail's set-up link. What each refuses, and what it tells."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from identity import codes
from identity.domain import credentials
from identity.models import Grant, Invitation, LegacyUser, OneTimeCode, RegistrationCode, User
from integration.test_sign_in import (ADDR, GROUP, Totp, audit_rows, code_in, known_group, login, published,
                                      refusal, sign_in, strong_password, unique, wait_mail)
from servicekit import clock
from servicekit.mail import read_maildir

OTHER_GROUP = "200517"


@pytest.fixture
def groups(identity_db):
    return known_group(identity_db), known_group(identity_db, OTHER_GROUP, ("001",), "Elm Street Dental")


def invitation(engine, email, role="enrollment_manager", subgroups=("002",), group=GROUP, days=14):
    """An invitation as a group admin's approval makes it; returns the code typed from its e-mail."""
    code = "K7QM-2XRP-9TWD"
    now = clock.utcnow()
    with Session(engine) as session, session.begin():
        session.add(Invitation(group_number=group, email_key=email.lower(), code_hash=credentials.hash_code(code),
                               role=role, subgroups=list(subgroups) if subgroups else None, invited_by="u-admin",
                               created_at=now, expires_at=now + timedelta(days=days)))
    return code


def registration_code(engine, group=GROUP, role="group_admin", days=30):
    """The group's registration code, as carrier staff issue it for the welcome letter."""
    code = "H4ZN-8BKC-3VYE"
    now = clock.utcnow()
    with Session(engine) as session, session.begin():
        session.add(RegistrationCode(group_number=group, code_hash=credentials.hash_code(code), role=role,
                                     issued_by="u-carrier", issued_at=now, expires_at=now + timedelta(days=days),
                                     used_by=[]))
    return code


def person(**overrides):
    username = unique("new.")
    registration = {"group_number": GROUP, "first_name": "Renata", "last_name": "Okafor",
                    "email": "%s@harborlight.example" % username, "phone": "860-555-0101", "username": username,
                    "password": strong_password(), "remote_addr": ADDR}
    registration.update(overrides)
    return registration


def register_and_verify(identity, mail_dir, registration):
    assert identity.call("register", registration) == {"status": "verification_sent"}
    message = wait_mail(mail_dir, registration["email"])
    assert message["subject"] == "Confirm your e-mail address"
    assert identity.call("verify_registration", {"username": registration["username"], "code": code_in(message)}) \
        == {"status": "active"}
    return {"username": registration["username"], "password": registration["password"],
            "email": registration["email"]}


# --- new users ------------------------------------------------------------------------------------------------

def test_register_with_an_invitation_verify_set_up_totp_and_sign_in(identity, mail_dir, groups, identity_db):
    registration = person(email="Renata.Okafor@Harborlight.example")
    registration["invitation_code"] = invitation(identity_db, "renata.okafor@harborlight.example")
    user = register_and_verify(identity, mail_dir, registration)

    first = sign_in(identity, mail_dir, user)  # e-mail codes until TOTP is set up
    assert first["user"]["mfa_method"] == "email"
    assert first["user"]["groups"] == [{"group_number": GROUP, "legal_name": "Harborlight Tools Inc",
                                        "role": "enrollment_manager", "subgroups": ["002"],
                                        "actions": ["view_roster", "change_roster", "messages"]}]

    setup = identity.call("start_totp_setup", token=first["access_token"])
    assert setup["otpauth_uri"].startswith("otpauth://totp/Benefits%20Portal:" + user["username"])
    assert "secret=%s" % setup["secret"] in setup["otpauth_uri"]
    assert setup["qr_png_base64"].startswith("iVBORw0KGgo")  # a PNG
    assert login(identity, user["username"], user["password"])["methods"] == ["email"]  # not yet confirmed
    confirmed = identity.call("confirm_totp_setup", {"code": Totp.code(setup["secret"])}, token=first["access_token"])
    assert confirmed["mfa_method"] == "totp"

    signed_in = sign_in(identity, mail_dir, dict(user, totp_secret=setup["secret"]))
    me = identity.call("me", token=signed_in["access_token"])
    assert me["username"] == user["username"] and me["email"] == "Renata.Okafor@Harborlight.example"
    assert me["mfa_method"] == "totp" and me["groups"] == first["user"]["groups"]

    with Session(identity_db) as session:
        assert session.scalar(select(Invitation.used_at)) is not None
        stored = session.scalar(select(User).where(User.username == user["username"]))
        assert stored.totp_pending_ciphertext is None and setup["secret"] not in stored.totp_secret_ciphertext
    registered = published(identity_db, "user_registered")
    assert registered == [{"user_id": me["user_id"], "kind": "group", "status": "unverified", "source": "invitation",
                           "groups": [{"group_number": GROUP, "role": "enrollment_manager", "subgroups": ["002"],
                                       "actions": []}]}]
    assert {"status": "active", "changed": ["status", "email_verified"], "user_id": me["user_id"]} \
        in published(identity_db, "user_updated")
    actions = [row["action"] for row in audit_rows(identity_db)]
    assert {"registered", "email_verified", "totp_setup_started", "totp_enrolled", "sign_in"} <= set(actions)


def test_register_with_the_groups_registration_code(identity, mail_dir, groups, identity_db):
    code = registration_code(identity_db)
    first = person(registration_code=code.lower())  # typed from a letter: case does not matter
    user = register_and_verify(identity, mail_dir, first)
    me = sign_in(identity, mail_dir, user)["user"]
    assert [(g["group_number"], g["role"], g["subgroups"]) for g in me["groups"]] == [(GROUP, "group_admin", None)]

    # Single use per user: a colleague may use the group's code, the same person (e-mail) not again.
    assert identity.call("register", person(registration_code=code)) == {"status": "verification_sent"}
    again = refusal(identity.call, "register", person(registration_code=code, email=first["email"]))
    assert again["code"] == "invalid_registration_proof"
    with Session(identity_db) as session:
        assert len(session.scalar(select(RegistrationCode.used_by))) == 2


@pytest.mark.parametrize("case", ["unknown_group", "wrong_code", "other_group", "other_email", "expired", "used"])
def test_a_wrong_proof_is_refused_with_one_answer_and_no_mail(identity, mail_dir, groups, identity_db, case):
    email = "%s@harborlight.example" % unique("p.")
    code = invitation(identity_db, email, days=-1 if case == "expired" else 14)
    if case == "used":
        with Session(identity_db) as session, session.begin():
            session.execute(update(Invitation).values(used_at=clock.utcnow()))
    registration = person(email=email, invitation_code=code)
    registration.update({"unknown_group": {"group_number": "999999"}, "wrong_code": {"invitation_code": "AAAA-BBBB"},
                         "other_group": {"group_number": OTHER_GROUP},
                         "other_email": {"email": "someone.else@harborlight.example"}}.get(case, {}))
    refused = refusal(identity.call, "register", registration)
    assert refused["status"] == 422 and refused["code"] == "invalid_registration_proof"
    assert refused["detail"].startswith("The group number and code do not match")
    assert read_maildir(mail_dir) == []
    assert audit_rows(identity_db, "registration_failed")[0]["details"] == {"reason": "invalid_proof"}


def test_a_taken_username_and_a_weak_password_are_refused(identity, mail_dir, groups, identity_db):
    code = registration_code(identity_db)
    first = person(registration_code=code)
    identity.call("register", first)
    taken = refusal(identity.call, "register", person(registration_code=code, username=first["username"].upper()))
    assert taken["status"] == 409 and taken["code"] == "username_taken"
    weak = refusal(identity.call, "register", person(registration_code=code, password="password1234"))
    assert weak["status"] == 422 and weak["code"] == "password_rejected" and "password" in weak["errors"]
    assert "password1234" not in str(weak)
    unknown = refusal(identity.call, "register", person(registration_code=code, extra="x"))
    assert unknown["status"] == 422 and "extra" in unknown["errors"]


def test_unverified_users_cannot_sign_in_and_a_second_registration_resends_the_code(
        identity, mail_dir, groups, identity_db):
    registration = person(registration_code=registration_code(identity_db))
    identity.call("register", registration)
    first_code = code_in(wait_mail(mail_dir, registration["email"]))

    assert refusal(login, identity, registration["username"], registration["password"])["code"] \
        == "email_not_verified"
    assert refusal(login, identity, registration["username"], "Wrong-password-1")["code"] == "invalid_credentials"

    wrong = "%06d" % ((int(first_code) + 1) % 1000000)
    for _ in range(5):
        assert refusal(identity.call, "verify_registration", {"username": registration["username"],
                                                              "code": wrong})["code"] == "invalid_code"
    dead = refusal(identity.call, "verify_registration", {"username": registration["username"], "code": first_code})
    assert dead["code"] == "invalid_code"  # five wrong tries: the code is used up

    # The same details again (the proof is used now, the password proves it is the same person): a new code.
    assert identity.call("register", registration) == {"status": "verification_sent"}
    new_code = code_in(wait_mail(mail_dir, registration["email"], 2))
    assert identity.call("verify_registration", {"username": registration["username"], "code": new_code}) \
        == {"status": "active"}
    assert login(identity, registration["username"], registration["password"])["mfa_required"] is True


def test_a_verification_code_expires_after_10_minutes(identity, mail_dir, groups, identity_db):
    registration = person(registration_code=registration_code(identity_db))
    identity.call("register", registration)
    code = code_in(wait_mail(mail_dir, registration["email"]))
    with Session(identity_db) as session, session.begin():
        row = session.scalar(select(OneTimeCode).where(OneTimeCode.purpose == "email_verification"))
        assert row.expires_at - row.created_at == timedelta(minutes=10)
        row.expires_at = clock.utcnow() - timedelta(seconds=1)
    assert refusal(identity.call, "verify_registration", {"username": registration["username"], "code": code})[
        "code"] == "invalid_code"


# --- old-portal users ---------------------------------------------------------------------------------------------

@pytest.fixture
def legacy(identity_db, groups):
    with Session(identity_db) as session, session.begin():
        session.add(LegacyUser(old_username_key="lferreira", old_username="LFerreira", first_name="Luis",
                               last_name="Ferreira", email="luis.ferreira@harborlight.example",
                               old_role="Eligibility User", groups=[GROUP, OTHER_GROUP],
                               imported_at=clock.utcnow()))
    return {"old_username": "LFerreira", "email": "luis.ferreira@harborlight.example"}


def test_an_old_portal_user_links_the_account_by_a_code_and_gets_the_mapped_role(
        identity, mail_dir, legacy, identity_db):
    assert identity.call("register_existing", {"old_username": "lferreira", "remote_addr": ADDR}) \
        == {"status": "code_sent"}
    message = wait_mail(mail_dir, legacy["email"])
    assert message["subject"] == "Link your account from the old portal" and "Luis" in message["body"]
    username, password = unique("luis."), strong_password()

    wrong = "%06d" % ((int(code_in(message)) + 1) % 1000000)
    refused = refusal(identity.call, "confirm_existing", {"old_username": "LFerreira", "code": wrong,
                                                          "username": username, "password": password})
    assert refused["code"] == "invalid_code"
    linked = identity.call("confirm_existing", {"old_username": "LFerreira", "code": code_in(message),
                                                "username": username, "password": password, "remote_addr": ADDR})
    assert linked == {"status": "active", "role": "enrollment_manager", "groups": [GROUP, OTHER_GROUP]}

    me = sign_in(identity, mail_dir, {"username": username, "password": password, "email": legacy["email"]})["user"]
    assert [(g["group_number"], g["role"]) for g in me["groups"]] == \
        [(GROUP, "enrollment_manager"), (OTHER_GROUP, "enrollment_manager")]
    assert me["first_name"] == "Luis" and me["email"] == legacy["email"]
    again = refusal(identity.call, "confirm_existing", {"old_username": "LFerreira", "code": code_in(message),
                                                        "username": unique("x."), "password": password})
    assert again["code"] == "invalid_code"  # linked once; the code is used
    assert published(identity_db, "user_registered")[0]["source"] == "legacy"
    linked_audit = audit_rows(identity_db, "account_linked")[0]
    assert linked_audit["details"]["role"] == "enrollment_manager" and linked_audit["subject"] == me["user_id"]


def test_an_unknown_old_username_answers_the_same_and_mails_nothing(identity, mail_dir, legacy):
    assert identity.call("register_existing", {"old_username": "nobody-here"}) == {"status": "code_sent"}
    assert read_maildir(mail_dir) == []


def test_guessing_an_old_portal_code_is_throttled(identity, mail_dir, legacy):
    identity.call("register_existing", {"old_username": "LFerreira"})
    code = code_in(wait_mail(mail_dir, legacy["email"]))
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    attempt = {"old_username": "LFerreira", "code": wrong, "username": unique("g."), "password": strong_password()}
    for _ in range(5):
        assert refusal(identity.call, "confirm_existing", attempt)["status"] == 422
    assert refusal(identity.call, "confirm_existing", dict(attempt, code=code))["status"] == 429
    assert refusal(identity.call, "register_existing", {"old_username": "LFerreira"})["status"] == 429


# --- the welcome e-mail's set-up link ---------------------------------------------------------------------------

def invited_user(engine, hours=72):
    """A user a group admin set up (status invited) and the set-up token of the welcome e-mail."""
    now = clock.utcnow()
    with Session(engine) as session, session.begin():
        user = User(user_id="u-invited-%s" % unique(""), email="ines@harborlight.example",
                    email_key="ines@harborlight.example", email_verified=False, first_name="Ines", last_name="Invited",
                    kind="group", mfa_method="email", status="invited", created_at=now, updated_at=now)
        session.add(user)
        session.flush()
        session.add(Grant(user_id=user.id, group_number=GROUP, role="viewer", granted_at=now))
        token = codes.issue_code(session, user, "account_setup", timedelta(hours=hours), token=True)
        return user.user_id, token


def test_the_set_up_link_activates_the_account_once(identity, mail_dir, groups, identity_db):
    user_id, token = invited_user(identity_db)
    username, password = unique("ines."), strong_password()
    assert identity.call("complete_setup", {"token": token, "username": username, "password": password}) \
        == {"status": "active"}
    me = sign_in(identity, mail_dir, {"username": username, "password": password,
                                      "email": "ines@harborlight.example"})["user"]
    assert me["user_id"] == user_id and me["groups"][0]["role"] == "viewer"
    again = refusal(identity.call, "complete_setup", {"token": token, "username": unique("x."), "password": password})
    assert again["code"] == "invalid_code" and "token" in again["errors"]
    assert published(identity_db, "password_changed")[0]["how"] == "set_up"


def test_an_expired_set_up_link_is_refused_and_a_weak_password_leaves_it_usable(identity, groups, identity_db):
    _user_id, expired = invited_user(identity_db, hours=-1)
    assert refusal(identity.call, "complete_setup", {"token": expired, "username": unique("a."),
                                                     "password": strong_password()})["code"] == "invalid_code"
    _user_id, token = invited_user(identity_db)
    username = unique("b.")
    assert refusal(identity.call, "complete_setup", {"token": token, "username": username,
                                                     "password": "short"})["code"] == "password_rejected"
    assert identity.call("complete_setup", {"token": token, "username": username, "password": strong_password()}) \
        == {"status": "active"}
