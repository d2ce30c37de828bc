"""Caller identity (ARCHITECTURE.md pattern 8): Ed25519 access tokens, the verified caller, revocation.

identity alone holds the private key and issues short-lived tokens (`TokenSigner`); every service and the
gateway verify them with the public key (`TokenVerifier`). A service declares `caller = CallerProvider()`
and checks object-level access before it reads or writes:

    self.caller.require(roles.CHANGE_ROSTER, subscriber.group_number, subscriber.subgroup_number)

Revocation is immediate although tokens are self-contained: identity publishes `user_deactivated`,
`password_changed`, `sessions_revoked` and `grant_changed`; every service (through `RevocationListener`)
keeps a per-user "not before" time in its own `token_not_before` table, and `CallerProvider` refuses a
token issued before it.

Token claims: sub, iat, nbf, exp, jti, iss, carrier, grants (+ name). A grant is compact, because it
travels on every call: {"g": group number, "r": role, "s": [subgroup numbers] (absent = every subgroup),
"a": [granted actions] (delegates only)}.
"""
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nameko.extensions import DependencyProvider
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from servicekit import roles, tables
from servicekit.context import AUTHORIZATION, IDEMPOTENCY_KEY, REQUEST_ID
from servicekit.db import find_database
from servicekit.errors import Forbidden, NotAuthenticated, NotFound
from servicekit.events import consumer

ALGORITHM = "EdDSA"  # the only algorithm accepted: never "none", never HS256 with the public key as secret
DEFAULT_ISSUER = "portal-identity"
LEEWAY_SECONDS = 5   # clock skew between identity's host and the verifying one
REQUIRED_CLAIMS = ("sub", "iat", "nbf", "exp", "jti", "iss")
RESERVED_CLAIMS = frozenset(REQUIRED_CLAIMS + ("carrier", "grants", "name"))

# Carrier staff act on every group, with every action but paying for one (DOMAIN.md).
CARRIER_ACTIONS = roles.actions_for("carrier_staff")


# --- keys -----------------------------------------------------------------------------------------

def generate_keypair():
    """A new Ed25519 key pair as (private PEM, public PEM) text; identity's operator runs this once."""
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem.decode("ascii"), public_pem.decode("ascii")


def load_public_key(config):
    """The token public key (PEM text) from config: `TOKEN_PUBLIC_KEY` (the PEM itself) or
    `TOKEN_PUBLIC_KEY_FILE` (a path). Empty values count as unset, since `${VAR:}` yields ''."""
    pem = config.get("TOKEN_PUBLIC_KEY")
    if pem:
        return pem
    path = config.get("TOKEN_PUBLIC_KEY_FILE")
    if path:
        with open(path) as handle:
            return handle.read()
    raise KeyError("config needs TOKEN_PUBLIC_KEY or TOKEN_PUBLIC_KEY_FILE to verify callers' tokens")


def _as_bytes(pem):
    return pem.encode("ascii") if isinstance(pem, str) else pem


