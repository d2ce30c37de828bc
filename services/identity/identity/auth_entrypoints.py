"""The sign-in side of identity: sign-in (password, then TOTP or an e-mailed code; refresh; logout),
registration (new users with an invitation or the group's registration code, old-portal users, the welcome
e-mail's set-up link), recovery (username, password reset), and the signed-in user's own profile, password and
TOTP set-up.

Each entrypoint reads the same way: load the input with its wire schema (portal_contracts.identity_auth), check
(throttling, the password, the code), write, record the audit row and the event in the same transaction, send
the e-mail last, answer with the wire schema. Rules live in identity.domain.credentials, codes in identity.codes,
sessions and tokens in identity.users.

What the rules ask for (DOMAIN.md, issue 4):
- an answer never tells whether an account exists: a wrong password and an unknown username get the same 401
  after the same argon2 work; recovery always answers "sent";
- failed guesses are throttled per typed username and per address (credentials.Throttle); a refusal keeps its
  evidence (the audit row, the failed attempt, the code's counted try) although the call fails: see `_refuse`;
- no password, code or token is ever logged, audited, published or put into an error.

Idempotency: every state-changing RPC is `@idempotent`, except the ones whose answer is a live secret (login's
mfa_token, verify_mfa's and refresh's tokens, start_totp_setup's TOTP secret): the kit keeps an answer in clear
for replays, which would store those secrets unhashed and unencrypted. Retrying them is harmless (another
challenge, another secret) or fails safe (a used code, a rotated refresh token: sign in again). logout is
idempotent by nature and must work even with a revoked access token, which the decorator would refuse.
Anonymous RPCs are keyed by a hash of what was typed (username, e-mail), so strangers' keys never collide and
the idempotency table holds no personal data.
"""
import base64
import io
from datetime import timedelta, timezone

import qrcode
import qrcode.image.pure
from nameko.contextdata import ContextDataProvider
from nameko.extensions import DependencyProvider
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from identity import audit, codes, events, users
from identity import mail_texts as texts
from identity.codes import InvalidCode
from identity.domain import credentials
from identity.domain.credentials import THROTTLE, PasswordHashing, TotpRejected, account_key, hash_code
from identity.models import Grant, Invitation, KnownGroup, LegacyUser, OneTimeCode, RegistrationCode, Session, \
    SignInAttempt, UsedTotpStep, User
from identity.users import username_key
from portal_contracts import identity_auth as wire
from servicekit import clock, roles
from servicekit.crypto import FieldCipher
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, Forbidden, NotAuthenticated, TooManyRequests, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.jobs import scheduled
from servicekit.mail import MailerProvider

# Purposes of one-time codes (identity.codes) and how long each lives (DOMAIN.md: codes 10 minutes, password
# reset 30 minutes; the token between password and second factor only as long as typing a code takes).
MFA_CHALLENGE = "mfa_challenge"
MFA_LOGIN = "mfa_login"
EMAIL_VERIFICATION = "email_verification"
EMAIL_CHANGE = "email_change"
LEGACY_LINK = "legacy_link"
PASSWORD_RESET = "password_reset"
ACCOUNT_SETUP = "account_setup"
MFA_CHALLENGE_TTL = timedelta(minutes=5)
CODE_TTL = timedelta(minutes=10)
RESET_TTL = timedelta(minutes=30)

ACTIVE, UNVERIFIED, INVITED = "active", "unverified", "invited"
NO_ADDRESS = "-"                        # sign_in_attempts.remote_addr when the caller's address is unknown
RECORDS_KEPT = timedelta(days=1)        # used codes, attempts and ended sessions, past their usefulness
DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"


class InvalidCredentials(NotAuthenticated):
    """A wrong password, an unknown username and a deactivated account: one answer, byte for byte."""
    code = "invalid_credentials"
    title = "Wrong username or password"

    def __init__(self):
        super().__init__("The username or password is wrong.")


class SecondFactorRejected(NotAuthenticated):
    code = "invalid_code"
    title = "The code is wrong, expired or already used"

    def __init__(self):
        super().__init__("The code is wrong, expired or already used; use a new one.")


class SignInExpired(NotAuthenticated):
    code = "sign_in_expired"
    title = "The sign-in has expired"

    def __init__(self):
        super().__init__("The sign-in expired or was tried too often; sign in with your password again.")


class Throttled(TooManyRequests):
    """429 with how long to wait (the gateway can send it as Retry-After)."""

    def __init__(self, seconds):
        super().__init__("Too many failed attempts; try again in %d seconds." % seconds)
        self.retry_after = seconds

    def to_problem(self):
        return dict(super().to_problem(), retry_after=self.retry_after)


class InvalidProof(ValidationFailed):
    code = "invalid_registration_proof"

    def __init__(self):
        message = ("The group number and code do not match a valid invitation (for this e-mail address) or "
                   "registration code. Codes expire; ask your group administrator for a new one.")
        super().__init__(message, errors={"group_number": [message]})


