"""A group's users (identity.admin_entrypoints), over real RPC, RabbitMQ and PostgreSQL: set-up by e-mail link,
role and subgroup changes, deactivation that every service honours at once, reactivation, who may do what."""
import time

from sqlalchemy import func, select

from admintesting import groups_fixture, other_service_fixture, tokens_fixture  # noqa: F401 (fixtures)
from admintesting import (GROUP_A, GROUP_B, PASSWORD, email_for, link_in, mails_to, refusal, set_up_user,
                          wait_events, wait_mail)
from identity.models import AuditEntry, Grant, User
from servicekit.testing.broker import collect_events


def new_user(**fields):
    return dict({"first_name": "Dana", "last_name": "Whitfield", "email": email_for("dana"), "phone": "860-555-0100",
                 "role": "enrollment_manager"}, **fields)


def audit_actions(engine, subject):
    with engine.connect() as connection:
        return [row.action for row in connection.execute(
            select(AuditEntry.action).where(AuditEntry.subject == subject).order_by(AuditEntry.id))]


def test_a_new_user_is_invited_by_e_mail_and_active_once_they_follow_the_link(identity, identity_config,
                                                                             identity_db, mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    body = new_user(subgroups=["002"])
    with collect_events(identity_config, "identity.events", "user_registered") as published:
        created = identity.call("create_user", GROUP_A, body, token=admin["token"])
        [event] = wait_events(published, "user_registered", user_id=created["user_id"])
    assert created["status"] == "invited" and created["username"] is None
    assert (created["role"], created["subgroups"], created["group_number"]) == ("enrollment_manager", ["002"], GROUP_A)
    assert event["aggregate_id"] == "user:%s" % created["user_id"] and event["actor"] == admin["user_id"]
    assert event["data"] == {"user_id": created["user_id"], "kind": "group", "status": "invited",
                             "source": "created_by_admin", "groups": [
                                 {"group_number": GROUP_A, "role": "enrollment_manager", "subgroups": ["002"],
                                  "actions": []}]}

    welcome = wait_mail(mail_dir, body["email"])
    url, query = link_in(welcome, "/setup")
    assert url.startswith("http://127.0.0.1:8080/setup?token=") and len(query["token"]) >= 40
    assert "72 hours" in welcome["body"] and "Harbor Widgets LLC" in welcome["body"]
    assert identity.call("get_user", GROUP_A, created["user_id"], token=admin["token"])["status"] == "invited"

    assert identity.call("complete_setup", {"token": query["token"], "username": "dana.whitfield",
                                            "password": PASSWORD}) == {"status": "active"}
    shown = identity.call("get_user", GROUP_A, created["user_id"], token=admin["token"])
    assert (shown["status"], shown["username"]) == ("active", "dana.whitfield")
    listed = identity.call("list_users", GROUP_A, token=admin["token"])
    assert [user["user_id"] for user in listed] == [admin["user_id"], created["user_id"]]  # by last name
    assert "user_created" in audit_actions(identity_db, created["user_id"])


def test_a_retried_create_user_makes_one_account_and_sends_one_e_mail(identity, identity_db, mail_dir, tokens, groups):
    body = new_user()
    first = identity.call("create_user", GROUP_A, body, token=tokens.carrier(), idempotency_key="k-create-1")
    again = identity.call("create_user", GROUP_A, body, token=tokens.carrier(), idempotency_key="k-create-1")
    assert again == first
    with identity_db.connect() as connection:
        assert connection.execute(select(func.count()).select_from(User)
                                  .where(User.email_key == body["email"].lower())).scalar() == 1
    time.sleep(0.3)
    assert len(mails_to(mail_dir, body["email"])) == 1


def test_a_resent_welcome_e_mail_makes_the_earlier_link_useless(identity, mail_dir, tokens, groups):
    body = new_user()
    created = identity.call("create_user", GROUP_A, body, token=tokens.carrier())
    _url, first = link_in(wait_mail(mail_dir, body["email"]), "/setup")
    assert identity.call("resend_welcome", GROUP_A, created["user_id"], token=tokens.carrier()) == {"status": "sent"}
    _url, second = link_in(wait_mail(mail_dir, body["email"], 2), "/setup")
    assert second["token"] != first["token"]
    refused = refusal(identity.call, "complete_setup", {"token": first["token"], "username": "dana.w",
                                                        "password": PASSWORD})
    assert 400 <= refused["status"] < 500
    assert identity.call("complete_setup", {"token": second["token"], "username": "dana.w",
                                            "password": PASSWORD}) == {"status": "active"}
    assert refusal(identity.call, "resend_welcome", GROUP_A, created["user_id"],
                   token=tokens.carrier())["code"] == "already_set_up"


def test_a_mistyped_address_is_corrected_before_set_up_and_only_the_new_one_can_set_up(identity, mail_dir, tokens,
                                                                                       groups):
    wrong, right = email_for("typo"), email_for("dana")
    created = identity.call("create_user", GROUP_A, new_user(email=wrong), token=tokens.carrier())
    _url, first = link_in(wait_mail(mail_dir, wrong), "/setup")
    corrected = identity.call("update_user", GROUP_A, created["user_id"], {"email": right}, token=tokens.carrier())
    assert corrected["email"] == right
    _url, second = link_in(wait_mail(mail_dir, right), "/setup")
    assert refusal(identity.call, "complete_setup", {"token": first["token"], "username": "typo.taker",
                                                     "password": PASSWORD})["status"] == 422
    assert identity.call("complete_setup", {"token": second["token"], "username": "dana.right",
                                            "password": PASSWORD}) == {"status": "active"}


def test_an_admin_resets_a_users_password_by_mailing_a_30_minute_link(identity, mail_dir, tokens, groups):
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer")
    assert identity.call("reset_user_password", GROUP_A, user["user_id"], token=tokens.carrier()) == {"status": "sent"}
    message = wait_mail(mail_dir, user["email"], 2)
    _url, query = link_in(message, "/reset-password")
    assert "30 minutes" in message["body"] and PASSWORD not in message["body"]
    assert identity.call("confirm_password_reset", {"token": query["token"],
                                                    "password": "a brand new passphrase 7"}) == {"status": "changed"}


def test_a_role_or_subgroup_change_revokes_the_users_tokens_with_grant_changed(identity, identity_config,
                                                                              identity_db, mail_dir, tokens, groups):
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer")
    with collect_events(identity_config, "identity.events") as published:
        changed = identity.call("update_user", GROUP_A, user["user_id"],
                                {"role": "billing_manager", "subgroups": ["001"], "phone": "860-555-0199"},
                                token=tokens.carrier())
        bodies = wait_events(published, "user_updated", "grant_changed", count=2, user_id=user["user_id"])
    assert (changed["role"], changed["subgroups"], changed["phone"]) == ("billing_manager", ["001"], "860-555-0199")
    by_type = {body["event_type"]: body for body in bodies}
    assert by_type["user_updated"]["data"] == {"user_id": user["user_id"], "status": "active", "changed": ["phone"]}
    grant_changed = by_type["grant_changed"]["data"]
    assert grant_changed["not_before"] and {key: grant_changed[key] for key in ("group_number", "role", "subgroups")} \
        == {"group_number": GROUP_A, "role": "billing_manager", "subgroups": ["001"]}
    assert "email" not in str(bodies) and user["email"] not in str(bodies)

    lifted = identity.call("update_user", GROUP_A, user["user_id"], {"subgroups": None}, token=tokens.carrier())
    assert (lifted["role"], lifted["subgroups"]) == ("billing_manager", None)
    with identity_db.connect() as connection:
        history = connection.execute(select(Grant.role, Grant.subgroups, Grant.revoked_at.is_(None))
                                     .join(User, User.id == Grant.user_id)
                                     .where(User.user_id == user["user_id"]).order_by(Grant.id)).all()
    assert [tuple(row) for row in history] == [("viewer", None, False), ("billing_manager", ["001"], False),
                                              ("billing_manager", None, True)]
    assert audit_actions(identity_db, user["user_id"]).count("grant_changed") == 2


def test_changes_are_checked_against_the_group(identity, mail_dir, tokens, groups):
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer")
    carrier = tokens.carrier()
    assert refusal(identity.call, "update_user", GROUP_A, user["user_id"], {"subgroups": ["009"]},
                   token=carrier)["code"] == "unknown_subgroup"
    assert refusal(identity.call, "update_user", GROUP_A, user["user_id"], {"role": "broker"},
                   token=carrier)["status"] == 422
    assert refusal(identity.call, "update_user", GROUP_A, user["user_id"], {"email": "new@harbor.example"},
                   token=carrier)["errors"]["email"]
    assert refusal(identity.call, "create_user", GROUP_A, new_user(role="carrier_staff"),
                   token=carrier)["status"] == 422
    assert refusal(identity.call, "update_user", GROUP_B, user["user_id"], {"phone": "860-555-0111"},
                   token=carrier)["code"] == "user_not_found"


def test_a_deactivated_users_unexpired_token_is_refused_by_another_service_at_once(
        identity, identity_config, mail_dir, tokens, groups, other_service):
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "enrollment_manager")
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    assert other_service("view_roster", GROUP_A, token=user["token"]) == {"user_id": user["user_id"]}
    time.sleep(0.01)

    with collect_events(identity_config, "identity.events", "user_deactivated") as published:
        deactivated = identity.call("deactivate_user", GROUP_A, user["user_id"], token=admin["token"])
        [event] = wait_events(published, "user_deactivated")
    assert deactivated["status"] == "deactivated"
    assert set(event["data"]) == {"user_id", "not_before", "group_number", "status"}
    assert event["data"]["user_id"] == user["user_id"] and event["data"]["status"] == "deactivated"

    other_service.revoked_since(user["user_id"], event["data"]["not_before"])
    problem = refusal(other_service, "view_roster", GROUP_A, token=user["token"])
    assert (problem["status"], problem["detail"]) == (401, "session revoked")
    assert other_service("view_roster", GROUP_A, token=admin["token"]) == {"user_id": admin["user_id"]}
    assert refusal(identity.call, "login", {"username": user["username"], "password": PASSWORD,
                                            "remote_addr": "10.0.0.9"})["status"] == 401
    assert refusal(identity.call, "deactivate_user", GROUP_A, user["user_id"],
                   token=admin["token"])["code"] == "already_deactivated"

    with collect_events(identity_config, "identity.events", "user_reactivated") as published:
        reactivated = identity.call("reactivate_user", GROUP_A, user["user_id"], token=admin["token"])
        [event] = wait_events(published, "user_reactivated")
    assert reactivated["status"] == "active" and event["data"]["status"] == "active"
    assert refusal(other_service, "view_roster", GROUP_A, token=user["token"])["status"] == 401  # still old
    fresh = tokens.user(user["user_id"], GROUP_A, "enrollment_manager")
    assert other_service("view_roster", GROUP_A, token=fresh) == {"user_id": user["user_id"]}


