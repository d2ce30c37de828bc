"""Who may do what: the role/action table of DOMAIN.md ("Roles and what they may do") as data.

Services never test role names; they ask `caller.require(action, group, subgroup)` (servicekit.auth), which
looks the action up here. Keeping the table as data means identity's `GET /api/v1/roles`, the token
issuer and every service's checks read one definition, so they cannot drift apart.
"""

# Actions: stable strings; they travel inside tokens (delegate grants) and the roles API, so never rename one.
VIEW_ROSTER = "view_roster"        # group, subgroups, roster, coverage
CHANGE_ROSTER = "change_roster"    # add, terminate, QLE, address, PCP, ID cards, COBRA, open enrollment
VIEW_BILLING = "view_billing"      # invoices and payments
PAY_BILLING = "pay_billing"        # pay, auto pay, rebill and refund requests
MANAGE_USERS = "manage_users"      # users and broker/TPA access for the group
MESSAGES = "messages"              # secure messages
CARRIER_ADMIN = "carrier_admin"    # load plans and rates; approve access when a group has no admin

ACTIONS = {
    VIEW_ROSTER: "View the group, its subgroups, roster and coverage",
    CHANGE_ROSTER: "Change the roster: enrol, terminate, life events, addresses, PCPs, ID cards, COBRA, "
                   "open enrollment",
    VIEW_BILLING: "View invoices and payments",
    PAY_BILLING: "Pay, set up auto pay, ask for rebills and refunds",
    MANAGE_USERS: "Manage the group's users and broker/TPA access",
    MESSAGES: "Send and read secure messages",
    CARRIER_ADMIN: "Load plans and rates; approve access when a group has no admin",
}

GROUP = "group"      # a role held through a grant on one group (optionally limited to subgroups)
CARRIER = "carrier"  # carrier staff: not granted per group, acts on every group

# A broker/TPA always has these on the groups that granted it access (DOMAIN.md: "yes" in its column) ...
DELEGATE_BASE_ACTIONS = frozenset({VIEW_ROSTER, VIEW_BILLING, MESSAGES})
# ... and these only when the group's admin granted them ("if granted"). Nothing else can be granted.
DELEGATE_GRANTABLE_ACTIONS = frozenset({CHANGE_ROSTER, PAY_BILLING})

ROLES = {
    "group_admin": {
        "name": "Group administrator",
        "description": "Runs the group's plan: roster, billing and payments, users and broker/TPA access.",
        "scope": GROUP,
        "actions": frozenset({VIEW_ROSTER, CHANGE_ROSTER, VIEW_BILLING, PAY_BILLING, MANAGE_USERS, MESSAGES}),
    },
    "enrollment_manager": {
        "name": "Enrollment manager",
        "description": "Keeps the roster right: enrolments, terminations, life events, ID cards, COBRA.",
        "scope": GROUP,
        "actions": frozenset({VIEW_ROSTER, CHANGE_ROSTER, MESSAGES}),
    },
    "billing_manager": {
        "name": "Billing manager",
        "description": "Views invoices and pays them; sets up auto pay, asks for rebills and refunds.",
        "scope": GROUP,
        "actions": frozenset({VIEW_ROSTER, VIEW_BILLING, PAY_BILLING, MESSAGES}),
    },
    "viewer": {
        "name": "Viewer",
        "description": "Reads the roster, coverage, invoices and payments; sends secure messages.",
        "scope": GROUP,
        "actions": frozenset({VIEW_ROSTER, VIEW_BILLING, MESSAGES}),
    },
    "broker": {
        "name": "Broker / TPA",
        "description": "A broker or third-party administrator the group let in; roster changes and payments "
                       "only if the group granted them.",
        "scope": GROUP,
        "delegate": True,
        "actions": DELEGATE_BASE_ACTIONS,
    },
    "carrier_staff": {
        "name": "Carrier staff",
        "description": "The carrier's service staff: every group; answers messages, loads plans and rates. "
                       "Never pays for a group.",
        "scope": CARRIER,
        "actions": frozenset(ACTIONS) - {PAY_BILLING},
    },
}

# The old portal's role names (users registering with their old account) -> the role they get now.
LEGACY_ROLES = {
    "Super User": "group_admin",
    "Eligibility User": "enrollment_manager",
    "Billing User": "billing_manager",
    "Inquiry Only": "viewer",
}

# SSNs are masked (last 4) for everyone else (DOMAIN.md).
SSN_ROLES = frozenset({"group_admin", "carrier_staff"})

GROUP_ROLES = frozenset(role for role, spec in ROLES.items() if spec["scope"] == GROUP)


def is_delegate(role):
    return bool(ROLES.get(role, {}).get("delegate"))


def actions_for(role, granted_actions=None):
    """The actions `role` allows, as a frozenset.

    For a delegate (broker/TPA) the grant's `granted_actions` add to its base actions, but only those a
    group may grant: a grant can never lift a delegate above DOMAIN.md's column. Other roles' actions
    are fixed, so `granted_actions` is ignored for them. An unknown role is a programming error.
    """
    try:
        spec = ROLES[role]
    except KeyError:
        raise ValueError("unknown role %r" % (role,)) from None
    if spec.get("delegate"):
        return spec["actions"] | (frozenset(granted_actions or ()) & DELEGATE_GRANTABLE_ACTIONS)
    return spec["actions"]


def validate_grant_actions(role, granted_actions):
    """Raise ValueError unless `granted_actions` may be written into a grant of `role` (for identity)."""
    actions_for(role)  # unknown role
    granted = set(granted_actions or ())
    if not granted:
        return
    if not is_delegate(role):
        raise ValueError("only delegate roles carry granted actions, not %r" % (role,))
    unknown = granted - set(ACTIONS)
    if unknown:
        raise ValueError("unknown actions: %s" % ", ".join(sorted(unknown)))
    not_grantable = granted - DELEGATE_GRANTABLE_ACTIONS - DELEGATE_BASE_ACTIONS
    if not_grantable:
        raise ValueError("a delegate cannot be granted: %s" % ", ".join(sorted(not_grantable)))


def role_from_legacy(legacy_name):
    """The role for an old-portal role name ("Super User" -> "group_admin"); tolerant of case and spacing."""
    wanted = " ".join(str(legacy_name).split()).lower()
    for legacy, role in LEGACY_ROLES.items():
        if legacy.lower() == wanted:
            return role
    raise ValueError("unknown legacy role %r" % (legacy_name,))


def may_see_ssn(role):
    return role in SSN_ROLES


def _ordered(actions):
    # ACTIONS' order (the table's), so the roles API answers the same bytes every time.
    return [action for action in ACTIONS if action in actions]


def role_table():
    """The roles as JSON-safe data: what identity's `GET /api/v1/roles` returns."""
    table = []
    for role, spec in ROLES.items():
        delegate = bool(spec.get("delegate"))
        table.append({
            "role": role,
            "name": spec["name"],
            "description": spec["description"],
            "scope": spec["scope"],
            "delegate": delegate,
            "actions": [{"action": action, "description": ACTIONS[action]} for action in _ordered(spec["actions"])],
            "grantable_actions": _ordered(DELEGATE_GRANTABLE_ACTIONS) if delegate else [],
            "sees_full_ssn": may_see_ssn(role),
            "legacy_roles": [legacy for legacy, mapped in LEGACY_ROLES.items() if mapped == role],
        })
    return table
