"""Sign-in over real RPC (identity's own service on RabbitMQ and PostgreSQL): password then second factor,
refresh rotation, logout, what a failure reveals, throttling, TOTP replay, re-hashing, the operator CLI, and
that no password, code or token reaches a log line or a table in clear.

The helpers at the top are shared with test_registration.py and test_recovery_profile.py.
"""
import json
import logging
import re
import time
import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, Type
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from identity import bootstrap
from identity.domain import credentials
from identity.models import AuditEntry, KnownGroup, SignInAttempt, User
from servicekit import tables
from servicekit.auth import TokenVerifier
from servicekit.mail import read_maildir
from servicekit.testing import wait_for
from servicekit.testing import refusal

GROUP = "100234"
ADDR = "203.0.113.7"


# --- shared helpers ------------------------------------------------------------------------------------------



def strong_password():
    return "Quiet-harbor-%s" % uuid.uuid4().hex[:10]


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def known_group(engine, number=GROUP, subgroups=("001", "002"), legal_name="Harborlight Tools Inc"):
    """identity's copy of a group, as roster's events would have made it."""
    with Session(engine) as session, session.begin():
        session.merge(KnownGroup(group_number=number, legal_name=legal_name, status="active",
                                 subgroups=[{"subgroup_number": s, "name": "Division %s" % s, "status": "active"}
                                            for s in subgroups]))
    return number


def seed_user(identity_config, username=None, password=None, kind="group", group=GROUP, role="viewer",
              subgroups=None, totp_secret=None, email=None):
    """An active user made with the operator CLI's code path (identity.bootstrap), straight in the database."""
    username, password = username or unique("user."), password or strong_password()
    email = email or "%s@e2e.example" % username
    argv = ["user", "--config", "-", "--username", username, "--email", email, "--first", "Dana",
            "--last", "Whitfield", "--kind", kind, "--password", password]
    if kind != "carrier":
        argv += ["--group", group, "--role", role]
    if subgroups:
        argv += ["--subgroups", ",".join(subgroups)]
    if totp_secret:
        argv += ["--totp-secret", totp_secret]
    seeded = bootstrap.create_user(identity_config, bootstrap._parser().parse_args(argv))
    return dict(seeded, username=username, password=password, email=email, totp_secret=totp_secret)


def mail_to(mail_dir, address):
    return [message for message in read_maildir(mail_dir) if address.lower() in (message["to"] or "").lower()]


def wait_mail(mail_dir, address, count=1):
    """The `count`-th message to `address` (waits for it)."""
    return wait_for(lambda: mail_to(mail_dir, address)[count - 1:], timeout=10, message="mail to %s" % address)[0]


def code_in(message):
    found = re.findall(r"(?<![\w-])(\d{6})(?![\w-])", message["subject"] + "\n" + message["body"])
    assert found, message
    return found[0]


def token_in(message):
    found = re.search(r"[?&]token=([A-Za-z0-9_-]+)", message["body"])
    assert found, message
    return found.group(1)


