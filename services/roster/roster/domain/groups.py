"""Group-side rules: plan years, the eligibility and continuation policy a group may have, what a subgroup
may be offered, and the member counts of an overview. Pure functions of their arguments (no nameko, no
database), so tests call them directly and the entrypoints stay thin.

Rule failures raise `RuleBroken(field, message)`; the entrypoints turn it into a 422 naming that field.
"""
from dataclasses import dataclass
from datetime import date, timedelta

PRODUCTS = ("medical", "dental", "vision")
PLAN_TYPES = ("HMO", "POS", "PPO", "EPO")
TIERS = ("EMP", "ESP", "ECH", "FAM")          # X12 HD05 coverage levels, in the order a bill lists them
EMPLOYEE_ONLY = "EMP"
# Member statuses an overview counts (roster.domain.enrollment sets them): prospective (coverage starts on a
# future date), pending (held for carrier review), active, cobra, terminated, declined (a dependent on file
# without coverage). Members of a cancelled enrollment are not counted: it never took effect.
COUNTED_MEMBER_STATUSES = ("prospective", "pending", "active", "cobra", "terminated", "declined")
NOT_COUNTED_MEMBER_STATUS = "cancelled"
AGE_OFF_POLICIES = ("birthday", "end_of_month", "end_of_year")
CONTACT_KINDS = ("primary", "billing", "enrollment")

# Eligibility (29 CFR 2590.715-2708): coverage starts on the first of the month on or after hire + the waiting
# period, and never later than day 91 counting the hire date as day 1. The first of a month is at most 30 days
# after any date, so a waiting period of N days may start coverage on day N + 31: 0, 30 and 60 stay within
# day 91, while "first of the month after 90 days" could reach day 121.
WAITING_PERIOD_DAYS = (0, 30, 60)
LATEST_COVERAGE_DAY = 91
LONGEST_WAIT_FOR_THE_FIRST_OF_A_MONTH = 30

# Federal COBRA binds employers of 20 or more employees; smaller groups give state continuation instead
# (DOMAIN.md "small groups"; Connecticut, the carrier's home state, allows 30 months).
COBRA = "cobra"
STATE_CONTINUATION = "state"
COBRA_MIN_EMPLOYEES = 20
STATE_CONTINUATION_MONTHS = 30
LONGEST_STATE_CONTINUATION_MONTHS = 36  # the longest any state grants

# A PCP is needed where the plan routes care through one (DOMAIN.md: HMO/POS plans).
PCP_PLAN_TYPES = ("HMO", "POS")

ACTIVE_PLAN = "active"


class RuleBroken(ValueError):
    """A business rule refused the request; `field` names the input it concerns."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message

    @property
    def errors(self):
        return {self.field: [self.message]}


# --- plan years ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanYear:
    start: date
    end: date

    def __contains__(self, day):
        return self.start <= day <= self.end


def renewal_in(renewal_date, year):
    """The group's renewal day (its month and day) in `year`. A 29 February renewal falls on the 28th in
    years without one, so every plan year still starts on a real date and no day is left uncovered."""
    try:
        return renewal_date.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def plan_year_of(day, renewal_date):
    """The plan year holding `day`: from the renewal day on or before it to the day before the next renewal.
    Years before the group's first renewal follow the same calendar (a group moving in mid-year has a
    current plan year that started before it joined)."""
    start = renewal_in(renewal_date, day.year)
    if start > day:
        start = renewal_in(renewal_date, day.year - 1)
    return PlanYear(start, renewal_in(renewal_date, start.year + 1) - timedelta(days=1))


def is_plan_year_start(day, renewal_date):
    return plan_year_of(day, renewal_date).start == day


def check_plan_year_start(day, renewal_date):
    if not is_plan_year_start(day, renewal_date):
        raise RuleBroken("plan_year_start", "Plan years of this group start on %s each year (the renewal date); "
                         "the plan year holding %s starts on %s."
                         % (renewal_date.strftime("%m-%d"), day.isoformat(),
                            plan_year_of(day, renewal_date).start.isoformat()))


def next_renewal_date(renewal_date, today):
    """The next renewal after today: the group's first one while it lies ahead, else the next anniversary."""
    if renewal_date > today:
        return renewal_date
    return plan_year_of(today, renewal_date).end + timedelta(days=1)


# --- plans -----------------------------------------------------------------------------------------

def requires_pcp_by_default(plan_type):
    return plan_type in PCP_PLAN_TYPES