def _private_key(pem):
    key = serialization.load_pem_private_key(_as_bytes(pem), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key")
    return key


def _public_key(pem):
    key = serialization.load_pem_public_key(_as_bytes(pem))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the token verification key must be an Ed25519 public key")
    return key


# --- grants ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """One grant: a role on one group, possibly limited to some subgroups."""
    group: str
    role: str
    subgroups: frozenset = None        # None: every subgroup of the group
    granted_actions: frozenset = frozenset()  # what a delegate's grant lists

    @property
    def actions(self):
        # A role this kit does not know (or carrier_staff, which is never granted per group) allows
        # nothing: tokens fail closed.
        if self.role not in roles.GROUP_ROLES:
            return frozenset()
        return roles.actions_for(self.role, self.granted_actions)

    def covers(self, subgroup):
        """Whether the grant reaches `subgroup`; None asks for the whole group, which a subgroup-limited
        grant never reaches (no group-wide totals or consolidated invoices for it, DOMAIN.md)."""
        if self.subgroups is None:
            return True
        return subgroup is not None and str(subgroup) in self.subgroups

    def allows(self, action, subgroup=None):
        return action in self.actions and self.covers(subgroup)

    @classmethod
    def from_compact(cls, raw):
        """Parse a token's compact grant; ValueError when it is malformed."""
        if not isinstance(raw, dict) or not isinstance(raw.get("g"), str) or not isinstance(raw.get("r"), str):
            raise ValueError("malformed grant")
        subgroups = raw.get("s")
        actions = raw.get("a", [])
        if subgroups is not None and not (isinstance(subgroups, list)
                                          and all(isinstance(s, str) for s in subgroups)):
            raise ValueError("malformed grant subgroups")
        if not (isinstance(actions, list) and all(isinstance(a, str) for a in actions)):
            raise ValueError("malformed grant actions")
        return cls(raw["g"], raw["r"], None if subgroups is None else frozenset(subgroups), frozenset(actions))

    def to_compact(self):
        return compact_grant(self.group, self.role, self.subgroups, self.granted_actions or None)


def compact_grant(group, role, subgroups=None, actions=None):
    """A grant as it goes into a token; ValueError for what identity must never issue."""
    if role not in roles.GROUP_ROLES:
        raise ValueError("%r cannot be granted on a group" % (role,))
    roles.validate_grant_actions(role, actions)
    grant = {"g": str(group), "r": role}
    if subgroups is not None:
        subgroups = sorted({str(s) for s in subgroups})
        if not subgroups:
            # "s" absent means every subgroup; an empty limit would be one flip away from that.
            raise ValueError("a subgroup limit needs at least one subgroup")
        grant["s"] = subgroups
    if actions:
        grant["a"] = sorted(set(actions))
    return grant


def _compact(grant):
    if isinstance(grant, Grant):
        return grant.to_compact()
    return compact_grant(grant["g"], grant["r"], grant.get("s"), grant.get("a"))


# --- tokens ---------------------------------------------------------------------------------------

class TokenSigner:
    """Issues access tokens. Only identity holds the private key."""

    def __init__(self, private_key_pem, issuer=DEFAULT_ISSUER, ttl_seconds=600, clock=time.time):
        self._key = _private_key(private_key_pem)
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds
        self._clock = clock  # seconds since the epoch; tests pin it to mint old tokens

    def issue(self, user_id, grants, carrier=False, name=None, extra=None):
        now = self._clock()
        claims = dict(extra or {})
        clash = RESERVED_CLAIMS.intersection(claims)
        if clash:
            raise ValueError("extra claims may not override %s" % ", ".join(sorted(clash)))
        claims.update(
            sub=str(user_id),
            # iat keeps microseconds: identity records a revocation and then issues a fresh token, often
            # within the same second, and whole seconds would make the fresh token look revoked.
            iat=round(now, 6),
            nbf=int(now),
            exp=int(now) + int(self.ttl_seconds),
            jti=uuid.uuid4().hex,
            iss=self.issuer,
            carrier=bool(carrier),
            grants=[_compact(grant) for grant in grants],
        )
        if name is not None:
            claims["name"] = name
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies access tokens with identity's public key; refuses anything it cannot fully trust."""

    def __init__(self, public_key_pem, issuer=DEFAULT_ISSUER, leeway=LEEWAY_SECONDS):
        self._key = _public_key(public_key_pem)
        self.issuer = issuer
        self.leeway = leeway

    def verify(self, token):
        """The token's claims, or NotAuthenticated. The detail never repeats the token (it is a secret)."""
        if isinstance(token, bytes):
            token = token.decode("ascii", "replace")
        if not isinstance(token, str) or not token:
            raise NotAuthenticated("no access token")
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], issuer=self.issuer, leeway=self.leeway,
                                options={"require": list(REQUIRED_CLAIMS)})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("token expired") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("invalid token") from None
        # The signature is good, so these hold unless identity has a bug; refuse rather than guess.
        if not isinstance(claims["sub"], str) or not claims["sub"] \
                or not isinstance(claims.get("carrier"), bool) or not isinstance(claims.get("grants"), list):
            raise NotAuthenticated("invalid token")
        try:
            for raw in claims["grants"]:
                Grant.from_compact(raw)
        except ValueError:
            raise NotAuthenticated("invalid token") from None
        return claims


# --- the caller -----------------------------------------------------------------------------------

