"""Caller identity: tokens are refused unless fully trustworthy; Caller answers DOMAIN.md's role table,
with 404 for groups the caller has no grant on; revocation events refuse older tokens at once."""
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import tables
from servicekit.auth import (Caller, CallerProvider, RevocationListener, TokenSigner, TokenVerifier, compact_grant,
                             generate_keypair, load_public_key, record_not_before)
from servicekit.db import Database, make_engine
from servicekit.entrypoints import rpc
from servicekit.errors import Forbidden, NotAuthenticated, NotFound, problem_from_remote
from servicekit.roles import (CARRIER_ADMIN, CHANGE_ROSTER, MANAGE_USERS, MESSAGES, PAY_BILLING, VIEW_BILLING,
                              VIEW_ROSTER)
from servicekit.testing import wait_for
from servicekit.testing.broker import make_envelope, publish_event
from servicekit.testing.tokens import (TEST_PRIVATE_KEY_PEM, TEST_PUBLIC_KEY_PEM, grant, mint_token,
                                       test_config)

verifier = TokenVerifier(TEST_PUBLIC_KEY_PEM)


def refused(token, detail="invalid token"):
    with pytest.raises(NotAuthenticated) as caught:
        verifier.verify(token)
    assert caught.value.detail == detail
    if token:
        assert token not in str(caught.value)  # the token is a secret: never echoed
    return caught.value


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_made(header, claims, sign=lambda signing_input: b""):
    signing_input = "%s.%s" % (b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()))
    return "%s.%s" % (signing_input, b64(sign(signing_input.encode())))


def good_claims():
    return jwt.decode(mint_token("u-1", [grant("G1", "viewer")]), options={"verify_signature": False})


# --- tokens ----------------------------------------------------------------------------------------

def test_a_valid_token_is_accepted_with_its_claims():
    before = time.time()
    token = mint_token("u-1", [grant("G1", "broker", subgroups=["002", "001"], actions=["change_roster"])],
                       name="Pat Broker", expires_in=300)
    claims = verifier.verify(token)
    assert claims["sub"] == "u-1" and claims["iss"] == "portal-identity" and claims["carrier"] is False
    assert claims["grants"] == [{"g": "G1", "r": "broker", "s": ["001", "002"], "a": ["change_roster"]}]
    assert claims["name"] == "Pat Broker"
    assert before - 0.001 <= claims["iat"] <= time.time() and claims["exp"] - int(claims["iat"]) == 300
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert verifier.verify(mint_token("u-1"))["jti"] != claims["jti"]


def test_an_expired_token_is_refused_beyond_a_few_seconds_of_clock_skew():
    refused(mint_token(issued_at=time.time() - 700, expires_in=600), "token expired")
    assert verifier.verify(mint_token(issued_at=time.time() - 602, expires_in=600))["sub"] == "u-test"


def test_a_token_from_the_future_is_refused():
    refused(mint_token(issued_at=time.time() + 60))


def test_a_tampered_token_is_refused():
    header, payload, signature = mint_token("u-1", [grant("G1", "viewer")]).split(".")
    claims = good_claims()
    claims["grants"] = [grant("G1", "group_admin")]
    refused("%s.%s.%s" % (header, b64(json.dumps(claims).encode()), signature))
    refused("%s.%s.%s" % (header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))
    refused("not-a-token")


def test_a_token_signed_by_another_key_is_refused():
    other_private, _ = generate_keypair()
    refused(mint_token("u-1", [grant("G1", "group_admin")], key=other_private))


def test_alg_none_and_hs256_with_the_public_key_are_refused():
    refused(hand_made({"alg": "none", "typ": "JWT"}, good_claims()))
    # the classic confusion attack: HMAC "signed" with the public key as the shared secret
    refused(hand_made({"alg": "HS256", "typ": "JWT"}, good_claims(),
                      lambda data: hmac.new(TEST_PUBLIC_KEY_PEM.encode(), data, hashlib.sha256).digest()))


@pytest.mark.parametrize("claim", ["sub", "iat", "nbf", "exp", "jti", "iss", "carrier", "grants"])
def test_a_token_missing_a_claim_is_refused(claim):
    claims = good_claims()
    del claims[claim]
    refused(jwt.encode(claims, TEST_PRIVATE_KEY_PEM, algorithm="EdDSA"))


