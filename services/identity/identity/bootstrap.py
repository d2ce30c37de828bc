"""identity's operator CLI: create an active user straight in identity's database.

    python -m identity.bootstrap user --config services/identity/config.yaml --username U --email E \
        --first F --last L --kind carrier|group|broker|tpa [--group G --role R [--subgroups a,b] [--actions x,y]] \
        --password P [--totp-secret BASE32]

For what no one can register for: the seeded carrier admin (who then creates the other carrier staff), and the
demo users of `make run`. The user is active at once, with the e-mail taken as verified; with --totp-secret the
second factor is TOTP, else e-mailed codes. `--password -` reads the password from standard input, which keeps
it out of the process list.

It writes only to the database named by the config file (DATABASE_URL), publishes nothing, and prints one JSON
line {user_id, username, totp_secret}. A username that exists already is refused (exit 3, nothing changed): an
operator tool must not quietly replace someone's password. A group (or broker) user needs --group and --role.
"""
import argparse
import json
import re
import sys

from sqlalchemy.orm import Session

from identity import users
from identity.domain import credentials
from identity.models import Grant, KnownGroup, User
from portal_contracts.identity_auth import USERNAME
from servicekit import clock, roles
from servicekit.auth import compact_grant
from servicekit.config import load_config
from servicekit.crypto import FieldCipher
from servicekit.db import make_engine

KINDS = ("carrier", "group", "broker", "tpa")
EXIT_INVALID = 2
EXIT_EXISTS = 3


class Refused(Exception):
    def __init__(self, message, exit_code=EXIT_INVALID):
        super().__init__(message)
        self.exit_code = exit_code


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        seeded = create_user(load_config(args.config), args)
    except Refused as refused:
        print("identity.bootstrap: %s" % refused, file=sys.stderr)
        return refused.exit_code
    print(json.dumps(seeded))
    return 0


def create_user(config, args):
    """Create the user the arguments describe; returns what is printed."""
    password = sys.stdin.readline().rstrip("\n") if args.password == "-" else args.password
    grant = _checked(args, password)
    hashing = credentials.PasswordHashing.from_config(config)
    engine = make_engine(config["DATABASE_URL"])
    try:
        with Session(engine) as session, session.begin():
            if users.find_by_username(session, args.username) is not None:
                raise Refused("username %s is taken already; nothing changed" % args.username, EXIT_EXISTS)
            if grant is not None:
                _check_group(session, grant)
            user = _user(args, hashing.hash(password), config)
            session.add(user)
            session.flush()
            if grant is not None:
                session.add(Grant(user_id=user.id, group_number=grant["g"], role=grant["r"], subgroups=grant.get("s"),
                                  actions=grant.get("a"), granted_by="bootstrap", granted_at=clock.utcnow()))
            return {"user_id": user.user_id, "username": user.username, "totp_secret": args.totp_secret}
    finally:
        engine.dispose()


def _checked(args, password):
    """The grant to give (compact form), or None for carrier staff; Refused for anything identity would refuse."""
    if not re.match(USERNAME, args.username):
        raise Refused("--username: use 3 to 64 letters, digits, '.', '_', '-' or '@'")
    problems = credentials.password_problems(password, args.username)
    if problems:
        raise Refused("--password: %s" % " ".join(problems))
    if args.totp_secret:
        try:
            credentials.totp_code(args.totp_secret, 0)
        except ValueError:
            raise Refused("--totp-secret is not base32") from None
    if args.kind == "carrier":
        if args.group or args.role not in (None, "carrier_staff"):
            raise Refused("carrier staff act on every group: no --group or --role")
        return None
    if not (args.group and args.role):
        raise Refused("a %s user needs --group and --role" % args.kind)
    delegate = args.kind in ("broker", "tpa")
    if roles.is_delegate(args.role) != delegate:
        raise Refused("--role: a %s user's role is %s" % (
            args.kind, "broker" if delegate else "one of group_admin, enrollment_manager, billing_manager, viewer"))
    try:
        return compact_grant(args.group, args.role, _list(args.subgroups), _list(args.actions))
    except ValueError as exc:
        raise Refused("--role/--subgroups/--actions: %s" % exc) from None


def _check_group(session, grant):
    """The group (and subgroups) must be known to identity, from roster's events: a typo would give a grant on
    nothing. Right after roster creates a group, identity may not have heard yet: try again shortly."""
    group = session.get(KnownGroup, grant["g"])
    if group is None:
        raise Refused("group %s is not known to identity yet (it learns groups from roster's events); try again "
                      "shortly" % grant["g"])
    known = {subgroup["subgroup_number"] for subgroup in group.subgroups or []}
    unknown = sorted(set(grant.get("s") or ()) - known)
    if unknown:
        raise Refused("group %s has no subgroup %s known to identity yet; try again shortly"
                      % (grant["g"], ", ".join(unknown)))


def _user(args, password_hash, config):
    now = clock.utcnow()
    user = User(user_id=users.new_user_id(), username=args.username, username_key=users.username_key(args.username),
                email=args.email, email_key=args.email.lower(), email_verified=True, first_name=args.first,
                last_name=args.last, kind=args.kind, firm_name=args.firm, password_hash=password_hash,
                mfa_method="email", status="active", created_at=now, updated_at=now)
    if args.totp_secret:
        user.totp_secret_ciphertext = FieldCipher.from_config(config).encrypt(args.totp_secret.replace(" ", "").upper())
        user.mfa_method = "totp"
    return user


def _list(value):
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def _parser():
    parser = argparse.ArgumentParser(prog="python -m identity.bootstrap", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("user", help="create an active user")
    user.add_argument("--config", required=True, help="identity's config.yaml (its DATABASE_URL and field keys)")
    user.add_argument("--username", required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--first", required=True, help="first name")
    user.add_argument("--last", required=True, help="last name")
    user.add_argument("--kind", required=True, choices=KINDS)
    user.add_argument("--firm", help="a broker's or TPA's firm name")
    user.add_argument("--group", help="the group number of the user's grant")
    user.add_argument("--role", help="the role on --group (group_admin, enrollment_manager, billing_manager, "
                                     "viewer; broker for a broker or TPA)")
    user.add_argument("--subgroups", help="limit the grant to these subgroups, comma-separated")
    user.add_argument("--actions", help="a broker's granted actions, comma-separated (change_roster, pay_billing)")
    user.add_argument("--password", required=True, help="the password, or - to read it from standard input")
    user.add_argument("--totp-secret", help="base32 TOTP secret: the user signs in with TOTP codes from it")
    return parser


if __name__ == "__main__":
    sys.exit(main())
