"""Mailer: a Maildir when no SMTP server is configured, SMTP (with login) when one is."""
import base64
import email
import os
import smtplib
import socketserver
import threading
from email import policy

import pytest
from nameko.testing.services import entrypoint_hook
from nameko.timer import timer

from servicekit.mail import Mailer, MailerProvider, read_maildir


class SmtpRecorder(socketserver.ThreadingTCPServer):
    """The smallest SMTP server smtplib will talk to: it accepts everything and records it."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.messages = []  # dicts: sender, recipients, auth, data

    @property
    def port(self):
        return self.server_address[1]


class SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, *lines):
        self.wfile.write(b"".join(line.encode() + b"\r\n" for line in lines))

    def handle(self):
        envelope = {"sender": None, "recipients": [], "auth": None}
        self.reply("220 recorder ESMTP")
        for raw in iter(self.rfile.readline, b""):
            command = raw.decode().rstrip("\r\n")
            verb, _, argument = command.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-recorder", "250 AUTH PLAIN")
            elif verb == "AUTH":
                envelope["auth"] = base64.b64decode(argument.split(" ", 1)[1]).split(b"\0")[1:]
                self.reply("235 2.7.0 authenticated")
            elif verb == "MAIL":
                envelope["sender"] = argument.split(":", 1)[1].strip("<> ").split(">")[0]
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["recipients"].append(argument.split(":", 1)[1].strip("<> "))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                for line in iter(self.rfile.readline, b""):
                    if line == b".\r\n":
                        break
                    line = line[1:] if line.startswith(b"..") else line  # undo dot-stuffing
                    lines.append(line.replace(b"\r\n", b"\n"))  # wire CRLF to local newlines, as an MTA does
                self.server.messages.append(dict(envelope, data=b"".join(lines)))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            elif verb in ("RSET", "NOOP", "HELO"):
                self.reply("250 ok")
            else:
                self.reply("502 not implemented")


@pytest.fixture
def smtp_server():
    server = SmtpRecorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_without_smtp_host_mail_lands_in_a_maildir(tmp_path):
    mail_dir = str(tmp_path / "mail")
    mailer = Mailer({"MAIL_DIR": mail_dir, "MAIL_FROM": "Portal <portal@carrier.example>"})
    assert read_maildir(mail_dir) == []  # nothing delivered yet reads as empty
    first = mailer.send("hr@acme.example", "Your invoice is ready", "Invoice INV-1 is due on 1 April.\n")
    second = mailer.send(["a@acme.example", "b@acme.example"], "Notice ✓", "Héllo\n")

    assert len(os.listdir(os.path.join(mail_dir, "new"))) == 2
    messages = read_maildir(mail_dir)
    assert first != second and first.endswith("@carrier.example>")
    assert messages == [
        {"to": "hr@acme.example", "subject": "Your invoice is ready", "body": "Invoice INV-1 is due on 1 April.\n",
         "sender": "Portal <portal@carrier.example>", "message_id": first},
        {"to": "a@acme.example, b@acme.example", "subject": "Notice ✓", "body": "Héllo\n",
         "sender": "Portal <portal@carrier.example>", "message_id": second},
    ]


def test_the_default_maildir_is_var_mail(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Mailer({}).send("x@example.com", "hi", "body")
    [message] = read_maildir(str(tmp_path / "var" / "mail"))
    assert message["subject"] == "hi"


def test_with_smtp_host_mail_is_sent_over_smtp(smtp_server, tmp_path):
    mailer = Mailer({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port, "MAIL_DIR": str(tmp_path / "mail"),
                     "MAIL_FROM": "portal@carrier.example"})
    message_id = mailer.send(["hr@acme.example", "cfo@acme.example"], "Payment returned",
                             "Payment PAY-9 was returned (R01).\n.\nA line that starts with a dot.\n")

    [received] = smtp_server.messages
    assert received["sender"] == "portal@carrier.example"
    assert received["recipients"] == ["hr@acme.example", "cfo@acme.example"]
    assert received["auth"] is None
    parsed = email.message_from_bytes(received["data"], policy=policy.default)
    assert parsed["Subject"] == "Payment returned"
    assert parsed["Message-ID"] == message_id
    assert parsed.get_content() == "Payment PAY-9 was returned (R01).\n.\nA line that starts with a dot.\n"
    assert not (tmp_path / "mail").exists()  # nothing went to the Maildir


def test_smtp_login_with_credentials(smtp_server):
    mailer = Mailer({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port), "SMTP_USERNAME": "portal",
                     "SMTP_PASSWORD": "s3cret", "SMTP_STARTTLS": "false"})
    mailer.send("hr@acme.example", "Hello", "Body\n")
    [received] = smtp_server.messages
    assert received["auth"] == [b"portal", b"s3cret"]


def test_credentials_are_not_sent_in_clear_unless_asked(smtp_server):
    # With a username and no SMTP_STARTTLS, STARTTLS is required; this server cannot do it.
    mailer = Mailer({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port, "SMTP_USERNAME": "portal",
                     "SMTP_PASSWORD": "s3cret"})
    assert mailer.starttls is True
    with pytest.raises(smtplib.SMTPNotSupportedError):
        mailer.send("hr@acme.example", "Hello", "Body\n")
    assert smtp_server.messages == []


class NoticeService:
    name = "notice_test"
    mailer = MailerProvider()

    @timer(interval=3600)
    def send_notice(self, to):
        return self.mailer.send(to, "Renewal in 60 days", "Your plan year renews on 1 July.\n")


def test_provider_gives_workers_a_mailer_from_config(container_factory, tmp_path):
    mail_dir = str(tmp_path / "mail")
    container = container_factory(NoticeService, {"MAIL_DIR": mail_dir})
    container.start()
    with entrypoint_hook(container, "send_notice") as send_notice:
        message_id = send_notice("hr@acme.example")
    [message] = read_maildir(mail_dir)
    assert (message["message_id"], message["to"], message["subject"]) == (
        message_id, "hr@acme.example", "Renewal in 60 days")
