"""The premium of one family for one coverage month (DOMAIN.md rules table; docs/billing-contract.md "Rules").

Pure: the family as billing's projection holds it (BillableFamily.members: dates as YYYY-MM-DD text), the
group's policy, its rates and plan years in; premium lines out. The statement run charges these lines and, for
earlier months, compares them with what the ledger holds (the difference is a retro adjustment), so the same
function must give the same answer every time it is asked about a month.

- composite: one line per contract (the subscriber's, or a dependent's who elected COBRA alone) by the tier of
  its span; age_rated: one line per covered member by the ACA age band at the plan year's start.
- proration: `none` bills a segment in full when it covers the month's first day, `fifteenth` when it covers
  the 15th, `daily` by covered days / days in the month; each line rounded half-up to the cent.
- a month in which the tier or plan changes has a segment per tier/plan, each prorated on its own.
- pending and cancelled spans are not billed (a pending change is billed once it completes, as an
  adjustment); terminated spans are billed for the days they covered; continuation (COBRA, state) spans
  are on the group's bill at 100 % when cobra_billing is group_billed, and not at all when direct_billed.
"""
import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing.domain.money import cents

COMPOSITE, AGE_RATED = "composite", "age_rated"
NO_PRORATION, DAILY, FIFTEENTH = "none", "daily", "fifteenth"
GROUP_BILLED, DIRECT_BILLED = "group_billed", "direct_billed"
BILLED_SPAN_STATUSES = ("active", "terminated")
SUBSCRIBER_CODE = "18"   # X12 INS02 "self"
SINGLE_TIER = "EMP"      # a contract with only its holder covered
YOUNGEST_BAND, OLDEST_BAND = "0-14", "64+"
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    """The parts of the group's billing policy that price a month."""
    rating_method: str = COMPOSITE
    proration: str = NO_PRORATION
    cobra_billing: str = GROUP_BILLED


@dataclass(frozen=True)
class PlanYear:
    start: date
    end: date


@dataclass(frozen=True)
class Line:
    """One premium line of a month: what the ledger's charge (or adjustment) entry carries."""
    line_key: str
    subscriber_member_id: str
    member_id: str
    plan_code: str
    rate_key: str
    description: str
    amount: Decimal


class PremiumError(Exception):
    """A month that cannot be priced. The run reports it for the account and leaves the account uncut:
    billing zero would look like a paid-up family."""


class MissingRate(PremiumError):
    def __init__(self, plan_year_start, plan_code, rate_key):
        self.plan_year_start, self.plan_code, self.rate_key = plan_year_start, plan_code, rate_key
        super().__init__("No rate for plan %s, rate key %s, plan year starting %s."
                         % (plan_code, rate_key, plan_year_start.isoformat()))


class NoPlanYear(PremiumError):
    def __init__(self, plan_code, day):
        self.plan_code, self.day = plan_code, day
        super().__init__("No plan year covers %s (plan %s): its rates are not loaded."
                         % (day.isoformat(), plan_code))


# --- months and ages ---------------------------------------------------------------------------------------

def first_of_month(day):
    return day.replace(day=1)


def last_of_month(month):
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def days_in_month(month):
    return calendar.monthrange(month.year, month.month)[1]


def next_month(month):
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def age_on(date_of_birth, day):
    """Completed years on `day` (a child born after it counts as 0)."""
    years = day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
    return max(years, 0)


def age_band(age):
    """The ACA age band (45 CFR 147.102): "0-14", one band per year 15..63, "64+"."""
    if age <= 14:
        return YOUNGEST_BAND
    if age >= 64:
        return OLDEST_BAND
    return str(age)


def _day(value):
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


# --- the month's covered pieces ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Piece:
    """Days [start, end] of one member's billable span inside the month and inside one plan year."""
    member: dict
    plan_code: str
    tier: str
    continuation: bool
    span_from: date
    plan_year: PlanYear
    start: date
    end: date


def _billable(span, policy):
    if span["status"] not in BILLED_SPAN_STATUSES:
        return False
    return not span.get("continuation") or policy.cobra_billing == GROUP_BILLED


def _pieces(members, policy, plan_years, month):
    first, last = month, last_of_month(month)
    pieces = []
    for member in members:
        for span in member.get("coverage") or ():
            if not _billable(span, policy):
                continue
            start = max(_day(span["effective_from"]), first)
            end = min(_day(span["effective_through"]) or last, last)
            if start > end:
                continue
            for plan_year, piece_start, piece_end in _within_plan_years(span["plan_code"], start, end, plan_years):
                pieces.append(_Piece(member, span["plan_code"], span["tier"], bool(span.get("continuation")),
                                     _day(span["effective_from"]), plan_year, piece_start, piece_end))
    return pieces


def _within_plan_years(plan_code, start, end, plan_years):
    """[(plan year, start, end)] splitting the days at plan-year boundaries; a day no plan year covers is an
    error (there are no rates to bill it with)."""
    day = start
    parts = []
    while day <= end:
        plan_year = next((year for year in plan_years if year.start <= day <= year.end), None)
        if plan_year is None:
            raise NoPlanYear(plan_code, day)
        part_end = min(end, plan_year.end)
        parts.append((plan_year, day, part_end))
        day = part_end + ONE_DAY
    return parts


