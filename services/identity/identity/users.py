"""Users as the rest of identity needs them: finding one, what they may do (grants, groups), and their
sessions (access tokens, refresh tokens, revocation).

Sessions (the `sessions` table): a refresh token is 32 random bytes, stored as its SHA-256; it expires after
12 hours unused and 7 days after sign-in, and is rotated on every refresh (the old one stops working). The
access token is signed with identity's private key (servicekit.auth.TokenSigner) and carries the user's
active grants, `carrier` for carrier staff, and `sid`, the session it belongs to (so changing the password
can keep the caller's own session and end the others).
"""
import secrets
from datetime import timedelta, timezone

from cryptography.hazmat.primitives import serialization
from nameko.extensions import DependencyProvider
from sqlalchemy import select, update

from identity.domain.credentials import hash_code, new_token
from identity.models import Grant, KnownGroup, Session, User
from servicekit import clock, roles
from servicekit.auth import TokenSigner, TokenVerifier, compact_grant
from servicekit.errors import NotAuthenticated

REFRESH_IDLE = timedelta(hours=12)
REFRESH_MAX = timedelta(days=7)
DEFAULT_ACCESS_TOKEN_MINUTES = 10
CARRIER_ROLE = "carrier_staff"


class InvalidRefreshToken(NotAuthenticated):
    code = "invalid_refresh_token"
    title = "The session has ended; sign in again"


# --- finding users ---------------------------------------------------------------------------------------------

def new_user_id():
    """A public user id (a token's `sub`): random, so ids say nothing about how many users there are."""
    return "u-" + secrets.token_hex(8)


def username_key(name):
    return str(name).strip().lower()


def find_by_username(session, name):
    """The user with this username, compared without case; None when there is none."""
    if not name:
        return None
    return session.scalar(select(User).where(User.username_key == username_key(name)))


def find_by_public_id(session, user_id, lock=False):
    statement = select(User).where(User.user_id == str(user_id))
    return session.scalar(statement.with_for_update() if lock else statement)


# --- what a user may do ------------------------------------------------------------------------------------------

def active_grants(session, user):
    """The user's grants not revoked, oldest first."""
    return list(session.scalars(select(Grant).where(Grant.user_id == user.id, Grant.revoked_at.is_(None))
                                .order_by(Grant.granted_at, Grant.id)))


def groups_out(session, user):
    """The groups the user can act on, with role, subgroups and actions on each (GET /api/v1/me/groups).
    Carrier staff act on every group: each group identity knows, as carrier_staff."""
    if user.kind == "carrier":
        known = session.scalars(select(KnownGroup).order_by(KnownGroup.group_number))
        actions = _ordered(roles.actions_for(CARRIER_ROLE))
        return [{"group_number": group.group_number, "legal_name": group.legal_name, "role": CARRIER_ROLE,
                 "subgroups": None, "actions": actions} for group in known]
    grants = active_grants(session, user)
    names = dict(session.execute(select(KnownGroup.group_number, KnownGroup.legal_name).where(
        KnownGroup.group_number.in_({grant.group_number for grant in grants}))).all()) if grants else {}
    return [{"group_number": grant.group_number, "legal_name": names.get(grant.group_number), "role": grant.role,
             "subgroups": grant.subgroups, "actions": _ordered(roles.actions_for(grant.role, grant.actions))}
            for grant in grants]


def me_out(session, user):
    """The signed-in user as GET /api/v1/me answers (portal_contracts.identity_auth.Me)."""
    return {"user_id": user.user_id, "username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email, "pending_email": user.pending_email,
            "phone": user.phone, "kind": user.kind, "mfa_method": user.mfa_method,
            "groups": groups_out(session, user)}


def _ordered(actions):
    return [action for action in roles.ACTIONS if action in actions]


# --- signing -------------------------------------------------------------------------------------------------

