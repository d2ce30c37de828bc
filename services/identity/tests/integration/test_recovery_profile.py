"""Recovery and the signed-in user's profile over real RPC: recover a username, reset a password (single use,
30 minutes, every session ends), change the username, change the e-mail (with a code to the new address), change
the password (the other sessions end, the caller's own goes on after a refresh)."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from identity.models import OneTimeCode, User
from integration.test_sign_in import (ADDR, audit_rows, call_from, code_in, known_group, login, mail_to, published,
                                      refusal, seed_user, sign_in, strong_password, token_in, unique, wait_mail)
from servicekit import clock
from servicekit.testing import wait_for


@pytest.fixture
def user(identity_config, identity_db):
    known_group(identity_db)
    return seed_user(identity_config, role="group_admin")


# --- recovery -----------------------------------------------------------------------------------------------

def test_recover_username_mails_it_to_the_address_on_file(identity, mail_dir, user, identity_config, identity_db):
    second = seed_user(identity_config, email=user["email"].upper())  # one address, two accounts
    assert identity.call("recover_username", {"email": user["email"], "remote_addr": ADDR}) == {"status": "sent"}
    message = wait_mail(mail_dir, user["email"])
    assert message["subject"] == "Your username"
    assert user["username"] in message["body"] and second["username"] in message["body"]
    assert user["password"] not in message["body"]
    assert [row["subject"] for row in audit_rows(identity_db, "username_recovery_requested")] == \
        [user["user_id"], second["user_id"]]


def test_recovery_answers_the_same_for_an_unknown_account_and_mails_nothing(identity, mail_dir, user):
    assert identity.call("recover_username", {"email": "nobody@nowhere.example"}) == {"status": "sent"}
    assert identity.call("reset_password", {"username_or_email": "nobody.here"}) == {"status": "sent"}
    assert identity.call("reset_password", {"username_or_email": "nobody@nowhere.example"}) == {"status": "sent"}
    assert mail_to(mail_dir, "nobody@nowhere.example") == [] and mail_to(mail_dir, user["email"]) == []


def test_reset_password_works_once_and_ends_every_session(identity, mail_dir, user, identity_db):
    session = sign_in(identity, mail_dir, user)
    assert identity.call("reset_password", {"username_or_email": user["email"], "remote_addr": ADDR}) \
        == {"status": "sent"}
    message = wait_mail(mail_dir, user["email"], 2)
    assert message["subject"] == "Reset your password" and "30 minutes" in message["body"]
    token = token_in(message)

    new_password = strong_password()
    assert identity.call("confirm_password_reset", {"token": token, "password": new_password}) == \
        {"status": "changed"}
    assert refusal(identity.call, "confirm_password_reset", {"token": token, "password": strong_password()})[
        "code"] == "invalid_code"  # single use
    assert refusal(identity.call, "refresh", {"refresh_token": session["refresh_token"]})["status"] == 401
    assert refusal(login, identity, user["username"], user["password"])["code"] == "invalid_credentials"
    assert login(identity, user["username"], new_password)["mfa_required"] is True

    changed = published(identity_db, "password_changed")
    assert [(event["user_id"], event["how"]) for event in changed] == [(user["user_id"], "reset")]
    assert changed[0]["not_before"]
    assert wait_mail(mail_dir, user["email"], 3)["subject"] == "Your password was changed"
    assert audit_rows(identity_db, "password_reset")[0]["details"] == {"sessions_revoked": 1}


def test_an_expired_reset_token_is_refused(identity, mail_dir, user, identity_db):
    identity.call("reset_password", {"username_or_email": user["username"]})
    token = token_in(wait_mail(mail_dir, user["email"]))
    with Session(identity_db) as session, session.begin():
        row = session.scalar(select(OneTimeCode).where(OneTimeCode.purpose == "password_reset"))
        assert row.expires_at - row.created_at == timedelta(minutes=30)
        row.expires_at = clock.utcnow() - timedelta(seconds=1)
    refused = refusal(identity.call, "confirm_password_reset", {"token": token, "password": strong_password()})
    assert refused["status"] == 422 and refused["code"] == "invalid_code" and "token" in refused["errors"]
    assert login(identity, user["username"], user["password"])["mfa_required"] is True  # unchanged


def test_a_newer_reset_link_replaces_the_older_one(identity, mail_dir, user):
    identity.call("reset_password", {"username_or_email": user["username"]})
    older = token_in(wait_mail(mail_dir, user["email"]))
    identity.call("reset_password", {"username_or_email": user["username"]})
    newer = token_in(wait_mail(mail_dir, user["email"], 2))
    assert refusal(identity.call, "confirm_password_reset", {"token": older, "password": strong_password()})[
        "code"] == "invalid_code"
    assert identity.call("confirm_password_reset", {"token": newer, "password": strong_password()}) == \
        {"status": "changed"}


# --- profile ----------------------------------------------------------------------------------------------------

def test_change_the_username(identity, identity_config, mail_dir, user, identity_db):
    token = sign_in(identity, mail_dir, user)["access_token"]
    taken = seed_user(identity_config)["username"]
    assert refusal(identity.call, "update_me", {"username": taken.upper()}, token=token)["code"] == "username_taken"

    new_username = unique("renamed.")
    me = call_from(identity_config, "update_me", {"username": new_username, "phone": "860-555-0199"}, token=token)
    assert me["username"] == new_username and me["phone"] == "860-555-0199"
    assert refusal(login, identity, user["username"], user["password"])["code"] == "invalid_credentials"
    assert login(identity, new_username, user["password"])["mfa_required"] is True

    changed = audit_rows(identity_db, "username_changed")
    assert changed == [{"action": "username_changed", "outcome": "success", "actor": user["user_id"],
                        "subject": user["user_id"], "remote_addr": ADDR, "group_number": None,
                        "details": {"old_username": user["username"], "new_username": new_username}}]
    assert {"user_id": user["user_id"], "status": "active", "changed": ["phone", "username"]} in \
        published(identity_db, "user_updated")


def test_a_new_email_needs_the_code_sent_to_it(identity, mail_dir, user, identity_db):
    token = sign_in(identity, mail_dir, user)["access_token"]
    new_email = "%s@elsewhere.example" % unique("dana.")
    pending = identity.call("update_me", {"email": new_email}, token=token)
    assert pending["email"] == user["email"] and pending["pending_email"] == new_email
    message = wait_mail(mail_dir, new_email)
    assert message["subject"] == "Confirm your new e-mail address"

    wrong = "%06d" % ((int(code_in(message)) + 1) % 1000000)
    assert refusal(identity.call, "confirm_email", {"code": wrong}, token=token)["code"] == "invalid_code"
    assert identity.call("me", token=token)["email"] == user["email"]
    me = identity.call("confirm_email", {"code": code_in(message)}, token=token)
    assert me["email"] == new_email and me["pending_email"] is None
    assert wait_mail(mail_dir, user["email"], 2)["subject"] == "Your e-mail address was changed"  # the old one
    assert [row["action"] for row in audit_rows(identity_db) if "email" in row["action"]] == \
        ["email_change_requested", "email_change_failed", "email_changed"]

    # Sign-in codes now go to the new address.
    assert sign_in(identity, mail_dir, dict(user, email=new_email))["user"]["email"] == new_email


def test_change_password_ends_the_other_sessions_and_keeps_this_one(identity, identity_config, mail_dir, user,
                                                                    identity_db):
    this = sign_in(identity, mail_dir, user)
    other = sign_in(identity, mail_dir, user)
    wrong = refusal(identity.call, "change_password", {"current_password": "Not-my-password",
                                                       "new_password": strong_password()}, token=this["access_token"])
    assert wrong["status"] == 422 and wrong["code"] == "wrong_password" and "current_password" in wrong["errors"]
    weak = refusal(identity.call, "change_password", {"current_password": user["password"],
                                                      "new_password": user["username"] + "-2026"},
                   token=this["access_token"])
    assert weak["code"] == "password_rejected" and "new_password" in weak["errors"]

    new_password = strong_password()
    assert call_from(identity_config, "change_password", {"current_password": user["password"],
                                                          "new_password": new_password},
                     token=this["access_token"]) == {"status": "changed"}

    assert refusal(identity.call, "refresh", {"refresh_token": other["refresh_token"]})["status"] == 401
    refreshed = identity.call("refresh", {"refresh_token": this["refresh_token"]})
    # The revoking event comes back to identity too (its RevocationListener): the access tokens issued before the
    # change are refused, the one from the refresh is not.
    wait_for(lambda: _refused(identity, this["access_token"]), timeout=10, message="the old access token refused")
    assert identity.call("me", token=refreshed["access_token"])["user_id"] == user["user_id"]
    assert login(identity, user["username"], new_password)["mfa_required"] is True
    assert audit_rows(identity_db, "password_changed")[0]["details"] == {"sessions_revoked": 1}
    assert [row["details"]["reason"] for row in audit_rows(identity_db, "password_change_failed")] == \
        ["wrong_current_password"]


def _refused(identity, token):
    try:
        identity.call("me", token=token)
    except Exception as exc:  # RemoteError: NotAuthenticated "session revoked"
        return "session revoked" in str(exc)
    return False


def test_profile_calls_need_an_active_signed_in_user(identity, mail_dir, user, identity_db):
    assert refusal(identity.call, "me")["status"] == 401
    token = sign_in(identity, mail_dir, user)["access_token"]
    with Session(identity_db) as session, session.begin():
        session.execute(update(User).where(User.user_id == user["user_id"]).values(status="deactivated"))
    assert refusal(identity.call, "me", token=token)["status"] == 401


def test_totp_set_up_needs_a_code_from_the_new_secret(identity, mail_dir, user):
    token = sign_in(identity, mail_dir, user)["access_token"]
    assert refusal(identity.call, "confirm_totp_setup", {"code": "123456"}, token=token)["code"] == \
        "totp_setup_not_started"
    identity.call("start_totp_setup", token=token)
    assert refusal(identity.call, "confirm_totp_setup", {"code": "000000"}, token=token)["code"] == "invalid_code"
    assert identity.call("me", token=token)["mfa_method"] == "email"
