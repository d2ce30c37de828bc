"""Outgoing e-mail: SMTP when `SMTP_HOST` is set, else a Maildir, so `make run` needs no mail server.

Config keys: `SMTP_HOST`, `SMTP_PORT` (default 25), `MAIL_FROM`, `SMTP_USERNAME`, `SMTP_PASSWORD`,
`SMTP_STARTTLS` (default: on when a username is set, so a password never crosses the network in
clear by accident), `MAIL_DIR` (default var/mail). A Maildir is a directory of one file per message
(`new/`), readable with any mail client or `read_maildir`, and written atomically (tmp/ then new/),
so a reader never sees half a message.
"""
import mailbox
import os
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid

from nameko.extensions import DependencyProvider

DEFAULT_MAIL_DIR = "var/mail"
DEFAULT_FROM = "Benefits Portal <no-reply@benefits.example>"
SMTP_TIMEOUT_SECONDS = 30  # smtplib has no timeout by default; a dead server must not hang a worker


def _flag(value, default):
    if value is None or str(value).strip() == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class Mailer:
    def __init__(self, config):
        self.smtp_host = config.get("SMTP_HOST") or None
        self.smtp_port = int(config.get("SMTP_PORT") or 25)
        self.username = config.get("SMTP_USERNAME") or None
        self.password = config.get("SMTP_PASSWORD") or None
        self.starttls = _flag(config.get("SMTP_STARTTLS"), default=bool(self.username))
        self.mail_from = config.get("MAIL_FROM") or DEFAULT_FROM
        self.mail_dir = config.get("MAIL_DIR") or DEFAULT_MAIL_DIR

    def build(self, to, subject, text_body):
        recipients = [to] if isinstance(to, str) else list(to)
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender_domain())
        message.set_content(text_body)
        return message

    def send(self, to, subject, text_body):
        """Send a plain-text message to one address or a list; returns its Message-ID."""
        message = self.build(to, subject, text_body)
        if self.smtp_host:
            self._send_smtp(message)
        else:
            # Maildir(create=True) makes only the last directory; var/ may not exist on a fresh checkout.
            os.makedirs(os.path.dirname(os.path.abspath(self.mail_dir)), exist_ok=True)
            mailbox.Maildir(self.mail_dir, create=True).add(message)
        return message["Message-ID"]

    def _send_smtp(self, message):
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    def _sender_domain(self):
        address = self.mail_from.rsplit("<", 1)[-1].rstrip(">")
        return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


class MailerProvider(DependencyProvider):
    """`mailer = MailerProvider()`: `self.mailer.send(to, subject, body)`."""

    def setup(self):
        self.mailer = Mailer(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.mailer


def read_maildir(path):
    """The messages delivered to a Maildir, oldest first, as dicts: to, subject, body, sender, message_id.

    A Maildir nothing was delivered to yet (no directory) reads as empty, so tests can poll it.
    """
    if not os.path.isdir(path):
        return []
    box = mailbox.Maildir(path, create=False)
    found = []
    for key in box.keys():
        with box.get_file(key) as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        delivered = box.get_message(key).get_date()
        found.append((delivered, key, {
            "to": message["To"], "subject": message["Subject"], "body": message.get_content(),
            "sender": message["From"], "message_id": message["Message-ID"]}))
    found.sort(key=lambda item: item[:2])
    return [item[2] for item in found]
