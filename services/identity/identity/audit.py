"""The security audit log (the `audit_log` table): who did what, when, from where, and how it ended.

Written in the same transaction as the change it records, so the log never claims a change that did not
happen; a refusal (a wrong password, a wrong code) is committed on its own by the entrypoint that refuses.
Carrier staff read it through the admin side's list_audit (GET /api/v1/audit).

Never a password, code or token: `details` are ids, roles, reasons and field names, and a key that names a
secret is refused outright, so a careless caller fails in tests instead of leaking in production.
"""
from identity.models import AuditEntry
from servicekit import clock

OUTCOMES = ("success", "failure", "refused")
# Detail keys that would hold a secret. "code" also catches e.g. "registration_code"; say "proof" instead.
SECRET_WORDS = ("password", "code", "token", "secret")


def record_audit(session, action, outcome, *, actor=None, subject=None, group_number=None, remote_addr=None,
                 details=None):
    """Add one audit row to `session`'s transaction and return it.

    action: what happened (sign_in, sign_in_failed, password_changed, ...); outcome: success, failure
    (the person got it wrong) or refused (not allowed, e.g. throttled); actor: the public user id acting
    (None: anonymous); subject: the public user id acted on.
    """
    if outcome not in OUTCOMES:
        raise ValueError("audit outcome must be one of %s, not %r" % (", ".join(OUTCOMES), outcome))
    for key in details or {}:
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ValueError("audit details must not carry secrets (%r)" % key)
    entry = AuditEntry(at=clock.utcnow(), actor=actor, subject=subject, action=action, outcome=outcome,
                       group_number=group_number, remote_addr=(remote_addr or None) and str(remote_addr)[:64],
                       details=details or None)
    session.add(entry)
    return entry
