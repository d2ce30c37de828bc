"""A group's billing policy and rate sheet (DOMAIN.md: premium rating, grace period, proration, COBRA billing
policy, retro adjustments): which choices exist, which rate keys a plan needs under each rating method, whether
a rate sheet is complete, and which plan year a date falls in. Pure functions: no nameko, no SQLAlchemy."""
from dataclasses import dataclass
from datetime import date, timedelta

from billing.domain.money import ZERO

COMPOSITE = "composite"
AGE_RATED = "age_rated"
RATING_METHODS = (COMPOSITE, AGE_RATED)
PRORATIONS = ("none", "daily", "fifteenth")
COBRA_BILLING = ("group_billed", "direct_billed")
GRACE_DAYS = (1, 90)            # DOMAIN.md: 31 by default; a carrier may give a group less or more, never open-ended
RETRO_WINDOW_DAYS = (0, 365)    # DOMAIN.md: 60 by default; 0 = no retro adjustments at all

# The ACA small-group age bands (45 CFR 147.102): one band for children up to 14, one per year of age from 15
# to 63, one for 64 and older. The member's age at the plan year's start picks the band.
YOUNGEST_SINGLE_AGE, OLDEST_SINGLE_AGE = 15, 63
AGE_BANDS = ("0-14",) + tuple(str(age) for age in range(YOUNGEST_SINGLE_AGE, OLDEST_SINGLE_AGE + 1)) + ("64+",)

# X12 HD05 coverage levels in the order a rate sheet lists them; others sort after these, by name.
TIER_ORDER = ("EMP", "ESP", "ECH", "FAM")


def age_on(date_of_birth, day):
    """Completed years of age on `day` (a 29 February birthday counts on 1 March in other years)."""
    had_birthday = (day.month, day.day) >= (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - (0 if had_birthday else 1)


def age_band(date_of_birth, plan_year_start):
    """The ACA age band of a member for a plan year: by the age at the plan year's start."""
    age = age_on(date_of_birth, plan_year_start)
    if age < YOUNGEST_SINGLE_AGE:
        return AGE_BANDS[0]
    if age > OLDEST_SINGLE_AGE:
        return AGE_BANDS[-1]
    return str(age)


def required_rate_keys(rating_method, tiers_sold):
    """The rate keys a plan needs: composite, one per tier the plan is sold in; age_rated, every age band
    (whatever the tiers: each covered member is rated on their own)."""
    if rating_method == AGE_RATED:
        return list(AGE_BANDS)
    return sort_rate_keys(set(tiers_sold))


def sort_rate_keys(keys):
    """Tiers in sheet order, age bands youngest first."""
    def position(key):
        if key in TIER_ORDER:
            return (0, TIER_ORDER.index(key), key)
        if key in AGE_BANDS:
            return (1, AGE_BANDS.index(key), key)
        return (2, 0, key)
    return sorted(keys, key=position)


def offered_tiers(offerings):
    """{plan code: tiers sold} over the offerings of a plan year (a plan offered to two subgroups needs the
    tiers either sells). `offerings`: [[{plan_code, tiers}], ...], one list per subgroup."""
    tiers = {}
    for plans in offerings:
        for plan in plans:
            tiers.setdefault(plan["plan_code"], set()).update(plan["tiers"])
    return tiers


def rate_sheet_errors(rating_method, tiers_by_plan, loaded, kept):
    """What is wrong with a rate load, by plan code ({} when it may be saved).

    `tiers_by_plan`: the plans offered to any subgroup in the plan year and the tiers each sells;
    `loaded`: [{plan_code, rate_key, amount}] the carrier sends (they replace those plans' rates);
    `kept`: {plan code: {rate keys}} already on file for the plan year (plans the load leaves alone keep them).
    After the load every offered plan needs its full set of keys; a key the plan does not need, a key given
    twice, and a plan nobody is offered are refused too, so the sheet never holds a rate no premium uses.
    """
    errors = {}
    given = {}
    for rate in loaded:
        keys = given.setdefault(rate["plan_code"], [])
        if rate["rate_key"] in keys:
            errors.setdefault(rate["plan_code"], []).append("%s is given twice." % rate["rate_key"])
        keys.append(rate["rate_key"])
    for plan_code in sorted(given):
        if plan_code not in tiers_by_plan:
            errors.setdefault(plan_code, []).append("No subgroup is offered this plan in the plan year.")
            continue
        needed = required_rate_keys(rating_method, tiers_by_plan[plan_code])
        unknown = sort_rate_keys(set(given[plan_code]) - set(needed))
        if unknown:
            errors.setdefault(plan_code, []).append(
                "Not a rate key of this plan under %s rating: %s." % (rating_method, ", ".join(unknown)))
    for plan_code in sorted(tiers_by_plan):
        needed = required_rate_keys(rating_method, tiers_by_plan[plan_code])
        on_sheet = set(given[plan_code]) if plan_code in given else set(kept.get(plan_code, ()))
        missing = [key for key in needed if key not in on_sheet]
        if missing:
            errors.setdefault(plan_code, []).append("Missing rates for: %s." % ", ".join(missing))
    return errors


def missing_rate_keys(rating_method, tiers_sold, keys_on_file):
    """The keys an offered plan still lacks (after a change of rating method, say)."""
    return [key for key in required_rate_keys(rating_method, tiers_sold) if key not in set(keys_on_file)]


# --- plan years --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanYear:
    start: date
    end: date


def _renewal_in(renewal_date, year):
    """The group's renewal day in `year` (a 29 February renewal falls on the 28th in other years)."""
    try:
        return renewal_date.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def plan_year_holding(day, renewal_date):
    """The plan year `day` falls in: from the renewal day on or before it to the day before the next one (the
    same calendar roster uses). A group billing has not yet heard the renewal date of runs on calendar years."""
    renewal_date = renewal_date or date(day.year, 1, 1)
    start = _renewal_in(renewal_date, day.year)
    if start > day:
        start = _renewal_in(renewal_date, day.year - 1)
    return PlanYear(start, _renewal_in(renewal_date, start.year + 1) - timedelta(days=1))


# --- what an account owes ------------------------------------------------------------------------------------

def amount_due(balance):
    """What the group should pay on an account: the balance when it owes, nothing when it is in credit."""
    return balance if balance > ZERO else ZERO


def credit_balance(balance):
    """An overpayment left on an account (a negative balance), as a positive amount."""
    return -balance if balance < ZERO else ZERO
