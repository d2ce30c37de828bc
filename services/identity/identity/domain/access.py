"""Who may give whom what access: the rules behind identity's user management (DOMAIN.md, "Roles and what
they may do"), and the old portal's user file.

Pure: no nameko, no database. The entrypoints (identity.admin_entrypoints) load what the rules need and call
them; a broken rule raises the servicekit error the caller gets (422 for a bad field, 409 for a state that
does not allow it, 403 for a caller who may not).
"""
import csv
import io
import re
from dataclasses import dataclass

from servicekit import roles
from servicekit.errors import Conflict, Forbidden, ValidationFailed

# What a group's administrator may give on the group. Not broker: a broker or TPA firm's users are let in as
# delegates (grant_delegate), with the actions the group chooses. Not carrier staff: they are not granted per
# group at all.
GROUP_ROLES = ("group_admin", "enrollment_manager", "billing_manager", "viewer")
DELEGATE_ROLE = "broker"
DELEGATE_KINDS = ("broker", "tpa")
ADMIN_ROLE = "group_admin"


def _invalid(field, message, code=None):
    return ValidationFailed(message, errors={field: [message]}, code=code)


# --- roles and subgroup limits ---------------------------------------------------------------------------

def check_group_role(role, field="role"):
    """A role a group admin (or carrier staff, on the group's behalf) may give."""
    if role not in GROUP_ROLES:
        raise _invalid(field, "A group's users can be given: %s. Brokers and TPAs get access as delegates."
                       % ", ".join(GROUP_ROLES), code="role_not_grantable")
    return role


def check_subgroups(subgroups, known_subgroups, field="subgroups"):
    """A subgroup limit: None (the whole group) or the sorted subgroup numbers, each one of the group's.

    An empty list is refused rather than read as "no limit": in a token an absent limit means every subgroup,
    and a limit that empties by mistake must not turn into the whole group.
    """
    if subgroups is None:
        return None
    wanted = sorted({str(number) for number in subgroups})
    if not wanted:
        raise _invalid(field, "Name at least one subgroup, or leave the limit out for the whole group.")
    unknown = [number for number in wanted if number not in set(known_subgroups)]
    if unknown:
        raise _invalid(field, "The group has no subgroup %s." % ", ".join(unknown), code="unknown_subgroup")
    return wanted


def delegate_actions(actions, field="actions"):
    """The actions written into a delegate's grant: those a group may grant (change_roster, pay_billing).
    The base ones (view_roster, view_billing, messages) a delegate always has; listing them is harmless and
    they are not stored, so the grant shows exactly what the group chose."""
    try:
        roles.validate_grant_actions(DELEGATE_ROLE, actions)
    except ValueError as exc:
        raise _invalid(field, "%s. A broker or TPA may be granted: %s." % (
            str(exc).capitalize(), ", ".join(sorted(roles.DELEGATE_GRANTABLE_ACTIONS)))) from None
    return sorted(set(actions or ()) & roles.DELEGATE_GRANTABLE_ACTIONS)


def check_delegate_user(kind):
    """Only a broker's or TPA's user can be a delegate (not a group's user, not carrier staff)."""
    if kind not in DELEGATE_KINDS:
        raise _invalid("username", "Only users of a broker or TPA firm can be given delegate access.",
                       code="not_a_delegate_user")


# --- keeping a group manageable --------------------------------------------------------------------------

def check_not_self(actor_id, subject_id, what="deactivate"):
    if actor_id is not None and actor_id == subject_id:
        raise Conflict("You cannot %s your own account." % what, code="own_account")


def check_keeps_an_admin(group_number, subject_is_active_admin, other_active_admins, by_carrier):
    """The last active group admin of a group may not be demoted or deactivated by the group's side: nobody
    would be left to manage its users. Carrier staff may (they can act on every group, and approve access
    requests when a group has no admin)."""
    if subject_is_active_admin and other_active_admins == 0 and not by_carrier:
        raise Conflict("This is the only active administrator of group %s; make another user an administrator "
                       "first." % group_number, code="last_group_admin")


def check_account_scope(group_number, other_groups, by_carrier):
    """Deactivating or reactivating acts on the whole account. A group's admin may do it only to an account
    that has access to their group alone; an account that also reaches other groups is carrier staff's."""
    if other_groups and not by_carrier:
        raise Conflict("This user also has access to other groups; ask carrier staff to deactivate or reactivate "
                       "the account, or change the user's role in group %s." % group_number,
                       code="user_in_other_groups")


