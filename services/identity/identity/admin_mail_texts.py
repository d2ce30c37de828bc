"""The e-mails the admin side sends, as (subject, body) pairs of plain text.

Each one says who it is for and what to do, and nothing a stranger reading it could misuse beyond the one link
or code it carries (which expires and works once). No passwords, no other group's data.
"""
PORTAL_NAME = "the benefits portal"


def _hello(first_name):
    return "Hello %s,\n\n" % first_name


def _footer():
    return ("\n\nIf you did not expect this message, you can ignore it; nothing changes unless the link or code "
            "is used.\n")


def welcome(first_name, group_name, role_name, link, hours):
    """group_name None: carrier staff or a broker's or TPA's user (groups let them in later)."""
    where = " for %s as %s" % (group_name, role_name) if group_name else ""
    return ("Your account on %s" % PORTAL_NAME,
            _hello(first_name)
            + "An account was set up for you on %s%s.\n\n" % (PORTAL_NAME, where)
            + "Choose your username and password here (the link works once, for %d hours):\n\n%s\n" % (hours, link)
            + "\nAfter that you sign in with your password and a code sent to this address; you may switch to an "
              "authenticator app in your profile."
            + _footer())


def added_to_group(first_name, group_name, role_name):
    return ("You now have access to %s" % group_name,
            _hello(first_name)
            + "You were given access to %s as %s on %s. Sign in as usual; the group is listed under your groups."
            % (group_name, role_name, PORTAL_NAME)
            + _footer())


def password_reset(first_name, link, minutes):
    return ("Reset your password",
            _hello(first_name)
            + "Your administrator asked for your password to be reset. Choose a new one here (the link works once, "
              "for %d minutes):\n\n%s\n" % (minutes, link)
            + _footer())


def access_request_received(first_name, group_name, requester, reference, role_name):
    return ("Access request %s for %s" % (reference, group_name),
            _hello(first_name)
            + "%s asked for access to %s as %s (reference %s). Approve or deny it under the group's users on %s."
            % (requester, group_name, role_name, reference, PORTAL_NAME)
            + _footer())


def access_approved(first_name, group_name, reference, role_name, group_number, code, link, days):
    return ("Your access request %s was approved" % reference,
            _hello(first_name)
            + "Your request for access to %s was approved; you will have the role %s.\n\n" % (group_name, role_name)
            + "Register here within %d days:\n\n%s\n\n" % (days, link)
            + "or enter group number %s and invitation code %s on the registration page." % (group_number, code)
            + _footer())


def access_denied(first_name, group_name, reference, reason):
    return ("Your access request %s" % reference,
            _hello(first_name)
            + "Your request for access to %s was not approved. The reason given:\n\n%s\n\n" % (group_name, reason)
            + "If you think this is a mistake, contact the group's benefits administrator.\n")


def delegate_granted(first_name, group_name, actions):
    extra = " and may also %s" % " and ".join(actions) if actions else ""
    return ("You now have access to %s" % group_name,
            _hello(first_name)
            + "%s gave you access on %s: you may view its roster and bills and send messages%s."
            % (group_name, PORTAL_NAME, extra)
            + _footer())