class Caller:
    """Who is calling and what they may do. Services get one per worker from `CallerProvider`;
    unit tests may build one directly: `Caller("u-1", [compact_grant("G1", "viewer")])`."""

    def __init__(self, user_id=None, grants=(), carrier=False, name=None, issued_at=None,
                 request_id=None, idempotency_key=None):
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self._set_identity(user_id, grants, carrier, name, issued_at)

    @classmethod
    def from_claims(cls, claims, request_id=None, idempotency_key=None):
        return cls(claims["sub"], claims.get("grants", ()), claims.get("carrier", False), claims.get("name"),
                   claims.get("iat"), request_id, idempotency_key)

    @classmethod
    def anonymous(cls, request_id=None, idempotency_key=None):
        return cls(request_id=request_id, idempotency_key=idempotency_key)

    def _set_identity(self, user_id, grants, carrier, name, issued_at):
        self._user_id = user_id
        self._carrier = bool(carrier) and user_id is not None
        self._name = name
        self._issued_at = issued_at
        self._grants = tuple(g if isinstance(g, Grant) else Grant.from_compact(g) for g in grants)
        by_group = {}
        for grant in self._grants:
            by_group.setdefault(grant.group, []).append(grant)
        self._by_group = {group: tuple(found) for group, found in by_group.items()}

    def _verified(self):
        """Hook: the worker's caller verifies its token here, on first use. A plain Caller is already known."""

    # identity
    @property
    def user_id(self):
        self._verified()
        return self._user_id

    @property
    def actor_id(self):
        """The user id for event envelopes and audit rows; None when nobody signed in."""
        return self.user_id

    @property
    def is_authenticated(self):
        return self.user_id is not None

    @property
    def is_carrier(self):
        self._verified()
        return self._carrier

    @property
    def name(self):
        self._verified()
        return self._name

    @property
    def issued_at(self):
        self._verified()
        return self._issued_at

    @property
    def grants(self):
        self._verified()
        return self._grants

    def groups(self):
        """Groups the caller holds a grant on. Carrier staff may act on every group besides these."""
        self._verified()
        return frozenset(self._by_group)

    # questions
    def can(self, action, group, subgroup=None):
        """May the caller do `action` on `group` (subgroup None = group-wide, see Grant.covers)?"""
        if action not in roles.ACTIONS:
            raise ValueError("unknown action %r" % (action,))  # a typo must not read as "no"
        if not self.is_authenticated:
            return False
        if self._carrier and action in CARRIER_ACTIONS:
            return True
        return any(grant.allows(action, subgroup) for grant in self._grants_on(group))

    def subgroups(self, group, action=None):
        """The subgroups of `group` the caller may see (or act on with `action`): None means all of them,
        a frozenset only those (empty: none). Services filter lists with it."""
        if not self.is_authenticated:
            return frozenset()
        if self._carrier and (action is None or action in CARRIER_ACTIONS):
            return None
        limit = set()
        for grant in self._grants_on(group):
            if action is not None and action not in grant.actions:
                continue
            if grant.subgroups is None:
                return None
            limit |= grant.subgroups
        return frozenset(limit)

    def may_see_ssn(self, group, subgroup=None):
        """Full SSNs only for group admins and carrier staff (DOMAIN.md); everyone else sees the last 4."""
        if not self.is_authenticated:
            return False
        if self._carrier:
            return roles.may_see_ssn("carrier_staff")
        return any(roles.may_see_ssn(grant.role) and grant.covers(subgroup) for grant in self._grants_on(group))

    # checks that raise
    def require_authenticated(self):
        if not self.is_authenticated:
            raise NotAuthenticated()

    def require(self, action, group, subgroup=None):
        """Raise unless the caller may do `action` on `group`/`subgroup`.

        NotFound when the caller holds no grant on the group at all, exactly what a group that does not
        exist answers, so nobody learns which other groups exist (API.md); Forbidden when the grant lacks
        the action or does not reach the subgroup.
        """
        self.require_authenticated()
        if self.can(action, group, subgroup):
            return
        if not self._carrier and not self._grants_on(group):
            raise NotFound()
        if any(action in grant.actions for grant in self._grants_on(group)):
            raise Forbidden("your access to this group does not reach this subgroup")
        raise Forbidden("your role may not do this: %s" % action)

    def require_scope(self, action, group):
        """For list endpoints: raise as `require` unless the caller may do `action` in at least one subgroup
        of `group`; return the subgroups to filter by (None = all)."""
        self.require_authenticated()
        allowed = self.subgroups(group, action)
        if allowed is None or allowed:
            return allowed
        if not self._carrier and not self._grants_on(group):
            raise NotFound()
        raise Forbidden("your role may not do this: %s" % action)

    def require_carrier(self):
        self.require_authenticated()
        if not self._carrier:
            raise Forbidden("only carrier staff may do this")

    def _grants_on(self, group):
        return self._by_group.get(str(group), ())

    def __repr__(self):
        # Never the token; ids only.
        return "<Caller %s%s>" % (self._user_id or "anonymous", " carrier" if self._carrier else "")


class WorkerCaller(Caller):
    """The caller of one worker: the token from the context data is verified (and checked against
    revocations) on first use only, so entrypoints that never ask pay nothing."""

    def __init__(self, provider, token, request_id=None, idempotency_key=None, worker_ctx=None):
        self.request_id = request_id
        self._worker_ctx = worker_ctx
        self.idempotency_key = idempotency_key
        self._provider = provider
        self._token = token
        self._refusal = None
        self._checked = False
        self._set_identity(None, (), False, None, None)

    def _verified(self):
        if not self._checked:
            try:
                if self._token:
                    claims = self._provider.verify(self._token, self._worker_ctx)
                    self._set_identity(claims["sub"], claims["grants"], claims["carrier"], claims.get("name"),
                                       claims["iat"])
            except NotAuthenticated as exc:
                self._refusal = exc.detail
            self._token = None  # no need to keep the secret around
            self._checked = True
        if self._refusal is not None:
            # A token that was sent but is bad is an error, not an anonymous caller: the client must
            # sign in again rather than silently lose its identity.
            raise NotAuthenticated(self._refusal)


