"""Messaging rules, free of nameko: issue-report references, the pre-sign-in throttle, e-mail texts."""
import secrets
from datetime import timedelta

# Crockford base32 without look-alikes, so a reference read over the phone is unambiguous.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The pre-sign-in form is open to anyone: this many reports per sender address per window.
REPORTS_PER_SENDER = 5
REPORT_WINDOW = timedelta(hours=1)

ISSUE_CATEGORIES = ("registration", "username_recovery", "password_reset", "sign_in", "other")


def new_issue_reference(today):
    """IR-<YYYYMMDD>-<6 characters>, e.g. IR-20261123-7KQ3MZ: the date it came in and six random characters."""
    suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
    return "IR-%s-%s" % (today.strftime("%Y%m%d"), suffix)


def sender_may_report(reports_in_window):
    return reports_in_window < REPORTS_PER_SENDER


def issue_confirmation_email(reference):
    """The confirmation: the reference only. No description or personal data travels by e-mail."""
    subject = "We received your report %s" % reference
    body = (
        "Thank you for letting us know about a problem with the employer portal.\n\n"
        "Your reference number is %s. Our portal support team will contact you at this address.\n\n"
        "If you did not send this report, you can ignore this message.\n" % reference
    )
    return subject, body
