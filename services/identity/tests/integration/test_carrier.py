"""What carrier staff do in identity: staff and firm users, registration codes, the old portal's users, the audit
log; identity's copy of roster's groups; and the public role table."""
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from admintesting import groups_fixture, tokens_fixture  # noqa: F401 (fixtures)
from admintesting import (GROUP_A, GROUP_B, email_for, known_group, link_in, publish_roster_event, refusal,
                          roster_group, set_up_user, wait_mail)
from identity.domain.access import typed_code_key
from identity.domain.credentials import hash_code
from identity.models import AuditEntry, LegacyUser, RegistrationCode
from servicekit import clock
from servicekit.roles import role_table
from servicekit.testing import wait_for
from servicekit.testing.broker import publish_event

LEGACY_HEADER = "old_username,first_name,last_name,email,old_role,groups\n"


def count(engine, model):
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar()


# --- staff and firm users ------------------------------------------------------------------------------

def test_carrier_staff_set_up_staff_and_firm_users_who_get_a_welcome_link(identity, mail_dir, tokens):
    email = email_for("tpa")
    created = identity.call("create_carrier_user", {"first_name": "Tia", "last_name": "Park", "email": email,
                                                    "kind": "tpa", "firm_name": "Keystone TPA"},
                            token=tokens.carrier())
    assert (created["kind"], created["firm_name"], created["status"]) == ("tpa", "Keystone TPA", "invited")
    _url, query = link_in(wait_mail(mail_dir, email), "/setup")
    assert identity.call("complete_setup", {"token": query["token"], "username": "tia.park",
                                            "password": "keystone claims desk 4"}) == {"status": "active"}

    staff = identity.call("create_carrier_user", {"first_name": "Cal", "last_name": "Ross",
                                                  "email": email_for("staff"), "kind": "carrier"},
                          token=tokens.carrier())
    assert staff["kind"] == "carrier" and staff["firm_name"] is None
    assert refusal(identity.call, "create_carrier_user", {"first_name": "Tia", "last_name": "Park",
                                                          "email": email.upper(), "kind": "carrier"},
                   token=tokens.carrier())["code"] == "email_in_use"
    assert refusal(identity.call, "create_carrier_user", {"first_name": "No", "last_name": "Firm",
                                                          "email": email_for("b"), "kind": "broker"},
                   token=tokens.carrier())["errors"]["firm_name"]


def test_only_carrier_staff_reach_the_carrier_rpcs(identity, mail_dir, tokens, groups):
    admin = tokens.user("u-admin-a", GROUP_A, "group_admin")
    assert refusal(identity.call, "create_carrier_user", {"first_name": "Ev", "last_name": "Il",
                                                          "email": email_for("e"), "kind": "carrier"},
                   token=admin)["status"] == 403
    assert refusal(identity.call, "issue_registration_code", GROUP_A, {}, token=admin)["status"] == 403
    assert refusal(identity.call, "import_legacy_users", LEGACY_HEADER + "a,B,C,d@e.example,Super User,%s\n"
                   % GROUP_A, token=admin)["status"] == 403
    assert refusal(identity.call, "list_audit", {}, token=admin)["status"] == 403
    assert refusal(identity.call, "list_audit", {})["status"] == 401


# --- registration codes --------------------------------------------------------------------------------

def test_a_registration_code_is_shown_once_and_kept_only_as_its_hash(identity, identity_db, tokens, groups):
    issued = identity.call("issue_registration_code", GROUP_A, {}, token=tokens.carrier())
    assert issued["role"] == "group_admin" and issued["group_number"] == GROUP_A
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", issued["code"])
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=30)
    with identity_db.connect() as connection:
        [row] = connection.execute(select(RegistrationCode.code_hash, RegistrationCode.role,
                                          RegistrationCode.issued_by)).all()
        audit_text = str(connection.execute(select(AuditEntry.details)).scalars().all())
    assert tuple(row) == (hash_code(typed_code_key(issued["code"])), "group_admin", "u-carrier-test")
    assert issued["code"] not in audit_text

    viewer_code = identity.call("issue_registration_code", GROUP_B, {"role": "viewer", "valid_days": 7},
                                token=tokens.carrier())
    assert viewer_code["role"] == "viewer" and viewer_code["code"] != issued["code"]
    assert refusal(identity.call, "issue_registration_code", GROUP_A, {"role": "broker"},
                   token=tokens.carrier())["status"] == 422
    assert refusal(identity.call, "issue_registration_code", GROUP_A, {"valid_days": 0},
                   token=tokens.carrier())["errors"]["valid_days"]
    assert refusal(identity.call, "issue_registration_code", "999999", {},
                   token=tokens.carrier())["code"] == "group_not_found"


