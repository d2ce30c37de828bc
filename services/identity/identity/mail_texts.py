"""The e-mails the sign-in side sends, as (subject, body) pairs of plain text.

Each carries the one code or link it exists for (which expires and works once) and the person's first name;
nothing else about the person or their groups, and never a password. The code comes first in the body, and
no other 6-digit number appears in a message with a code, so neither a person nor a test picks the wrong one.
"""
PORTAL_NAME = "the benefits portal"


def _hello(first_name):
    return "Hello %s,\n\n" % first_name


def _not_you(what="this"):
    return ("\n\nIf you did not ask for %s, you can ignore this message: nothing changes unless the code or link "
            "is used. If it keeps happening, tell your administrator.\n" % what)


def email_verification(first_name, code, minutes):
    return ("Confirm your e-mail address",
            _hello(first_name)
            + "Your verification code is %s\n\n" % code
            + "Enter it on the registration page within %d minutes to activate your account on %s."
            % (minutes, PORTAL_NAME)
            + _not_you("an account"))


def sign_in_code(first_name, code, minutes):
    return ("Your sign-in code",
            _hello(first_name)
            + "Your sign-in code is %s\n\n" % code
            + "It works once, for %d minutes. Nobody from the carrier will ever ask you for it." % minutes
            + "\n\nIf you are not signing in right now, someone knows your password: change it in your profile."
              "\n")


def legacy_link_code(first_name, code, minutes):
    return ("Link your account from the old portal",
            _hello(first_name)
            + "Your code is %s\n\n" % code
            + "Enter it within %d minutes, with the username and password you want from now on, to move your "
              "account from the old portal to %s. Your access carries over." % (minutes, PORTAL_NAME)
            + _not_you("this"))


def username_reminder(first_name, usernames):
    listed = "\n".join("  %s" % name for name in usernames)
    return ("Your username",
            _hello(first_name)
            + "You asked for the username%s of your account%s on %s:\n\n%s\n\n"
            % ("s" if len(usernames) > 1 else "", "s" if len(usernames) > 1 else "", PORTAL_NAME, listed)
            + "Sign in with it and your password. Forgot the password too? Use \"Reset password\" on the sign-in "
              "page."
            + _not_you("a reminder"))


def password_reset(first_name, username, link, minutes):
    return ("Reset your password",
            _hello(first_name)
            + "Choose a new password for your account %s here (the link works once, for %d minutes):\n\n%s\n\n"
            % (username, minutes, link)
            + "Every device signed in to the account will be signed out."
            + _not_you("a new password"))


def password_changed(first_name):
    return ("Your password was changed",
            _hello(first_name)
            + "The password of your account on %s was just changed, and your other devices were signed out.\n\n"
            % PORTAL_NAME
            + "If that was not you, reset your password now with \"Reset password\" on the sign-in page, and tell "
              "your administrator.\n")


def email_change_code(first_name, code, minutes):
    return ("Confirm your new e-mail address",
            _hello(first_name)
            + "Your confirmation code is %s\n\n" % code
            + "Enter it in your profile within %d minutes; your account on %s then uses this address."
            % (minutes, PORTAL_NAME)
            + _not_you("this change"))


def email_changed(first_name):
    return ("Your e-mail address was changed",
            _hello(first_name)
            + "Your account on %s now uses another e-mail address; messages go there from now on.\n\n" % PORTAL_NAME
            + "If that was not you, tell your administrator at once.\n")
