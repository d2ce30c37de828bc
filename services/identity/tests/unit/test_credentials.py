"""identity.domain.credentials: argon2id hashing, the password policy, TOTP (RFC 6238), codes and throttling; and
that passwords travel untrimmed and never into the audit."""
import hashlib
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from identity.audit import record_audit
from identity.domain import credentials
from identity.domain.credentials import THROTTLE, PasswordHashing, TotpRejected
from portal_contracts.identity_auth import LoginInput

NOW = datetime(2026, 11, 3, 14, 0, tzinfo=timezone.utc)


# --- passwords ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hashing():
    return PasswordHashing()


def test_passwords_are_hashed_with_argon2id_at_19_mib_and_2_iterations(hashing):
    stored = hashing.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct horse battery" not in stored
    assert hashing.verify(stored, "correct horse battery")
    assert not hashing.verify(stored, "correct horse batterY")


def test_the_same_password_hashes_differently_each_time(hashing):
    assert hashing.hash("correct horse battery") != hashing.hash("correct horse battery")  # salted


def test_an_unknown_account_is_checked_against_a_dummy_hash_and_never_matches(hashing):
    assert hashing.verify(None, "") is False
    assert hashing.verify(None, "correct horse battery") is False
    assert hashing.verify("not a hash", "anything") is False


def test_a_hash_made_with_weaker_parameters_needs_rehashing():
    weaker = PasswordHashing().hash("correct horse battery")
    stronger = PasswordHashing(time_cost=3)
    assert stronger.verify(weaker, "correct horse battery")  # still signs in ...
    assert stronger.needs_rehash(weaker)                     # ... and is re-hashed then
    assert not stronger.needs_rehash(stronger.hash("correct horse battery"))


def test_the_cost_cannot_be_configured_below_the_minimum():
    with pytest.raises(ValueError):
        PasswordHashing(time_cost=1)
    with pytest.raises(ValueError):
        PasswordHashing(memory_kib=16 * 1024)
    assert PasswordHashing.from_config({"PASSWORD_TIME_COST": "", "PASSWORD_MEMORY_KIB": None}).hash(
        "correct horse battery").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHashing.from_config({"PASSWORD_TIME_COST": "3", "PASSWORD_MEMORY_KIB": "32768"}).hash(
        "correct horse battery").startswith("$argon2id$v=19$m=32768,t=3,p=1$")


def test_composed_and_decomposed_accents_are_the_same_password(hashing):
    composed, decomposed = "caf\u00e9 au lait tous les jours", "cafe\u0301 au lait tous les jours"
    assert hashing.verify(hashing.hash(composed), decomposed)


@pytest.mark.parametrize("password", [
    "correct horse battery", "Tr0ub4dor&3xyz", "twelve chars", "  spaces count  ",
    "\u00e9t\u00e9 \u00e0 Montr\u00e9al 2026", ("correct horse battery staple " * 5)[:128]])
def test_long_enough_passwords_are_accepted_without_composition_rules(password):
    assert credentials.password_problems(password, "dana.w") == []


@pytest.mark.parametrize("password, problem", [
    ("short pass1", "at least 12"),
    ("x" * 129, "at most 128"),
    ("Password1234", "too common"),
    ("qwerty123456", "too common"),
    ("my benefitsportal login", "too common"),
    ("dana.whitfield-2026", "username"),
    ("aaaaaaaaaaaaaaa", "repeated"),
    ("abcabcabcabc", "repeated"),
])
def test_weak_passwords_are_refused_with_a_reason_that_never_repeats_them(password, problem):
    problems = credentials.password_problems(password, "Dana.Whitfield")
    assert problems and problem in problems[0]
    assert password not in problems[0]


# --- codes -------------------------------------------------------------------------------------------------------

def test_codes_are_6_random_digits_and_tokens_32_random_bytes():
    found = {credentials.new_code() for _ in range(200)}
    assert all(re.fullmatch(r"\d{6}", code) for code in found) and len(found) > 190
    token = credentials.new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token) and token != credentials.new_token()


def test_codes_are_stored_as_sha256():
    assert credentials.hash_code("042917") == hashlib.sha256(b"042917").hexdigest()


def test_the_account_key_ignores_case_and_blanks_and_holds_no_username():
    key = credentials.account_key("  Dana.Whitfield ")
    assert key == credentials.account_key("dana.whitfield") and "dana" not in key and len(key) == 64


# --- TOTP ----------------------------------------------------------------------------------------------------------

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890", RFC 6238 appendix B's SHA-1 seed


@pytest.mark.parametrize("seconds, expected", [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
    (2000000000, "69279037"), (20000000000, "65353130")])
def test_rfc_6238_appendix_b_sha1_vectors(seconds, expected):
    step = credentials.time_step(seconds)
    assert credentials.totp_code(RFC_SECRET, step, digits=8) == expected
    assert credentials.totp_code(RFC_SECRET, step) == expected[-6:]  # 6 digits: the same value mod 10**6


