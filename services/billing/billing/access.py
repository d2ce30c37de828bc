"""Who may reach which group and account (ARCHITECTURE.md pattern 8), as roster answers it: a group the
caller holds no grant on answers exactly as one that does not exist (404); a grant without the action is a
403; a caller limited to some subgroups sees only those subgroups' accounts (and no group-wide totals)."""
from sqlalchemy import select

from billing.models import BillingAccount, BillingGroup
from servicekit.errors import NotFound


def group_not_found(group_number):
    return NotFound("Group %s was not found." % group_number, code="group_not_found")


def load_group(session, caller, group_number, action):
    """The group, if the caller may do `action` in at least one of its subgroups."""
    try:
        caller.require_scope(action, str(group_number))
    except NotFound:
        raise group_not_found(group_number) from None
    group = session.scalar(select(BillingGroup).where(BillingGroup.group_number == str(group_number)))
    if group is None:
        raise group_not_found(group_number)
    return group


def visible_accounts(session, caller, group, action):
    """The group's accounts the caller may do `action` on, by subgroup number."""
    allowed = caller.subgroups(group.group_number, action)
    query = select(BillingAccount).where(BillingAccount.group_id == group.id)
    if allowed is not None:
        query = query.where(BillingAccount.subgroup_number.in_(allowed))
    return session.scalars(query.order_by(BillingAccount.subgroup_number)).all()


def is_group_wide(caller, group, action):
    """Group-wide totals and the consolidated invoice only for a grant on the whole group."""
    return caller.subgroups(group.group_number, action) is None


def load_account(session, caller, group, account_number, action):
    """An account of the group the caller may reach for `action`: 404 for an account of another group or
    one that does not exist; 403 when the caller's grant does not reach its subgroup."""
    account = session.scalar(select(BillingAccount).where(BillingAccount.group_id == group.id,
                                                          BillingAccount.account_number == str(account_number)))
    if account is None:
        raise NotFound("Billing account %s was not found in group %s." % (account_number, group.group_number),
                       code="account_not_found")
    caller.require(action, group.group_number, account.subgroup_number)
    return account


def require_carrier(caller):
    caller.require_carrier()
