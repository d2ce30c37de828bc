"""identity.domain.access: who may give whom what; the old portal's user file. And identity.events: what a user
event carries (and never carries)."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from identity import events
from identity.domain import access
from servicekit.auth import REVOKING_EVENTS, compact_grant
from servicekit.errors import Conflict, Forbidden, ValidationFailed

GROUPS = {"100234", "200500"}


# --- roles a group admin may give -----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["group_admin", "enrollment_manager", "billing_manager", "viewer"])
def test_a_group_admin_may_give_the_four_group_roles(role):
    assert access.check_group_role(role) == role


@pytest.mark.parametrize("role", ["broker", "carrier_staff", "superuser", ""])
def test_brokers_carrier_staff_and_unknown_roles_are_not_given_to_group_users(role):
    with pytest.raises(ValidationFailed) as refused:
        access.check_group_role(role)
    assert refused.value.code == "role_not_grantable" and "role" in refused.value.errors


# --- subgroup limits ------------------------------------------------------------------------------------

def test_a_subgroup_limit_names_subgroups_of_the_group_and_is_kept_sorted_without_repeats():
    assert access.check_subgroups(["002", "001", "002"], ["001", "002", "003"]) == ["001", "002"]
    assert access.check_subgroups(None, ["001"]) is None  # no limit: the whole group


def test_a_subgroup_the_group_does_not_have_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        access.check_subgroups(["001", "009"], ["001", "002"])
    assert refused.value.code == "unknown_subgroup" and "009" in refused.value.detail


def test_an_empty_subgroup_limit_is_refused_rather_than_read_as_the_whole_group():
    with pytest.raises(ValidationFailed):
        access.check_subgroups([], ["001"])


def test_the_limits_given_make_a_grant_the_kit_will_sign():
    subgroups = access.check_subgroups(["002"], ["001", "002"])
    assert compact_grant("100234", access.check_group_role("viewer"), subgroups) == \
        {"g": "100234", "r": "viewer", "s": ["002"]}


# --- delegates ------------------------------------------------------------------------------------------

def test_a_delegate_is_granted_only_what_a_group_may_grant_and_base_actions_are_not_stored():
    assert access.delegate_actions(["pay_billing", "change_roster", "view_roster"]) == ["change_roster",
                                                                                         "pay_billing"]
    assert access.delegate_actions([]) == []
    assert access.delegate_actions(None) == []


@pytest.mark.parametrize("action", ["manage_users", "carrier_admin", "fly"])
def test_a_delegate_cannot_be_granted_managing_users_carrier_work_or_unknown_actions(action):
    with pytest.raises(ValidationFailed) as refused:
        access.delegate_actions(["change_roster", action])
    assert "actions" in refused.value.errors


@pytest.mark.parametrize("kind", ["broker", "tpa"])
def test_brokers_and_tpas_can_be_delegates(kind):
    access.check_delegate_user(kind)


@pytest.mark.parametrize("kind", ["group", "carrier"])
def test_group_users_and_carrier_staff_cannot_be_delegates(kind):
    with pytest.raises(ValidationFailed) as refused:
        access.check_delegate_user(kind)
    assert refused.value.code == "not_a_delegate_user"


# --- keeping a group manageable -------------------------------------------------------------------------

def test_nobody_deactivates_their_own_account():
    with pytest.raises(Conflict) as refused:
        access.check_not_self("u-1", "u-1")
    assert refused.value.code == "own_account"
    access.check_not_self("u-1", "u-2")


def test_the_last_active_group_admin_cannot_be_removed_by_the_groups_side():
    with pytest.raises(Conflict) as refused:
        access.check_keeps_an_admin("100234", subject_is_active_admin=True, other_active_admins=0, by_carrier=False)
    assert refused.value.code == "last_group_admin"


def test_carrier_staff_may_remove_the_last_group_admin_and_anyone_may_remove_one_of_several():
    access.check_keeps_an_admin("100234", True, 0, by_carrier=True)
    access.check_keeps_an_admin("100234", True, 1, by_carrier=False)
    access.check_keeps_an_admin("100234", False, 0, by_carrier=False)  # an invited admin is not the last one


def test_an_account_reaching_other_groups_is_deactivated_by_carrier_staff_only():
    with pytest.raises(Conflict) as refused:
        access.check_account_scope("100234", {"200500"}, by_carrier=False)
    assert refused.value.code == "user_in_other_groups"
    access.check_account_scope("100234", {"200500"}, by_carrier=True)
    access.check_account_scope("100234", set(), by_carrier=False)


def test_carrier_staff_decide_access_requests_only_for_a_group_without_an_admin():
    with pytest.raises(Forbidden) as refused:
        access.check_decides_access("100234", by_carrier=True, group_has_active_admin=True)
    assert refused.value.code == "group_admin_decides"
    access.check_decides_access("100234", by_carrier=True, group_has_active_admin=False)
    access.check_decides_access("100234", by_carrier=False, group_has_active_admin=True)


# --- codes people type ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["ABCD-EFGH-JKMN", "abcd-efgh-jkmn", " abcd efgh jkmn ", "ABCDEFGHJKMN"])
def test_a_typed_code_is_found_however_it_was_typed(typed):
    assert access.typed_code_key(typed) == "ABCD-EFGH-JKMN"


# --- the old portal's users -----------------------------------------------------------------------------

HEADER = "old_username,first_name,last_name,email,old_role,groups\n"


def test_a_good_file_maps_each_old_role_and_splits_the_groups():
    rows = access.parse_legacy_users(
        HEADER + "jdoe,Jane,Doe,jane@harbor.example,super user,100234\n"
                 "\n"
                 "bsmith,Bo,Smith,bo@harbor.example,Inquiry Only, 200500 ; 100234\n", GROUPS, set())
    assert [(r.row, r.old_username, r.old_role, r.role, r.groups) for r in rows] == [
        (2, "jdoe", "Super User", "group_admin", ["100234"]),
        (4, "bsmith", "Inquiry Only", "viewer", ["100234", "200500"])]


def test_one_bad_row_rejects_the_file_naming_every_bad_row_and_column():
    text = (HEADER + "jdoe,Jane,Doe,jane@harbor.example,Super User,100234\n"
                     "JDOE,Jan,Doe,not-an-email,Manager,999999\n"
                     "old1,,Lee,lee@harbor.example,Billing User,\n")
    with pytest.raises(ValidationFailed) as refused:
        access.parse_legacy_users(text, GROUPS, set())
    errors = refused.value.errors
    assert refused.value.code == "legacy_import_rejected"
    assert set(errors) == {"row 3", "row 4"}
    assert set(errors["row 3"]) == {"old_username", "email", "old_role", "groups"}
    assert "row 2" in errors["row 3"]["old_username"][0]
    assert set(errors["row 4"]) == {"first_name", "groups"}


def test_an_old_username_imported_before_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        access.parse_legacy_users(HEADER + "JDoe,Jane,Doe,jane@harbor.example,Super User,100234\n", GROUPS, {"jdoe"})
    assert refused.value.errors["row 2"]["old_username"] == ["Already imported."]


@pytest.mark.parametrize("text", ["", "old_username,first_name\njdoe,Jane\n", HEADER])
def test_a_file_without_the_columns_or_without_users_is_refused(text):
    with pytest.raises(ValidationFailed):
        access.parse_legacy_users(text, GROUPS, set())


# --- what a user event carries --------------------------------------------------------------------------

class RecordingOutbox:
    def __init__(self):
        self.recorded = []

    def record(self, event_type, data, aggregate_id, group_id=None, version=1):
        self.recorded.append({"event_type": event_type, "data": data, "aggregate_id": aggregate_id,
                              "group_id": group_id, "version": version})


USER = SimpleNamespace(user_id="u-42", email="jane@harbor.example", first_name="Jane")


@pytest.mark.parametrize("event_type", REVOKING_EVENTS)
def test_every_revoking_event_carries_the_user_and_a_not_before_of_now(event_type):
    outbox = RecordingOutbox()
    data = dict(events.PUBLISHED[event_type]["example"])
    data.pop("user_id")
    data.pop("not_before")
    before = datetime.now(timezone.utc)
    events.record_user_event(outbox, event_type, USER, **data)
    [event] = outbox.recorded
    assert event["aggregate_id"] == "user:u-42" and event["data"]["user_id"] == "u-42"
    not_before = datetime.fromisoformat(event["data"]["not_before"])
    assert before <= not_before <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_a_non_revoking_event_has_no_not_before_and_the_group_goes_into_the_envelope():
    outbox = RecordingOutbox()
    events.record_user_event(outbox, events.DELEGATE_GRANTED, USER, grant_id=7, group_number="100234", role="broker",
                             kind="tpa", actions=["change_roster"])
    [event] = outbox.recorded
    assert "not_before" not in event["data"] and event["group_id"] == "100234"


def test_a_payload_with_an_email_address_or_a_missing_field_is_never_recorded():
    outbox = RecordingOutbox()
    with pytest.raises(ValueError):
        events.record_user_event(outbox, events.USER_UPDATED, USER, status="active", changed=["email"],
                                 email=USER.email)
    with pytest.raises(ValueError):
        events.record_user_event(outbox, events.GRANT_CHANGED, USER, group_number="100234")
    assert outbox.recorded == []


def test_access_request_events_are_on_the_requests_own_aggregate():
    outbox = RecordingOutbox()
    request = SimpleNamespace(reference="AR-ABCD2345", group_number="100234")
    events.record_access_request_event(outbox, events.ACCESS_DENIED, request, status="denied")
    assert outbox.recorded[0]["aggregate_id"] == "access_request:AR-ABCD2345"
    assert outbox.recorded[0]["data"] == {"reference": "AR-ABCD2345", "group_number": "100234", "status": "denied"}


def test_no_published_example_carries_an_email_address_password_code_or_token():
    forbidden = {"email", "password", "code", "token", "first_name", "last_name"}
    for event_type, spec in events.PUBLISHED.items():
        assert not forbidden & set(spec["schema"]().fields), event_type
