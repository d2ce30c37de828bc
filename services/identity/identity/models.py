"""The identity service's own tables (its database also holds the kit's tables: servicekit.tables).

People and their access: users, their grants (a role on a group, optionally limited to subgroups; a
delegate's grant lists its actions), sessions (refresh tokens, stored hashed), one-time codes (stored
hashed), used TOTP steps, registration codes and invitations, access requests, the old portal's users
awaiting their link, identity's copy of groups from roster's events, and the security audit log.
No secret is stored in clear: passwords are argon2id hashes, codes and refresh tokens SHA-256 hashes,
TOTP secrets encrypted with the field key (servicekit.crypto).
"""
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), unique=True)       # public id, the token's `sub`
    username: Mapped[str | None] = mapped_column(String(64))             # NULL until set-up completes
    username_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # lower-cased, for uniqueness
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_email: Mapped[str | None] = mapped_column(String(254))      # a new address awaiting its code
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(12), default="group")      # group | broker | tpa | carrier
    firm_name: Mapped[str | None] = mapped_column(String(200))          # a broker's or TPA's firm
    password_hash: Mapped[str | None] = mapped_column(Text)             # argon2id; NULL until set
    totp_secret_ciphertext: Mapped[str | None] = mapped_column(Text)    # set once confirmed
    totp_pending_ciphertext: Mapped[str | None] = mapped_column(Text)   # during set-up, before confirmation
    mfa_method: Mapped[str] = mapped_column(String(8), default="email")  # email | totp
    status: Mapped[str] = mapped_column(String(16))                     # invited | unverified | active | deactivated
    legacy_username: Mapped[str | None] = mapped_column(String(64))     # the old portal's, once linked
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """A user's role on one group; `subgroups` NULL = the whole group; `actions` only for delegates."""
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    group_number: Mapped[str] = mapped_column(String(20), index=True)
    role: Mapped[str] = mapped_column(String(24))
    subgroups: Mapped[list | None] = mapped_column(JSON)
    actions: Mapped[list | None] = mapped_column(JSON)
    granted_by: Mapped[str | None] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(40))


class Session(Base):
    """A signed-in session: its refresh token (hashed) is revocable; rotation replaces the hash."""
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class OneTimeCode(Base):
    """A single-use secret sent by e-mail (or shown once): stored hashed, with its purpose and expiry.

    purpose: email_verification, email_change, mfa_login, password_reset, account_setup, legacy_link,
    mfa_challenge (the token between password and second factor)."""
    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class UsedTotpStep(Base):
    """A TOTP time step already accepted for a user: a code is never accepted twice (RFC 6238 §5.2)."""
    __tablename__ = "used_totp_steps"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInAttempt(Base):
    """Failed (and successful) password checks, for throttling per account and per address."""
    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64))   # sha256 of the lower-cased username typed
    remote_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_attempts_account_at", "account_key", "at"),
                      Index("ix_attempts_addr_at", "remote_addr", "at"))


class RegistrationCode(Base):
    """A group's registration code, printed in its welcome letter by carrier staff; expires."""
    __tablename__ = "registration_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_number: Mapped[str] = mapped_column(String(20), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(24))                     # the role it gives (default group_admin)
    issued_by: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[list] = mapped_column(JSON, default=list)         # user ids: single use per user


class Invitation(Base):
    """An invitation a group admin sends (or an approved access request makes): role, subgroups, expiry."""
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_number: Mapped[str] = mapped_column(String(20), index=True)
    email_key: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(24))
    subgroups: Mapped[list | None] = mapped_column(JSON)
    invited_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessRequest(Base):
    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    group_number: Mapped[str] = mapped_column(String(20), index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(254))
    requested_role: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))                   # pending | approved | denied
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    granted_role: Mapped[str | None] = mapped_column(String(24))      # an approval's role and subgroup limit
    granted_subgroups: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LegacyUser(Base):
    """A user of the old portal, imported by carrier staff, waiting to link an account."""
    __tablename__ = "legacy_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_username_key: Mapped[str] = mapped_column(String(64), unique=True)
    old_username: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str] = mapped_column(String(254))
    old_role: Mapped[str] = mapped_column(String(40))
    groups: Mapped[list] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    linked_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class KnownGroup(Base):
    """identity's copy of a group from roster's events (group_created / group_updated / subgroup_created)."""
    __tablename__ = "known_groups"

    group_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    subgroups: Mapped[list] = mapped_column(JSON, default=list)       # [{subgroup_number, name, status}]


class AuditEntry(Base):
    """Security audit: who, what, when, from where, outcome. Never a password, code or token."""
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str | None] = mapped_column(String(40))      # user id acting (NULL: anonymous)
    subject: Mapped[str | None] = mapped_column(String(40))    # user id acted on
    action: Mapped[str] = mapped_column(String(40))            # sign_in, sign_in_failed, mfa_verified, ...
    outcome: Mapped[str] = mapped_column(String(16))           # success | failure | refused
    group_number: Mapped[str | None] = mapped_column(String(20))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_subject_at", "subject", "at"), Index("ix_audit_action_at", "action", "at"))
