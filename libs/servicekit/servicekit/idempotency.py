"""Idempotent commands (ARCHITECTURE.md pattern 4): a retried state-changing RPC never acts twice.

    @rpc
    @idempotent(target=lambda group, payload: group)
    def enroll_subscriber(self, group, payload): ...

The key is the client's Idempotency-Key (else the gateway's request id), from the worker's context
data (`self.caller.idempotency_key`). A key is scoped by caller, method and target, so two users (or
one user on two objects) never collide. The table row is `servicekit.tables.idempotency_keys`.

Why two transactions: the `in_flight` claim commits at once, on its own, so a concurrent duplicate sees
it and gets 409 instead of running the effect a second time; the final `done` row with the response is
written in the worker's own transaction, so it commits with the effect or not at all.
"""
import functools
import hashlib
import hmac
import inspect
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from nameko.exceptions import IncorrectSignature
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicekit.errors import IdempotencyKeyMissing, IdempotencyKeyReused, RequestInFlight
from servicekit.tables import idempotency_keys as keys

log = logging.getLogger(__name__)

IN_FLIGHT = "in_flight"
DONE = "done"
# A claim older than this is presumed dead (its worker was killed before committing) and may be taken
# over by a retry. Longer than any RPC may take: nameko's clients time out well before a minute.
LEASE_SECONDS = 60
ANONYMOUS = "anonymous"


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def scope_hash(caller, method, target, key):
    return hashlib.sha256(_canonical([caller, method, target, key]).encode("utf-8")).hexdigest()


def request_hash(arguments, key=None):
    """A digest of the call's arguments by parameter name, so f(1, b=2) and f(a=1, b=2) are the same body.

    Keyed (HMAC-SHA256 with the service's FIELD_HASH_KEY) when the service has one: arguments may hold a
    password or an SSN, and a plain hash in a leaked table would let anyone test guesses offline.
    """
    body = _canonical(arguments).encode("utf-8")
    if key:
        return hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def _hash_key(service):
    config = getattr(service, "config", None)  # PortalService's nameko Config provider
    return config.get("FIELD_HASH_KEY") if isinstance(config, dict) else None


def _now():
    return datetime.now(timezone.utc)


def _as_utc(value):
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass(frozen=True)
class _Claim:
    scope: str
    caller: str
    method: str
    target: str
    request_hash: str


def idempotent(target=None, lease_seconds=LEASE_SECONDS):
    """Decorator under `@rpc`. `target(*args, **kwargs) -> str` names the object acted on; by default
    the method's first argument (or "-" when it has none). Responses must be JSON-serialisable."""

    def decorate(method):
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                # The wrapper's (*args, **kwargs) hides the real signature from nameko's own check.
                raise IncorrectSignature(str(exc)) from None
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])  # without self

            key = self.caller.idempotency_key
            if not key:
                raise IdempotencyKeyMissing()
            caller = self.caller.actor_id or ANONYMOUS
            method_name = "%s.%s" % (self.name, method.__name__)
            if target is not None:
                target_name = str(target(*args, **kwargs))
            else:
                target_name = str(next(iter(arguments.values()))) if arguments else "-"
            claim = _Claim(scope_hash(caller, method_name, target_name, str(key)), caller, method_name,
                           target_name, request_hash(arguments, _hash_key(self)))

            # Claims live outside the worker's transaction, on the same database.
            bind = self.db.get_bind()

            def new_session():
                return Session(bind=bind, expire_on_commit=False)

            fence, stored = _claim(new_session, claim, lease_seconds)
            if fence is None:
                return stored

            try:
                result = method(self, *args, **kwargs)
                response = json.dumps(result)
                written = self.db.execute(
                    update(keys)
                    .where(keys.c.scope_hash == claim.scope, keys.c.status == IN_FLIGHT, keys.c.updated_at == fence)
                    .values(status=DONE, response=response, updated_at=_now()))
                if written.rowcount != 1:
                    # We outlived our lease and a retry took the key over: let only one of us act.
                    raise RequestInFlight("the request took too long and a retry took it over")
            except BaseException:
                # Roll the effect back now (the entrypoint would anyway) so that, on SQLite, our own
                # write lock cannot block the release below; then free the key for a retry.
                self.db.rollback()
                _release(new_session, claim, fence)
                raise
            return json.loads(response)  # the same value a replay will return

        return wrapper

    return decorate


def _claim(new_session, claim, lease_seconds):
    """Claim the key: returns (fence, None) to run the method, or (None, stored response) to replay.

    The fence is the claim's `updated_at`: the done-update and the release only touch the row while it
    still carries it, so a worker whose claim was taken over cannot overwrite or delete the new one.
    """
    for _attempt in range(5):
        with new_session() as session:
            now = _now()
            try:
                session.execute(insert(keys).values(
                    scope_hash=claim.scope, caller=claim.caller[:100], method=claim.method[:100],
                    target=claim.target[:200], request_hash=claim.request_hash, status=IN_FLIGHT,
                    created_at=now, updated_at=now))
                session.commit()
                return now, None
            except IntegrityError:
                session.rollback()  # the key exists: look at it

            row = session.execute(
                select(keys.c.request_hash, keys.c.status, keys.c.response, keys.c.updated_at)
                .where(keys.c.scope_hash == claim.scope)).first()
            if row is None:
                continue  # the other attempt failed and released the key meanwhile: claim it again
            if row.request_hash != claim.request_hash:
                raise IdempotencyKeyReused()
            if row.status == DONE:
                return None, json.loads(row.response)
            if now - _as_utc(row.updated_at) < timedelta(seconds=lease_seconds):
                raise RequestInFlight()
            # A claim older than the lease never committed its effect (that would have marked it done):
            # take it over, unless another retry is faster.
            taken = session.execute(
                update(keys)
                .where(keys.c.scope_hash == claim.scope, keys.c.status == IN_FLIGHT,
                       keys.c.updated_at == row.updated_at)
                .values(updated_at=now))
            session.commit()
            if taken.rowcount == 1:
                log.warning("idempotency key of %s taken over after its lease expired", claim.method)
                return now, None
    raise RequestInFlight()


def _release(new_session, claim, fence):
    try:
        with new_session() as session:
            session.execute(delete(keys).where(keys.c.scope_hash == claim.scope, keys.c.status == IN_FLIGHT,
                                               keys.c.updated_at == fence))
            session.commit()
    except Exception:
        # The original error matters more; the lease frees the key later anyway.
        log.exception("could not release the idempotency key of %s", claim.method)
