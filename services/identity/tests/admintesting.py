"""What the admin side's integration tests share: tokens signed with the identity under test's own key, the
groups identity knows (from roster's events, as in production), users set up the real way (create_user, the
welcome e-mail's link, complete_setup), the mail sink, the problem a refused RPC carries, and another service
that, like every service, refuses a revoked user's tokens through the kit's RevocationListener.

Test modules import the fixtures they use from here (`from admintesting import groups_fixture`: the fixture is
then `groups`).
"""
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select

from identity.models import KnownGroup
from servicekit.auth import CallerProvider, RevocationListener, TokenSigner, compact_grant
from servicekit.db import Database, make_engine
from servicekit.entrypoints import rpc
from servicekit.mail import read_maildir
from servicekit.roles import VIEW_ROSTER
from servicekit import tables
from servicekit.testing import drop_database, fresh_database, wait_for
from servicekit.testing.broker import make_envelope, publish_event
from servicekit.testing import refusal  # noqa: F401  (the test modules import it from here)

GROUP_A, GROUP_B = "100234", "200500"
CARRIER_ID = "u-carrier-test"
PASSWORD = "correct horse battery staple 42"


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def email_for(name):
    return "%s@harbor.example" % unique(name)


# --- tokens ------------------------------------------------------------------------------------------------

class Tokens:
    """Access tokens as identity issues them (its own key pair from the fixtures), for callers of any kind."""

    def __init__(self, private_pem):
        self.signer = TokenSigner(private_pem)

    def carrier(self, user_id=CARRIER_ID):
        return self.signer.issue(user_id, [], carrier=True)

    def user(self, user_id, group, role, subgroups=None, actions=None):
        return self.signer.issue(user_id, [compact_grant(group, role, subgroups, actions)])

    def grants(self, user_id, *grants):
        return self.signer.issue(user_id, [compact_grant(*grant) for grant in grants])


@pytest.fixture(name="tokens")
def tokens_fixture(signing_keys):
    return Tokens(signing_keys[0])


# --- groups identity knows, from roster's events -----------------------------------------------------------

def publish_roster_event(config, event_type, data, sequence):
    envelope = make_envelope(event_type, data, aggregate_id="group:%s" % data["group_number"], sequence=sequence,
                             group_id=data["group_number"], actor=CARRIER_ID)
    publish_event(config, "roster", event_type, envelope)
    return envelope


def roster_group(group_number, legal_name, subgroups=(), status="active"):
    """A group_created / group_updated payload as roster publishes it (roster.group_events.GroupState)."""
    return {"group_number": group_number, "legal_name": legal_name, "status": status, "renewal_date": "2027-01-01",
            "employee_count": 45, "waiting_period_days": 30, "age_off_policy": "end_of_month",
            "continuation": "cobra", "continuation_months": None,
            "subgroups": [{"subgroup_number": number, "name": "Division %s" % number, "status": "active"}
                          for number in subgroups]}


def known_group(engine, group_number):
    with engine.connect() as connection:
        row = connection.execute(select(KnownGroup.legal_name, KnownGroup.status, KnownGroup.subgroups)
                                 .where(KnownGroup.group_number == group_number)).first()
    return None if row is None else {"legal_name": row.legal_name, "status": row.status,
                                     "subgroups": [s["subgroup_number"] for s in row.subgroups]}


@pytest.fixture(name="groups")
def groups_fixture(identity, identity_config, identity_db):
    """Group A (subgroups 001, 002) and group B (001), created in roster: identity learns them from its events."""
    for number, name, subgroups in ((GROUP_A, "Harbor Widgets LLC", ("001", "002")),
                                    (GROUP_B, "Elm Street Bakery", ("001",))):
        publish_roster_event(identity_config, "group_created", roster_group(number, name, subgroups), 1)
    for number in (GROUP_A, GROUP_B):
        wait_for(lambda: known_group(identity_db, number), message="identity to learn group %s" % number)
    return {"A": GROUP_A, "B": GROUP_B}


# --- mail --------------------------------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+")


def mails_to(mail_dir, address):
    return [message for message in read_maildir(mail_dir) if address.lower() in (message["to"] or "").lower()]


def wait_mail(mail_dir, address, count=1):
    """The `count`-th message to `address` (1 = the first), once it has arrived."""
    return wait_for(lambda: mails_to(mail_dir, address)[count - 1:], message="mail %d to %s" % (count, address))[0]


