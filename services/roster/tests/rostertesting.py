"""What the roster's integration tests share: the business date they run on, an address, user tokens, and
the problem a refused RPC carries."""
from datetime import date

import pytest
from nameko.exceptions import RemoteError

from servicekit.errors import problem_from_remote
from servicekit.testing.tokens import grant, mint_token

TODAY = date(2027, 3, 15)  # the business date of every test: inside the plan year 2027-01-01 .. 2027-12-31
ADDRESS = {"line1": "12 Orchard Ln", "city": "Hartford", "state": "CT", "zip": "06103"}


def user(group_number, role, subgroups=None, user_id=None):
    """A token for a user of one group with one role (optionally limited to some subgroups)."""
    return mint_token(user_id or "%s-%s-%s" % (role, group_number, "-".join(subgroups or ["all"])),
                      grants=[grant(group_number, role, subgroups=subgroups)])


def refusal(call, *args, **kwargs):
    """The problem (code, status, detail, errors) of an RPC that must be refused."""
    with pytest.raises(RemoteError) as raised:
        call(*args, **kwargs)
    problem = problem_from_remote(raised.value.value)
    assert problem is not None, raised.value
    return problem