@pytest.mark.parametrize("change", [{"iss": "someone-else"}, {"grants": [{"g": "G1"}]}, {"grants": "G1"},
                                    {"carrier": "yes"}, {"sub": ""}])
def test_a_signed_token_with_wrong_claims_is_refused(change):
    claims = dict(good_claims(), **change)
    refused(jwt.encode(claims, TEST_PRIVATE_KEY_PEM, algorithm="EdDSA"))


def test_no_token_is_refused():
    refused(None, "no access token")
    refused("", "no access token")


def test_a_generated_key_pair_signs_and_verifies():
    private_pem, public_pem = generate_keypair()
    assert "PRIVATE KEY" in private_pem and "PUBLIC KEY" in public_pem
    token = TokenSigner(private_pem, issuer="test-issuer").issue("u-9", [], carrier=True)
    assert TokenVerifier(public_pem, issuer="test-issuer").verify(token)["carrier"] is True
    with pytest.raises(NotAuthenticated):
        TokenVerifier(public_pem).verify(token)  # issuer differs
    with pytest.raises(ValueError):
        TokenSigner(public_pem)  # not a private key
    with pytest.raises(ValueError):
        TokenVerifier("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyp6kZ8/fv/8Jfe8Nqtsh0IqTRu+t"
                      "\nhB9zXcDcjdWa6iINuqtRK2QLC9eYvYjqjAtV8oJT/2IsbXnjp2jmU6qEFg==\n-----END PUBLIC KEY-----\n")


