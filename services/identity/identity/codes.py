"""One-time codes and tokens (the `one_time_codes` table): issue one, check one, use it up.

Every secret identity sends (an e-mailed 6-digit code, a link's token, the token between password and second
factor) is stored as its SHA-256 only, with its purpose, expiry and owner, and works once. Purposes and their
lifetimes (DOMAIN.md: codes 10 minutes, password reset 30 minutes): email_verification, email_change,
mfa_login, legacy_link (6 digits, 10 minutes); mfa_challenge (token, 5 minutes); password_reset (token,
30 minutes); account_setup (token, 72 hours, issued by the admin side).

A 6-digit code is checked against its owner's newest code of that purpose, never looked up by value (a
million values would match someone's code); each wrong try counts, and after MAX_ATTEMPTS the code is dead
and the person asks for a new one. A token (32 random bytes) is looked up by its hash.

Counted attempts are written to the caller's session; the entrypoints commit them even though the call fails
(see AuthEntrypoints._refuse): a rolled-back count would allow unlimited guesses.
"""
from datetime import timedelta, timezone

from sqlalchemy import select, update

from identity.domain.credentials import hash_code, new_code, new_token, same_hash
from identity.models import OneTimeCode
from servicekit import clock
from servicekit.errors import ValidationFailed

MAX_ATTEMPTS = 5


class InvalidCode(ValidationFailed):
    """Wrong, expired, used up, or too many tries: one answer for all, so the answer tells a guesser nothing."""
    code = "invalid_code"
    title = "The code is wrong, expired or already used"

    def __init__(self, detail=None, field="code"):
        detail = detail or "The code is wrong, expired or already used; ask for a new one if it keeps failing."
        super().__init__(detail, errors={field: [detail]})


def issue_code(session, user, purpose, ttl, data=None, token=False, subject=None):
    """A new code (6 digits) or token (token=True) for `user` and `purpose`, valid for `ttl` (a timedelta or
    seconds); returns the plaintext, which is sent and never stored. The owner's earlier unused codes of the
    same purpose stop working, so only the newest e-mail counts.

    `subject` binds a code to something that is not a user yet (an old-portal account: "legacy:<id>"); it is
    kept in `data["subject"]` and checked by consume_code.
    """
    if user is None and subject is None:
        raise ValueError("a code belongs to a user or a subject")
    if not isinstance(ttl, timedelta):
        ttl = timedelta(seconds=ttl)
    now = clock.utcnow()
    session.execute(update(OneTimeCode).where(*_owner_filter(purpose, user, subject),
                                              OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now)
                    .values(expires_at=now))
    plaintext = new_token() if token else new_code()
    stored = dict(data or {})
    if subject is not None:
        stored["subject"] = subject
    session.add(OneTimeCode(user_id=user.id if user is not None else None, purpose=purpose,
                            code_hash=hash_code(plaintext), data=stored or None, created_at=now,
                            expires_at=now + ttl, used_at=None, attempts=0))
    session.flush()
    return plaintext


def find_token(session, purpose, token):
    """The live row of a token (unused, unexpired, not tried too often), locked for this transaction; or None."""
    row = session.scalars(select(OneTimeCode).where(OneTimeCode.purpose == purpose,
                                                    OneTimeCode.code_hash == hash_code(token))
                          .with_for_update()).first()
    return row if row is not None and _alive(row) else None


def consume_code(session, purpose, code, user=None, subject=None):
    """Use up a code or token: the OneTimeCode row (its `data` and `user_id` say what it was for), or
    InvalidCode (422) when it is wrong, expired, used or tried too often.

    With `user` (or `subject`) the code is that owner's newest one of the purpose and a wrong value counts an
    attempt; without, the value is a token and is looked up by its hash.
    """
    if user is None and subject is None:
        row = find_token(session, purpose, code)
        if row is None:
            raise InvalidCode()
    else:
        row = _owned(session, purpose, user, subject)
        if row is None or not _alive(row):
            raise InvalidCode()
        if not same_hash(row.code_hash, hash_code(str(code).strip())):
            count_failed_attempt(session, row)
            raise InvalidCode()
    row.used_at = clock.utcnow()
    session.flush()
    return row


def count_failed_attempt(session, row):
    """One more wrong try at `row` (a code, or the sign-in token a wrong second factor was sent with)."""
    row.attempts = (row.attempts or 0) + 1
    session.flush()


def _owned(session, purpose, user, subject):
    """The owner's newest code of the purpose, locked: concurrent tries are counted one after the other."""
    return session.scalars(select(OneTimeCode).where(*_owner_filter(purpose, user, subject))
                           .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
                           .limit(1).with_for_update()).first()


def _owner_filter(purpose, user, subject):
    conditions = [OneTimeCode.purpose == purpose]
    if user is not None:
        conditions.append(OneTimeCode.user_id == user.id)
    if subject is not None:
        conditions.append(OneTimeCode.data["subject"].as_string() == subject)
    return conditions


def _alive(row):
    return (row.used_at is None and clock.utcnow() < _aware(row.expires_at)
            and (row.attempts or 0) < MAX_ATTEMPTS)


def _aware(value):
    # SQLite hands back naive datetimes; identity only ever stores UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