def test_a_viewer_may_not_manage_users_and_another_groups_admin_finds_nothing(identity, mail_dir, tokens, groups):
    viewer = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer")
    admin_b = set_up_user(identity, tokens, mail_dir, GROUP_B, "group_admin")
    limited_admin = tokens.user("u-limited", GROUP_A, "group_admin", subgroups=["001"])
    for token, status in ((viewer["token"], 403), (limited_admin, 403), (admin_b["token"], 404)):
        assert refusal(identity.call, "list_users", GROUP_A, token=token)["status"] == status
        assert refusal(identity.call, "create_user", GROUP_A, new_user(), token=token)["status"] == status
        assert refusal(identity.call, "deactivate_user", GROUP_A, viewer["user_id"], token=token)["status"] == status
        assert refusal(identity.call, "get_user", GROUP_A, viewer["user_id"], token=token)["status"] == status
    assert refusal(identity.call, "list_users", GROUP_A)["status"] == 401
    # a group no one has: 404 for carrier staff too, the same answer as a group without a grant
    assert refusal(identity.call, "list_users", "999999", token=tokens.carrier())["code"] == "group_not_found"
    # admin B cannot reach A's user through their own group either
    assert refusal(identity.call, "get_user", GROUP_B, viewer["user_id"], token=admin_b["token"])["status"] == 404