class UsernameTaken(Conflict):
    code = "username_taken"

    def __init__(self):
        super().__init__("This username is taken; choose another.", errors={"username": ["Taken; choose another."]})


class ClientAddress(ContextDataProvider):
    """The caller's address, which the gateway puts into the context data of signed-in calls (for the audit);
    anonymous calls carry it in their input (`remote_addr`)."""
    context_key = "remote_addr"


class AccessToken(ContextDataProvider):
    """The raw access token of the call, read only for its session id (the caller is verified by the kit)."""
    context_key = "authorization"


class PasswordsProvider(DependencyProvider):
    """`passwords = PasswordsProvider()`: argon2id with the configured cost, one per container (its dummy hash,
    which unknown usernames are checked against, is made once)."""

    def setup(self):
        self.passwords = PasswordHashing.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.passwords


def _typed(field):
    """An idempotency target for an anonymous RPC: a hash of what was typed into `field`."""
    def target(payload, *args, **kwargs):
        value = payload.get(field) if isinstance(payload, dict) else None
        return account_key(value) if isinstance(value, str) else "-"
    return target


def _me(*args, **kwargs):
    return "me"


class AuthEntrypoints:
    """Mixed into IdentityService (identity.service), which provides db, caller, outbox and config."""

    mailer = MailerProvider()
    signer = users.SignerProvider()
    passwords = PasswordsProvider()
    client_addr = ClientAddress()
    access_token = AccessToken()

    # --- sign in -------------------------------------------------------------------------------------------

    @rpc
    def login(self, credentials_in):
        """Step 1: username and password -> an mfa_token for step 2 and the method (TOTP, else e-mail codes).
        Unknown, wrong and deactivated all answer InvalidCredentials after the same argon2 work."""
        data = load_input(wire.LoginInput(), credentials_in)
        addr, key = data["remote_addr"], account_key(data["username"])
        user = users.find_by_username(self.db, data["username"])
        self._check_throttle(key, addr, "sign_in_failed", subject=user)
        matches = self.passwords.verify(user.password_hash if user is not None else None, data["password"])
        if not matches or user.status not in (ACTIVE, UNVERIFIED):
            reason = "unknown_user" if user is None else "wrong_password" if not matches else user.status
            self._refuse(InvalidCredentials(), "sign_in_failed", subject=user, addr=addr, failed_key=key,
                         details={"step": "password", "reason": reason})
        if user.status == UNVERIFIED:
            # Only someone who knows the password learns this, and they need to know it.
            self._refuse(Forbidden("Confirm your e-mail address first with the code we sent. Registering again "
                                   "with the same details sends a new code.", code="email_not_verified"),
                         "sign_in_failed", "refused", subject=user, addr=addr, details={"reason": "unverified"})
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(data["password"])  # the configured cost went up
        token = codes.issue_code(self.db, user, MFA_CHALLENGE, MFA_CHALLENGE_TTL, token=True)
        self._audit("password_verified", subject=user, addr=addr)
        return wire.LoginChallenge().dump({"mfa_required": True, "mfa_token": token, "methods": [user.mfa_method],
                                           "expires_in": int(MFA_CHALLENGE_TTL.total_seconds())})

    @rpc
    @idempotent(target=_typed("mfa_token"))
    def send_mfa_email_code(self, request):
        """Step 2 for the e-mail method: a 6-digit code to the address on file (10 minutes)."""
        data = load_input(wire.MfaCodeRequest(), request)
        user = self._challenged_user(codes.find_token(self.db, MFA_CHALLENGE, data["mfa_token"]))
        if user is None:
            raise SignInExpired()
        if user.mfa_method != "email":
            # An e-mailed code must not become a way around the authenticator app.
            raise Conflict("This account signs in with a code from its authenticator app.", code="mfa_method_totp")
        code = codes.issue_code(self.db, user, MFA_LOGIN, CODE_TTL)
        self._audit("mfa_code_sent", subject=user, addr=data["remote_addr"])
        self._mail(user.email, texts.sign_in_code(user.first_name, code, _minutes(CODE_TTL)))
        return wire.CodeSent().dump({"sent": True})

    @rpc
    def verify_mfa(self, verification):
        """Step 2: the TOTP or e-mailed code -> a session: access token, refresh token, and Me."""
        data = load_input(wire.MfaVerifyInput(), verification)
        addr = data["remote_addr"]
        challenge = codes.find_token(self.db, MFA_CHALLENGE, data["mfa_token"])
        user = self._challenged_user(challenge)
        if user is None:
            self._refuse(SignInExpired(), "mfa_failed", addr=addr, details={"reason": "sign_in_expired"})
        key = account_key(user.username)
        self._check_throttle(key, addr, "mfa_failed", subject=user)
        try:
            self._check_second_factor(user, data["code"])
        except (TotpRejected, InvalidCode) as rejected:
            codes.count_failed_attempt(self.db, challenge)  # five wrong codes and the mfa_token is dead
            self._refuse(SecondFactorRejected(), "mfa_failed", subject=user, addr=addr, failed_key=key,
                         details={"method": user.mfa_method, "reason": getattr(rejected, "reason", "wrong_code")})
        challenge.used_at = clock.utcnow()
        self.db.add(SignInAttempt(account_key=key, remote_addr=addr or NO_ADDRESS, succeeded=True,
                                  at=clock.utcnow()))  # ends the run of failures: no back-off for the owner
        self._audit("sign_in", subject=user, addr=addr, method=user.mfa_method)
        return wire.TokenPair().dump(users.issue_tokens(self.db, self.signer, user, addr))

    @rpc
    def refresh(self, request):
        """A new token pair; the refresh token presented stops working (rotation)."""
        data = load_input(wire.RefreshInput(), request)
        return wire.TokenPair().dump(users.refresh_tokens(self.db, self.signer, data["refresh_token"]))

    @rpc
    def logout(self, request):
        """End the session: its refresh token stops working (the access token runs out within minutes)."""
        data = load_input(wire.RefreshInput(), request)
        row = users.find_session(self.db, data["refresh_token"])
        if row is not None and row.revoked_at is None:
            row.revoked_at = clock.utcnow()
            self._audit("sign_out", subject=self.db.get(User, row.user_id), addr=data["remote_addr"])
        return wire.SignedOut().dump({"signed_out": True})

    def _challenged_user(self, challenge):
        """The active user a live mfa_token (its row, or None) was issued to, locked; or None."""
        if challenge is None:
            return None
        user = self.db.get(User, challenge.user_id, with_for_update=True)
        return user if user is not None and user.status == ACTIVE else None

    def _check_second_factor(self, user, code):
        if user.mfa_method == "totp":
            self._accept_totp(user, self._cipher().decrypt(user.totp_secret_ciphertext), code, check_used=True)
        else:
            codes.consume_code(self.db, MFA_LOGIN, code, user=user)

    def _accept_totp(self, user, secret, code, check_used):
        """Verify a TOTP code and remember its step, so neither it nor an older one is accepted again. The user
        row is locked by the caller, so two tries of one code are checked one after the other."""
        last_used = self.db.scalar(select(func.max(UsedTotpStep.step)).where(UsedTotpStep.user_id == user.id)) \
            if check_used else None
        step = credentials.verify_totp(secret, code, clock.utcnow(), last_used)
        self.db.execute(delete(UsedTotpStep).where(UsedTotpStep.user_id == user.id))  # the newest step suffices
        self.db.add(UsedTotpStep(user_id=user.id, step=step, used_at=clock.utcnow()))
        self.db.flush()

    # --- registration ----------------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_typed("username"))
    def register(self, registration):
        """A new user of a group: group number + invitation code or registration code, profile, username and
        password -> status unverified, a verification code by e-mail. Registering again with the same username,
        e-mail and password while unverified sends a new code (the first may have expired)."""
        data = load_input(wire.RegisterInput(), registration)
        addr = data["remote_addr"]
        if self._resend_verification(data, addr):
            return wire.Status().dump({"status": "verification_sent"})
        # Wrong codes for a group are throttled like passwords: a code is a secret someone might guess.
        proof_key = account_key("registration:%s" % data["group_number"])
        self._check_throttle(proof_key, addr, "registration_failed", group_number=data["group_number"])
        proof = self._registration_proof(data, addr, proof_key)
        self._check_new_password(data["password"], data["username"])
        user = self._new_user(data, data["username"], data["password"], status=UNVERIFIED)
        grant = self._add_grant(user, data["group_number"], proof.role, proof.subgroups, proof.granted_by)
        proof.use(user)
        code = codes.issue_code(self.db, user, EMAIL_VERIFICATION, CODE_TTL)
        events.record_user_event(self.outbox, events.USER_REGISTERED, user, kind=user.kind, status=user.status,
                                 source=proof.source, groups=[_grant_state(grant)])
        self._audit("registered", subject=user, addr=addr, group_number=grant.group_number, proof=proof.source,
                    role=grant.role)
        self._mail(user.email, texts.email_verification(user.first_name, code, _minutes(CODE_TTL)))
        return wire.Status().dump({"status": "verification_sent"})

    @rpc
    @idempotent(target=_typed("username"))
    def verify_registration(self, verification):
        """The e-mailed code -> status active; the user signs in with e-mail codes and may set up TOTP."""
        data = load_input(wire.VerifyRegistrationInput(), verification)
        addr = data["remote_addr"]
        user = users.find_by_username(self.db, data["username"])
        if user is None or user.status != UNVERIFIED:
            self._refuse(InvalidCode(), "email_verification_failed", addr=addr, details={"reason": "not_pending"})
        try:
            codes.consume_code(self.db, EMAIL_VERIFICATION, data["code"], user=user)
        except InvalidCode as rejected:
            self._refuse(rejected, "email_verification_failed", subject=user, addr=addr,
                         details={"reason": "wrong_code"})
        user.status, user.email_verified, user.updated_at = ACTIVE, True, clock.utcnow()
        events.record_user_event(self.outbox, events.USER_UPDATED, user, status=ACTIVE,
                                 changed=["status", "email_verified"])
        self._audit("email_verified", subject=user, addr=addr)
        return wire.Status().dump({"status": ACTIVE})

    @rpc
    @idempotent(target=_typed("old_username"))
    def register_existing(self, request):
        """An old-portal user: a code to the e-mail the old portal had, if the old username was imported and
        not linked yet. The answer is the same either way."""
        data = load_input(wire.ExistingUserInput(), request)
        addr = data["remote_addr"]
        key = account_key("legacy:%s" % data["old_username"])
        self._check_throttle(key, addr, "legacy_link_failed")
        legacy = self._unlinked_legacy_user(data["old_username"])
        if legacy is None:
            self._audit("legacy_link_requested", "failure", addr=addr, reason="unknown_or_linked")
            return wire.Status().dump({"status": "code_sent"})
        code = codes.issue_code(self.db, None, LEGACY_LINK, CODE_TTL, subject=_legacy_subject(legacy))
        self._audit("legacy_link_requested", addr=addr, legacy_user=legacy.id)
        self._mail(legacy.email, texts.legacy_link_code(legacy.first_name, code, _minutes(CODE_TTL)))
        return wire.Status().dump({"status": "code_sent"})

    @rpc
    @idempotent(target=_typed("old_username"))
    def confirm_existing(self, confirmation):
        """The e-mailed code, a new username and password -> an active account with the old role mapped
        (servicekit.roles.LEGACY_ROLES) on each of the old account's groups."""
        data = load_input(wire.ConfirmExistingInput(), confirmation)
        addr = data["remote_addr"]
        key = account_key("legacy:%s" % data["old_username"])
        self._check_throttle(key, addr, "legacy_link_failed")
        legacy = self._unlinked_legacy_user(data["old_username"], lock=True)
        try:
            if legacy is None:
                raise InvalidCode()
            codes.consume_code(self.db, LEGACY_LINK, data["code"], subject=_legacy_subject(legacy))
        except InvalidCode as rejected:
            self._refuse(rejected, "legacy_link_failed", addr=addr, failed_key=key, details={"reason": "wrong_code"})
        self._check_new_password(data["password"], data["username"])
        role = roles.role_from_legacy(legacy.old_role)
        user = self._new_user({"email": legacy.email, "first_name": legacy.first_name,
                               "last_name": legacy.last_name, "phone": None},
                              data["username"], data["password"], status=ACTIVE)
        user.email_verified = True  # the code reached the address on file
        user.legacy_username = legacy.old_username
        grants = [self._add_grant(user, group, role, None, None) for group in legacy.groups]
        legacy.linked_user_id = user.id
        events.record_user_event(self.outbox, events.USER_REGISTERED, user, kind=user.kind, status=ACTIVE,
                                 source="legacy", groups=[_grant_state(grant) for grant in grants])
        self._audit("account_linked", subject=user, addr=addr, legacy_user=legacy.id, old_role=legacy.old_role,
                    role=role, groups=list(legacy.groups))
        return wire.LinkedAccount().dump({"status": ACTIVE, "role": role, "groups": list(legacy.groups)})

    @rpc
    @idempotent(target=_typed("username"))
    def complete_setup(self, setup):
        """The welcome e-mail's set-up link (72 hours): choose username and password -> active."""
        data = load_input(wire.SetupInput(), setup)
        addr = data["remote_addr"]
        try:
            row = codes.consume_code(self.db, ACCOUNT_SETUP, data["token"])
        except InvalidCode:
            self._refuse(InvalidCode(field="token"), "setup_failed", addr=addr, details={"reason": "invalid_link"})
        user = self.db.get(User, row.user_id, with_for_update=True)
        if user is None or user.status != INVITED:
            raise InvalidCode(field="token")
        self._check_new_password(data["password"], data["username"])
        self._set_username(user, data["username"])
        user.password_hash = self.passwords.hash(data["password"])
        user.status, user.email_verified, user.updated_at = ACTIVE, True, clock.utcnow()
        self._flush_username()
        events.record_user_event(self.outbox, events.USER_UPDATED, user, status=ACTIVE,
                                 changed=["username", "status"])
        events.record_user_event(self.outbox, events.PASSWORD_CHANGED, user, how="set_up")
        self._audit("setup_completed", subject=user, addr=addr)
        return wire.Status().dump({"status": ACTIVE})

    def _resend_verification(self, data, addr):
        """Registering again while unverified, with the same e-mail and password: a new code, nothing else."""
        user = users.find_by_username(self.db, data["username"])
        if user is None or user.status != UNVERIFIED or user.email_key != data["email"].lower() \
                or not self.passwords.verify(user.password_hash, data["password"]):
            return False
        code = codes.issue_code(self.db, user, EMAIL_VERIFICATION, CODE_TTL)
        self._audit("verification_resent", subject=user, addr=addr)
        self._mail(user.email, texts.email_verification(user.first_name, code, _minutes(CODE_TTL)))
        return True

    def _registration_proof(self, data, addr, proof_key):
        """The invitation or registration code that lets this person into the group, or a refusal (the same for
        an unknown group, a wrong code, an expired or used one, and an invitation for another address)."""
        group = self.db.get(KnownGroup, data["group_number"])
        email_key = data["email"].lower()
        now = clock.utcnow()
        if group is not None and data["invitation_code"]:
            invitation = self.db.scalar(select(Invitation).where(
                Invitation.group_number == group.group_number,
                Invitation.code_hash == hash_code(_typed_code(data["invitation_code"]))).with_for_update())
            if invitation is not None and invitation.used_at is None and now < _aware(invitation.expires_at) \
                    and invitation.email_key == email_key:
                return _InvitationProof(invitation)
        elif group is not None:
            code = self.db.scalar(select(RegistrationCode).where(
                RegistrationCode.group_number == group.group_number,
                RegistrationCode.code_hash == hash_code(_typed_code(data["registration_code"]))).with_for_update())
            if code is not None and now < _aware(code.expires_at) and not self._used_by_address(code, email_key):
                return _RegistrationCodeProof(code)
        self._refuse(InvalidProof(), "registration_failed", addr=addr, failed_key=proof_key,
                     group_number=data["group_number"], details={"reason": "invalid_proof"})

    def _used_by_address(self, code, email_key):
        """Single use per user: someone who registered with this code before (same e-mail) may not again."""
        if not code.used_by:
            return False
        return self.db.scalar(select(func.count()).select_from(User).where(
            User.user_id.in_(code.used_by), User.email_key == email_key)) > 0

    def _unlinked_legacy_user(self, old_username, lock=False):
        statement = select(LegacyUser).where(LegacyUser.old_username_key == old_username.strip().lower(),
                                             LegacyUser.linked_user_id.is_(None))
        return self.db.scalar(statement.with_for_update() if lock else statement)

    def _new_user(self, profile, username, password, status):
        now = clock.utcnow()
        user = User(user_id=users.new_user_id(), email=profile["email"], email_key=profile["email"].lower(),
                    email_verified=False, first_name=profile["first_name"], last_name=profile["last_name"],
                    phone=profile["phone"], kind="group", password_hash=self.passwords.hash(password),
                    mfa_method="email", status=status, created_at=now, updated_at=now)
        self._set_username(user, username)
        self.db.add(user)
        self._flush_username()
        return user

    def _add_grant(self, user, group_number, role, subgroups, granted_by):
        grant = Grant(user_id=user.id, group_number=group_number, role=role, subgroups=subgroups, actions=None,
                      granted_by=granted_by, granted_at=clock.utcnow())
        self.db.add(grant)
        self.db.flush()
        return grant

    # --- recovery ----------------------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_typed("email"))
    def recover_username(self, request):
        """Mail the username(s) of the accounts on this e-mail address to it; the same answer for none."""
        data = load_input(wire.RecoverUsernameInput(), request)
        addr = data["remote_addr"]
        accounts = list(self.db.scalars(select(User).where(
            User.email_key == data["email"].lower(), User.status == ACTIVE, User.username.is_not(None))
            .order_by(User.id)))
        for account in accounts:
            self._audit("username_recovery_requested", subject=account, addr=addr)
        if not accounts:
            self._audit("username_recovery_requested", "failure", addr=addr, reason="no_account")
            return wire.Status().dump({"status": "sent"})
        self._mail(accounts[0].email, texts.username_reminder(accounts[0].first_name,
                                                              [account.username for account in accounts]))
        return wire.Status().dump({"status": "sent"})

    @rpc
    @idempotent(target=_typed("username_or_email"))
    def reset_password(self, request):
        """Mail a password-reset link (single use, 30 minutes) to each active account with this username or
        e-mail address; the same answer when there is none."""
        data = load_input(wire.ResetPasswordInput(), request)
        addr, typed = data["remote_addr"], data["username_or_email"].lower()
        accounts = list(self.db.scalars(select(User).where(
            or_(User.username_key == typed, User.email_key == typed), User.status == ACTIVE).order_by(User.id)))
        mails = []
        for account in accounts:
            token = codes.issue_code(self.db, account, PASSWORD_RESET, RESET_TTL, token=True)
            self._audit("password_reset_requested", subject=account, addr=addr)
            mails.append((account.email, texts.password_reset(account.first_name, account.username,
                                                              self._link("/reset-password", token),
                                                              _minutes(RESET_TTL))))
        if not accounts:
            self._audit("password_reset_requested", "failure", addr=addr, reason="no_account")
        for to, message in mails:
            self._mail(to, message)
        return wire.Status().dump({"status": "sent"})

    @rpc
    @idempotent(target=_typed("token"))
    def confirm_password_reset(self, request):
        """The reset link's token and a new password: the password changes, every session ends."""
        data = load_input(wire.ConfirmResetInput(), request)
        addr = data["remote_addr"]
        try:
            row = codes.consume_code(self.db, PASSWORD_RESET, data["token"])
        except InvalidCode:
            self._refuse(InvalidCode(field="token"), "password_reset_failed", addr=addr,
                         details={"reason": "invalid_link"})
        user = self.db.get(User, row.user_id, with_for_update=True)
        if user is None or user.status != ACTIVE:
            raise InvalidCode(field="token")
        self._check_new_password(data["password"], user.username)
        revoked = self._set_password(user, data["password"], how="reset")
        self._audit("password_reset", subject=user, addr=addr, sessions_revoked=revoked)
        self._mail(user.email, texts.password_changed(user.first_name))
        return wire.Status().dump({"status": "changed"})

    # --- the signed-in user -------------------------------------------------------------------------------------

    @rpc
    def me(self):
        return wire.Me().dump(users.me_out(self.db, self._signed_in_user()))

    @rpc
    def my_groups(self):
        return wire.GroupAccess(many=True).dump(users.groups_out(self.db, self._signed_in_user()))

    @rpc
    @idempotent(target=_me)
    def update_me(self, changes):
        """Name and phone change at once; a username if nobody has it; a new e-mail address waits for the
        code sent to it (confirm_email)."""
        user = self._signed_in_user(lock=True)
        data = load_input(wire.ProfileChanges(), changes)
        changed = [name for name in ("first_name", "last_name", "phone")
                   if name in data and data[name] != getattr(user, name)]
        for name in changed:
            setattr(user, name, data[name])
        if "username" in data and data["username"] != user.username:
            old = user.username
            self._set_username(user, data["username"])
            self._flush_username()
            changed.append("username")
            self._audit("username_changed", actor=user, subject=user, addr=self.client_addr,
                        old_username=old, new_username=user.username)
        mail = None
        if "email" in data and data["email"].lower() != user.email_key:
            user.pending_email = data["email"]
            code = codes.issue_code(self.db, user, EMAIL_CHANGE, CODE_TTL, data={"email": data["email"]})
            self._audit("email_change_requested", actor=user, subject=user, addr=self.client_addr)
            mail = (data["email"], texts.email_change_code(user.first_name, code, _minutes(CODE_TTL)))
        elif "email" in data:
            user.pending_email = None  # back to the address it has: nothing is pending any more
        if changed:
            user.updated_at = clock.utcnow()
            events.record_user_event(self.outbox, events.USER_UPDATED, user, status=user.status, changed=changed)
            self._audit("profile_updated", actor=user, subject=user, addr=self.client_addr, changed=changed)
        if mail:
            self._mail(*mail)
        return wire.Me().dump(users.me_out(self.db, user))

    @rpc
    @idempotent(target=_me)
    def confirm_email(self, confirmation):
        """The code sent to the new address: it becomes the account's address (the old one is told)."""
        user = self._signed_in_user(lock=True)
        data = load_input(wire.ConfirmEmailInput(), confirmation)
        try:
            row = codes.consume_code(self.db, EMAIL_CHANGE, data["code"], user=user)
        except InvalidCode as rejected:
            self._refuse(rejected, "email_change_failed", actor=user, subject=user, addr=self.client_addr,
                         details={"reason": "wrong_code"})
        new_email = (row.data or {}).get("email")
        if not new_email or not user.pending_email or new_email.lower() != user.pending_email.lower():
            raise InvalidCode()  # a later change replaced this one
        old_email = user.email
        user.email, user.email_key, user.email_verified = new_email, new_email.lower(), True
        user.pending_email, user.updated_at = None, clock.utcnow()
        events.record_user_event(self.outbox, events.USER_UPDATED, user, status=user.status, changed=["email"])
        self._audit("email_changed", actor=user, subject=user, addr=self.client_addr)
        self._mail(old_email, texts.email_changed(user.first_name))
        return wire.Me().dump(users.me_out(self.db, user))

    @rpc
    @idempotent(target=_me)
    def change_password(self, change):
        """The current password and a new one: every other session ends (this one goes on after a refresh:
        the revoking event refuses every access token issued until now, this one's too)."""
        user = self._signed_in_user(lock=True)
        data = load_input(wire.ChangePasswordInput(), change)
        addr, key = self.client_addr, account_key(user.username)
        # Someone holding a stolen access token must not get unlimited guesses at the password.
        self._check_throttle(key, addr, "password_change_failed", subject=user, actor=user)
        if not self.passwords.verify(user.password_hash, data["current_password"]):
            message = "The current password is wrong."
            self._refuse(ValidationFailed(message, errors={"current_password": [message]}, code="wrong_password"),
                         "password_change_failed", actor=user, subject=user, addr=addr, failed_key=key,
                         details={"reason": "wrong_current_password"})
        self._check_new_password(data["new_password"], user.username, field="new_password")
        revoked = self._set_password(user, data["new_password"], how="changed", keep_session=self._session_id())
        self._audit("password_changed", actor=user, subject=user, addr=addr, sessions_revoked=revoked)
        self._mail(user.email, texts.password_changed(user.first_name))
        return wire.Status().dump({"status": "changed"})

    @rpc
    def start_totp_setup(self):
        """A new TOTP secret, its otpauth URI and QR image; the second factor changes only once a code from it
        is confirmed (confirm_totp_setup). Starting again replaces the secret not yet confirmed."""
        user = self._signed_in_user(lock=True)
        secret = credentials.new_totp_secret()
        user.totp_pending_ciphertext = self._cipher().encrypt(secret)
        user.updated_at = clock.utcnow()
        self._audit("totp_setup_started", actor=user, subject=user, addr=self.client_addr)
        uri = credentials.otpauth_uri(secret, user.username)
        return wire.TotpSetup().dump({"secret": secret, "otpauth_uri": uri, "qr_png_base64": _qr_png_base64(uri)})

    @rpc
    @idempotent(target=_me)
    def confirm_totp_setup(self, confirmation):
        """A code from the new secret proves the app has it: TOTP becomes the second factor."""
        user = self._signed_in_user(lock=True)
        data = load_input(wire.TotpConfirmInput(), confirmation)
        if not user.totp_pending_ciphertext:
            message = "Start the set-up first: no TOTP secret is waiting for confirmation."
            raise ValidationFailed(message, errors={"code": [message]}, code="totp_setup_not_started")
        secret = self._cipher().decrypt(user.totp_pending_ciphertext)
        try:
            # Steps used with an earlier secret say nothing about this one; this code's step is kept, though,
            # so it cannot sign in as well.
            self._accept_totp(user, secret, data["code"], check_used=False)
        except TotpRejected as rejected:
            self._refuse(InvalidCode(), "totp_setup_failed", actor=user, subject=user, addr=self.client_addr,
                         details={"reason": rejected.reason})
        user.totp_secret_ciphertext, user.totp_pending_ciphertext = user.totp_pending_ciphertext, None
        user.mfa_method, user.updated_at = "totp", clock.utcnow()
        events.record_user_event(self.outbox, events.USER_UPDATED, user, status=user.status, changed=["mfa_method"])
        self._audit("totp_enrolled", actor=user, subject=user, addr=self.client_addr)
        return wire.Me().dump(users.me_out(self.db, user))

    def _signed_in_user(self, lock=False):
        self.caller.require_authenticated()
        user = users.find_by_public_id(self.db, self.caller.user_id, lock=lock)
        if user is None or user.status != ACTIVE:
            raise NotAuthenticated("The account is not active.")
        return user

    def _session_id(self):
        """The session of the caller's access token (its `sid`), or None when it cannot be read."""
        token = self.access_token
        if isinstance(token, str) and token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            return self.signer.claims(token).get("sid")
        except NotAuthenticated:
            return None

    # --- housekeeping -------------------------------------------------------------------------------------------

    @scheduled("identity_auth_prune", interval_seconds=3600)
    def prune_auth_records(self, as_of):
        """Once a day: attempts older than the throttling window, dead codes, ended sessions (a day's grace)."""
        cutoff = clock.utcnow() - RECORDS_KEPT
        self.db.execute(delete(SignInAttempt).where(SignInAttempt.at < cutoff - THROTTLE.window))
        self.db.execute(delete(OneTimeCode).where(OneTimeCode.expires_at < cutoff))
        self.db.execute(delete(Session).where(or_(Session.expires_at < cutoff, Session.revoked_at < cutoff)))

    # --- helpers: checks, writes, evidence ------------------------------------------------------------------------

    def _check_throttle(self, key, addr, action, subject=None, actor=None, group_number=None):
        """429 while the account (or the address) must wait: see credentials.Throttle."""
        now = clock.utcnow()
        since = now - THROTTLE.window
        attempts = self.db.execute(
            select(SignInAttempt.at, SignInAttempt.succeeded)
            .where(SignInAttempt.account_key == key, SignInAttempt.at >= since)
            .order_by(SignInAttempt.at.desc()).limit(2 * THROTTLE.account_failures_per_window)).all()
        address_failures = [] if not addr else self.db.scalars(
            select(SignInAttempt.at)
            .where(SignInAttempt.remote_addr == addr, SignInAttempt.succeeded.is_(False), SignInAttempt.at >= since)
            .order_by(SignInAttempt.at.desc()).limit(THROTTLE.address_failures_per_window)).all()
        wait = THROTTLE.wait(now, [(_aware(at), succeeded) for at, succeeded in reversed(attempts)],
                             [_aware(at) for at in address_failures])
        if wait > 0:
            self._refuse(Throttled(wait), action, "refused", actor=actor, subject=subject, addr=addr,
                         group_number=group_number, details={"reason": "throttled"})

    def _refuse(self, error, action, outcome="failure", *, actor=None, subject=None, addr=None, failed_key=None,
                group_number=None, details=None):
        """Answer `error`, keeping the evidence: the audit row, a failed attempt for throttling (`failed_key`)
        and any code's counted try. The entrypoint rolls back whatever a failing call wrote, so these are
        committed here first. Every RPC here checks before it writes, so nothing else is pending then."""
        if failed_key is not None:
            self.db.add(SignInAttempt(account_key=failed_key, remote_addr=addr or NO_ADDRESS, succeeded=False,
                                      at=clock.utcnow()))
        audit.record_audit(self.db, action, outcome, actor=actor.user_id if actor is not None else None,
                           subject=subject.user_id if subject is not None else None, group_number=group_number,
                           remote_addr=addr, details=details)
        self.db.commit()
        raise error

    def _audit(self, action, outcome="success", *, actor=None, subject=None, addr=None, group_number=None,
               **details):
        audit.record_audit(self.db, action, outcome, actor=actor.user_id if actor is not None else None,
                           subject=subject.user_id if subject is not None else None, group_number=group_number,
                           remote_addr=addr, details=details or None)

    def _check_new_password(self, password, username, field="password"):
        problems = credentials.password_problems(password, username)
        if problems:
            raise ValidationFailed("Choose another password.", errors={field: problems}, code="password_rejected")

    def _set_username(self, user, username):
        """Set the username; a clash (case-insensitive) is found on flush (see _flush_username), which a unique
        index decides even when two people take the same name at once."""
        user.username, user.username_key = username, username_key(username)

    def _flush_username(self):
        try:
            self.db.flush()
        except IntegrityError:
            self.db.rollback()
            raise UsernameTaken() from None

    def _set_password(self, user, password, how, keep_session=None):
        """A new password: every session ends (but `keep_session`), and password_changed tells every service to
        refuse the user's access tokens issued until now. Returns how many sessions ended."""
        user.password_hash = self.passwords.hash(password)
        user.updated_at = clock.utcnow()
        revoked = users.revoke_sessions(self.db, user, except_id=keep_session)
        events.record_user_event(self.outbox, events.PASSWORD_CHANGED, user, how=how)
        return revoked

    def _cipher(self):
        return FieldCipher.from_config(self.config)

    def _link(self, path, token):
        base = (self.config.get("PORTAL_URL") or DEFAULT_PORTAL_URL).rstrip("/")
        return "%s%s?token=%s" % (base, path, token)

    def _mail(self, to, subject_and_body):
        # Sent last, after every write: only a failed commit could leave a message behind, and then its code
        # or link does not exist, so it cannot be used.
        subject, body = subject_and_body
        self.mailer.send(to, subject, body)