def _minus(start, end, covered):
    """The sub-ranges of [start, end] outside every range in `covered`."""
    remaining = [(start, end)]
    for cut_start, cut_end in covered:
        kept = []
        for part_start, part_end in remaining:
            if cut_end < part_start or cut_start > part_end:
                kept.append((part_start, part_end))
                continue
            if part_start < cut_start:
                kept.append((part_start, cut_start - ONE_DAY))
            if cut_end < part_end:
                kept.append((cut_end + ONE_DAY, part_end))
        remaining = kept
    return remaining


# --- who holds each line -----------------------------------------------------------------------------------

def _age_rated_lines(pieces):
    """{(holder, plan, rate key, plan year): [(start, end)]}: each covered member is a line of their own."""
    lines = {}
    for piece in pieces:
        band = age_band(age_on(_day(piece.member["date_of_birth"]), piece.plan_year.start))
        key = (piece.member["member_id"], piece.plan_code, band, piece.plan_year)
        lines.setdefault(key, []).append((piece.start, piece.end))
    return lines


def _composite_lines(pieces, subscriber_member_id):
    """{(holder, plan, tier, plan year): [(start, end)]}: the subscriber's contract is billed by its tier, and
    the dependents on it are not billed again. A dependent covered while the subscriber's contract does not
    cover them (COBRA elected alone) holds a contract of their own: alone (EMP) each is one; with others the
    first of those sharing its plan, tier and start holds it (roster puts the family in that order)."""
    lines = {}
    mine = [piece for piece in pieces if piece.member["member_id"] == subscriber_member_id]
    for piece in mine:
        lines.setdefault((subscriber_member_id, piece.plan_code, piece.tier, piece.plan_year), []).append(
            (piece.start, piece.end))
    holders = {}
    for piece in pieces:
        if piece.member["member_id"] == subscriber_member_id:
            continue
        on_subscribers = [(other.start, other.end) for other in mine
                          if other.plan_code == piece.plan_code and other.continuation == piece.continuation]
        for start, end in _minus(piece.start, piece.end, on_subscribers):
            if piece.tier == SINGLE_TIER:
                holder = piece.member["member_id"]
            else:
                holder = holders.setdefault((piece.plan_code, piece.tier, piece.continuation, piece.span_from),
                                            piece.member["member_id"])
            lines.setdefault((holder, piece.plan_code, piece.tier, piece.plan_year), []).append((start, end))
    return lines


# --- pricing -----------------------------------------------------------------------------------------------

def _billed_share(ranges, month, proration):
    """The share of the month's rate a line owes: (numerator, denominator), or None for nothing."""
    if proration == DAILY:
        days = len({start + timedelta(days=offset) for start, end in ranges
                    for offset in range((end - start).days + 1)})
        return (days, days_in_month(month)) if days else None
    anchor = month.replace(day=15) if proration == FIFTEENTH else month
    if any(start <= anchor <= end for start, end in ranges):
        return (1, 1)
    return None


def _description(plan_code, rate_key, rating_method, holder, month, share):
    what = "age %s" % rate_key if rating_method == AGE_RATED else rate_key
    text = "%s %s %s, %s" % (holder, plan_code, what, month.strftime("%B %Y"))
    if share[0] != share[1]:
        text += " (%d of %d days)" % share
    return text


def premium_lines(subscriber_member_id, members, policy, rates, plan_years, month):
    """The premium lines of one family for the coverage month starting `month` (the 1st).

    `members`: BillableFamily.members; `rates`: {(plan_year_start, plan_code, rate_key): Decimal};
    `plan_years`: [PlanYear] the family's subgroup is offered. Raises PremiumError (MissingRate, NoPlanYear)
    rather than pricing a line at zero."""
    month = first_of_month(month)
    pieces = _pieces(members, policy, sorted(plan_years, key=lambda year: year.start), month)
    if policy.rating_method == AGE_RATED:
        grouped = _age_rated_lines(pieces)
    else:
        grouped = _composite_lines(pieces, subscriber_member_id)
    lines = []
    for (holder, plan_code, rate_key, plan_year), ranges in grouped.items():
        share = _billed_share(ranges, month, policy.proration)
        if share is None:
            continue
        rate = rates.get((plan_year.start, plan_code, rate_key))
        if rate is None:
            raise MissingRate(plan_year.start, plan_code, rate_key)
        amount = cents(Decimal(rate) * share[0] / share[1])
        line = Line(line_key="%s:%s" % (holder, plan_code), subscriber_member_id=subscriber_member_id,
                    member_id=holder, plan_code=plan_code, rate_key=rate_key,
                    description=_description(plan_code, rate_key, policy.rating_method, holder, month, share),
                    amount=amount)
        lines.append(((line.line_key, min(start for start, _end in ranges)), line))
    return [line for _order, line in sorted(lines, key=lambda pair: pair[0])]
