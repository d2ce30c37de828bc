"""Credentials, pure: password hashing and policy, TOTP (RFC 6238), one-time codes, and sign-in throttling.

No nameko, no database: the entrypoints (identity.auth_entrypoints) load what these rules need and store what
they return. The numbers are DOMAIN.md's security rows:
- passwords: argon2id with at least 19 MiB of memory and 2 iterations (OWASP ASVS), re-hashed on sign-in when
  the configured parameters rise; NIST SP 800-63B rules: 12 to 128 characters, any characters, no composition
  rules, but not a very common password, the username, or one character (or a short run) repeated;
- TOTP: RFC 6238 with HMAC-SHA1, 6 digits, 30-second steps, the step before and after accepted for clock
  drift, a step never accepted twice (§5.2);
- codes: 6 random digits for what people type from an e-mail, 32 random bytes (URL-safe) for links; only
  their SHA-256 is stored;
- throttling: failed guesses per account (the typed username, so an unknown username is throttled exactly
  like a known one) at most 100 in a rolling hour, plus a short back-off after 5 failures in a row (30 s,
  doubling, at most 15 minutes), so the owner is never locked out for long; per address at most 300 an hour.
"""
import base64
import binascii
import hashlib
import hmac
import math
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# --- passwords ---------------------------------------------------------------------------------------------

MIN_TIME_COST = 2          # iterations
MIN_MEMORY_KIB = 19 * 1024  # 19 MiB
PARALLELISM = 1
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128  # long enough for any passphrase, short enough that hashing one is no denial of service

# Very common passwords of 12 characters or more (shorter ones fail on length already), lower-cased.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456123456", "123123123123", "111111111111",
    "000000000000", "password1234", "password12345", "password123!", "passw0rd1234", "passwordpassword",
    "password1password1", "qwertyuiop12", "qwertyuiopasdf", "qwerty123456", "qwertyqwerty", "1q2w3e4r5t6y",
    "1qaz2wsx3edc", "zaq12wsxcde3", "asdfghjkl123", "iloveyou1234", "letmein12345", "welcome12345",
    "welcome123456", "administrator", "administrator1", "changeme1234", "trustno1trustno1", "abcdefghijkl",
    "abc123abc123", "football1234", "baseball1234", "monkey123456", "sunshine1234", "princess1234",
    "superman1234", "starwars1234", "benefitsportal", "benefits1234", "healthplan123", "insurance123",
})
SERVICE_WORDS = ("benefitsportal", "benefits portal")


class PasswordHashing:
    """argon2id hashing with the configured cost, never below the minimums.

    `verify(None, password)` does the same work against a dummy hash and answers False: a sign-in for an
    unknown username (or an account without a password yet) takes as long as a wrong password.
    """

    def __init__(self, time_cost=MIN_TIME_COST, memory_kib=MIN_MEMORY_KIB, parallelism=PARALLELISM):
        time_cost, memory_kib = int(time_cost), int(memory_kib)
        if time_cost < MIN_TIME_COST or memory_kib < MIN_MEMORY_KIB:
            raise ValueError("argon2id needs at least %d iterations and %d KiB (DOMAIN.md)"
                             % (MIN_TIME_COST, MIN_MEMORY_KIB))
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=int(parallelism),
                                      hash_len=32, salt_len=16, type=Type.ID)
        # Made now, not at the first unknown username: that sign-in would take twice as long as the others.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_config(cls, config):
        """PASSWORD_TIME_COST / PASSWORD_MEMORY_KIB may raise the cost (an empty value keeps the minimum)."""
        return cls(config.get("PASSWORD_TIME_COST") or MIN_TIME_COST,
                   config.get("PASSWORD_MEMORY_KIB") or MIN_MEMORY_KIB)

    def hash(self, password):
        return self._hasher.hash(normalise_password(password))

    def verify(self, stored_hash, password):
        if not stored_hash:
            self._matches(self._dummy, password)  # the same work, and the answer is no
            return False
        return self._matches(stored_hash, password)

    def _matches(self, stored_hash, password):
        try:
            return self._hasher.verify(stored_hash, normalise_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash):
        """True when the hash was made with weaker parameters than the configured ones."""
        return self._hasher.check_needs_rehash(stored_hash)


def normalise_password(password):
    """NFKC, as NIST 800-63B asks: the same password typed on another keyboard (composed or decomposed
    accents) is the same password."""
    return unicodedata.normalize("NFKC", password)


