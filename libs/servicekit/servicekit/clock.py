"""The one business clock (pattern 6): dates in the carrier's time zone, settable for tests and demos.

No code reads `date.today()` or `datetime.now()` for business decisions; it asks this module. A
business date is the calendar date in the carrier's zone (config `CARRIER_TIMEZONE`, default
America/New_York), so an enrolment at 11 p.m. in New York is dated that day, not the next UTC day.

Which date is "today", first match wins:
1. `set_today(d)`: an in-process override for tests (`reset()` clears it);
2. config/env `BUSINESS_DATE_FILE`: a file holding YYYY-MM-DD, read again whenever it changes. The
   end-to-end tests move every process of a running stack to another day with it (a termination 60 days
   back, a job on a renewal date); absent or empty file = no override. Production leaves it unset;
3. config/env `BUSINESS_DATE` (YYYY-MM-DD, empty = real time): a fixed date for the demo, so every
   service of the stack agrees on the same day;
4. the real date in the carrier's zone.

There is one clock per process (module state): `configure(config)` is called by the kit's providers
at container setup and reads `CARRIER_TIMEZONE` / `BUSINESS_DATE` from the service config, falling
back to the environment; at import the environment alone configures it (scripts, the gateway).

`utcnow()` is deliberately the REAL wall clock, even when the business date is fixed: record
timestamps (event `occurred_at`, audit rows, token issue and revocation times) are compared across
processes and with PyJWT's real-time checks, and a shifted clock there would make a revoked token
look newer than its revocation.
"""
import os
from time import time_ns
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "America/New_York"

_zone = ZoneInfo(DEFAULT_TIMEZONE)
_business_date = None  # from BUSINESS_DATE
_override = None       # from set_today()
_date_file = None      # from BUSINESS_DATE_FILE
_date_file_seen = (None, None)  # (mtime_ns, date or None) of its last read


def _utc_wall_clock():
    # The only place the real time is read; tests replace it to check zone conversion.
    return datetime.now(timezone.utc)


def _setting(config, key):
    if config is not None and key in config:
        value = config[key]
    else:
        value = os.environ.get(key)
    return "" if value is None else str(value).strip()


def _parse_date(value, source):
    if isinstance(value, datetime):
        # datetime is a subclass of date; a datetime here is almost certainly a mistake.
        raise TypeError("%s needs a date, not a datetime" % source)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be a date YYYY-MM-DD, got %r" % (source, value)) from None


def configure(config=None):
    """Set the carrier time zone and the fixed business date from a service config (or the environment).

    An unknown time zone or a malformed BUSINESS_DATE raises, so a container fails at start-up
    rather than dating business with the wrong day. A `set_today` override is left alone.
    """
    global _zone, _business_date, _date_file
    zone = ZoneInfo(_setting(config, "CARRIER_TIMEZONE") or DEFAULT_TIMEZONE)
    business_date = _setting(config, "BUSINESS_DATE")
    _business_date = _parse_date(business_date, "BUSINESS_DATE") if business_date else None
    _date_file = _setting(config, "BUSINESS_DATE_FILE") or None
    _zone = zone


def set_today(value):
    """Fix today's business date in this process (tests). Accepts a date or 'YYYY-MM-DD'."""
    global _override
    _override = _parse_date(value, "set_today")


def reset():
    """Forget any `set_today` and re-read the environment: the clock a fresh process would have."""
    global _override
    _override = None
    configure(None)


def timezone_name():
    return _zone.key


def carrier_timezone():
    return _zone


def _fixed_date():
    return _override or _file_date() or _business_date


def _file_date():
    """The date in BUSINESS_DATE_FILE, re-read when the file's mtime changes (a stat per call)."""
    global _date_file_seen
    if not _date_file:
        return None
    try:
        mtime = os.stat(_date_file).st_mtime_ns
    except FileNotFoundError:
        return None
    if _date_file_seen[0] != mtime:
        with open(_date_file) as handle:
            text = handle.read().strip()
        _date_file_seen = (mtime, _parse_date(text, "BUSINESS_DATE_FILE") if text else None)
    return _date_file_seen[1]


def write_date_file(path, value):
    """Move every process reading BUSINESS_DATE_FILE=path to `value` (None: back to their own clock).
    Written to a temporary name and renamed, so a reader never sees half a date; the mtime is bumped
    explicitly, as two writes within one timestamp tick would otherwise look alike."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        handle.write(_parse_date(value, "write_date_file").isoformat() if value is not None else "")
    stamp = max(os.stat(path).st_mtime_ns + 1000 if os.path.exists(path) else 0, time_ns())
    os.utime(temporary, ns=(stamp, stamp))
    os.replace(temporary, path)


def today():
    """The business date: the override, else BUSINESS_DATE_FILE's, else BUSINESS_DATE, else the real date in
    the carrier's zone."""
    fixed = _fixed_date()
    if fixed is not None:
        return fixed
    return _utc_wall_clock().astimezone(_zone).date()


def now():
    """An aware datetime in the carrier's zone: the real time of day on the business date.

    Without a fixed date this is simply the current time; with one, the date is the fixed date
    and the time of day still moves, so timestamps taken in order stay in order.
    """
    real = _utc_wall_clock().astimezone(_zone)
    fixed = _fixed_date()
    if fixed is None:
        return real
    return datetime.combine(fixed, time(real.hour, real.minute, real.second, real.microsecond), tzinfo=_zone)


def utcnow():
    """The real current time as an aware UTC datetime (not shifted by a fixed business date; see above)."""
    return _utc_wall_clock()


def to_business_date(value):
    """The business date of a date or datetime (an aware datetime is converted to the carrier's zone)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime has no business date; make it aware first")
        return value.astimezone(_zone).date()
    return value


def days_between(a, b):
    """Whole calendar days from `a` to `b` (b - a), in the carrier's zone.

    DOMAIN.md: "within N days" means `request_date - event_date <= N`, i.e.
    `days_between(event_date, request_date) <= N`. Datetimes count by their business date, so
    11 p.m. on the 1st to 1 a.m. on the 2nd is one day, not zero.
    """
    return (to_business_date(b) - to_business_date(a)).days


configure(None)
