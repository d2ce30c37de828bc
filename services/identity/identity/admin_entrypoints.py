"""The admin side of identity: a group's users, access requests, broker/TPA delegates, what carrier staff do
(staff and firm users, registration codes, the old portal's users), the audit log, and the public role table.

Each entrypoint reads the same way: check the caller (a group's RPCs need `manage_users` on the group, which
its administrators and carrier staff have), load the input with its wire schema (portal_contracts.identity_admin),
apply the rules (identity.domain.access), write, record the audit row and the event in the same transaction,
send the e-mail last, answer with the wire schema. Every state-changing RPC is idempotent, so a retried request
neither mails twice nor publishes twice.

Revocation: tokens carry grants, so whenever a user's access shrinks or changes (role, subgroups, delegate
actions, deactivation) identity publishes a revoking event (identity.events) and every service refuses the
user's older tokens at once; the user's next token (refresh) carries the new grants.
"""
import secrets
from datetime import datetime, time, timedelta

from nameko.contextdata import ContextDataProvider
from sqlalchemy import func, or_, select

from identity import admin_mail_texts as texts
from identity import audit, codes, events, users
from identity.domain import access
from identity.domain.credentials import hash_code
from identity.models import AccessRequest, AuditEntry, Grant, Invitation, KnownGroup, LegacyUser, \
    RegistrationCode, User
from portal_contracts import identity_admin as wire
from servicekit import clock, roles
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, NotFound, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.mail import MailerProvider
from servicekit.roles import MANAGE_USERS

SETUP_LINK_HOURS = 72        # the welcome e-mail's set-up link
RESET_LINK_MINUTES = 30      # DOMAIN.md: password reset tokens expire after 30 minutes
INVITATION_DAYS = 14         # an approved access request's invitation
DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"
# Codes people type (registration codes, invitation codes, references): no 0/O, 1/I/L to misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class RemoteAddr(ContextDataProvider):
    """The client's address, which the gateway puts into the context data of signed-in calls (for the audit)."""
    context_key = "remote_addr"