def check_decides_access(group_number, by_carrier, group_has_active_admin):
    """A group's access requests are decided by its administrators; carrier staff decide them only when the
    group has no active administrator (DOMAIN.md)."""
    if by_carrier and group_has_active_admin:
        raise Forbidden("Group %s has an administrator, who decides its access requests." % group_number,
                        code="group_admin_decides")


# --- codes people type ----------------------------------------------------------------------------------

def typed_code_key(code):
    """The form a typed code (a registration or invitation code, four-character groups like K7QM-2ZPA-9RTX) is hashed in: upper case, its
    letters and digits in groups of 4 joined by dashes, so "abcd efghjkmn" typed from a letter finds
    "ABCD-EFGH-JKMN". Whoever stores such a code and whoever checks it both hash `typed_code_key(code)`; a code
    typed exactly as issued is its own key (upper-cased)."""
    plain = "".join(ch for ch in str(code).upper() if ch.isascii() and ch.isalnum())
    return "-".join(plain[start:start + 4] for start in range(0, len(plain), 4))


# --- the old portal's users ------------------------------------------------------------------------------

LEGACY_COLUMNS = ("old_username", "first_name", "last_name", "email", "old_role", "groups")
MAX_LEGACY_ROWS = 10_000
OLD_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LegacyFileRejected(ValidationFailed):
    code = "legacy_import_rejected"
    title = "The user file has invalid rows; nothing was imported"


@dataclass
class LegacyRow:
    row: int               # the line number as a spreadsheet shows it (the header is row 1)
    old_username: str
    first_name: str
    last_name: str
    email: str
    old_role: str          # the old portal's role name, as LEGACY_ROLES spells it
    role: str              # the role it maps to now
    groups: list


def parse_legacy_users(csv_text, known_groups, already_imported):
    """The old portal's users, every row checked; LegacyFileRejected naming every bad row and column.

    known_groups: group numbers identity knows (from roster); already_imported: lower-cased old usernames
    imported before. All or nothing: one bad row and nothing is imported.
    """
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [name for name in LEGACY_COLUMNS if name not in header]
    if missing:
        raise LegacyFileRejected("The header row lacks columns: %s." % ", ".join(missing),
                                 errors={"row 1": {name: ["Missing column."] for name in missing}})
    errors, rows, seen = {}, [], {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(errors) >= MAX_LEGACY_ROWS:
            raise LegacyFileRejected("At most %d users per file." % MAX_LEGACY_ROWS,
                                     errors={"file": ["More than %d rows." % MAX_LEGACY_ROWS]})
        values = {name: cell.strip() for name, cell in zip(header, cells)}
        row, problems = _legacy_row(number, values, set(known_groups), already_imported, seen)
        if problems:
            errors["row %d" % number] = problems
        else:
            rows.append(row)
    if errors:
        raise LegacyFileRejected("%d row(s) are invalid; nothing was imported." % len(errors), errors=errors)
    if not rows:
        raise LegacyFileRejected("The file has a header but no users.", errors={"file": ["No user rows."]})
    return rows


def _legacy_row(number, values, known_groups, already_imported, seen):
    problems = {}

    def problem(column, message):
        problems.setdefault(column, []).append(message)

    old_username = values.get("old_username", "")
    key = old_username.lower()
    if not OLD_USERNAME.match(old_username):
        problem("old_username", "1 to 64 of letters, digits, . _ @ -.")
    elif key in already_imported:
        problem("old_username", "Already imported.")
    elif key in seen:
        problem("old_username", "Also on row %d." % seen[key])
    else:
        seen[key] = number
    for column in ("first_name", "last_name"):
        if not 1 <= len(values.get(column, "")) <= 60:
            problem(column, "1 to 60 characters.")
    email = values.get("email", "")
    if len(email) > 254 or not EMAIL.match(email):
        problem("email", "Not an e-mail address.")
    old_role = values.get("old_role", "")
    try:
        role = roles.role_from_legacy(old_role)
    except ValueError:
        role = None
        problem("old_role", "Not a role of the old portal: %s." % ", ".join(roles.LEGACY_ROLES))
    groups = sorted({group.strip() for group in values.get("groups", "").split(";") if group.strip()})
    if not groups:
        problem("groups", "At least one group number.")
    unknown = [group for group in groups if group not in known_groups]
    if unknown:
        problem("groups", "Unknown group %s." % ", ".join(unknown))
    if problems:
        return None, problems
    canonical = next(name for name, mapped in roles.LEGACY_ROLES.items() if mapped == role)
    return LegacyRow(number, old_username, values["first_name"], values["last_name"], email, canonical, role,
                     groups), None