class Signer:
    """Signs access tokens with the private key file named by config TOKEN_PRIVATE_KEY_FILE, read at first use
    (a container that never signs, or a test of something else, needs no key), and verifies its own tokens
    with the matching public key."""

    def __init__(self, config):
        self._config = config
        self._signer = None
        self._verifier = None

    @property
    def ttl_seconds(self):
        return int(float(self._config.get("ACCESS_TOKEN_MINUTES") or DEFAULT_ACCESS_TOKEN_MINUTES) * 60)

    def _load(self):
        if self._signer is None:
            path = self._config.get("TOKEN_PRIVATE_KEY_FILE")
            if not path:
                raise KeyError("config TOKEN_PRIVATE_KEY_FILE is not set: identity cannot sign tokens")
            with open(path) as handle:
                private_pem = handle.read()
            signer = TokenSigner(private_pem, ttl_seconds=self.ttl_seconds)
            self._verifier = TokenVerifier(_public_pem(private_pem))
            self._signer = signer
        return self._signer

    def issue(self, user_id, grants, carrier=False, name=None, extra=None):
        return self._load().issue(user_id, grants, carrier=carrier, name=name, extra=extra)

    def claims(self, token):
        """The claims of a token this signer issued (verified again), or NotAuthenticated."""
        self._load()
        return self._verifier.verify(token)


def _public_pem(private_pem):
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


class SignerProvider(DependencyProvider):
    """`signer = SignerProvider()`: one Signer per container."""

    def setup(self):
        self.signer = Signer(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.signer


# --- sessions ------------------------------------------------------------------------------------------------

def issue_tokens(session, signer, user, remote_addr):
    """Sign the user in: a new session and its first token pair (what verify_mfa answers)."""
    now = clock.utcnow()
    refresh_token = new_token()
    row = Session(user_id=user.id, refresh_token_hash=hash_code(refresh_token), created_at=now, last_used_at=now,
                  expires_at=now + REFRESH_MAX, revoked_at=None, remote_addr=(remote_addr or None) and remote_addr[:64])
    session.add(row)
    session.flush()
    return _token_answer(session, signer, user, row, refresh_token)


def refresh_tokens(session, signer, refresh_token):
    """A new token pair for a live session; the presented refresh token stops working (rotation).
    InvalidRefreshToken when it is unknown, rotated already, revoked, idle too long, past its 7 days, or its
    user is no longer active."""
    row = session.scalar(select(Session).where(Session.refresh_token_hash == hash_code(refresh_token))
                         .with_for_update())
    now = clock.utcnow()
    if row is None or not session_alive(row, now):
        raise InvalidRefreshToken("The session has ended (signed out, expired or revoked); sign in again.")
    user = session.get(User, row.user_id)
    if user is None or user.status != "active":
        raise InvalidRefreshToken("The session has ended (signed out, expired or revoked); sign in again.")
    new_refresh = new_token()
    row.refresh_token_hash = hash_code(new_refresh)
    row.last_used_at = now
    session.flush()
    return _token_answer(session, signer, user, row, new_refresh)


def session_alive(row, now=None):
    now = now or clock.utcnow()
    return (row.revoked_at is None and now < _aware(row.expires_at)
            and now < _aware(row.last_used_at) + REFRESH_IDLE)


def find_session(session, refresh_token):
    return session.scalar(select(Session).where(Session.refresh_token_hash == hash_code(refresh_token)))


def revoke_sessions(session, user, except_id=None):
    """End the user's sessions (all, or all but `except_id`): their refresh tokens stop working. Returns how
    many. Access tokens already out are refused through the revoking event the caller publishes."""
    conditions = [Session.user_id == user.id, Session.revoked_at.is_(None)]
    if except_id is not None:
        conditions.append(Session.id != except_id)
    return session.execute(update(Session).where(*conditions).values(revoked_at=clock.utcnow())).rowcount


def _token_answer(session, signer, user, row, refresh_token):
    grants = [compact_grant(grant.group_number, grant.role, grant.subgroups, grant.actions)
              for grant in active_grants(session, user)]
    access_token = signer.issue(user.user_id, grants, carrier=user.kind == "carrier",
                                name="%s %s" % (user.first_name, user.last_name), extra={"sid": row.id})
    now = clock.utcnow()
    refresh_left = min(_aware(row.last_used_at) + REFRESH_IDLE, _aware(row.expires_at)) - now
    return {"access_token": access_token, "refresh_token": refresh_token, "token_type": "Bearer",
            "expires_in": signer.ttl_seconds, "refresh_expires_in": max(0, int(refresh_left.total_seconds())),
            "user": me_out(session, user)}


def _aware(value):
    # SQLite hands back naive datetimes; identity only ever stores UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