def link_in(message, path):
    """(the link to `path` in the message, its query parameters)."""
    for url in _URL.findall(message["body"]):
        parsed = urlparse(url)
        if parsed.path == path:
            return url, {name: values[0] for name, values in parse_qs(parsed.query).items()}
    raise AssertionError("no %s link in %r" % (path, message["body"]))


# --- users set up the real way -----------------------------------------------------------------------------

def set_up_user(identity, tokens, mail_dir, group, role, subgroups=None, by=None, email=None, first_name="Pat"):
    """create_user (by carrier staff unless `by`), then the welcome e-mail's link -> complete_setup -> active.
    Returns the user as create_user answered it, with `email`, `username` and `token` (a fresh access token
    with the grant) added."""
    email = email or email_for(role.split("_")[0])
    before = len(mails_to(mail_dir, email))
    created = identity.call("create_user", group, {"first_name": first_name, "last_name": "Lee", "email": email,
                                                   "role": role, "subgroups": subgroups},
                            token=by or tokens.carrier())
    _url, query = link_in(wait_mail(mail_dir, email, before + 1), "/setup")
    username = unique("%s." % role.split("_")[0])
    assert identity.call("complete_setup", {"token": query["token"], "username": username,
                                            "password": PASSWORD}) == {"status": "active"}
    return dict(created, email=email, username=username,
                token=tokens.user(created["user_id"], group, role, subgroups))


def set_up_staff(identity, tokens, mail_dir, kind="broker", firm_name="Shoreline Benefits"):
    """create_carrier_user (a broker's, TPA's or carrier staff user), then the set-up link -> active."""
    email = email_for(kind)
    created = identity.call("create_carrier_user", {
        "first_name": "Bo", "last_name": "Banks", "email": email, "kind": kind,
        "firm_name": None if kind == "carrier" else firm_name}, token=tokens.carrier())
    _url, query = link_in(wait_mail(mail_dir, email), "/setup")
    username = unique("%s." % kind)
    assert identity.call("complete_setup", {"token": query["token"], "username": username,
                                            "password": PASSWORD}) == {"status": "active"}
    return dict(created, email=email, username=username)


# --- events ------------------------------------------------------------------------------------------------

def wait_events(collected, *event_types, count=1, user_id=None, timeout=10.0):
    """The first `count` bodies of these types (about this user, if given) that a `collect_events` queue
    received; others are ignored: an earlier call's events may still be on their way from the outbox."""
    def found():
        return [body for body in collected.bodies if body["event_type"] in event_types
                and (user_id is None or body["data"].get("user_id") == user_id)]
    return wait_for(lambda: found()[count - 1:] and found()[:count], timeout=timeout,
                    message="%d of %s" % (count, ", ".join(event_types)))


# --- refusals ----------------------------------------------------------------------------------------------



def _as_utc(value):
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# --- another service: refuses revoked tokens as every service does -----------------------------------------

class RosterLikeService(RevocationListener):
    """Stands for roster, billing, messaging: its own database, identity's public key, the kit's listener."""
    name = "rosterlike"
    db = Database()
    caller = CallerProvider()

    @rpc
    def view_roster(self, group_number):
        self.caller.require(VIEW_ROSTER, group_number)
        return {"user_id": self.caller.user_id}


@pytest.fixture(name="other_service")
def other_service_fixture(container_factory, rabbit_config, signing_keys):
    """`other_service(method, *args, token=...)` calls RosterLikeService; `.not_before(user_id)` reads what
    its listener stored."""
    url = fresh_database("rosterlike")
    engine = make_engine(url)
    tables.metadata.create_all(engine)
    config = dict(rabbit_config, DATABASE_URL=url, TOKEN_PUBLIC_KEY=signing_keys[1])
    container = container_factory(RosterLikeService, config)
    container.start()

    def call(method, *args, token=None):
        with ServiceRpcProxy("rosterlike", config, context_data={"authorization": token}, timeout=10) as proxy:
            return getattr(proxy, method)(*args)

    def not_before(user_id):
        with engine.connect() as connection:
            return connection.execute(select(tables.token_not_before.c.not_before)
                                      .where(tables.token_not_before.c.user_id == user_id)).scalar()

    def revoked_since(user_id, when):
        """Wait until the service's stored "not before" of the user is at least `when` (ISO text)."""
        wanted = datetime.fromisoformat(when)

        def reached():
            stored = not_before(user_id)
            return stored is not None and _as_utc(stored) >= wanted
        wait_for(reached, message="the revocation of %s to reach the other service" % user_id)

    call.not_before = not_before
    call.revoked_since = revoked_since
    yield call
    container.stop()
    engine.dispose()
    drop_database(url)
