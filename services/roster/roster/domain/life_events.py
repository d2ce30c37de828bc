"""Qualifying life events (DOMAIN.md's special enrollment windows) and dependent age-off: which events add or
drop which dependents, by when they must be reported, from or until when coverage changes, the X12 codes
recorded, and when a child's coverage ends at 26 under the group's age-off policy.

Pure functions of their arguments (no nameko, no database): the family comes in as `Relative`s with their
coverage as `Span`s. A broken rule raises `EnrollmentInvalid` naming the form's fields.

Decisions where DOMAIN.md is silent (documented in the window table too):
- INS04 reasons: birth 02, adoption and both placements 05, marriage 32; the other additions (domestic
  partnership, loss of other coverage, Medicaid/CHIP, court order) 28 "initial enrollment" (the dependent's
  first enrollment on this contract; DOMAIN.md's list has no closer code). Drops: divorce, legal separation and
  end of partnership 01, death 03; age-off 07 termination of benefits.
- A court order (QMCSO/NMSN) has no window; coverage starts the first of the month after the request, not on
  the order's date: an order may be months old, and a start that far back would reach past the retroactive
  limit that protects the group's premium.
- "The first of the month after the request" is strictly after: a request on 1 March starts 1 April.
- An event date may not be in the future: a change is asked for once the event happened.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal_contracts.roster_life_event import ADD_EVENTS, REMOVE_EVENTS
from portal_contracts.roster_members import RELATIONSHIPS
from roster.domain import coverage
from roster.domain.enrollment import (CHILD_AGE_LIMIT, CHILD_CODES, NEWBORN_WITHOUT_SSN_YEARS,
                                      RETRO_HOLD_DAYS, SPOUSE_CODES, TXN_COMPLETED, TXN_PENDING, Problems, age_on,
                                      coverage_tier, first_of_month_on_or_after)

ADDITION, TERMINATION = "021", "024"   # X12 INS03
BIRTH, ADOPTION, MARRIAGE, INITIAL_ENROLLMENT = "02", "05", "32", "28"
DIVORCE, DEATH, TERMINATION_OF_BENEFITS = "01", coverage.DEATH, "07"   # X12 INS04

ADD, REMOVE = "add", "remove"
EVENT_DATE = "event_date"
FIRST_OF_NEXT_MONTH = "first_of_month_after_request"
END_OF_EVENT_MONTH = "end_of_event_month"
DATE_OF_DEATH = "date_of_death"

CHILDREN = ("child", "adopted_child", "stepchild", "foster_child", "ward")
ANYONE = tuple(RELATIONSHIPS)
SPECIAL_ENROLLMENT = "29 CFR 2590.701-6"

# Age-off policies (groups.age_off_policy): when a child's coverage ends at 26.
BIRTHDAY, END_OF_MONTH, END_OF_YEAR = "birthday", "end_of_month", "end_of_year"


@dataclass(frozen=True)
class LifeEvent:
    name: str
    action: str                 # add | remove
    label: str
    window_days: int | None     # None: no window
    effective: str              # EVENT_DATE | FIRST_OF_NEXT_MONTH | END_OF_EVENT_MONTH | DATE_OF_DEATH
    reason: str                 # X12 INS04
    relationships: tuple        # wire relationship names the event may add or drop
    source: str

    @property
    def maintenance_type(self):
        return ADDITION if self.action == ADD else TERMINATION


def _event(*args):
    return LifeEvent(*args)


# DOMAIN.md's window table. Births, adoptions and placements get the carrier's 60 days (the HIPAA floor is 30).
LIFE_EVENTS = {event.name: event for event in (
    _event("birth", ADD, "Birth", 60, EVENT_DATE, BIRTH, ("child",), SPECIAL_ENROLLMENT + "; carrier allowance"),
    _event("adoption", ADD, "Adoption", 60, EVENT_DATE, ADOPTION, ("adopted_child",),
           SPECIAL_ENROLLMENT + "; carrier allowance"),
    _event("placement_for_adoption", ADD, "Placement for adoption", 60, EVENT_DATE, ADOPTION, ("adopted_child",),
           SPECIAL_ENROLLMENT + "; carrier allowance"),
    _event("foster_placement", ADD, "Foster placement", 60, EVENT_DATE, ADOPTION, ("foster_child",),
           "carrier allowance"),
    _event("marriage", ADD, "Marriage", 30, FIRST_OF_NEXT_MONTH, MARRIAGE, ("spouse", "stepchild"),
           SPECIAL_ENROLLMENT),
    _event("domestic_partnership", ADD, "Domestic partnership", 30, FIRST_OF_NEXT_MONTH, INITIAL_ENROLLMENT,
           ("domestic_partner",), "plan policy"),
    _event("loss_of_other_coverage", ADD, "Loss of other coverage", 30, FIRST_OF_NEXT_MONTH, INITIAL_ENROLLMENT,
           ANYONE, SPECIAL_ENROLLMENT),
    _event("medicaid_chip", ADD, "Medicaid or CHIP coverage lost, or premium help gained", 60, FIRST_OF_NEXT_MONTH,
           INITIAL_ENROLLMENT, ANYONE, SPECIAL_ENROLLMENT),
    _event("court_order", ADD, "Court order (QMCSO / NMSN)", None, FIRST_OF_NEXT_MONTH, INITIAL_ENROLLMENT, CHILDREN,
           "ERISA §609"),
    _event("divorce", REMOVE, "Divorce", None, END_OF_EVENT_MONTH, DIVORCE, ("spouse", "stepchild"),
           "carrier practice (retroactive limit 60 days)"),
    _event("legal_separation", REMOVE, "Legal separation", None, END_OF_EVENT_MONTH, DIVORCE, ("spouse",),
           "carrier practice (retroactive limit 60 days)"),
    _event("end_of_partnership", REMOVE, "End of domestic partnership", None, END_OF_EVENT_MONTH, DIVORCE,
           ("domestic_partner",), "carrier practice (retroactive limit 60 days)"),
    _event("death", REMOVE, "Death", None, DATE_OF_DEATH, DEATH, ANYONE,
           "carrier practice (retroactive limit 60 days)"),
)}
assert set(LIFE_EVENTS) == set(ADD_EVENTS) | set(REMOVE_EVENTS)


def window_table():
    """The rows GET /life-events gives a form, in the order above."""
    return [{"life_event": event.name, "action": event.action, "label": event.label,
             "window_days": event.window_days, "effective_date_rule": event.effective,
             "maintenance_type": event.maintenance_type, "reason": event.reason,
             "relationships": list(event.relationships), "source": event.source} for event in LIFE_EVENTS.values()]


# --- the family as the rules see it -------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    effective_from: date
    effective_through: date | None
    status: str                        # pending | active | terminated | cancelled
    plan_code: str = None
    continuation: str | None = None


@dataclass(frozen=True)
class Relative:
    member_id: str
    relationship_code: str
    first_name: str
    last_name: str
    date_of_birth: date
    disabled: bool = False
    spans: tuple = ()

    @property
    def name(self):
        return "%s %s" % (self.first_name, self.last_name)


def span_on(spans, day):
    """The span in force on `day` (active, pending, or one that has since ended), or None."""
    for span in spans:
        if span.status != "cancelled" and span.effective_from <= day \
                and (span.effective_through is None or span.effective_through >= day):
            return span
    return None


def change_points(spans, after):
    """Days after `after` on which someone's coverage starts or stops (the family's spans): a change dated
    `after` is applied up to each of these, so coverage changed later keeps its own history."""
    points = set()
    for span in spans:
        if span.status == "cancelled":
            continue
        for day in (span.effective_from, span.effective_through + timedelta(days=1)
                    if span.effective_through is not None else None):
            if day is not None and day > after:
                points.add(day)
    return sorted(points)


# --- adding a dependent -------------------------------------------------------------------------------

@dataclass
class Addition:
    event: LifeEvent
    effective_date: date
    status: str                         # completed | pending (never held: see addition_timing)
    tier: str
    holder_span: Span                   # the subscriber's coverage the dependent joins
    covered_member_ids: list = field(default_factory=list)  # the family covered from the effective date


def addition_effective_date(event, event_date, today):
    """The first covered day: the event's date for a birth, adoption or placement; otherwise the first of
    the month after the request."""
    if event.effective == EVENT_DATE:
        return event_date
    return first_of_month_on_or_after(today + timedelta(days=1))


def addition_timing(effective_date, today):
    """Completed at once when the dependent's coverage has started, else pending until that day.

    No carrier-review hold and no 60-day retroactive limit (enrollment.timing) here: a birth, adoption or
    placement reported within its window must be covered from the event (HIPAA special enrollment), so the
    window is the rule. A newborn added on day 60 is covered from the birth date at once; day 61 is refused
    by the window, not by timing."""
    return (TXN_COMPLETED if effective_date <= today else TXN_PENDING), None


def check_window(event, event_date, today, problems):
    if event_date > today:
        problems.add("event_date", "The event date %s is in the future; report the %s once it happened."
                     % (event_date.isoformat(), event.label.lower()))
        return False
    if event.window_days is not None and not coverage.within_days(event_date, today, event.window_days):
        problems.add("event_date", "A %s must be reported within %d days of the event; %s was %d days ago."
                     % (event.label.lower(), event.window_days, event_date.isoformat(),
                        (today - event_date).days))
        return False
    return True


def decide_addition(event_name, event_date, person, today, subscriber, dependents, plan_tiers,
                    returning_member_id=None):
    """Check adding `person` (NewDependent as loaded) to `subscriber`'s family ({dependents}: the others, as
    Relatives) for a life event; the decision, or EnrollmentInvalid naming every problem.

    `plan_tiers`: {plan code: tiers the plan sells}. `returning_member_id`: the person is already on file in
    this family (same SSN, or same first name and birth date) and uncovered, e.g. a child declined at
    enrollment who now lost their other coverage; they come back on the same member row."""
    event = LIFE_EVENTS[event_name]
    problems = Problems()
    relationship = person["relationship"]
    code = RELATIONSHIPS[relationship]
    born = person["date_of_birth"]
    if relationship not in event.relationships:
        problems.add(("dependent", "relationship"), "A %s adds a %s, not a %s." % (
            event.label.lower(), " or ".join(name.replace("_", " ") for name in event.relationships),
            relationship.replace("_", " ")))
    in_window = check_window(event, event_date, today, problems)
    effective = addition_effective_date(event, event_date, today)
    if born > today:
        problems.add(("dependent", "date_of_birth"), "The date of birth is in the future.")
    elif event.name == "birth" and born != event_date:
        problems.add(("dependent", "date_of_birth"), "For a birth, the date of birth is the event date (%s)."
                     % event_date.isoformat())
    elif born > event_date:
        problems.add(("dependent", "date_of_birth"), "The dependent was born after the event date %s."
                     % event_date.isoformat())
    if code in CHILD_CODES and not person.get("disabled") and age_on(born, effective) >= CHILD_AGE_LIMIT:
        problems.add(("dependent", "date_of_birth"), "A child is covered until age %d; %s %s is %d on the "
                     "effective date %s (a disabled child may stay covered: set disabled)."
                     % (CHILD_AGE_LIMIT, person["first_name"], person["last_name"], age_on(born, effective),
                        effective.isoformat()))
    if person.get("ssn") is None and born <= today and age_on(born, today) >= NEWBORN_WITHOUT_SSN_YEARS:
        problems.add(("dependent", "ssn"), "An SSN is required for a dependent one year or older; only a newborn "
                     "may be added without one.")

    # The subscriber's coverage on that day (one that has ended since still covered it: a newborn joins it).
    holder_span = span_on(subscriber.spans, effective) if in_window else None
    if in_window and holder_span is None:
        problems.add("event_date", "Subscriber %s has no active coverage on %s for the dependent to join."
                     % (subscriber.member_id, effective.isoformat()))
    covered = [relative for relative in dependents if in_window and span_on(relative.spans, effective)]
    if code in SPOUSE_CODES:
        partner = next((relative for relative in covered if relative.relationship_code in SPOUSE_CODES), None)
        if partner is not None:
            problems.add(("dependent", "relationship"), "Only one spouse or domestic partner can be covered; %s "
                         "(member %s) is covered on %s." % (partner.name, partner.member_id, effective.isoformat()))
    if returning_member_id is not None and any(r.member_id == returning_member_id for r in covered):
        problems.add("dependent", "This person is already covered in this family as member %s."
                     % returning_member_id)

    tier = coverage_tier([relative.relationship_code for relative in covered] + [code])
    if holder_span is not None and tier not in plan_tiers.get(holder_span.plan_code, ()):
        problems.add(("dependent", "relationship"), "Plan %s does not sell %s coverage (it sells %s); change the "
                     "family's plan at open enrollment or choose who is covered." % (
                         holder_span.plan_code, tier, ", ".join(plan_tiers.get(holder_span.plan_code, ()))))
    problems.raise_if_any("The life event cannot add this dependent; see errors.")
    status, _hold = addition_timing(effective, today)
    return Addition(event, effective, status, tier, holder_span,
                    [subscriber.member_id] + [relative.member_id for relative in covered])


# --- dropping a dependent -----------------------------------------------------------------------------

@dataclass
class Removal:
    event: LifeEvent
    last_covered_day: date
    status: str
    hold_reason: str | None
    tier: str | None                    # the family's tier from the day after (None: nobody stays covered)
    covered_member_ids: list = field(default_factory=list)  # who stays covered from the day after


def decide_removal(event_name, event_date, dependent, today, subscriber, others):
    """Check dropping `dependent` (a Relative) from the family for a divorce, separation, end of partnership or
    death: coverage ends on the event month's last day (death: that day), within the retroactive limit
    (coverage.termination_timing: completed up to 30 days back, held for review up to 60, refused beyond)."""
    event = LIFE_EVENTS[event_name]
    problems = Problems()
    relationship = _relationship_name(dependent.relationship_code)
    if relationship not in event.relationships:
        problems.add("life_event", "A %s drops a %s; member %s is a %s." % (
            event.label.lower(), " or ".join(name.replace("_", " ") for name in event.relationships),
            dependent.member_id, relationship.replace("_", " ")))
    if event_date > today:
        problems.add("event_date", "The event date %s is in the future; report the %s once it happened."
                     % (event_date.isoformat(), event.label.lower()))
    last_day = coverage.termination_date(event_date, event.reason)
    day_after = last_day + timedelta(days=1)
    if span_on(dependent.spans, day_after) is None:
        problems.add("event_date", "%s (member %s) is not covered after %s; there is no coverage to end."
                     % (dependent.name, dependent.member_id, last_day.isoformat()))
    status, hold_reason = coverage.termination_timing(last_day, today, problems, field="event_date")
    problems.raise_if_any("The life event cannot drop this dependent; see errors.")
    staying = [relative for relative in [subscriber] + list(others) if span_on(relative.spans, day_after)]
    return Removal(event, last_day, status, hold_reason, _tier_without_holder(subscriber, staying),
                   [relative.member_id for relative in staying])


def _relationship_name(code):
    return next((name for name, value in RELATIONSHIPS.items() if value == code), "subscriber")


def _tier_without_holder(subscriber, staying):
    if not staying:
        return None
    return coverage_tier(relative.relationship_code for relative in staying if relative is not subscriber)


# --- age-off ------------------------------------------------------------------------------------------

def twenty_sixth_birthday(date_of_birth):
    """The day a child turns 26 (a 29 February birthday turns over on 1 March, as enrollment.age_on counts)."""
    year = date_of_birth.year + CHILD_AGE_LIMIT
    try:
        return date_of_birth.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def age_off_last_day(date_of_birth, policy):
    """The last day a child is covered under the group's policy: the day before the 26th birthday
    (birthday), the last day of that month (end_of_month, the default) or 31 December of that year
    (end_of_year)."""
    birthday = twenty_sixth_birthday(date_of_birth)
    if policy == BIRTHDAY:
        return birthday - timedelta(days=1)
    if policy == END_OF_YEAR:
        return date(birthday.year, 12, 31)
    return coverage.last_day_of_month(birthday)


def oldest_birth_date_due(as_of):
    """Children born after this day cannot be due on `as_of` under any policy (a bound for the look-up)."""
    try:
        return as_of.replace(year=as_of.year - CHILD_AGE_LIMIT)
    except ValueError:  # 29 February
        return date(as_of.year - CHILD_AGE_LIMIT, 3, 1)


def age_off_due(child, policy, as_of):
    """The child's last covered day when their coverage must end on `as_of` (that day has passed and they
    are still covered after it, other than by continuation coverage), else None. A disabled child stays."""
    if child.relationship_code not in CHILD_CODES or child.disabled:
        return None
    last_day = age_off_last_day(child.date_of_birth, policy)
    if last_day >= as_of:
        return None  # still covered today: a child turning 26 mid-month keeps the month (end_of_month)
    span = span_on(child.spans, last_day + timedelta(days=1))
    if span is None or span.continuation:
        return None  # ended already, or COBRA (which exists to continue a child losing dependent status)
    return last_day


def age_off_timing(last_day, as_of):
    """The age-off job's transaction: completed when the last covered day is at most 30 days back (the job
    runs daily, so normally yesterday). Further back (the family had a pending change for a while, or the
    job did not run) it waits, held for carrier review, rather than being refused: the child is no longer
    eligible, and whether to end coverage that far back (rescission) is the carrier's call."""
    days_back = (as_of - last_day).days
    if days_back <= RETRO_HOLD_DAYS:
        return TXN_COMPLETED, None
    return TXN_PENDING, ("Age-off %d days in the past: retroactive changes beyond %d days need carrier review."
                         % (days_back, RETRO_HOLD_DAYS))