def test_a_code_is_accepted_one_step_either_side_and_returns_its_step():
    at = datetime.fromtimestamp(1234567890, timezone.utc)
    now = credentials.time_step(at)
    for step in (now - 1, now, now + 1):
        assert credentials.verify_totp(RFC_SECRET, credentials.totp_code(RFC_SECRET, step), at) == step
    for step in (now - 2, now + 2):
        with pytest.raises(TotpRejected) as rejected:
            credentials.verify_totp(RFC_SECRET, credentials.totp_code(RFC_SECRET, step), at)
        assert rejected.value.reason == "wrong"


def test_a_used_step_and_older_ones_are_never_accepted_again():
    at = datetime.fromtimestamp(1234567890, timezone.utc)
    now = credentials.time_step(at)
    code = credentials.totp_code(RFC_SECRET, now)
    step = credentials.verify_totp(RFC_SECRET, code, at)
    with pytest.raises(TotpRejected) as reused:
        credentials.verify_totp(RFC_SECRET, code, at, last_used_step=step)
    assert reused.value.reason == "reused"
    with pytest.raises(TotpRejected):  # the previous step's code, after a newer one was used
        credentials.verify_totp(RFC_SECRET, credentials.totp_code(RFC_SECRET, now - 1), at, last_used_step=step)
    assert credentials.verify_totp(RFC_SECRET, credentials.totp_code(RFC_SECRET, now + 1), at,
                                   last_used_step=step) == now + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345x", None])
def test_malformed_codes_are_wrong(code):
    with pytest.raises(TotpRejected):
        credentials.verify_totp(RFC_SECRET, code, NOW)


def test_new_secrets_are_160_bit_base32_and_the_uri_names_issuer_and_user():
    secret = credentials.new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret) and secret != credentials.new_totp_secret()
    uri = credentials.otpauth_uri(secret, "dana.w")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/Benefits Portal:dana.w"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret] and query["issuer"] == ["Benefits Portal"]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]


# --- throttling -------------------------------------------------------------------------------------------------

def _failures(count, last_at=NOW, spacing=timedelta(seconds=1)):
    return [(last_at - spacing * (count - 1 - index), False) for index in range(count)]


def test_five_failures_in_a_row_cost_nothing_then_the_wait_doubles_up_to_15_minutes():
    assert THROTTLE.wait(NOW, _failures(4), []) == 0
    assert THROTTLE.wait(NOW, _failures(5), []) == 30
    assert THROTTLE.wait(NOW, _failures(6), []) == 60
    assert THROTTLE.wait(NOW, _failures(7), []) == 120
    assert THROTTLE.wait(NOW, _failures(20), []) == 15 * 60  # the cap: never a long lock-out


def test_the_back_off_counts_from_the_last_failure_and_then_lets_the_owner_in():
    attempts = _failures(5)
    assert THROTTLE.wait(NOW + timedelta(seconds=10), attempts, []) == 20
    assert THROTTLE.wait(NOW + timedelta(seconds=30), attempts, []) == 0


def test_a_success_ends_the_run_of_failures():
    attempts = _failures(8, NOW - timedelta(seconds=10)) + [(NOW - timedelta(seconds=5), True)] + _failures(2)
    assert THROTTLE.wait(NOW, attempts, []) == 0


def test_at_most_100_failures_an_hour_per_account_however_slowly_they_come():
    # 100 failures in the last hour, each but the last followed by a success (so no back-off applies): the next
    # guess waits until the oldest failure leaves the rolling hour.
    attempts = []
    for index in range(100):
        at = NOW - timedelta(minutes=59) + timedelta(seconds=35 * index)
        attempts += [(at, False), (at + timedelta(seconds=1), True)]
    attempts.pop()
    assert THROTTLE.wait(NOW, attempts, []) == 60  # the oldest, 59 minutes ago, leaves in a minute
    assert THROTTLE.wait(NOW, attempts[2:], []) == 0  # 99 failures in the hour: go ahead


def test_at_most_300_failures_an_hour_per_address():
    failures = [NOW - timedelta(minutes=50) + timedelta(seconds=index) for index in range(300)]
    assert THROTTLE.wait(NOW, [], failures) == 10 * 60  # until the oldest is an hour old
    assert THROTTLE.wait(NOW, [], failures[1:]) == 0


# --- where passwords and codes travel ----------------------------------------------------------------------------

def test_the_wire_keeps_a_password_as_typed_and_trims_everything_else():
    loaded = LoginInput().load({"username": "  dana.w ", "password": "  correct horse  ", "remote_addr": ""})
    assert loaded == {"username": "dana.w", "password": "  correct horse  ", "remote_addr": None}
    assert "password" not in LoginInput().dump(loaded)


@pytest.mark.parametrize("key", ["password", "new_password", "code", "registration_code", "refresh_token",
                                 "totp_secret"])
def test_the_audit_refuses_details_that_would_hold_a_secret(key):
    with pytest.raises(ValueError):
        record_audit(None, "sign_in", "success", details={key: "x"})