def password_problems(password, username=None):
    """What is wrong with a new password, as messages for the form (empty: acceptable). Never repeats it."""
    if not isinstance(password, str):
        return ["Enter a password."]
    password = normalise_password(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        return ["Use at least %d characters; a few words in a row make a good password." % MIN_PASSWORD_LENGTH]
    if len(password) > MAX_PASSWORD_LENGTH:
        return ["Use at most %d characters." % MAX_PASSWORD_LENGTH]
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or any(word in lowered for word in SERVICE_WORDS):
        return ["This password is too common; choose another."]
    if username and len(username) >= 3 and username.strip().lower() in lowered:
        return ["The password must not contain your username."]
    if _repeats_a_short_run(lowered):
        return ["The password must not be one character or a short sequence repeated."]
    return []


def _repeats_a_short_run(text):
    """'aaaaaaaaaaaa', 'abcabcabcabc', '121212121212': a unit of 1 to 3 characters repeated."""
    for size in (1, 2, 3):
        unit = text[:size]
        if len(text) % size == 0 and unit * (len(text) // size) == text:
            return True
    return False


# --- one-time codes and tokens ------------------------------------------------------------------------------

CODE_DIGITS = 6
TOKEN_BYTES = 32


def new_code(digits=CODE_DIGITS):
    """A random numeric code for an e-mail ("042917"): what a person types."""
    return "%0*d" % (digits, secrets.randbelow(10 ** digits))


def new_token(nbytes=TOKEN_BYTES):
    """A random URL-safe token for a link or a refresh token (32 bytes: not guessable, not enumerable)."""
    return secrets.token_urlsafe(nbytes)


def hash_code(value):
    """SHA-256 (hex) of a code or token: what is stored. A plain hash is enough for random values (a 6-digit
    code is also short-lived and limited to a few attempts); passwords use argon2id instead."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def same_hash(a, b):
    return hmac.compare_digest(str(a), str(b))


def account_key(name):
    """The throttling key of a typed username (or another identifier): SHA-256 of its lower-cased form, so
    the attempts table holds no usernames (people type passwords into the username field) and an unknown
    username is counted exactly like a known one."""
    return hash_code(str(name).strip().lower())


# --- TOTP (RFC 6238) -------------------------------------------------------------------------------------------

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1          # steps accepted either side of the current one (clock drift)
TOTP_SECRET_BYTES = 20   # 160 bits: RFC 4226's recommended length for HMAC-SHA1
ISSUER = "Benefits Portal"


class TotpRejected(Exception):
    """reason: "wrong" (no step in the window matches) or "reused" (it matches a step already used)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def new_totp_secret():
    """A base32 secret (32 characters, no padding) as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii").rstrip("=")


def _secret_bytes(secret):
    text = str(secret).replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("not a base32 TOTP secret") from None


def time_step(at):
    """The RFC 6238 time step of a datetime or epoch seconds."""
    seconds = at.timestamp() if isinstance(at, datetime) else float(at)
    return int(seconds // TOTP_STEP_SECONDS)


def totp_code(secret, step, digits=TOTP_DIGITS, digest=hashlib.sha1):
    """The code of one time step (RFC 4226 HOTP over the step counter, dynamic truncation)."""
    mac = hmac.new(_secret_bytes(secret), struct.pack(">Q", step), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%0*d" % (digits, value % 10 ** digits)


def verify_totp(secret, code, at, last_used_step=None):
    """The time step `code` matches within ±1 step of `at`; raises TotpRejected.

    A step at or before `last_used_step` is refused ("reused"): a code is never accepted twice, and neither is
    an older one after a newer one was used (an intercepted code must not work later in the window).
    """
    code = str(code).strip()
    if not (len(code) == TOTP_DIGITS and code.isdigit()):
        raise TotpRejected("wrong")
    now = time_step(at)
    matched = [step for step in range(now - TOTP_WINDOW, now + TOTP_WINDOW + 1)
               if hmac.compare_digest(totp_code(secret, step), code)]
    if not matched:
        raise TotpRejected("wrong")
    fresh = [step for step in matched if last_used_step is None or step > last_used_step]
    if not fresh:
        raise TotpRejected("reused")
    return max(fresh)


def otpauth_uri(secret, username, issuer=ISSUER):
    """otpauth://totp/Issuer:username?secret=...&issuer=...: what the QR code holds (Key Uri Format)."""
    label = quote("%s:%s" % (issuer, username), safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": TOTP_DIGITS,
                       "period": TOTP_STEP_SECONDS}, quote_via=quote)
    return "otpauth://totp/%s?%s" % (label, query)


# --- throttling ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    window: timedelta = timedelta(hours=1)
    account_failures_per_window: int = 100   # ASVS 2.2.1: at most 100 guesses an hour per account
    address_failures_per_window: int = 300   # one address trying many accounts (or a shared office NAT)
    free_failures: int = 5                   # typing mistakes before any back-off
    first_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(minutes=15)   # the longest the owner ever waits

    def backoff(self, consecutive_failures):
        """The wait after `consecutive_failures` failures in a row: none for the first few, then doubling."""
        if consecutive_failures < self.free_failures:
            return timedelta(0)
        doublings = min(consecutive_failures - self.free_failures, 16)  # 2**16 * 30 s is far past the cap
        return min(self.first_backoff * (2 ** doublings), self.max_backoff)

    def wait(self, now, account_attempts, address_failures):
        """Whole seconds to wait before the next guess may be checked (0: go ahead).

        account_attempts: (at, succeeded) of the account within the window, oldest first; a success ends a
        run of failures. address_failures: failure times of the address within the window, any order.
        """
        failures = [at for at, succeeded in account_attempts if not succeeded]
        consecutive = 0
        for _at, succeeded in reversed(account_attempts):
            if succeeded:
                break
            consecutive += 1
        until = now
        if consecutive:
            until = max(until, failures[-1] + self.backoff(consecutive))
        for times, limit in ((failures, self.account_failures_per_window),
                             (address_failures, self.address_failures_per_window)):
            if len(times) >= limit:
                # The count drops below the limit when the limit-th newest failure leaves the rolling window.
                until = max(until, sorted(times, reverse=True)[limit - 1] + self.window)
        return math.ceil((until - now).total_seconds())


THROTTLE = Throttle()