# --- the old portal's users ----------------------------------------------------------------------------

def test_one_bad_row_imports_nothing_and_a_good_file_imports_every_row(identity, identity_db, tokens, groups):
    bad = (LEGACY_HEADER + "jdoe,Jane,Doe,jane@harbor.example,Super User,%s\n" % GROUP_A
           + "bsmith,Bo,Smith,bo@harbor.example,Billing User,%s;999999\n" % GROUP_A)
    problem = refusal(identity.call, "import_legacy_users", bad, token=tokens.carrier())
    assert (problem["status"], problem["code"]) == (422, "legacy_import_rejected")
    assert problem["errors"] == {"row 3": {"groups": ["Unknown group 999999."]}}
    assert count(identity_db, LegacyUser) == 0

    good = bad.replace(";999999", ";%s" % GROUP_B)
    report = identity.call("import_legacy_users", good, token=tokens.carrier())
    assert report == {"imported": 2, "rows": [
        {"row": 2, "old_username": "jdoe", "old_role": "Super User", "role": "group_admin", "groups": [GROUP_A],
         "status": "imported"},
        {"row": 3, "old_username": "bsmith", "old_role": "Billing User", "role": "billing_manager",
         "groups": sorted([GROUP_A, GROUP_B]), "status": "imported"}]}
    assert count(identity_db, LegacyUser) == 2
    again = refusal(identity.call, "import_legacy_users", good, token=tokens.carrier())
    assert set(again["errors"]) == {"row 2", "row 3"} and count(identity_db, LegacyUser) == 2


# --- the audit log -------------------------------------------------------------------------------------

def test_the_audit_log_is_filtered_and_paged_for_carrier_staff(identity, identity_db, mail_dir, tokens, groups):
    admin = set_up_user(identity, tokens, mail_dir, GROUP_A, "group_admin")
    user = set_up_user(identity, tokens, mail_dir, GROUP_A, "viewer", by=admin["token"])
    identity.call("update_user", GROUP_A, user["user_id"], {"role": "billing_manager"}, token=admin["token"])
    identity.call("deactivate_user", GROUP_A, user["user_id"], token=admin["token"])
    identity.call("issue_registration_code", GROUP_B, {}, token=tokens.carrier())
    carrier = tokens.carrier()

    about_user = identity.call("list_audit", {"user_id": user["user_id"]}, token=carrier)
    actions = [item["action"] for item in about_user["items"]]
    newest_first = [actions.index(action) for action in ("user_deactivated", "grant_changed", "user_created")]
    assert newest_first == sorted(newest_first)
    assert about_user["total"] == len(about_user["items"])
    deactivation = about_user["items"][actions.index("user_deactivated")]
    assert (deactivation["actor"], deactivation["subject"], deactivation["group_number"], deactivation["outcome"]) \
        == (admin["user_id"], user["user_id"], GROUP_A, "success")
    grant_change = about_user["items"][actions.index("grant_changed")]
    assert grant_change["details"]["before"]["role"] == "viewer" and grant_change["details"]["after"]["role"] == \
        "billing_manager"

    by_admin = identity.call("list_audit", {"user_id": admin["user_id"], "action": "user_deactivated"}, token=carrier)
    assert [item["subject"] for item in by_admin["items"]] == [user["user_id"]]
    in_b = identity.call("list_audit", {"group_number": GROUP_B}, token=carrier)
    assert [item["action"] for item in in_b["items"]] == ["registration_code_issued"]

    everything = identity.call("list_audit", {"limit": 2}, token=carrier)
    second_page = identity.call("list_audit", {"limit": 2, "page": 2}, token=carrier)
    assert everything["total"] == count(identity_db, AuditEntry) >= 5 and len(everything["items"]) == 2
    assert {item["id"] for item in everything["items"]}.isdisjoint(item["id"] for item in second_page["items"])
    assert everything["items"][0]["at"] >= everything["items"][1]["at"] >= second_page["items"][0]["at"]

    # dates are the carrier's business days: move one row to yesterday and filter by day
    with identity_db.begin() as connection:
        connection.execute(update(AuditEntry).where(AuditEntry.action == "registration_code_issued")
                           .values(at=datetime.now(timezone.utc) - timedelta(days=1)))
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    only_yesterday = identity.call("list_audit", {"date_from": yesterday, "date_to": yesterday}, token=carrier)
    assert [item["action"] for item in only_yesterday["items"]] == ["registration_code_issued"]
    today_on = identity.call("list_audit", {"date_from": clock.today().isoformat()}, token=carrier)
    assert "registration_code_issued" not in [item["action"] for item in today_on["items"]]
    assert refusal(identity.call, "list_audit", {"date_from": "2026-02-01", "date_to": "2026-01-01"},
                   token=carrier)["errors"]["date_from"]