class CallerProvider(DependencyProvider):
    """`caller = CallerProvider()` on a service: `self.caller` is the worker's `Caller`.

    Needs the service's `Database` (revocations live in its `token_not_before` table) and config
    `TOKEN_PUBLIC_KEY` or `TOKEN_PUBLIC_KEY_FILE`.
    """

    def setup(self):
        self.verifier = TokenVerifier(load_public_key(self.container.config))
        self.database = find_database(self.container)

    def get_dependency(self, worker_ctx):
        data = worker_ctx.data
        token = data.get(AUTHORIZATION)
        if isinstance(token, str) and token[:7].lower() == "bearer ":
            token = token[7:].strip()
        return WorkerCaller(self, token, data.get(REQUEST_ID), data.get(IDEMPOTENCY_KEY), worker_ctx)

    def verify(self, token, worker_ctx=None):
        claims = self.verifier.verify(token)
        not_before = self.not_before(claims["sub"], worker_ctx)
        if not_before is not None and claims["iat"] < not_before.timestamp():
            raise NotAuthenticated("session revoked")
        return claims

    def not_before(self, user_id, worker_ctx=None):
        # One primary-key read. If the worker's session already holds a connection, read through it:
        # a second one would wait for SQLite's single pooled connection (servicekit.db) until timeout.
        # Otherwise a short connection of its own, returned at once.
        statement = select(tables.token_not_before.c.not_before).where(tables.token_not_before.c.user_id == user_id)
        session = self.database.sessions.get(worker_ctx)
        if session is not None and session.in_transaction():
            value = session.execute(statement).scalar()
        else:
            with self.database.engine.connect() as connection:
                value = connection.execute(statement).scalar()
        return None if value is None else _as_utc(value)


# --- revocation -----------------------------------------------------------------------------------

REVOKING_EVENTS = ("user_deactivated", "password_changed", "sessions_revoked", "grant_changed")


def _as_utc(value):
    # SQLite hands back naive datetimes; the kit only ever stores UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _parse_time(value):
    if isinstance(value, datetime):
        return _as_utc(value)
    return _as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def revocation_from(envelope):
    """(user_id, not_before) from one of identity's revoking events."""
    data = envelope.get("data") or {}
    user_id = data.get("user_id")
    when = data.get("not_before") or data.get("occurred_at") or envelope.get("occurred_at")
    if not user_id or not when:
        raise ValueError("%s event %s lacks user_id or a time" % (envelope.get("event_type"),
                                                                  envelope.get("event_id")))
    return str(user_id), _parse_time(when)


def record_not_before(session, user_id, not_before):
    """Upsert the user's "not before", keeping the later time: revocations may arrive in any order
    (ordered=False, retries), and an older one must never re-admit tokens a newer one refused."""
    table = tables.token_not_before
    not_before = _as_utc(not_before)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(user_id=user_id, not_before=not_before)
        session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.user_id],
            set_={"not_before": func.greatest(table.c.not_before, statement.excluded.not_before)}))
    elif dialect == "sqlite":
        # SQLite keeps datetimes as ISO text in one format, so the text maximum is the later time.
        statement = sqlite.insert(table).values(user_id=user_id, not_before=not_before.replace(tzinfo=None))
        session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.user_id],
            set_={"not_before": func.max(table.c.not_before, statement.excluded.not_before)}))
    else:
        current = session.execute(select(table.c.not_before).where(table.c.user_id == user_id)
                                  .with_for_update()).scalar()
        if current is None:
            session.execute(table.insert().values(user_id=user_id, not_before=not_before))
        elif _as_utc(current) < not_before:
            session.execute(update(table).where(table.c.user_id == user_id).values(not_before=not_before))


class RevocationListener:
    """Mixin every service class inherits: applies identity's revoking events to `token_not_before`
    in the worker's transaction (`self.db`), so the next call with an older token is refused.

    Unordered: each event carries its own time and the upsert keeps the latest, so order does not matter.
    """

    @consumer("identity", "user_deactivated", ordered=False)
    def on_identity_user_deactivated(self, envelope):
        record_not_before(self.db, *revocation_from(envelope))

    @consumer("identity", "password_changed", ordered=False)
    def on_identity_password_changed(self, envelope):
        record_not_before(self.db, *revocation_from(envelope))

    @consumer("identity", "sessions_revoked", ordered=False)
    def on_identity_sessions_revoked(self, envelope):
        record_not_before(self.db, *revocation_from(envelope))

    @consumer("identity", "grant_changed", ordered=False)
    def on_identity_grant_changed(self, envelope):
        record_not_before(self.db, *revocation_from(envelope))
