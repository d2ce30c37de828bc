"""Load the demo data set for `make run` (never used by production configuration).

It grows with each milestone (API.md: a demo carrier, two groups, a few hundred members, invoices,
users of every role). Today the portal has no sign-in yet (identity's issue), so the demo carries a
carrier-staff access token minted with the development key, valid for 12 hours, for trying the API.
"""
import json
import os
import sys

from servicekit.auth import TokenSigner

VAR_DIR = os.path.abspath(os.environ.get("VAR_DIR", "var"))


def main():
    with open(os.environ["TOKEN_PRIVATE_KEY_FILE"]) as handle:
        signer = TokenSigner(handle.read(), ttl_seconds=12 * 3600)
    credentials = {
        "note": "Sign-in with username, password and TOTP arrives with the identity service; until then use "
                "access_token as 'Authorization: Bearer <token>'.",
        "users": [{
            "username": "carrier.admin", "password": None, "totp_secret": None,
            "role": "carrier_staff", "groups": [],
            "access_token": signer.issue("demo-carrier-admin", grants=[], carrier=True, name="Carrier Admin"),
        }],
    }
    path = os.path.join(VAR_DIR, "demo-credentials.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(credentials, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