def test_the_public_key_comes_from_config_text_or_file(tmp_path):
    path = tmp_path / "token.pub"
    path.write_text(TEST_PUBLIC_KEY_PEM)
    assert load_public_key({"TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM}) == TEST_PUBLIC_KEY_PEM
    assert load_public_key({"TOKEN_PUBLIC_KEY": "", "TOKEN_PUBLIC_KEY_FILE": str(path)}) == TEST_PUBLIC_KEY_PEM
    with pytest.raises(KeyError):
        load_public_key({"TOKEN_PUBLIC_KEY_FILE": ""})
    assert test_config(DATABASE_URL="x") == {"TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM, "DATABASE_URL": "x"}


def test_the_signer_refuses_grants_and_claims_identity_must_never_issue():
    signer = TokenSigner(TEST_PRIVATE_KEY_PEM)
    for bad in [lambda: compact_grant("G1", "carrier_staff"), lambda: compact_grant("G1", "viewer", actions=["x"]),
                lambda: compact_grant("G1", "broker", actions=[MANAGE_USERS]),
                lambda: compact_grant("G1", "viewer", subgroups=[]),
                lambda: signer.issue("u-1", [], extra={"carrier": True}),
                lambda: signer.issue("u-1", [{"g": "G1", "r": "root"}])]:
        with pytest.raises(ValueError):
            bad()
    assert verifier.verify(signer.issue("u-1", [], extra={"tenant": "t1"}))["tenant"] == "t1"


# --- Caller: DOMAIN.md's table through require() ---------------------------------------------------

def caller_for(*grants, carrier=False, user_id="u-1"):
    # through a real token, so the compact form is what is tested
    return Caller.from_claims(verifier.verify(mint_token(user_id, grants, carrier=carrier)))


def outcome(caller, action, group, subgroup=None):
    try:
        caller.require(action, group, subgroup)
    except NotFound:
        return 404
    except Forbidden:
        return 403
    assert caller.can(action, group, subgroup)
    return 200


@pytest.mark.parametrize("role, allowed", [
    ("group_admin", {VIEW_ROSTER, CHANGE_ROSTER, VIEW_BILLING, PAY_BILLING, MANAGE_USERS, MESSAGES}),
    ("enrollment_manager", {VIEW_ROSTER, CHANGE_ROSTER, MESSAGES}),
    ("billing_manager", {VIEW_ROSTER, VIEW_BILLING, PAY_BILLING, MESSAGES}),
    ("viewer", {VIEW_ROSTER, VIEW_BILLING, MESSAGES}),
    ("broker", {VIEW_ROSTER, VIEW_BILLING, MESSAGES}),
])
def test_a_group_role_may_do_its_actions_on_its_group_only(role, allowed):
    caller = caller_for(grant("G1", role))
    for action in (VIEW_ROSTER, CHANGE_ROSTER, VIEW_BILLING, PAY_BILLING, MANAGE_USERS, MESSAGES, CARRIER_ADMIN):
        assert outcome(caller, action, "G1") == (200 if action in allowed else 403), action
        assert outcome(caller, action, "G1", "001") == (200 if action in allowed else 403), action
        # another group: 404, whatever the action, as if the group did not exist
        assert outcome(caller, action, "G2") == 404
    assert caller.groups() == {"G1"}


def test_a_delegate_may_do_what_its_grant_lists():
    caller = caller_for(grant("G1", "broker", actions=[CHANGE_ROSTER]), grant("G2", "broker", actions=[PAY_BILLING]))
    assert outcome(caller, CHANGE_ROSTER, "G1") == 200 and outcome(caller, PAY_BILLING, "G1") == 403
    assert outcome(caller, PAY_BILLING, "G2") == 200 and outcome(caller, CHANGE_ROSTER, "G2") == 403
    assert outcome(caller, VIEW_BILLING, "G2") == 200 and outcome(caller, MANAGE_USERS, "G1") == 403
    assert caller.groups() == {"G1", "G2"}


def test_a_subgroup_limited_grant_reaches_only_its_subgroups_and_nothing_group_wide():
    caller = caller_for(grant("G1", "billing_manager", subgroups=["001", "003"]))
    assert outcome(caller, VIEW_BILLING, "G1", "001") == 200
    assert outcome(caller, VIEW_BILLING, "G1", "002") == 403
    assert outcome(caller, VIEW_BILLING, "G1") == 403  # group-wide totals, consolidated invoice
    assert outcome(caller, VIEW_BILLING, "G9", "001") == 404
    assert caller.subgroups("G1") == {"001", "003"} and caller.subgroups("G9") == frozenset()
    assert caller.require_scope(VIEW_BILLING, "G1") == {"001", "003"}
    with pytest.raises(Forbidden):
        caller.require_scope(CHANGE_ROSTER, "G1")
    with pytest.raises(NotFound):
        caller.require_scope(VIEW_BILLING, "G9")


def test_grants_on_one_group_combine_per_subgroup():
    caller = caller_for(grant("G1", "viewer"), grant("G1", "enrollment_manager", subgroups=["001"]))
    assert outcome(caller, CHANGE_ROSTER, "G1", "001") == 200
    assert outcome(caller, CHANGE_ROSTER, "G1", "002") == 403
    assert outcome(caller, VIEW_ROSTER, "G1") == 200
    assert caller.subgroups("G1") is None and caller.subgroups("G1", CHANGE_ROSTER) == {"001"}


def test_carrier_staff_act_on_every_group_but_never_pay():
    caller = caller_for(carrier=True)
    for group in ("G1", "G2"):
        for action in (VIEW_ROSTER, CHANGE_ROSTER, VIEW_BILLING, MANAGE_USERS, MESSAGES, CARRIER_ADMIN):
            assert outcome(caller, action, group, "001") == 200
        assert outcome(caller, PAY_BILLING, group) == 403  # forbidden, not hidden
    caller.require_carrier()
    assert caller.subgroups("G7") is None and caller.may_see_ssn("G7")
    assert caller.is_carrier and caller.groups() == frozenset()


def test_only_carrier_staff_pass_require_carrier():
    with pytest.raises(Forbidden):
        caller_for(grant("G1", "group_admin")).require_carrier()


def test_full_ssns_only_for_group_admins_and_carrier_staff():
    caller = caller_for(grant("G1", "group_admin"), grant("G2", "viewer"),
                        grant("G3", "group_admin", subgroups=["001"]))
    assert caller.may_see_ssn("G1") and caller.may_see_ssn("G1", "004")
    assert not caller.may_see_ssn("G2") and not caller.may_see_ssn("G9")
    assert caller.may_see_ssn("G3", "001") and not caller.may_see_ssn("G3", "002")


def test_an_anonymous_caller_is_refused_by_every_require():
    caller = Caller.anonymous()
    assert not caller.is_authenticated and caller.actor_id is None
    assert not caller.can(VIEW_ROSTER, "G1") and not caller.may_see_ssn("G1")
    for check in (lambda: caller.require(VIEW_ROSTER, "G1"), lambda: caller.require_carrier(),
                  lambda: caller.require_scope(VIEW_ROSTER, "G1"), lambda: caller.require_authenticated()):
        with pytest.raises(NotAuthenticated):
            check()


def test_unknown_roles_and_actions_fail_closed():
    caller = Caller("u-1", [{"g": "G1", "r": "galactic_emperor"}, {"g": "G2", "r": "carrier_staff"}])
    assert outcome(caller, VIEW_ROSTER, "G1") == 403 and outcome(caller, CARRIER_ADMIN, "G2") == 403
    with pytest.raises(ValueError):
        caller.can("view_rooster", "G1")  # a typo in a service must not quietly answer "no"


# --- in a service: CallerProvider, revocation (real RabbitMQ + PostgreSQL) ----------------------------

class GuardedService(RevocationListener):
    name = "guarded"
    db = Database()
    caller = CallerProvider()

    @rpc
    def view_roster(self, group, subgroup=None):
        self.caller.require(VIEW_ROSTER, group, subgroup)
        return {"user": self.caller.user_id}

    @rpc
    def whoami(self):
        caller = self.caller
        return {"authenticated": caller.is_authenticated, "actor_id": caller.actor_id,
                "request_id": caller.request_id, "idempotency_key": caller.idempotency_key}


@pytest.fixture
def guarded(container_factory, rabbit_config, kit_db_url):
    config = test_config(AMQP_URI=rabbit_config["AMQP_URI"], DATABASE_URL=kit_db_url)
    container = container_factory(GuardedService, config)
    container.start()

    def call(method, *args, **context):
        with ServiceRpcProxy("guarded", config, context_data=context, timeout=10) as proxy:
            return getattr(proxy, method)(*args)

    call.config = config
    return call


def remote_problem(caught, exc_type, code, status):
    assert caught.value.exc_type == exc_type
    problem = problem_from_remote(caught.value.value)
    assert problem["code"] == code and problem["status"] == status, problem
    return problem


def test_the_service_knows_its_caller_from_the_context(guarded):
    token = mint_token("u-1", [grant("G1", "viewer")])
    assert guarded("view_roster", "G1", authorization=token) == {"user": "u-1"}
    assert guarded("view_roster", "G1", authorization="Bearer " + token) == {"user": "u-1"}
    assert guarded("whoami", authorization=token, request_id="r-1", idempotency_key="k-1") == \
        {"authenticated": True, "actor_id": "u-1", "request_id": "r-1", "idempotency_key": "k-1"}
    assert guarded("whoami") == {"authenticated": False, "actor_id": None, "request_id": None,
                                 "idempotency_key": None}


def test_the_service_answers_404_403_401_as_problems(guarded):
    token = mint_token("u-1", [grant("G1", "viewer", subgroups=["001"])])
    with pytest.raises(RemoteError) as caught:
        guarded("view_roster", "G2", authorization=token)
    remote_problem(caught, "NotFound", "not_found", 404)
    with pytest.raises(RemoteError) as caught:
        guarded("view_roster", "G1", "002", authorization=token)
    remote_problem(caught, "Forbidden", "forbidden", 403)
    with pytest.raises(RemoteError) as caught:
        guarded("view_roster", "G1")
    remote_problem(caught, "NotAuthenticated", "not_authenticated", 401)
    expired = mint_token("u-1", [grant("G1", "viewer")], issued_at=time.time() - 3600)
    with pytest.raises(RemoteError) as caught:
        guarded("whoami", authorization=expired)  # a bad token is an error even where anonymous is fine
    assert remote_problem(caught, "NotAuthenticated", "not_authenticated", 401)["detail"] == "token expired"
    assert expired not in caught.value.value


def test_a_token_older_than_the_users_not_before_is_refused(guarded):
    old = mint_token("u-1", [grant("G1", "viewer")], issued_at=time.time() - 30)
    assert guarded("view_roster", "G1", authorization=old) == {"user": "u-1"}
    engine = make_engine(guarded.config["DATABASE_URL"])
    with Session(engine) as session:
        record_not_before(session, "u-1", datetime.now(timezone.utc) - timedelta(seconds=10))
        session.commit()
    engine.dispose()
    with pytest.raises(RemoteError) as caught:
        guarded("view_roster", "G1", authorization=old)
    assert remote_problem(caught, "NotAuthenticated", "not_authenticated", 401)["detail"] == "session revoked"
    fresh = mint_token("u-1", [grant("G1", "viewer")])
    assert guarded("view_roster", "G1", authorization=fresh) == {"user": "u-1"}
    other_user = mint_token("u-2", [grant("G1", "viewer")], issued_at=time.time() - 30)
    assert guarded("view_roster", "G1", authorization=other_user) == {"user": "u-2"}


def publish_identity_event(config, event_type, data):
    """As identity's outbox would: an envelope on the identity.events exchange."""
    envelope = make_envelope(event_type, data, aggregate_id="user:%s" % data["user_id"], sequence=1,
                             actor="u-admin", request_id="r-revoke")
    publish_event(config, "identity", event_type, envelope)
    return envelope


def not_before_of(url, user_id):
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(select(tables.token_not_before.c.not_before)
                                   .where(tables.token_not_before.c.user_id == user_id)).scalar()
    engine.dispose()
    return value


def test_a_user_deactivated_event_refuses_the_users_token_at_once(guarded):
    token = mint_token("u-1", [grant("G1", "group_admin")])
    bystander = mint_token("u-2", [grant("G1", "group_admin")])
    assert guarded("view_roster", "G1", authorization=token) == {"user": "u-1"}
    time.sleep(0.01)  # identity deactivates after the token was issued
    publish_identity_event(guarded.config, "user_deactivated",
                           {"user_id": "u-1", "occurred_at": datetime.now(timezone.utc).isoformat()})
    wait_for(lambda: not_before_of(guarded.config["DATABASE_URL"], "u-1"), message="the revocation to land")
    with pytest.raises(RemoteError) as caught:
        guarded("view_roster", "G1", authorization=token)
    assert remote_problem(caught, "NotAuthenticated", "not_authenticated", 401)["detail"] == "session revoked"
    assert guarded("view_roster", "G1", authorization=bystander) == {"user": "u-2"}


@pytest.mark.parametrize("event_type", ["password_changed", "sessions_revoked", "grant_changed"])
def test_every_revoking_event_sets_the_users_not_before(guarded, event_type):
    not_before = datetime.now(timezone.utc).replace(microsecond=0)
    publish_identity_event(guarded.config, event_type, {"user_id": "u-5", "not_before": not_before.isoformat()})
    stored = wait_for(lambda: not_before_of(guarded.config["DATABASE_URL"], "u-5"), message="the revocation")
    assert stored == not_before


@pytest.mark.parametrize("database", ["kit_db_url", "sqlite_kit_db_url"])
def test_the_later_revocation_wins_whatever_the_order(request, database):
    engine = make_engine(request.getfixturevalue(database))
    later = datetime(2026, 11, 3, 12, 0, 0, 250000, tzinfo=timezone.utc)
    earlier = later - timedelta(hours=1)
    with Session(engine) as session:
        record_not_before(session, "u-1", later)
        record_not_before(session, "u-1", earlier)       # arrives late: ignored
        record_not_before(session, "u-2", earlier)
        record_not_before(session, "u-2", later.astimezone(timezone(timedelta(hours=-5))))  # same instant
        session.commit()
        rows = dict(session.execute(select(tables.token_not_before.c.user_id, tables.token_not_before.c.not_before)
                                    ).all())
    engine.dispose()
    as_utc = {user: (value if value.tzinfo else value.replace(tzinfo=timezone.utc)) for user, value in rows.items()}
    assert as_utc == {"u-1": later, "u-2": later}