class AdminEntrypoints:
    """Mixed into IdentityService (identity.service), which provides db, caller, outbox and config.

    The mixins share one class namespace: the private helpers here have names of their own (AuthEntrypoints has
    `_audit`, `_mail`, `_link`); `mailer` and `client_addr` are declared by both, meaning the same thing."""

    mailer = MailerProvider()
    client_addr = RemoteAddr()

    # --- public ----------------------------------------------------------------------------------------

    @rpc
    def list_roles(self):
        """The roles, what each may do and the old portal's role names (GET /api/v1/roles; no sign-in)."""
        return wire.Role(many=True).dump(roles.role_table())

    # --- a group's users -------------------------------------------------------------------------------

    @rpc
    def list_users(self, group_number):
        """The group's users (not its delegates), with their role there; deactivated ones too, to reactivate."""
        group = self._managed_group(group_number)
        found = self.db.execute(
            select(User, Grant).join(Grant, Grant.user_id == User.id)
            .where(Grant.group_number == group.group_number, Grant.revoked_at.is_(None),
                   Grant.role != access.DELEGATE_ROLE)
            .order_by(User.last_name, User.first_name, User.id)).all()
        return [_group_user(user, grant) for user, grant in found]

    @rpc
    def get_user(self, group_number, user_id):
        group = self._managed_group(group_number)
        return _group_user(*self._group_member(group, user_id))

    @rpc
    @idempotent()
    def create_user(self, group_number, user):
        """Set up a user with a role (and optional subgroup limits): status invited, a welcome e-mail with a
        set-up link. Someone who already has an account (one account, many groups) gets the grant on it and
        a notice instead of a second account."""
        group = self._managed_group(group_number)
        data = load_input(wire.NewUserInput(), user)
        access.check_group_role(data["role"])
        subgroups = access.check_subgroups(data["subgroups"], _subgroup_numbers(group))
        email_key = data["email"].lower()
        existing = self.db.scalars(select(User).where(User.email_key == email_key, User.status != "deactivated")
                                   .order_by(User.id).limit(1).with_for_update()).first()
        if existing is not None:
            return self._add_group_to_account(group, existing, data["role"], subgroups)

        now = clock.utcnow()
        account = User(user_id=users.new_user_id(), email=data["email"], email_key=email_key, email_verified=False,
                       first_name=data["first_name"], last_name=data["last_name"], phone=data["phone"],
                       kind="group", mfa_method="email", status="invited", created_at=now, updated_at=now)
        self.db.add(account)
        self.db.flush()
        grant = self._grant(account, group.group_number, data["role"], subgroups)
        events.record_user_event(self.outbox, events.USER_REGISTERED, account, kind="group", status="invited",
                                 source="created_by_admin", groups=[_grant_state(grant)])
        self._audit_change("user_created", account, group.group_number, role=grant.role, subgroups=grant.subgroups)
        self._send_welcome(account, group, grant.role)
        return _group_user(account, grant)

    @rpc
    @idempotent()
    def update_user(self, group_number, user_id, changes):
        """Profile (name, phone; the e-mail only before set-up), role and subgroup limits. A changed role or
        limit revokes the user's tokens (they carry the old grant)."""
        group = self._managed_group(group_number)
        data = load_input(wire.UserChanges(), changes)
        account, grant = self._group_member(group, user_id, lock=True)

        profile = {name: data[name] for name in ("first_name", "last_name", "phone", "email") if name in data}
        if "email" in profile:
            if account.status != "invited":
                raise ValidationFailed("The user changes their own e-mail address once the account is set up.",
                                       errors={"email": ["Only before the account is set up."]})
            account.email_key = profile["email"].lower()
        changed = sorted(name for name, value in profile.items() if getattr(account, name) != value)
        for name in changed:
            setattr(account, name, profile[name])

        role = access.check_group_role(data.get("role", grant.role))
        subgroups = access.check_subgroups(data["subgroups"], _subgroup_numbers(group)) \
            if "subgroups" in data else grant.subgroups
        grant_changes = role != grant.role or subgroups != grant.subgroups
        if grant_changes and grant.role == access.ADMIN_ROLE and role != access.ADMIN_ROLE:
            access.check_keeps_an_admin(group.group_number, account.status == "active",
                                        self._other_active_admins(group.group_number, account),
                                        self.caller.is_carrier)

        if changed:
            account.updated_at = clock.utcnow()
            events.record_user_event(self.outbox, events.USER_UPDATED, account, status=account.status,
                                     changed=changed)
            self._audit_change("user_updated", account, group.group_number, changed=changed)
        if grant_changes:
            old = {"role": grant.role, "subgroups": grant.subgroups}
            grant = self._replace_grant(grant, role, subgroups)
            self._grant_changed(account, grant)
            self._audit_change("grant_changed", account, group.group_number, before=old,
                               after={"role": grant.role, "subgroups": grant.subgroups})
        if "email" in changed:
            # The first welcome went to a wrong address: its link must stop working, and the right one gets it.
            self._send_welcome(account, group, grant.role)
        return _group_user(account, grant)

    @rpc
    @idempotent()
    def deactivate_user(self, group_number, user_id):
        """The account stops working at once: its sessions are revoked and every service refuses its tokens
        (user_deactivated carries the "not before")."""
        group = self._managed_group(group_number)
        account, grant = self._group_member(group, user_id, lock=True)
        by_carrier = self.caller.is_carrier
        access.check_not_self(self.caller.user_id, account.user_id)
        access.check_account_scope(group.group_number, self._other_groups(account, group.group_number), by_carrier)
        if account.status == "deactivated":
            raise Conflict("The user is already deactivated.", code="already_deactivated")
        if grant.role == access.ADMIN_ROLE:
            access.check_keeps_an_admin(group.group_number, account.status == "active",
                                        self._other_active_admins(group.group_number, account), by_carrier)
        account.status = "deactivated"
        account.updated_at = clock.utcnow()
        revoked = users.revoke_sessions(self.db, account)
        events.record_user_event(self.outbox, events.USER_DEACTIVATED, account, group_number=group.group_number,
                                 status="deactivated")
        self._audit_change("user_deactivated", account, group.group_number, sessions_revoked=revoked)
        return _group_user(account, grant)

    @rpc
    @idempotent()
    def reactivate_user(self, group_number, user_id):
        """Back to active (or invited, if the user never finished setting up); they sign in again."""
        group = self._managed_group(group_number)
        account, grant = self._group_member(group, user_id, lock=True)
        access.check_account_scope(group.group_number, self._other_groups(account, group.group_number),
                                   self.caller.is_carrier)
        if account.status != "deactivated":
            raise Conflict("The user is not deactivated.", code="not_deactivated")
        account.status = "active" if account.password_hash else "invited"
        account.updated_at = clock.utcnow()
        events.record_user_event(self.outbox, events.USER_REACTIVATED, account, group_number=group.group_number,
                                 status=account.status)
        self._audit_change("user_reactivated", account, group.group_number)
        return _group_user(account, grant)

    @rpc
    @idempotent()
    def reset_user_password(self, group_number, user_id):
        """Mail the user a password-reset link (single use, 30 minutes); the password changes when they use it."""
        group = self._managed_group(group_number)
        account, _grant = self._group_member(group, user_id)
        if account.status != "active":
            raise Conflict("Only an active account's password can be reset; an invited user gets the welcome "
                           "e-mail again instead.", code="not_active")
        token = codes.issue_code(self.db, account, "password_reset", timedelta(minutes=RESET_LINK_MINUTES),
                                 token=True)
        self._audit_change("password_reset_sent", account, group.group_number)
        link = self._portal_link("/reset-password", token)
        self._send_mail(account.email, texts.password_reset(account.first_name, link, RESET_LINK_MINUTES))
        return wire.Sent().dump({"status": "sent"})

    @rpc
    @idempotent()
    def resend_welcome(self, group_number, user_id):
        """A new set-up link for a user who has not set up the account; the earlier links stop working."""
        group = self._managed_group(group_number)
        account, grant = self._group_member(group, user_id, lock=True)
        if account.status != "invited":
            raise Conflict("The user has set up the account already.", code="already_set_up")
        self._audit_change("welcome_resent", account, group.group_number)
        self._send_welcome(account, group, grant.role)
        return wire.Sent().dump({"status": "sent"})

    # --- access requests -------------------------------------------------------------------------------

    @rpc
    @idempotent(target=lambda request, remote_addr=None: "access_request")
    def request_access(self, request, remote_addr=None):
        """Anyone may ask for access to a group (no sign-in); its administrators are told by e-mail."""
        data = load_input(wire.AccessRequestInput(), request)
        group = self.db.get(KnownGroup, data["group_number"])
        if group is None:
            raise ValidationFailed("Check the group number: it is on your group's welcome letter.",
                                   errors={"group_number": ["No group has this number."]})
        access.check_group_role(data["requested_role"], field="requested_role")
        waiting = self.db.scalar(select(AccessRequest).where(
            AccessRequest.group_number == group.group_number, AccessRequest.status == "pending",
            func.lower(AccessRequest.email) == data["email"].lower()))
        if waiting is not None:
            # Asking again while the first request waits adds nothing for the admins to decide (or be mailed).
            return wire.AccessRequestReceipt().dump({"reference": waiting.reference, "status": "pending"})
        request_row = AccessRequest(reference=_reference(), group_number=group.group_number,
                                    first_name=data["first_name"], last_name=data["last_name"], email=data["email"],
                                    requested_role=data["requested_role"], reason=data["reason"], status="pending",
                                    created_at=clock.utcnow())
        self.db.add(request_row)
        self.db.flush()
        events.record_access_request_event(self.outbox, events.ACCESS_REQUESTED, request_row,
                                           requested_role=request_row.requested_role, status="pending")
        audit.record_audit(self.db, "access_requested", "success", group_number=group.group_number,
                           remote_addr=remote_addr, details={"reference": request_row.reference,
                                                             "requested_role": request_row.requested_role})
        requester = "%s %s" % (request_row.first_name, request_row.last_name)
        for admin in self._active_admins(group.group_number):
            self._send_mail(admin.email, texts.access_request_received(
                admin.first_name, group.legal_name, requester, request_row.reference,
                _role_name(request_row.requested_role)))
        return wire.AccessRequestReceipt().dump({"reference": request_row.reference, "status": "pending"})

    @rpc
    def list_access_requests(self, group_number, status=None):
        group = self._managed_group(group_number)
        query = load_input(wire.AccessRequestQuery(), {"status": status})
        statement = select(AccessRequest).where(AccessRequest.group_number == group.group_number)
        if query["status"]:
            statement = statement.where(AccessRequest.status == query["status"])
        found = self.db.scalars(statement.order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc()))
        return [_access_request(row) for row in found]

    @rpc
    @idempotent()
    def approve_access_request(self, group_number, request_id, decision=None):
        """Approve: an invitation for the requester's e-mail with the role (and subgroups) chosen here, mailed
        with its code and a registration link."""
        group, request_row = self._pending_request(group_number, request_id)
        data = load_input(wire.ApproveInput(), decision or {})
        role = access.check_group_role(data["role"] or request_row.requested_role)
        subgroups = access.check_subgroups(data["subgroups"], _subgroup_numbers(group))
        code = _typed_code()
        now = clock.utcnow()
        self.db.add(Invitation(group_number=group.group_number, email_key=request_row.email.lower(),
                               code_hash=hash_code(access.typed_code_key(code)), role=role, subgroups=subgroups,
                               invited_by=self.caller.user_id, created_at=now,
                               expires_at=now + timedelta(days=INVITATION_DAYS)))
        self._decide(request_row, "approved", None)
        request_row.granted_role, request_row.granted_subgroups = role, subgroups
        events.record_access_request_event(self.outbox, events.ACCESS_GRANTED, request_row, role=role,
                                           subgroups=subgroups, status="approved")
        self._audit_change("access_approved", None, group.group_number, reference=request_row.reference,
                           role=role, subgroups=subgroups)
        link = self._portal_link("/register", code, group=group.group_number, param="invitation")
        self._send_mail(request_row.email, texts.access_approved(
            request_row.first_name, group.legal_name, request_row.reference, _role_name(role), group.group_number,
            code, link, INVITATION_DAYS))
        return _access_request(request_row)

    @rpc
    @idempotent()
    def deny_access_request(self, group_number, request_id, decision):
        group, request_row = self._pending_request(group_number, request_id)
        data = load_input(wire.DenyInput(), decision)
        self._decide(request_row, "denied", data["reason"])
        events.record_access_request_event(self.outbox, events.ACCESS_DENIED, request_row, status="denied")
        self._audit_change("access_denied", None, group.group_number, reference=request_row.reference)
        self._send_mail(request_row.email, texts.access_denied(request_row.first_name, group.legal_name,
                                                          request_row.reference, data["reason"]))
        return _access_request(request_row)

    # --- broker / TPA delegates ------------------------------------------------------------------------

    @rpc
    def list_delegates(self, group_number):
        group = self._managed_group(group_number)
        found = self.db.execute(
            select(Grant, User).join(User, User.id == Grant.user_id)
            .where(Grant.group_number == group.group_number, Grant.role == access.DELEGATE_ROLE,
                   Grant.revoked_at.is_(None))
            .order_by(User.firm_name, User.last_name, Grant.id)).all()
        return [_delegate(grant, user) for grant, user in found]

    @rpc
    @idempotent()
    def grant_delegate(self, group_number, delegate):
        """Let a broker's or TPA's user into the group with the actions given, or change what a delegate
        already here may do. Their tokens are revoked so the next one carries the grant."""
        group = self._managed_group(group_number)
        data = load_input(wire.DelegateInput(), delegate)
        actions = access.delegate_actions(data["actions"])
        account = users.find_by_username(self.db, data["username"])
        if account is None:
            raise NotFound("No user has the username %s." % data["username"], code="user_not_found")
        access.check_delegate_user(account.kind)
        if account.status != "active":
            raise Conflict("That user's account is not active.", code="not_active")
        grant = self.db.scalars(select(Grant).where(
            Grant.user_id == account.id, Grant.group_number == group.group_number,
            Grant.role == access.DELEGATE_ROLE, Grant.revoked_at.is_(None)).with_for_update()).first()
        if grant is not None and sorted(grant.actions or []) == actions:
            return _delegate(grant, account)  # nothing changes: no event, no mail
        if grant is None:
            grant = self._grant(account, group.group_number, access.DELEGATE_ROLE, None, actions)
        else:
            grant = self._replace_grant(grant, access.DELEGATE_ROLE, None, actions)
        events.record_user_event(self.outbox, events.DELEGATE_GRANTED, account, grant_id=grant.id,
                                 group_number=group.group_number, role=access.DELEGATE_ROLE, kind=account.kind,
                                 actions=actions)
        self._grant_changed(account, grant)
        self._audit_change("delegate_granted", account, group.group_number, grant_id=grant.id, actions=actions)
        self._send_mail(account.email, texts.delegate_granted(
            account.first_name, group.legal_name, [roles.ACTIONS[action].lower() for action in actions]))
        return _delegate(grant, account)

    @rpc
    @idempotent()
    def revoke_delegate(self, group_number, grant_id):
        """The delegate's access to the group ends at once: their next call to the group is refused."""
        group = self._managed_group(group_number)
        found = self.db.execute(
            select(Grant, User).join(User, User.id == Grant.user_id)
            .where(Grant.id == _int(grant_id), Grant.group_number == group.group_number,
                   Grant.role == access.DELEGATE_ROLE, Grant.revoked_at.is_(None))
            .with_for_update(of=Grant)).first()
        if found is None:
            raise NotFound("Group %s has no such delegate." % group.group_number, code="delegate_not_found")
        grant, account = found
        grant.revoked_at = clock.utcnow()
        grant.revoked_by = self.caller.user_id
        events.record_user_event(self.outbox, events.DELEGATE_REVOKED, account, grant_id=grant.id,
                                 group_number=group.group_number)
        events.record_user_event(self.outbox, events.GRANT_CHANGED, account, group_number=group.group_number,
                                 role=None, subgroups=None, actions=[])
        self._audit_change("delegate_revoked", account, group.group_number, grant_id=grant.id)
        return _delegate(grant, account)

    # --- carrier staff ---------------------------------------------------------------------------------

    @rpc
    @idempotent(target=lambda user: "staff_user")
    def create_carrier_user(self, user):
        """A carrier staff user, or a broker's or TPA's user (whom groups then let in as delegates)."""
        self.caller.require_carrier()
        data = load_input(wire.StaffUserInput(), user)
        email_key = data["email"].lower()
        if self.db.scalar(select(User.id).where(User.email_key == email_key, User.status != "deactivated")):
            raise Conflict("An account with this e-mail address exists already.", code="email_in_use")
        now = clock.utcnow()
        account = User(user_id=users.new_user_id(), email=data["email"], email_key=email_key, email_verified=False,
                       first_name=data["first_name"], last_name=data["last_name"], phone=data["phone"],
                       kind=data["kind"], firm_name=data["firm_name"], mfa_method="email", status="invited",
                       created_at=now, updated_at=now)
        self.db.add(account)
        self.db.flush()
        events.record_user_event(self.outbox, events.USER_REGISTERED, account, kind=account.kind, status="invited",
                                 source="created_by_admin", groups=[])
        self._audit_change("staff_user_created", account, None, kind=account.kind)
        self._send_welcome(account, None, None)
        return _staff_user(account)

    @rpc
    @idempotent()
    def issue_registration_code(self, group_number, options=None):
        """The group's registration code for its welcome letter: shown once here, kept only as a hash."""
        self.caller.require_carrier()
        group = self._known_group(group_number)
        data = load_input(wire.RegistrationCodeInput(), options or {})
        access.check_group_role(data["role"])
        code = _typed_code()
        now = clock.utcnow()
        row = RegistrationCode(group_number=group.group_number, code_hash=hash_code(access.typed_code_key(code)),
                               role=data["role"], issued_by=self.caller.user_id, issued_at=now,
                               expires_at=now + timedelta(days=data["valid_days"]), used_by=[])
        self.db.add(row)
        self._audit_change("registration_code_issued", None, group.group_number, role=row.role,
                    expires_at=row.expires_at.isoformat())
        return wire.RegistrationCode().dump({"group_number": group.group_number, "role": row.role, "code": code,
                                             "expires_at": row.expires_at})

    @rpc
    @idempotent(target=lambda csv_text: "legacy_users")
    def import_legacy_users(self, csv_text):
        """The old portal's users, to link their accounts later: every row checked, all or nothing."""
        self.caller.require_carrier()
        text = load_input(wire.LegacyImportInput(), {"csv_text": csv_text})["csv_text"]
        known = set(self.db.scalars(select(KnownGroup.group_number)))
        imported = set(self.db.scalars(select(LegacyUser.old_username_key)))
        rows = access.parse_legacy_users(text, known, imported)
        now = clock.utcnow()
        self.db.add_all(LegacyUser(old_username_key=row.old_username.lower(), old_username=row.old_username,
                                   first_name=row.first_name, last_name=row.last_name, email=row.email,
                                   old_role=row.old_role, groups=row.groups, imported_at=now) for row in rows)
        self.db.flush()
        self._audit_change("legacy_users_imported", None, None, imported=len(rows))
        return wire.LegacyImportReport().dump({"imported": len(rows), "rows": [
            {"row": row.row, "old_username": row.old_username, "old_role": row.old_role, "role": row.role,
             "groups": row.groups, "status": "imported"} for row in rows]})

    @rpc
    def list_audit(self, filters=None):
        """The security audit log, newest first, for carrier staff."""
        self.caller.require_carrier()
        query = load_input(wire.AuditQuery(), filters or {})
        conditions = []
        if query["user_id"]:
            conditions.append(or_(AuditEntry.actor == query["user_id"], AuditEntry.subject == query["user_id"]))
        if query["action"]:
            conditions.append(AuditEntry.action == query["action"])
        if query["group_number"]:
            conditions.append(AuditEntry.group_number == query["group_number"])
        if query["date_from"]:
            conditions.append(AuditEntry.at >= _start_of(query["date_from"]))
        if query["date_to"]:
            conditions.append(AuditEntry.at < _start_of(query["date_to"] + timedelta(days=1)))
        total = self.db.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
        found = self.db.scalars(select(AuditEntry).where(*conditions)
                                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                .offset((query["page"] - 1) * query["limit"]).limit(query["limit"]))
        return wire.AuditPage().dump({"items": list(found), "total": total, "page": query["page"],
                                      "limit": query["limit"]})

    # --- helpers: loading with access checks -----------------------------------------------------------

    def _managed_group(self, group_number):
        """The group, if the caller may manage its users: 401 anonymous, 404 for a group the caller holds no
        grant on (as for one that does not exist), 403 when the grant lacks manage_users."""
        try:
            self.caller.require(MANAGE_USERS, str(group_number))
        except NotFound:
            raise _group_not_found(group_number) from None
        return self._known_group(group_number)

    def _known_group(self, group_number):
        group = self.db.get(KnownGroup, str(group_number))
        if group is None:
            raise _group_not_found(group_number)
        return group

    def _group_member(self, group, user_id, lock=False):
        """(user, their grant) for a user of the group (not a delegate); 404 for anyone else."""
        statement = (select(User, Grant).join(Grant, Grant.user_id == User.id)
                     .where(User.user_id == str(user_id), Grant.group_number == group.group_number,
                            Grant.revoked_at.is_(None), Grant.role != access.DELEGATE_ROLE))
        found = self.db.execute(statement.with_for_update() if lock else statement).first()
        if found is None:
            raise NotFound("Group %s has no such user." % group.group_number, code="user_not_found")
        return found

    def _pending_request(self, group_number, request_id):
        group = self._managed_group(group_number)
        request_row = self.db.scalars(select(AccessRequest).where(
            AccessRequest.id == _int(request_id), AccessRequest.group_number == group.group_number)
            .with_for_update()).first()
        if request_row is None:
            raise NotFound("Group %s has no such access request." % group.group_number,
                           code="access_request_not_found")
        access.check_decides_access(group.group_number, self.caller.is_carrier,
                                    bool(self._active_admins(group.group_number)))
        if request_row.status != "pending":
            raise Conflict("The request was %s already." % request_row.status, code="already_decided")
        return group, request_row

    def _active_admins(self, group_number):
        return self.db.scalars(
            select(User).join(Grant, Grant.user_id == User.id)
            .where(Grant.group_number == group_number, Grant.role == access.ADMIN_ROLE, Grant.revoked_at.is_(None),
                   User.status == "active")).all()

    def _other_active_admins(self, group_number, account):
        return sum(1 for admin in self._active_admins(group_number) if admin.id != account.id)

    def _other_groups(self, account, group_number):
        return set(self.db.scalars(select(Grant.group_number).where(
            Grant.user_id == account.id, Grant.revoked_at.is_(None), Grant.group_number != group_number)))

    # --- helpers: writing ------------------------------------------------------------------------------

    def _add_group_to_account(self, group, account, role, subgroups):
        """create_user for an e-mail address that has an account: the grant goes onto that account."""
        if account.kind != "group":
            raise Conflict("This e-mail address belongs to a broker's, TPA's or carrier account; brokers and TPAs "
                           "get access as delegates.", code="email_in_use")
        if self.db.scalar(select(Grant.id).where(Grant.user_id == account.id,
                                                 Grant.group_number == group.group_number,
                                                 Grant.revoked_at.is_(None))) is not None:
            raise Conflict("This user has access to group %s already." % group.group_number, code="user_exists")
        grant = self._grant(account, group.group_number, role, subgroups)
        self._grant_changed(account, grant)
        self._audit_change("grant_added", account, group.group_number, role=role, subgroups=subgroups)
        if account.status == "invited":
            self._send_welcome(account, group, role)  # not set up yet: a fresh set-up link serves both groups
        else:
            self._send_mail(account.email, texts.added_to_group(account.first_name, group.legal_name, _role_name(role)))
        return _group_user(account, grant)

    def _grant(self, account, group_number, role, subgroups, actions=None):
        grant = Grant(user_id=account.id, group_number=group_number, role=role, subgroups=subgroups,
                      actions=actions or None, granted_by=self.caller.user_id, granted_at=clock.utcnow())
        self.db.add(grant)
        self.db.flush()
        return grant

    def _replace_grant(self, grant, role, subgroups, actions=None):
        """A changed grant is a new row and the old one is revoked: the table keeps who granted what, when."""
        now = clock.utcnow()
        grant.revoked_at = now
        grant.revoked_by = self.caller.user_id
        account = self.db.get(User, grant.user_id)
        return self._grant(account, grant.group_number, role, subgroups, actions)

    def _grant_changed(self, account, grant):
        events.record_user_event(self.outbox, events.GRANT_CHANGED, account, group_number=grant.group_number,
                                 role=grant.role, subgroups=grant.subgroups, actions=grant.actions or [])

    def _decide(self, request_row, status, reason):
        request_row.status = status
        request_row.decided_by = self.caller.user_id
        request_row.decided_at = clock.utcnow()
        request_row.decision_reason = reason

    def _audit_change(self, action, subject, group_number, **details):
        audit.record_audit(self.db, action, "success", actor=self.caller.actor_id,
                           subject=subject.user_id if subject is not None else None, group_number=group_number,
                           remote_addr=self.client_addr, details=details or None)

    # --- helpers: e-mail -------------------------------------------------------------------------------

    def _send_welcome(self, account, group, role):
        """A set-up link (72 hours) for a new account (on `group` with `role`, or staff: None, None)."""
        # issue_code ends the links sent earlier, so only the newest e-mail's link works.
        token = codes.issue_code(self.db, account, "account_setup", timedelta(hours=SETUP_LINK_HOURS), token=True)
        link = self._portal_link("/setup", token)
        self._send_mail(account.email, texts.welcome(account.first_name, group.legal_name if group else None,
                                                     _role_name(role), link, SETUP_LINK_HOURS))

    def _portal_link(self, path, secret, group=None, param="token"):
        base = (self.config.get("PORTAL_URL") or DEFAULT_PORTAL_URL).rstrip("/")
        query = ("group=%s&" % group if group else "") + "%s=%s" % (param, secret)
        return "%s%s?%s" % (base, path, query)

    def _send_mail(self, to, subject_and_body):
        # Sent last in each entrypoint, after every write: only a failed commit could leave a message behind,
        # and then its link or code does not exist, so it cannot be used.
        subject, body = subject_and_body
        self.mailer.send(to, subject, body)