class Totp:
    """Codes for a secret from a later step than the last one used (identity never accepts a step twice)."""
    used = {}

    @classmethod
    def code(cls, secret):
        while True:
            now = int(time.time() // 30)
            for step in (now, now + 1):
                if step > cls.used.get(secret, -1):
                    cls.used[secret] = step
                    return credentials.totp_code(secret, step)
            time.sleep(0.5)


def login(identity, username, password, addr=ADDR):
    return identity.call("login", {"username": username, "password": password, "remote_addr": addr})


def sign_in(identity, mail_dir, user, addr=ADDR):
    """Password, then the second factor (TOTP from the secret, or the e-mailed code): the token answer."""
    challenge = login(identity, user["username"], user["password"], addr)
    if challenge["methods"] == ["totp"]:
        code = Totp.code(user["totp_secret"])
    else:
        before = len(mail_to(mail_dir, user["email"]))
        assert identity.call("send_mfa_email_code", {"mfa_token": challenge["mfa_token"]}) == {"sent": True}
        code = code_in(wait_mail(mail_dir, user["email"], before + 1))
    return identity.call("verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code, "remote_addr": addr})


def call_from(config, method, *args, token=None, addr=ADDR):
    """An RPC as the gateway makes a signed-in call: the caller's address in the context data."""
    context = {"authorization": token, "request_id": str(uuid.uuid4()), "idempotency_key": str(uuid.uuid4()),
               "remote_addr": addr}
    with ServiceRpcProxy("identity", config, context_data=context, timeout=30) as proxy:
        return getattr(proxy, method)(*args)


def audit_rows(engine, action=None):
    with Session(engine) as session:
        statement = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            statement = statement.where(AuditEntry.action == action)
        return [{"action": row.action, "outcome": row.outcome, "actor": row.actor, "subject": row.subject,
                 "remote_addr": row.remote_addr, "group_number": row.group_number, "details": row.details}
                for row in session.scalars(statement)]


def published(engine, event_type):
    """The data of the events of this type identity recorded in its outbox, oldest first."""
    with Session(engine) as session:
        rows = session.scalars(select(tables.outbox.c.envelope).where(tables.outbox.c.event_type == event_type)
                               .order_by(tables.outbox.c.id)).all()
    return [json.loads(row)["data"] for row in rows]


def move_attempts_back(engine, seconds):
    """Let the throttling back-off pass: what the clock would do in `seconds`."""
    with Session(engine) as session, session.begin():
        session.execute(update(SignInAttempt).values(at=SignInAttempt.at - timedelta(seconds=seconds)))


# --- fixtures ----------------------------------------------------------------------------------------------------

@pytest.fixture
def group(identity_db):
    return known_group(identity_db)


@pytest.fixture
def email_user(identity_config, group):
    return seed_user(identity_config, group=group, role="enrollment_manager", subgroups=["001"])


@pytest.fixture
def totp_user(identity_config, group):
    return seed_user(identity_config, group=group, role="billing_manager",
                     totp_secret=credentials.new_totp_secret())


# --- the journey ------------------------------------------------------------------------------------------------

def test_sign_in_with_password_and_an_emailed_code_gives_tokens_carrying_the_grants(
        identity, mail_dir, email_user, signing_keys, identity_db):
    challenge = login(identity, email_user["username"].upper(), email_user["password"])  # usernames ignore case
    assert challenge["mfa_required"] is True and challenge["methods"] == ["email"]
    assert challenge["expires_in"] == 300 and len(challenge["mfa_token"]) >= 40

    assert identity.call("send_mfa_email_code", {"mfa_token": challenge["mfa_token"]}) == {"sent": True}
    message = wait_mail(mail_dir, email_user["email"])
    assert message["subject"] == "Your sign-in code" and "Dana" in message["body"]
    signed_in = identity.call("verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code_in(message),
                                             "remote_addr": ADDR})

    assert signed_in["token_type"] == "Bearer" and signed_in["expires_in"] == 600
    assert 11 * 3600 < signed_in["refresh_expires_in"] <= 12 * 3600
    claims = TokenVerifier(signing_keys[1]).verify(signed_in["access_token"])
    assert claims["sub"] == email_user["user_id"] and claims["carrier"] is False
    assert claims["grants"] == [{"g": GROUP, "r": "enrollment_manager", "s": ["001"]}]
    assert claims["name"] == "Dana Whitfield" and isinstance(claims["sid"], int)
    me = signed_in["user"]
    assert me["username"] == email_user["username"] and me["mfa_method"] == "email"
    assert me["groups"] == [{"group_number": GROUP, "legal_name": "Harborlight Tools Inc",
                             "role": "enrollment_manager", "subgroups": ["001"],
                             "actions": ["view_roster", "change_roster", "messages"]}]
    assert identity.call("me", token=signed_in["access_token"]) == me
    assert identity.call("my_groups", token=signed_in["access_token"]) == me["groups"]

    steps = [(row["action"], row["outcome"]) for row in audit_rows(identity_db)]
    assert steps == [("password_verified", "success"), ("mfa_code_sent", "success"), ("sign_in", "success")]
    assert audit_rows(identity_db, "sign_in")[0]["subject"] == email_user["user_id"]
    assert audit_rows(identity_db, "sign_in")[0]["remote_addr"] == ADDR


def test_the_mfa_token_works_once_and_an_emailed_code_once(identity, mail_dir, email_user):
    challenge = login(identity, email_user["username"], email_user["password"])
    identity.call("send_mfa_email_code", {"mfa_token": challenge["mfa_token"]})
    code = code_in(wait_mail(mail_dir, email_user["email"]))
    identity.call("verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code})
    assert refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code})["code"] \
        == "sign_in_expired"
    second = login(identity, email_user["username"], email_user["password"])
    assert refusal(identity.call, "verify_mfa", {"mfa_token": second["mfa_token"], "code": code})["code"] \
        == "invalid_code"  # the code of the first sign-in is used up


