"""Broker / TPA delegates: a group's admin lets a firm's user in with what they may do, changes it, and revokes
it; the delegate's token from before the revocation is refused by every service at once."""
import time

from admintesting import groups_fixture, other_service_fixture, tokens_fixture  # noqa: F401 (fixtures)
from admintesting import (GROUP_A, GROUP_B, refusal, set_up_staff, set_up_user, wait_events, wait_mail)
from servicekit.testing.broker import collect_events


def test_a_broker_is_granted_access_with_chosen_actions_and_sees_the_group(identity, identity_config, mail_dir,
                                                                          tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    broker = set_up_staff(identity, tokens, mail_dir, "broker")
    with collect_events(identity_config, "identity.events") as published:
        granted = identity.call("grant_delegate", GROUP_A, {"username": broker["username"].upper(),
                                                            "actions": ["change_roster", "view_roster"]},
                                token=admin["token"])
        delegate_granted, grant_changed = wait_events(published, "delegate_granted", "grant_changed", count=2,
                                                      user_id=broker["user_id"])
    assert (granted["user_id"], granted["granted_actions"], granted["firm_name"]) == \
        (broker["user_id"], ["change_roster"], "Shoreline Benefits")
    assert granted["actions"] == ["change_roster", "messages", "view_billing", "view_roster"]  # never pay_billing
    assert delegate_granted["data"] == {"user_id": broker["user_id"], "grant_id": granted["grant_id"],
                                        "group_number": GROUP_A, "role": "broker", "kind": "broker",
                                        "actions": ["change_roster"]}
    assert grant_changed["data"]["not_before"] and grant_changed["data"]["role"] == "broker"
    assert "Harbor Widgets LLC" in wait_mail(mail_dir, broker["email"], 2)["subject"]
    assert [d["grant_id"] for d in identity.call("list_delegates", GROUP_A, token=admin["token"])] == \
        [granted["grant_id"]]
    assert identity.call("list_users", GROUP_A, token=admin["token"])[0]["user_id"] == admin["user_id"]  # not them

    mine = identity.call("my_groups", token=tokens.user(broker["user_id"], GROUP_A, "broker",
                                                        actions=["change_roster"]))
    assert [(g["group_number"], "change_roster" in g["actions"], "pay_billing" in g["actions"]) for g in mine] == \
        [(GROUP_A, True, False)]

    # the same call again changes nothing; other actions replace the grant
    assert identity.call("grant_delegate", GROUP_A, {"username": broker["username"], "actions": ["change_roster"]},
                         token=admin["token"])["grant_id"] == granted["grant_id"]
    changed = identity.call("grant_delegate", GROUP_A, {"username": broker["username"], "actions": ["pay_billing"]},
                            token=admin["token"])
    assert changed["granted_actions"] == ["pay_billing"] and changed["grant_id"] != granted["grant_id"]
    assert [d["grant_id"] for d in identity.call("list_delegates", GROUP_A, token=admin["token"])] == \
        [changed["grant_id"]]


def test_a_revoked_brokers_earlier_token_is_refused_by_another_service_and_other_groups_stay(
        identity, identity_config, mail_dir, tokens, groups, other_service):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    broker = set_up_staff(identity, tokens, mail_dir, "tpa", firm_name="Keystone TPA")
    granted = identity.call("grant_delegate", GROUP_A, {"username": broker["username"], "actions": []},
                            token=admin["token"])
    identity.call("grant_delegate", GROUP_B, {"username": broker["username"], "actions": ["pay_billing"]},
                  token=tokens.carrier())
    time.sleep(0.01)  # the token is issued after the grants
    token = tokens.grants(broker["user_id"], (GROUP_A, "broker"), (GROUP_B, "broker", None, ["pay_billing"]))
    assert other_service("view_roster", GROUP_A, token=token) == {"user_id": broker["user_id"]}

    with collect_events(identity_config, "identity.events") as published:
        revoked = identity.call("revoke_delegate", GROUP_A, granted["grant_id"], token=admin["token"])
        delegate_revoked, grant_changed = wait_events(published, "delegate_revoked", "grant_changed", count=2,
                                                      user_id=broker["user_id"])
    assert revoked["revoked_at"] and delegate_revoked["data"] == {
        "user_id": broker["user_id"], "grant_id": granted["grant_id"], "group_number": GROUP_A}
    assert grant_changed["data"]["role"] is None and grant_changed["data"]["group_number"] == GROUP_A

    other_service.revoked_since(broker["user_id"], grant_changed["data"]["not_before"])
    assert refusal(other_service, "view_roster", GROUP_A, token=token)["detail"] == "session revoked"
    # the next token (identity signs what is left) reaches group B only
    fresh = tokens.grants(broker["user_id"], (GROUP_B, "broker", None, ["pay_billing"]))
    assert refusal(other_service, "view_roster", GROUP_A, token=fresh)["status"] == 404
    assert other_service("view_roster", GROUP_B, token=fresh) == {"user_id": broker["user_id"]}
    assert [g["group_number"] for g in identity.call("my_groups", token=fresh)] == [GROUP_B]
    assert identity.call("list_delegates", GROUP_A, token=admin["token"]) == []
    assert refusal(identity.call, "revoke_delegate", GROUP_A, granted["grant_id"],
                   token=admin["token"])["code"] == "delegate_not_found"


def test_only_brokers_and_tpas_are_delegates_and_only_with_grantable_actions(identity, mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    broker = set_up_staff(identity, tokens, mail_dir, "broker")
    colleague = set_up_user(identity, tokens, mail_dir, GROUP_B, "viewer")
    staff = set_up_staff(identity, tokens, mail_dir, "carrier")
    for username in (colleague["username"], staff["username"]):
        assert refusal(identity.call, "grant_delegate", GROUP_A, {"username": username, "actions": []},
                       token=admin["token"])["code"] == "not_a_delegate_user"
    assert refusal(identity.call, "grant_delegate", GROUP_A, {"username": "nobody.here", "actions": []},
                   token=admin["token"])["status"] == 404
    assert refusal(identity.call, "grant_delegate", GROUP_A, {"username": broker["username"],
                                                              "actions": ["manage_users"]},
                   token=admin["token"])["errors"]["actions"]


def test_a_group_admin_manages_delegates_of_their_own_group_only(identity, mail_dir, tokens, groups):
    admin_b = set_up_user(identity, tokens, mail_dir, GROUP_B, "group_admin")
    broker = set_up_staff(identity, tokens, mail_dir, "broker")
    granted = identity.call("grant_delegate", GROUP_A, {"username": broker["username"]}, token=tokens.carrier())
    broker_token = tokens.user(broker["user_id"], GROUP_A, "broker", actions=None)
    assert refusal(identity.call, "list_delegates", GROUP_A, token=admin_b["token"])["status"] == 404
    assert refusal(identity.call, "revoke_delegate", GROUP_B, granted["grant_id"],
                   token=admin_b["token"])["code"] == "delegate_not_found"
    # a delegate may not let others in (no manage_users)
    assert refusal(identity.call, "grant_delegate", GROUP_A, {"username": broker["username"]},
                   token=broker_token)["status"] == 403
