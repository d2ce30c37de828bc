"""The identity service: users, credentials, MFA, sessions, roles, grants and broker/TPA access.

This milestone: the role table (public help text for GET /api/v1/roles). Sign-in and users come
with the identity issue; until then tests mint tokens with the kit's test key.
"""
from servicekit.entrypoints import rpc
from servicekit.roles import role_table
from servicekit.service import PortalService


class IdentityService(PortalService):
    name = "identity"

    @rpc
    def list_roles(self):
        return role_table()
