"""What the roster's integration tests share: the business date they run on, an address, user tokens, and
the problem a refused RPC carries."""
from datetime import date

from servicekit.testing import refusal  # noqa: F401  (the test modules import it from here)
from servicekit.testing.tokens import grant, mint_token

TODAY = date(2027, 3, 15)  # the business date of every test: inside the plan year 2027-01-01 .. 2027-12-31
ADDRESS = {"line1": "12 Orchard Ln", "city": "Hartford", "state": "CT", "zip": "06103"}


def user(group_number, role, subgroups=None, user_id=None):
    """A token for a user of one group with one role (optionally limited to some subgroups)."""
    return mint_token(user_id or "%s-%s-%s" % (role, group_number, "-".join(subgroups or ["all"])),
                      grants=[grant(group_number, role, subgroups=subgroups)])


