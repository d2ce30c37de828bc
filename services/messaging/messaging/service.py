"""The messaging service: secure threads, "ask a question", issue reports, forms and notices.

This milestone: "Report an Issue" before sign-in, end to end (validate, throttle per sender,
store, publish through the outbox, confirm by e-mail after the commit).
"""
import hashlib
import hmac
from datetime import datetime, timezone

from sqlalchemy import func, select

from messaging import domain, events
from messaging.consumes import IssueReported
from messaging.models import IssueReport
from messaging.schemas import IssueReportInput, IssueReportReceipt
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import TooManyRequests, load_input
from servicekit.events import consumer
from servicekit.idempotency import idempotent
from servicekit.mail import MailerProvider
from servicekit.service import PortalService


class MessagingService(PortalService):
    name = "messaging"
    mailer = MailerProvider()

    @rpc
    # Anonymous callers share one scope, so the sender's address keeps their keys apart.
    @idempotent(target=lambda report: "issue-report:%s" % (report or {}).get("remote_addr", ""))
    def report_issue(self, report):
        data = load_input(IssueReportInput(), report)
        now = datetime.now(timezone.utc)
        sender = self._sender_hash(data.pop("remote_addr"))
        recent = self.db.scalar(select(func.count()).select_from(IssueReport).where(
            IssueReport.sender_hash == sender, IssueReport.created_at >= now - domain.REPORT_WINDOW))
        if not domain.sender_may_report(recent):
            raise TooManyRequests("Too many reports from your address; please try again in an hour or call us.")
        issue = IssueReport(reference=domain.new_issue_reference(clock.today()), channel="pre_sign_in",
                            sender_hash=sender, status="received", created_at=now, **data)
        self.db.add(issue)
        self.db.flush()
        self.outbox.record(events.ISSUE_REPORTED, events.IssueReported().dump(issue),
                           aggregate_id="issue:%s" % issue.reference, group_id=issue.group_number)
        return IssueReportReceipt().dump(
            {"reference": issue.reference, "status": issue.status, "received_at": issue.created_at})

    @consumer("messaging", events.ISSUE_REPORTED, ordered=False)
    def send_issue_confirmation(self, envelope):
        """Mail the confirmation only once the report is committed (the event comes from the outbox)."""
        reference = IssueReported().load(envelope["data"])["reference"]
        issue = self.db.scalar(select(IssueReport).where(IssueReport.reference == reference))
        if issue is None or issue.confirmation_sent_at is not None:
            return
        subject, body = domain.issue_confirmation_email(reference)
        self.mailer.send(issue.email, subject, body)
        issue.confirmation_sent_at = datetime.now(timezone.utc)

    def _sender_hash(self, remote_addr):
        key = (self.config.get("FIELD_HASH_KEY") or "").encode()
        return hmac.new(key, remote_addr.encode(), hashlib.sha256).hexdigest()
