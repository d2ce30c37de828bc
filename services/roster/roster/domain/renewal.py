"""Renewal and open-enrollment rules (DOMAIN.md "open enrollment", "renewal notices"): which renewal is next,
the open-enrollment window, when a notice is due, what a plan-year load must say (every plan of the ending
year that a subgroup loses needs a replacement offered there), what an election may choose, and which plan a
family carries over into. Pure functions of their arguments: no nameko, no database.

Rule failures raise roster.domain.enrollment.EnrollmentInvalid (422) naming the field, or a Conflict with a
stable code.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from portal_contracts.roster_renewal import BEGIN, DECLINE, KEEP
from roster.domain import groups
from roster.domain.enrollment import CHILD_AGE_LIMIT, CHILD_CODES, EnrollmentInvalid, Problems, age_on, \
    coverage_tier
from servicekit.errors import Conflict

# --- numbers (DOMAIN.md) --------------------------------------------------------------------------------
OPEN_ENROLLMENT_OPENS_DAYS_BEFORE = 30   # the window opens 30 days before the renewal date ...
OPEN_ENROLLMENT_CLOSES_DAYS_BEFORE = 1   # ... and closes the day before it
NOTICE_DAYS = (60, 30)                   # renewal notices, days before the renewal date

# --- codes (ASC X12 834) and transaction types ----------------------------------------------------------
CHANGE = "001"             # INS03
TERMINATION = "024"
AUDIT = "030"              # no change: the family keeps what it has
PLAN_CHANGE = "22"         # INS04
DECLINED_COVERAGE = "26"

OPEN_ENROLLMENT_CHANGE = "open_enrollment_change"    # begin: pending, effective the renewal date
OPEN_ENROLLMENT_DECLINE = "open_enrollment_decline"  # decline: pending, last covered day = plan year's end
OPEN_ENROLLMENT_KEEP = "open_enrollment_keep"        # keep: completed at once, no coverage change
RENEWAL_CARRY_OVER = "renewal_carry_over"            # the renewal date: a retired plan -> its mapped plan
ELECTION_TYPES = {BEGIN: OPEN_ENROLLMENT_CHANGE, DECLINE: OPEN_ENROLLMENT_DECLINE, KEEP: OPEN_ENROLLMENT_KEEP}


class OpenEnrollmentClosed(EnrollmentInvalid):
    code = "open_enrollment_closed"
    title = "Open enrollment is not open"


class PlanYearNotLoaded(Conflict):
    code = "plan_year_not_loaded"
    title = "The next plan year is not loaded yet"


class RatesNotLoaded(Conflict):
    code = "rates_not_loaded"
    title = "The next plan year's rates are not loaded yet"


def unrated_plans(offered_plan_codes, rated_plan_codes):
    """The offered plans billing has no complete rate sheet for (DOMAIN.md: open enrollment needs the next plan
    year's offering, rates and mapping loaded first), sorted."""
    return sorted(set(offered_plan_codes) - set(rated_plan_codes or ()))


class OpenEnrollmentStarted(Conflict):
    code = "open_enrollment_started"
    title = "Open enrollment has started; the plan year can no longer be replaced"


# --- dates ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The open-enrollment window of the plan year starting on `renewal_date`."""
    renewal_date: date

    @property
    def opens(self):
        return self.renewal_date - timedelta(days=OPEN_ENROLLMENT_OPENS_DAYS_BEFORE)

    @property
    def closes(self):
        return self.renewal_date - timedelta(days=OPEN_ENROLLMENT_CLOSES_DAYS_BEFORE)

    @property
    def plan_year_end(self):
        """The last day of the ending plan year (a decline's last covered day)."""
        return self.renewal_date - timedelta(days=1)

    def is_open(self, day):
        return self.opens <= day <= self.closes


def upcoming_renewal(group_renewal_date, today):
    """The renewal open enrollment and plan-year loads are about: the next one after today (on the renewal
    date itself the new plan year has begun, and the next renewal is a year away)."""
    return groups.next_renewal_date(group_renewal_date, today)


def renewal_on_or_after(group_renewal_date, day):
    """The group's renewal date on or after `day` (notices count the days to it)."""
    if groups.is_plan_year_start(day, group_renewal_date):
        return day
    return groups.next_renewal_date(group_renewal_date, day)


def notice_due(renewal_date, as_of):
    """The notice due on `as_of` (60 or 30 days before), or None. A day missed by the job is caught up by
    the next run: within 60 days the 60-day notice is due, within 30 the 30-day one (each is sent once)."""
    days_left = (renewal_date - as_of).days
    for days in sorted(NOTICE_DAYS):
        if 0 < days_left <= days:
            return days
    return None


def check_window(window, today, current_plan_year_start=None):
    """422 unless `today` is inside the window, naming the date and the window (and, from the renewal date
    on, that the window of the plan year that has just begun is over)."""
    if not window.is_open(today):
        when = "has not opened yet" if today < window.opens else "has closed"
        message = ("Open enrollment for the plan year starting %s runs from %s to %s; it %s (today is %s)."
                   % (window.renewal_date.isoformat(), window.opens.isoformat(), window.closes.isoformat(), when,
                      today.isoformat()))
        if current_plan_year_start is not None and current_plan_year_start <= today < window.opens:
            message += (" Open enrollment for the plan year starting %s closed on %s."
                        % (current_plan_year_start.isoformat(), Window(current_plan_year_start).closes.isoformat()))
        raise OpenEnrollmentClosed(message, errors={"choice": [message]})


def check_replaceable(window, today):
    """A loaded plan year may be replaced until open enrollment opens: after that, choices were made on it."""
    if today >= window.opens:
        raise OpenEnrollmentStarted(
            "Open enrollment for the plan year starting %s opened on %s; its offering and mappings can no longer be "
            "replaced." % (window.renewal_date.isoformat(), window.opens.isoformat()))


# --- loading a plan year --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanView:
    plan_code: str
    status: str
    tiers: tuple


def check_plan_year(data, expected_start, subgroup_numbers, ending_plans, plans):
    """Check a plan-year load (PlanYearInput, loaded). `subgroup_numbers`: the group's; `ending_plans`:
    {subgroup number: set of plan codes of the ending plan year there (offered or covering someone)};
    `plans`: {plan code: PlanView} of every code named. Returns ({subgroup number: [plan codes]}, {from code:
    to code}), or raises EnrollmentInvalid naming every problem by field."""
    problems = Problems()
    if data["plan_year_start"] != expected_start:
        problems.add("plan_year_start", "The next plan year of this group starts on %s (its renewal date, the day "
                     "after the current plan year ends), not %s."
                     % (expected_start.isoformat(), data["plan_year_start"].isoformat()))
    offerings = {}
    for index, offering in enumerate(data["offerings"]):
        number = offering["subgroup_number"]
        if number not in subgroup_numbers:
            problems.add(("offerings", index, "subgroup_number"), "The group has no subgroup %s." % number)
        elif number in offerings:
            problems.add(("offerings", index, "subgroup_number"), "Subgroup %s is listed twice." % number)
        try:
            groups.check_offering(offering["plan_codes"], plans)
        except groups.RuleBroken as broken:
            problems.add(("offerings", index, "plan_codes"), broken.message)
        offerings.setdefault(number, list(dict.fromkeys(offering["plan_codes"])))
    missing = sorted(number for number, ending in ending_plans.items() if ending and number not in offerings)
    if missing:
        problems.add(("offerings", "_schema"), "Subgroup(s) %s have plans in the ending plan year: give their "
                     "offering for the next one." % ", ".join(missing))

    mappings = {}
    ending_anywhere = set().union(*ending_plans.values()) if ending_plans else set()
    for index, mapping in enumerate(data["plan_mappings"]):
        source, target = mapping["from_plan_code"], mapping["to_plan_code"]
        if source in mappings:
            problems.add(("plan_mappings", index, "from_plan_code"), "%s is mapped twice." % source)
            continue
        if source not in ending_anywhere:
            problems.add(("plan_mappings", index, "from_plan_code"),
                         "%s is not a plan of the ending plan year in this group." % source)
        if target not in plans:
            problems.add(("plan_mappings", index, "to_plan_code"), "No such plan: %s." % target)
        elif source in plans and not set(plans[source].tiers) <= set(plans[target].tiers):
            problems.add(("plan_mappings", index, "to_plan_code"),
                         "%s does not sell every tier %s does (%s); its families could not carry over."
                         % (target, source, ", ".join(sorted(set(plans[source].tiers) - set(plans[target].tiers)))))
        mappings[source] = target

    # Every plan a subgroup loses needs a replacement it is offered.
    for number in sorted(ending_plans):
        offered = offerings.get(number)
        if offered is None:
            continue
        for code in sorted(ending_plans[number] - set(offered)):
            target = mappings.get(code)
            if target is None:
                problems.add(("plan_mappings", code), "%s (subgroup %s) is not offered in the plan year starting %s: "
                             "map it to a plan offered there." % (code, number, expected_start.isoformat()))
            elif target not in offered:
                problems.add(("plan_mappings", code), "%s is mapped to %s, which subgroup %s is not offered in the "
                             "plan year starting %s." % (code, target, number, expected_start.isoformat()))
    problems.raise_if_any("The plan year cannot be loaded; see errors.")
    return offerings, mappings


# --- elections ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dependent:
    member_id: str
    relationship_code: str
    date_of_birth: date
    disabled: bool
    status: str


def check_begin(plan_code, offered, dependent_ids, dependents, plan_year_start):
    """A `begin` election: a plan the subscriber's subgroup is offered in the new plan year ({code: tiers}),
    and dependents of this family who may be covered on its first day. Returns the tier."""
    problems = Problems()
    if plan_code not in offered:
        problems.add("plan_code", "%s is not offered to this subscriber's subgroup in the plan year starting %s; "
                     "choose one of: %s." % (plan_code, plan_year_start.isoformat(), ", ".join(sorted(offered))
                                             or "none loaded"))
    family = {dependent.member_id: dependent for dependent in dependents}
    chosen = []
    for index, member_id in enumerate(dependent_ids):
        dependent = family.get(member_id.upper())
        if dependent is None or dependent.status == "cancelled":
            problems.add(("dependent_member_ids", index), "%s is not a dependent of this subscriber." % member_id)
            continue
        if dependent.relationship_code in CHILD_CODES and not dependent.disabled \
                and age_on(dependent.date_of_birth, plan_year_start) >= CHILD_AGE_LIMIT:
            problems.add(("dependent_member_ids", index), "%s is %d or older on %s and no longer eligible."
                         % (member_id, CHILD_AGE_LIMIT, plan_year_start.isoformat()))
            continue
        chosen.append(dependent)
    tier = coverage_tier(dependent.relationship_code for dependent in chosen)
    if plan_code in offered and tier not in offered[plan_code]:
        problems.add("plan_code", "%s does not sell the %s tier these dependents make." % (plan_code, tier))
    problems.raise_if_any("The open-enrollment choice breaks a rule; see errors.")
    return tier


# --- the renewal date -----------------------------------------------------------------------------------

def carry_over_plan(plan_code, offered_codes, mappings):
    """The plan a member has from the renewal date without a choice: the same while their subgroup is still
    offered it, else the plan it is mapped to (the load made sure there is one); None: no change."""
    if plan_code in offered_codes or plan_code not in mappings:
        return None
    return mappings[plan_code]


def renewal_counts(choices, families_without_choice):
    """group_renewed's counts from the choices in force ([begin|keep|decline]) and the families covered into
    the new plan year without one."""
    return {"carried_over": families_without_choice, "kept": choices.count(KEEP), "began": choices.count(BEGIN),
            "declined": choices.count(DECLINE)}
