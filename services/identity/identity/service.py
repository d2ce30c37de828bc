"""The identity service: users, credentials, MFA, sessions and tokens, roles, grants, broker/TPA access,
access requests, the security audit. Entrypoints live in:
  identity.auth_entrypoints.AuthEntrypoints     sign-in (password, second factor, refresh, logout), registration
                                                 (new and old-portal users, set-up links), recovery, profile, MFA
  identity.admin_entrypoints.AdminEntrypoints   users of a group, access requests, broker/TPA delegates,
                                                 carrier staff (staff users, registration codes, old-portal
                                                 import), the audit log, the public role table
  identity.group_copy.GroupCopyConsumers        identity's copy of groups from roster's events
Rules live in identity.domain, tables in identity.models, wire schemas in portal_contracts.identity_*.
"""
from identity.admin_entrypoints import AdminEntrypoints
from identity.auth_entrypoints import AuthEntrypoints
from identity.group_copy import GroupCopyConsumers
from servicekit.service import PortalService


class IdentityService(AuthEntrypoints, AdminEntrypoints, GroupCopyConsumers, PortalService):
    name = "identity"