# --- answers ---------------------------------------------------------------------------------------------

def _group_user(user, grant):
    return wire.GroupUser().dump({
        "user_id": user.user_id, "username": user.username, "first_name": user.first_name,
        "last_name": user.last_name, "email": user.email, "phone": user.phone, "kind": user.kind,
        "status": user.status, "mfa_method": user.mfa_method, "group_number": grant.group_number,
        "role": grant.role, "subgroups": grant.subgroups, "granted_at": grant.granted_at,
        "created_at": user.created_at})


def _grant_state(grant):
    return {"group_number": grant.group_number, "role": grant.role, "subgroups": grant.subgroups,
            "actions": grant.actions or []}


def _access_request(row):
    return wire.AccessRequest().dump({name: getattr(row, name) for name in wire.AccessRequest().fields})


def _delegate(grant, user):
    return wire.Delegate().dump({
        "grant_id": grant.id, "group_number": grant.group_number, "user_id": user.user_id,
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name, "kind": user.kind,
        "firm_name": user.firm_name, "granted_actions": grant.actions or [],
        "actions": sorted(roles.actions_for(grant.role, grant.actions)), "granted_by": grant.granted_by,
        "granted_at": grant.granted_at, "revoked_at": grant.revoked_at})


def _staff_user(user):
    return wire.StaffUser().dump({name: getattr(user, name) for name in wire.StaffUser().fields})


def _subgroup_numbers(group):
    return [subgroup["subgroup_number"] for subgroup in group.subgroups or []]


def _role_name(role):
    spec = roles.ROLES.get(role)
    return spec["name"].lower() if spec else role


def _group_not_found(group_number):
    return NotFound("Group %s was not found." % group_number, code="group_not_found")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None


def _start_of(day):
    """The first instant of a business day in the carrier's time zone (audit times are stored in UTC)."""
    return datetime.combine(day, time.min, tzinfo=clock.carrier_timezone())


def _typed_code(groups=3, size=4):
    """A code people type from a letter or an e-mail: four-character groups like K7QM-2ZPA-9RTX, about 60 bits."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups))


def _reference():
    return "AR-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
