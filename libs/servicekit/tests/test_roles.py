"""The role/action table is DOMAIN.md's "Roles and what they may do", as data."""
import json

import pytest

from servicekit import roles
from servicekit.roles import (CARRIER_ADMIN, CHANGE_ROSTER, MANAGE_USERS, MESSAGES, PAY_BILLING, VIEW_BILLING,
                              VIEW_ROSTER)

# DOMAIN.md's table, copied row by row (Y = yes, n = no, g = "if granted"), so a change to roles.py that
# drifts from the design fails here.
#                     admin enrol billing viewer broker carrier
DOMAIN_TABLE = {
    VIEW_ROSTER:     ("Y", "Y", "Y", "Y", "Y", "Y"),
    CHANGE_ROSTER:   ("Y", "Y", "n", "n", "g", "Y"),
    VIEW_BILLING:    ("Y", "n", "Y", "Y", "Y", "Y"),
    PAY_BILLING:     ("Y", "n", "Y", "n", "g", "n"),
    MANAGE_USERS:    ("Y", "n", "n", "n", "n", "Y"),
    MESSAGES:        ("Y", "Y", "Y", "Y", "Y", "Y"),
    CARRIER_ADMIN:   ("n", "n", "n", "n", "n", "Y"),
}
COLUMNS = ("group_admin", "enrollment_manager", "billing_manager", "viewer", "broker", "carrier_staff")


def test_the_actions_are_the_seven_stable_strings():
    assert list(roles.ACTIONS) == ["view_roster", "change_roster", "view_billing", "pay_billing", "manage_users",
                                   "messages", "carrier_admin"]
    assert set(roles.ROLES) == set(COLUMNS)


@pytest.mark.parametrize("column, role", list(enumerate(COLUMNS)))
def test_each_role_allows_exactly_what_domain_md_says(column, role):
    expected_without_grant = {action for action, row in DOMAIN_TABLE.items() if row[column] == "Y"}
    expected_with_everything_granted = {action for action, row in DOMAIN_TABLE.items() if row[column] in "Yg"}
    assert roles.actions_for(role) == expected_without_grant
    assert roles.actions_for(role, list(roles.ACTIONS)) == expected_with_everything_granted


def test_a_delegate_gets_what_its_grant_lists_on_top_of_its_base_and_nothing_beyond_domain():
    assert roles.actions_for("broker", [CHANGE_ROSTER]) == {VIEW_ROSTER, VIEW_BILLING, MESSAGES, CHANGE_ROSTER}
    assert roles.actions_for("broker", [PAY_BILLING]) == {VIEW_ROSTER, VIEW_BILLING, MESSAGES, PAY_BILLING}
    # a forged or buggy grant cannot lift a broker to admin powers
    assert roles.actions_for("broker", [MANAGE_USERS, CARRIER_ADMIN, "delete_everything"]) == \
        {VIEW_ROSTER, VIEW_BILLING, MESSAGES}
    # only delegates take granted actions
    assert roles.actions_for("viewer", [CHANGE_ROSTER]) == {VIEW_ROSTER, VIEW_BILLING, MESSAGES}


def test_identity_can_validate_what_it_is_about_to_grant():
    roles.validate_grant_actions("broker", [CHANGE_ROSTER, PAY_BILLING, VIEW_ROSTER, MESSAGES])
    roles.validate_grant_actions("viewer", None)
    for role, actions in [("broker", [MANAGE_USERS]), ("broker", [CARRIER_ADMIN]), ("broker", ["fly"]),
                          ("viewer", [CHANGE_ROSTER]), ("nobody", None)]:
        with pytest.raises(ValueError):
            roles.validate_grant_actions(role, actions)


def test_unknown_role_is_an_error_not_an_empty_set():
    with pytest.raises(ValueError):
        roles.actions_for("super_user")


def test_legacy_roles_map_to_the_new_ones():
    assert roles.LEGACY_ROLES == {"Super User": "group_admin", "Eligibility User": "enrollment_manager",
                                  "Billing User": "billing_manager", "Inquiry Only": "viewer"}
    assert roles.role_from_legacy("  super   USER ") == "group_admin"
    assert roles.role_from_legacy("Inquiry Only") == "viewer"
    with pytest.raises(ValueError):
        roles.role_from_legacy("Administrator")


def test_only_group_admins_and_carrier_staff_see_full_ssns():
    assert {role for role in roles.ROLES if roles.may_see_ssn(role)} == {"group_admin", "carrier_staff"}


def test_role_table_is_json_safe_and_complete():
    table = roles.role_table()
    assert json.loads(json.dumps(table)) == table
    by_role = {entry["role"]: entry for entry in table}
    assert set(by_role) == set(COLUMNS)
    for entry in table:
        assert entry["name"] and entry["description"]
        assert [a["action"] for a in entry["actions"]] == \
            [a for a in roles.ACTIONS if a in roles.actions_for(entry["role"])]
        assert all(a["description"] for a in entry["actions"])
    assert by_role["group_admin"]["legacy_roles"] == ["Super User"]
    assert by_role["broker"]["legacy_roles"] == []
    assert by_role["broker"]["delegate"] is True and by_role["broker"]["grantable_actions"] == \
        [CHANGE_ROSTER, PAY_BILLING]
    assert by_role["viewer"]["grantable_actions"] == []
    assert by_role["carrier_staff"]["scope"] == "carrier" and by_role["viewer"]["scope"] == "group"
    assert [e["role"] for e in table if e["sees_full_ssn"]] == ["group_admin", "carrier_staff"]