def test_the_last_active_admin_stays_unless_carrier_staff_act_and_nobody_deactivates_themselves(
        identity, mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    invited_admin = identity.call("create_user", GROUP_A, new_user(role="group_admin"), token=admin["token"])
    assert invited_admin["status"] == "invited"  # an invited admin cannot manage anything yet: not counted
    assert refusal(identity.call, "deactivate_user", GROUP_A, admin["user_id"],
                   token=admin["token"])["code"] == "own_account"
    assert refusal(identity.call, "update_user", GROUP_A, admin["user_id"], {"role": "viewer"},
                   token=admin["token"])["code"] == "last_group_admin"

    second = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin", by=admin["token"])
    assert identity.call("update_user", GROUP_A, admin["user_id"], {"role": "viewer"},
                         token=second["token"])["role"] == "viewer"
    # a token for an admin identity no longer counts (demoted meanwhile) cannot remove the last one either
    stale = tokens.user(admin["user_id"], GROUP_A, "group_admin")
    assert refusal(identity.call, "update_user", GROUP_A, second["user_id"], {"role": "viewer"},
                   token=stale)["code"] == "last_group_admin"
    assert refusal(identity.call, "deactivate_user", GROUP_A, second["user_id"],
                   token=stale)["code"] == "last_group_admin"
    assert identity.call("deactivate_user", GROUP_A, second["user_id"],
                         token=tokens.carrier())["status"] == "deactivated"


def test_one_account_holds_grants_on_two_groups_and_each_admin_sees_only_their_own(
        identity, identity_config, mail_dir, tokens, groups):
    admin_a = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    admin_b = set_up_user(identity, tokens, mail_dir, GROUP_B, "group_admin")
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer", by=admin_a["token"])

    with collect_events(identity_config, "identity.events", "grant_changed") as published:
        in_b = identity.call("create_user", GROUP_B, new_user(email=user["email"].upper(), role="billing_manager"),
                             token=admin_b["token"])
        [event] = wait_events(published, "grant_changed", user_id=user["user_id"])
    assert in_b["user_id"] == user["user_id"] and in_b["status"] == "active"
    assert (in_b["group_number"], in_b["role"]) == (GROUP_B, "billing_manager")
    assert event["data"]["group_number"] == GROUP_B and event["data"]["not_before"]
    notice = wait_mail(mail_dir, user["email"], 2)
    assert "Elm Street Bakery" in notice["subject"] and "/setup" not in notice["body"]

    assert identity.call("get_user", GROUP_A, user["user_id"], token=admin_a["token"])["role"] == "viewer"
    assert identity.call("get_user", GROUP_B, user["user_id"], token=admin_b["token"])["role"] == "billing_manager"
    # the user sees both groups (a token issued after the grant; the older one is revoked by grant_changed)
    fresh = tokens.grants(user["user_id"], (GROUP_A, "viewer"), (GROUP_B, "billing_manager"))
    mine = identity.call("my_groups", token=fresh)
    assert sorted((group["group_number"], group["role"]) for group in mine) == [(GROUP_A, "viewer"),
                                                                               (GROUP_B, "billing_manager")]
    assert refusal(identity.call, "create_user", GROUP_B, new_user(email=user["email"]),
                   token=admin_b["token"])["code"] == "user_exists"
    # the account reaches group B too: group A's admin may not switch it off; carrier staff may
    assert refusal(identity.call, "deactivate_user", GROUP_A, user["user_id"],
                   token=admin_a["token"])["code"] == "user_in_other_groups"
    assert identity.call("deactivate_user", GROUP_A, user["user_id"], token=tokens.carrier())["status"] == "deactivated"