# --- identity's copy of roster's groups ----------------------------------------------------------------

def test_identity_copies_groups_and_subgroups_from_roster_events(identity, identity_config, identity_db, mail_dir,
                                                                 tokens):
    number = "300777"
    publish_roster_event(identity_config, "group_created", roster_group(number, "Quarry Tools Inc"), 1)
    wait_for(lambda: known_group(identity_db, number), message="the group to be copied")
    for sequence, subgroup in ((2, "001"), (3, "002")):
        publish_roster_event(identity_config, "subgroup_created", {
            "group_number": number, "subgroup_number": subgroup, "name": "Division %s" % subgroup,
            "status": "active"}, sequence)
    wait_for(lambda: known_group(identity_db, number)["subgroups"] == ["001", "002"], message="both subgroups")
    renamed = publish_roster_event(identity_config, "group_updated",
                                   roster_group(number, "Quarry Tools Holdings Inc", ("001", "002")), 4)
    wait_for(lambda: known_group(identity_db, number)["legal_name"] == "Quarry Tools Holdings Inc",
             message="the new name")
    # a redelivery and a stale update change nothing
    publish_event(identity_config, "roster", "group_updated", renamed)
    publish_roster_event(identity_config, "group_updated", roster_group(number, "Quarry Tools Inc (old)", ("001",)), 3)
    marker = "300778"
    publish_roster_event(identity_config, "group_created", roster_group(marker, "Marker LLC"), 1)
    wait_for(lambda: known_group(identity_db, marker), message="a later event, so the earlier ones were handled")
    assert known_group(identity_db, number) == {"legal_name": "Quarry Tools Holdings Inc", "status": "active",
                                                "subgroups": ["001", "002"]}
    # subgroups share the group's aggregate: one applied after a later one is still added, not skipped as stale
    for sequence, subgroup in ((6, "004"), (5, "003")):
        publish_roster_event(identity_config, "subgroup_created", {
            "group_number": number, "subgroup_number": subgroup, "name": "Division %s" % subgroup,
            "status": "active"}, sequence)
    wait_for(lambda: known_group(identity_db, number)["subgroups"] == ["001", "002", "003", "004"],
             message="both late subgroups, whatever their order")

    # what identity knows is what it checks: a subgroup limit on the new subgroup, a request for the new group
    created = identity.call("create_user", number, {"first_name": "Ro", "last_name": "Ng", "email": email_for("ro"),
                                                    "role": "viewer", "subgroups": ["002"]}, token=tokens.carrier())
    assert created["subgroups"] == ["002"]
    assert identity.call("request_access", {"group_number": number, "first_name": "Al", "last_name": "Bo",
                                            "email": email_for("al")})["status"] == "pending"


# --- the role table ------------------------------------------------------------------------------------

def test_the_role_table_is_public_and_maps_the_old_portals_roles(identity):
    table = identity.call("list_roles")
    assert table == role_table()
    assert {row["role"]: row["legacy_roles"] for row in table}["enrollment_manager"] == ["Eligibility User"]