def test_a_totp_user_cannot_ask_for_an_emailed_code(identity, mail_dir, totp_user):
    challenge = login(identity, totp_user["username"], totp_user["password"])
    assert challenge["methods"] == ["totp"]
    assert refusal(identity.call, "send_mfa_email_code", {"mfa_token": challenge["mfa_token"]})["code"] \
        == "mfa_method_totp"
    assert mail_to(mail_dir, totp_user["email"]) == []


def test_five_wrong_codes_end_the_sign_in(identity, totp_user):
    challenge = login(identity, totp_user["username"], totp_user["password"])
    wrong = credentials.totp_code(totp_user["totp_secret"], int(time.time() // 30) + 5)
    for _ in range(5):
        assert refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": wrong})["code"] \
            == "invalid_code"
    right = Totp.code(totp_user["totp_secret"])
    assert refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": right})["code"] \
        == "sign_in_expired"


# --- what a failure reveals -------------------------------------------------------------------------------------

def test_a_wrong_password_and_an_unknown_username_answer_alike(identity, email_user, identity_db):
    wrong = refusal(login, identity, email_user["username"], "Not-the-password-1")
    unknown = refusal(login, identity, unique("nobody."), "Not-the-password-1")
    assert wrong == unknown == {"code": "invalid_credentials", "status": 401, "title": "Wrong username or password",
                                "detail": "The username or password is wrong."}
    failures = audit_rows(identity_db, "sign_in_failed")
    assert [row["details"]["reason"] for row in failures] == ["wrong_password", "unknown_user"]
    assert failures[0]["subject"] == email_user["user_id"] and failures[1]["subject"] is None


def test_both_take_the_same_argon2_work(identity, email_user):
    def timed(username):
        started = time.monotonic()
        refusal(login, identity, username, "Not-the-password-1")
        return time.monotonic() - started
    # Interleaved, medians: the unknown username is checked against a dummy hash, so both cost one argon2 check.
    known = sorted(timed(email_user["username"]) for _ in range(3))[1]
    unknown = sorted(timed(unique("nobody.")) for _ in range(3))[1]
    assert unknown > 0.5 * known


def test_a_deactivated_user_fails_like_a_wrong_password(identity, identity_db, email_user):
    with Session(identity_db) as session, session.begin():
        session.execute(update(User).where(User.user_id == email_user["user_id"]).values(status="deactivated"))
    assert refusal(login, identity, email_user["username"], email_user["password"]) == \
        refusal(login, identity, unique("nobody."), email_user["password"])
    assert audit_rows(identity_db, "sign_in_failed")[0]["details"] == {"step": "password", "reason": "deactivated"}


# --- TOTP ---------------------------------------------------------------------------------------------------------

def test_wrong_and_reused_totp_codes_are_refused(identity, totp_user, identity_db):
    secret = totp_user["totp_secret"]
    far = credentials.totp_code(secret, int(time.time() // 30) + 5)  # a real code, far outside ±1 step
    challenge = login(identity, totp_user["username"], totp_user["password"])
    assert refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": far})["code"] \
        == "invalid_code"

    code = Totp.code(secret)
    signed_in = identity.call("verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code})
    assert signed_in["user"]["mfa_method"] == "totp"

    again = login(identity, totp_user["username"], totp_user["password"])
    reused = refusal(identity.call, "verify_mfa", {"mfa_token": again["mfa_token"], "code": code})
    assert reused["code"] == "invalid_code" and code not in json.dumps(reused)
    reasons = [row["details"]["reason"] for row in audit_rows(identity_db, "mfa_failed")]
    assert reasons == ["wrong", "reused"]


# --- throttling -----------------------------------------------------------------------------------------------------

def test_repeated_failures_are_throttled_and_the_owner_gets_back_in_after_a_short_wait(
        identity, mail_dir, email_user, identity_db):
    for attempt in range(5):
        assert refusal(login, identity, email_user["username"], "Wrong-guess-%d" % attempt)["status"] == 401
    throttled = refusal(login, identity, email_user["username"], email_user["password"])  # even the right one
    assert throttled["status"] == 429 and throttled["code"] == "too_many_requests"
    assert 25 <= throttled["retry_after"] <= 30
    assert audit_rows(identity_db, "sign_in_failed")[-1]["details"] == {"reason": "throttled"}

    move_attempts_back(identity_db, 31)  # the 30-second back-off has passed
    assert sign_in(identity, mail_dir, email_user)["access_token"]

    # The completed sign-in ended the run of failures: one more typo is not throttled.
    assert refusal(login, identity, email_user["username"], "Wrong-guess-again")["status"] == 401


def test_an_unknown_username_is_throttled_like_a_known_one(identity):
    nobody = unique("nobody.")
    for attempt in range(5):
        assert refusal(login, identity, nobody, "Wrong-guess-%d" % attempt)["status"] == 401
    assert refusal(login, identity, nobody, "Wrong-guess")["status"] == 429  # no telling it does not exist


def test_wrong_second_factors_count_towards_the_same_throttle(identity, totp_user, identity_db):
    wrong = credentials.totp_code(totp_user["totp_secret"], int(time.time() // 30) + 5)
    for _ in range(5):
        challenge = login(identity, totp_user["username"], totp_user["password"])  # the password is right
        assert refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": wrong})["status"] \
            == 401
    assert refusal(login, identity, totp_user["username"], totp_user["password"])["status"] == 429


# --- sessions -------------------------------------------------------------------------------------------------------

def test_refresh_rotates_the_refresh_token(identity, mail_dir, email_user, signing_keys):
    first = sign_in(identity, mail_dir, email_user)
    second = identity.call("refresh", {"refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    verifier = TokenVerifier(signing_keys[1])
    assert verifier.verify(second["access_token"])["sid"] == verifier.verify(first["access_token"])["sid"]

    refused = refusal(identity.call, "refresh", {"refresh_token": first["refresh_token"]})
    assert refused["status"] == 401 and refused["code"] == "invalid_refresh_token"
    assert identity.call("refresh", {"refresh_token": second["refresh_token"]})["access_token"]


def test_a_session_idle_for_12_hours_has_ended(identity, mail_dir, email_user, identity_db):
    signed_in = sign_in(identity, mail_dir, email_user)
    with Session(identity_db) as session, session.begin():
        session.execute(text("UPDATE sessions SET last_used_at = last_used_at - interval '12 hours 1 minute'"))
    assert refusal(identity.call, "refresh", {"refresh_token": signed_in["refresh_token"]})["status"] == 401


def test_logout_revokes_the_refresh_token(identity, mail_dir, email_user, identity_db):
    signed_in = sign_in(identity, mail_dir, email_user)
    other = sign_in(identity, mail_dir, email_user)
    assert identity.call("logout", {"refresh_token": signed_in["refresh_token"], "remote_addr": ADDR}) \
        == {"signed_out": True}
    assert refusal(identity.call, "refresh", {"refresh_token": signed_in["refresh_token"]})["status"] == 401
    assert identity.call("logout", {"refresh_token": signed_in["refresh_token"]}) == {"signed_out": True}
    assert identity.call("refresh", {"refresh_token": other["refresh_token"]})["access_token"]  # the other device
    assert [row["subject"] for row in audit_rows(identity_db, "sign_out")] == [email_user["user_id"]]


# --- hashing, the operator CLI -----------------------------------------------------------------------------------

def test_a_hash_made_with_weaker_parameters_is_replaced_at_sign_in(identity, identity_db, email_user):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(email_user["password"])
    with Session(identity_db) as session, session.begin():
        session.execute(update(User).where(User.user_id == email_user["user_id"]).values(password_hash=weak))
    login(identity, email_user["username"], email_user["password"])
    with Session(identity_db) as session:
        stored = session.scalar(select(User.password_hash).where(User.user_id == email_user["user_id"]))
    assert stored != weak and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    login(identity, email_user["username"], email_user["password"])  # and the new hash works


def test_the_operator_cli_seeds_a_carrier_admin_who_signs_in_with_totp(
        identity, identity_config, tmp_path, capsys, signing_keys, group):
    config = tmp_path / "config.yaml"
    config.write_text("DATABASE_URL: %s\nFIELD_ENCRYPTION_KEY: %s\nFIELD_HASH_KEY: %s\n" % (
        identity_config["DATABASE_URL"], identity_config["FIELD_ENCRYPTION_KEY"], identity_config["FIELD_HASH_KEY"]))
    secret, password = credentials.new_totp_secret(), strong_password()
    argv = ["user", "--config", str(config), "--username", "casey.admin", "--email", "casey@carrier.example",
            "--first", "Casey", "--last", "Admin", "--kind", "carrier", "--password", password,
            "--totp-secret", secret]
    assert bootstrap.main(argv) == 0
    seeded = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert seeded["username"] == "casey.admin" and seeded["totp_secret"] == secret and seeded["user_id"]

    signed_in = sign_in(identity, None, {"username": "casey.admin", "password": password, "totp_secret": secret})
    assert TokenVerifier(signing_keys[1]).verify(signed_in["access_token"])["carrier"] is True
    assert signed_in["user"]["kind"] == "carrier"
    assert [g["group_number"] for g in signed_in["user"]["groups"]] == [group]  # carrier staff: every group

    assert bootstrap.main(argv) == bootstrap.EXIT_EXISTS  # never replaces an existing user's password
    assert "taken" in capsys.readouterr().err
    weak = ["user", "--config", str(config), "--username", "pat.weak", "--email", "pat@x.example", "--first", "Pat",
            "--last", "Weak", "--kind", "group", "--group", group, "--role", "viewer", "--password", "password1234"]
    assert bootstrap.main(weak) == bootstrap.EXIT_INVALID
    unknown_group = weak[:-1] + [strong_password()]
    unknown_group[unknown_group.index(group)] = "999999"
    assert bootstrap.main(unknown_group) == bootstrap.EXIT_INVALID
    assert "not known to identity yet" in capsys.readouterr().err


# --- secrets stay secret ------------------------------------------------------------------------------------------

def test_no_password_code_or_token_reaches_a_log_line_or_a_table(
        identity, identity_config, mail_dir, email_user, identity_db, caplog):
    caplog.set_level(logging.DEBUG, logger="identity")
    caplog.set_level(logging.DEBUG, logger="servicekit")
    caplog.set_level(logging.INFO)
    secrets = {email_user["password"], "Wrong-guess-secret-1"}
    refusal(login, identity, email_user["username"], "Wrong-guess-secret-1")
    challenge = login(identity, email_user["username"], email_user["password"])
    secrets.add(challenge["mfa_token"])
    identity.call("send_mfa_email_code", {"mfa_token": challenge["mfa_token"]})
    code = code_in(wait_mail(mail_dir, email_user["email"]))
    wrong_code = "%06d" % ((int(code) + 1) % 1000000)
    secrets |= {code, wrong_code}
    refusal(identity.call, "verify_mfa", {"mfa_token": challenge["mfa_token"], "code": wrong_code})
    signed_in = identity.call("verify_mfa", {"mfa_token": challenge["mfa_token"], "code": code})
    refreshed = identity.call("refresh", {"refresh_token": signed_in["refresh_token"]})
    secrets |= {signed_in["access_token"], signed_in["refresh_token"], refreshed["access_token"],
                refreshed["refresh_token"]}
    setup = call_from(identity_config, "start_totp_setup", token=refreshed["access_token"])
    totp_code = Totp.code(setup["secret"])
    secrets |= {setup["secret"], totp_code}
    call_from(identity_config, "confirm_totp_setup", {"code": totp_code}, token=refreshed["access_token"])
    new_password = strong_password()
    secrets.add(new_password)
    refusal(call_from, identity_config, "change_password",
            {"current_password": "Wrong-current-password", "new_password": new_password},
            token=refreshed["access_token"])
    secrets.add("Wrong-current-password")
    call_from(identity_config, "change_password",
              {"current_password": email_user["password"], "new_password": new_password},
              token=refreshed["access_token"])
    identity.call("reset_password", {"username_or_email": email_user["username"]})
    reset_token = token_in(wait_mail(mail_dir, email_user["email"], 3))
    secrets.add(reset_token)
    identity.call("logout", {"refresh_token": refreshed["refresh_token"]})
    wait_for(lambda: not _unpublished(identity_db), message="the outbox relay")

    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    stored = _every_table_as_text(identity_db)
    for secret in secrets:
        pattern = re.compile(r"(?<![0-9])%s(?![0-9])" % re.escape(secret))
        assert not pattern.search(logged), "a secret reached the log"
        assert not pattern.search(stored), "a secret is stored in clear"
    assert len(audit_rows(identity_db)) >= 10 and caplog.records


def _unpublished(engine):
    with Session(engine) as session:
        return session.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar()


def _every_table_as_text(engine):
    with Session(engine) as session:
        names = session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return "\n".join("\t".join(str(value) for value in row) for name in names  # str(row) would abbreviate
                         for row in session.execute(text('SELECT * FROM "%s"' % name)).all())
