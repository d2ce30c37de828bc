"""Access tokens for tests, signed with a fixed TEST key pair.

The private key below is published in the repository on purpose: it is for tests only and no real
deployment trusts it (identity's real key is generated with `servicekit.auth.generate_keypair()` and kept
out of the repository). A service under test trusts it through `test_config()`.
"""
import time
from datetime import datetime

from servicekit.auth import TokenSigner, compact_grant

TEST_PRIVATE_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGKJU2jJpGJ4yIFrhwNIKltDAoJtTnHZZokXCDzh/0sg
-----END PRIVATE KEY-----
"""

TEST_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA1z702bQE2PMlMmEJqMhKyY9NiSTH+dz5tP+Sr0DQkVY=
-----END PUBLIC KEY-----
"""


def grant(group, role, subgroups=None, actions=None):
    """A compact grant: `grant("G100", "viewer")`, `grant("G100", "broker", actions=["change_roster"])`."""
    return compact_grant(group, role, subgroups, actions)


def mint_token(user_id="u-test", grants=(), carrier=False, expires_in=600, issued_at=None,
               key=TEST_PRIVATE_KEY_PEM, name=None, extra=None):
    """A signed access token as identity would issue it. `issued_at` (epoch seconds or an aware datetime)
    mints one from the past, e.g. an expired token or one older than a revocation."""
    if issued_at is None:
        now = time.time()
    elif isinstance(issued_at, datetime):
        now = issued_at.timestamp()
    else:
        now = float(issued_at)
    signer = TokenSigner(key, ttl_seconds=expires_in, clock=lambda: now)
    return signer.issue(user_id, grants, carrier=carrier, name=name, extra=extra)


def test_config(**overrides):
    """Service config trusting the test key; overrides (AMQP_URI, DATABASE_URL, ...) are added on top."""
    config = {"TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM}
    config.update(overrides)
    return config


test_config.__test__ = False  # its name starts with "test_": keep pytest from collecting it where imported