# --- registration proofs ---------------------------------------------------------------------------------------

class _InvitationProof:
    source = "invitation"

    def __init__(self, invitation):
        self.invitation = invitation
        self.role, self.subgroups, self.granted_by = invitation.role, invitation.subgroups, invitation.invited_by

    def use(self, user):
        self.invitation.used_at = clock.utcnow()


class _RegistrationCodeProof:
    source = "registration_code"

    def __init__(self, code):
        self.code = code
        self.role, self.subgroups, self.granted_by = code.role, None, code.issued_by

    def use(self, user):
        self.code.used_by = list(self.code.used_by or []) + [user.user_id]  # a new list: JSON columns track
        # assignment, not in-place changes


# --- small helpers ---------------------------------------------------------------------------------------------

def _typed_code(value):
    """A code typed from a letter or an e-mail as the admin side issues it (four-character groups like K7QM-2ZPA-9RTX, upper case)."""
    return value.strip().upper()


def _legacy_subject(legacy):
    return "legacy:%d" % legacy.id


def _grant_state(grant):
    return {"group_number": grant.group_number, "role": grant.role, "subgroups": grant.subgroups,
            "actions": grant.actions or []}


def _minutes(ttl):
    return int(ttl.total_seconds() // 60)


def _qr_png_base64(uri):
    image = qrcode.make(uri, image_factory=qrcode.image.pure.PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _aware(value):
    # SQLite hands back naive datetimes; identity only ever stores UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