def check_offering(plan_codes, plans_by_code):
    """Refuse an offering unless every plan exists, is active, sells employee-only coverage (every family
    starts with the employee) and is listed once. `plans_by_code` maps code -> plan (with .status, .tiers).
    Names every offending plan in one message so the carrier fixes the list in one go."""
    problems = []
    duplicates = sorted({code for code in plan_codes if plan_codes.count(code) > 1})
    if duplicates:
        problems.append("listed more than once: %s" % ", ".join(duplicates))
    unknown = [code for code in plan_codes if code not in plans_by_code]
    if unknown:
        problems.append("no such plan: %s" % ", ".join(unknown))
    known = [plans_by_code[code] for code in dict.fromkeys(plan_codes) if code in plans_by_code]
    retired = [plan.plan_code for plan in known if plan.status != ACTIVE_PLAN]
    if retired:
        problems.append("not sold any more: %s" % ", ".join(retired))
    without_employee = [plan.plan_code for plan in known if EMPLOYEE_ONLY not in plan.tiers]
    if without_employee:
        problems.append("does not sell employee-only (EMP) coverage: %s" % ", ".join(without_employee))
    if problems:
        message = "; ".join(problems)
        raise RuleBroken("plan_codes", message[0].upper() + message[1:] + ".")


# --- eligibility and continuation policy -----------------------------------------------------------

def latest_coverage_day(waiting_period_days):
    """The latest day (hire date = day 1) a waiting period can start coverage on."""
    return 1 + waiting_period_days + LONGEST_WAIT_FOR_THE_FIRST_OF_A_MONTH


def check_waiting_period(days):
    if days not in WAITING_PERIOD_DAYS:
        raise RuleBroken("waiting_period_days", "A waiting period is 0, 30 or 60 days: coverage must start by "
                         "day %d after hire." % LATEST_COVERAGE_DAY)


def continuation_policy(employee_count, requested=None, months=None):
    """(continuation, months) for a group: COBRA from 20 employees (federal law, not a choice), state
    continuation below unless the group asks for COBRA-style continuation. State continuation defaults to
    Connecticut's 30 months; COBRA's length follows each qualifying event (18, 29 or 36), so it has none."""
    small = employee_count < COBRA_MIN_EMPLOYEES
    continuation = requested or (STATE_CONTINUATION if small else COBRA)
    if continuation == STATE_CONTINUATION and not small:
        raise RuleBroken("continuation", "A group of %d or more employees is subject to federal COBRA."
                         % COBRA_MIN_EMPLOYEES)
    if continuation == COBRA:
        if months is not None:
            raise RuleBroken("continuation_months", "COBRA's length follows the qualifying event (18, 29 or "
                             "36 months); give months for state continuation only.")
        return COBRA, None
    if months is None:
        months = STATE_CONTINUATION_MONTHS
    if not 1 <= months <= LONGEST_STATE_CONTINUATION_MONTHS:
        raise RuleBroken("continuation_months", "State continuation lasts 1 to %d months."
                         % LONGEST_STATE_CONTINUATION_MONTHS)
    return STATE_CONTINUATION, months


# --- contacts --------------------------------------------------------------------------------------

def merge_contact(current, changes):
    """A contact after a partial update: fields given replace (None clears), fields absent stay."""
    merged = dict(current or {})
    merged.update(changes)
    return merged


def replace_contact(contacts, contact):
    """The group's contacts with the one of `contact["kind"]` replaced (or added), kinds in a stable order."""
    others = [existing for existing in contacts if existing.get("kind") != contact["kind"]]
    order = {kind: position for position, kind in enumerate(CONTACT_KINDS)}
    return sorted(others + [contact], key=lambda c: order.get(c.get("kind"), len(order)))


def contact_of_kind(contacts, kind):
    return next((contact for contact in contacts or () if contact.get("kind") == kind), None)


# --- member counts of an overview ------------------------------------------------------------------

def empty_counts():
    return {
        "subscribers": 0,
        "members": 0,
        "subscribers_by_tier": {tier: 0 for tier in TIERS},
        "subscribers_by_status": {status: 0 for status in COUNTED_MEMBER_STATUSES},
        "members_by_status": {status: 0 for status in COUNTED_MEMBER_STATUSES},
    }


def count_members(counts, status, is_subscriber, how_many):
    """Add `how_many` members of `status` (subscribers also count as contracts) to `counts`."""
    counts["members"] += how_many
    counts["members_by_status"][status] = counts["members_by_status"].get(status, 0) + how_many
    if is_subscriber:
        counts["subscribers"] += how_many
        counts["subscribers_by_status"][status] = counts["subscribers_by_status"].get(status, 0) + how_many


def count_tier(counts, tier, how_many):
    """Add `how_many` subscribers whose current coverage is at `tier`."""
    counts["subscribers_by_tier"][tier] = counts["subscribers_by_tier"].get(tier, 0) + how_many


def total_counts(many):
    """The sum of several subgroups' counts: what the caller may see of the group, and no more."""
    total = empty_counts()
    for counts in many:
        total["subscribers"] += counts["subscribers"]
        total["members"] += counts["members"]
        for key in ("subscribers_by_tier", "subscribers_by_status", "members_by_status"):
            for name, how_many in counts[key].items():
                total[key][name] = total[key].get(name, 0) + how_many
    return total
