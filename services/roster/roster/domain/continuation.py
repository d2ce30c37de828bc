"""Continuation coverage rules (DOMAIN.md: COBRA election, COBRA duration, small groups, a dependent electing
alone): who may elect, until when, from which day, for how long, on whose contract; and the 18 -> 29 month
disability extension. Pure functions of plain values (no nameko, no database).

Decisions where the rules are silent:
- A member "lost coverage" when their last regular (non-continuation) span has ended before today; the day
  after its last covered day is the loss of coverage, and continuation starts on it (continuous coverage:
  never limited by the 60-day retroactive window).
- The election is made on the business date it is asked (`election_date` = today). It must come within 60
  days of the later of the notice date and the loss of coverage: (today - later) <= 60 whole days.
- By default everyone who lost coverage on the family's latest loss day elects; the members named instead
  must all have lost coverage on the same day (one election, one contract, one start).
- The contract's holder is the subscriber when electing; otherwise a spouse or partner electing, otherwise the
  oldest electing dependent. The tier is counted from that holder.
- Events 3-7 (Medicare, death, divorce, separation, ineligible child) are the dependents' events: the
  subscriber does not elect on them.
- Duration: COBRA 18 months for events 1 and 2, 36 for 3-7; state continuation the group's months (30 by
  default) whatever the event. coverage_through = coverage_from + N months - 1 day (when that month has no
  such day, its last day: one month from 2027-01-31 runs through 2027-02-28).
- The disability extension (18 -> 29) needs COBRA on event 1 or 2, not extended before, asked while the 18
  months last, with a determination dated neither in the future nor after the 18 months.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from roster.domain.coverage import tier_of
from roster.domain.enrollment import ACTIVE, SPOUSE_CODES, EnrollmentInvalid, Problems
from servicekit.errors import Conflict

# --- codes and numbers (DOMAIN.md) -------------------------------------------------------------------------
COBRA, STATE = "cobra", "state"
QUALIFYING_EVENTS = {  # X12 INS07
    "1": "termination of employment",
    "2": "reduction of hours",
    "3": "Medicare entitlement",
    "4": "death",
    "5": "divorce",
    "6": "legal separation",
    "7": "child no longer a dependent",
}
EMPLOYEE_EVENTS = frozenset({"1", "2"})         # 18 months, the employee may elect
COBRA_MONTHS, COBRA_LONG_MONTHS, DISABILITY_MONTHS = 18, 36, 29
STATE_CONTINUATION_MONTHS = 30                  # Connecticut; the group's continuation_months overrides
ELECTION_WINDOW_DAYS = 60                       # 29 USC 1165(a)(1)
SUBSCRIBER_CODE = "18"

# X12 834: a COBRA enrollment is an addition (021) and a change of one (001), both for reason 09 COBRA.
COBRA_ENROLLMENT, COBRA_EXTENSION = "cobra_enrollment", "cobra_extension"
ADDITION, CHANGE, COBRA_REASON = "021", "001", "09"

# A member's standing towards continuation.
NEVER_COVERED, STILL_COVERED, ALREADY_CONTINUED, LOST = "never_covered", "still_covered", "continued", "lost"
SPAN_STATUSES_THAT_COVERED = (ACTIVE, "terminated")


class MemberStillCovered(Conflict):
    code = "member_still_covered"
    title = "The member is still covered; terminate the coverage first"


class NeverCovered(Conflict):
    code = "never_covered"
    title = "The member never had active coverage to continue"


class ContinuationAlreadyElected(Conflict):
    code = "continuation_already_elected"
    title = "Continuation was already elected for this loss of coverage"


class ElectionWindowClosed(EnrollmentInvalid):
    code = "election_window_closed"
    title = "The election window has closed"


class NotExtendable(Conflict):
    code = "continuation_not_extendable"
    title = "This continuation cannot be extended for a disability"


class NoContinuation(Conflict):
    code = "no_continuation"
    title = "The family has no continuation coverage"


# --- what the rules are given ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    plan_code: str
    effective_from: date
    effective_through: date | None
    status: str
    continuation: str | None = None


@dataclass(frozen=True)
class Person:
    member_id: str
    relationship_code: str
    date_of_birth: date
    spans: tuple = ()


@dataclass(frozen=True)
class Standing:
    kind: str                             # never_covered | still_covered | continued | lost
    last_covered_day: date | None = None  # of regular coverage (lost and continued)
    plan_code: str | None = None          # the plan coverage ended in


@dataclass(frozen=True)
class Election:
    kind: str
    months: int
    qualifying_event: str
    event_date: date
    notice_date: date
    election_date: date
    coverage_from: date
    coverage_through: date
    deadline: date
    holder_member_id: str
    member_ids: tuple
    plan_codes: dict                      # member id -> the plan their coverage ended in
    tier: str


@dataclass(frozen=True)
class Window:
    """A terminated family's election window, for a page to show before anyone elects."""
    member_ids: tuple
    last_covered_day: date
    loss_of_coverage_date: date
    deadline: date                        # if the notice was given by the loss of coverage
    open: bool


@dataclass(frozen=True)
class Extension:
    months: int
    coverage_through: date


# --- dates ---------------------------------------------------------------------------------------------------

def add_months(day, months):
    """The same day `months` later; the month's last day when that month is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def coverage_through(coverage_from, months):
    """The last day of N months of continuation starting on coverage_from: the day before the same day N months
    later, or that month's last day when it has no such day (from 2027-01-31, one month runs to 2027-02-28)."""
    same_day = add_months(coverage_from, months)
    if same_day.day < coverage_from.day:
        return same_day
    return same_day - timedelta(days=1)


def election_deadline(notice_date, loss_of_coverage_date):
    """The last day to elect: 60 days after the later of the notice and the loss of coverage."""
    return max(notice_date, loss_of_coverage_date) + timedelta(days=ELECTION_WINDOW_DAYS)


def duration(kind, qualifying_event, state_months):
    """Months of continuation: state policy (default 30), else COBRA's 18 (events 1, 2) or 36 (3-7)."""
    if kind == STATE:
        return state_months or STATE_CONTINUATION_MONTHS
    return COBRA_MONTHS if qualifying_event in EMPLOYEE_EVENTS else COBRA_LONG_MONTHS


# --- who may elect ----------------------------------------------------------------------------------------------

def standing(person, today):
    """Whether the member can continue coverage: never covered, still (or about to be) covered, already
    continued after their last loss, or lost coverage (with the last covered day and the plan)."""
    live = [span for span in person.spans if span.status in SPAN_STATUSES_THAT_COVERED + ("pending",)]
    if any(span.effective_through is None or span.effective_through >= today for span in live):
        if any(span.continuation for span in live if span.effective_through is None
               or span.effective_through >= today):
            return Standing(ALREADY_CONTINUED)
        return Standing(STILL_COVERED)
    regular = [span for span in live if not span.continuation and span.status in SPAN_STATUSES_THAT_COVERED]
    if not regular:
        return Standing(NEVER_COVERED)
    last = max(regular, key=lambda span: span.effective_through)
    if any(span.continuation and span.effective_from > last.effective_through for span in live):
        return Standing(ALREADY_CONTINUED, last.effective_through, last.plan_code)
    return Standing(LOST, last.effective_through, last.plan_code)


def latest_loss(family, today):
    """(last covered day, [members who lost coverage that day]) for the family's latest loss not yet
    continued, or (None, [])."""
    lost = [(person, standing(person, today)) for person in family]
    lost = [(person, held) for person, held in lost if held.kind == LOST]
    if not lost:
        return None, []
    day = max(held.last_covered_day for _person, held in lost)
    return day, [person for person, held in lost if held.last_covered_day == day]


def election_window(family, today):
    """The window of the family's latest loss of coverage not continued yet, or None."""
    day, members = latest_loss(family, today)
    if day is None:
        return None
    loss = day + timedelta(days=1)
    deadline = election_deadline(loss, loss)
    return Window(tuple(person.member_id for person in members), day, loss, deadline, today <= deadline)


def decide_election(*, family, policy, state_months, qualifying_event, event_date, notice_date, member_ids, today):
    """The election asked on `today` for `family` ([Person], subscriber first), or the refusal: 422 for bad
    dates or members, 409 for a member still covered, never covered or continued already, 422
    election_window_closed past the deadline."""
    problems = Problems()
    if event_date > today:
        problems.add("event_date", "The qualifying event cannot be in the future.")
    if notice_date > today:
        problems.add("notice_date", "The notice date cannot be in the future: the window starts once it is sent.")
    elif notice_date < event_date:
        problems.add("notice_date", "The notice cannot come before the qualifying event (%s)." % event_date)
    by_id = {person.member_id: person for person in family}
    if member_ids is not None:
        unknown = [member_id for member_id in member_ids if member_id not in by_id]
        if unknown:
            problems.add("member_ids", "Not members of this family: %s." % ", ".join(unknown))
    problems.raise_if_any("The election cannot be recorded; see errors.")

    if member_ids is None:
        _day, electing = latest_loss(family, today)
        if not electing:
            _refuse(family[0], standing(family[0], today))
    else:
        electing = [person for person in family if person.member_id in set(member_ids)]
    held = {person.member_id: standing(person, today) for person in electing}
    for person in electing:
        if held[person.member_id].kind != LOST:
            _refuse(person, held[person.member_id])
    days = {held[person.member_id].last_covered_day for person in electing}
    if len(days) > 1:
        raise EnrollmentInvalid("The members lost coverage on different days.", errors={"member_ids": [
            "These members lost coverage on different days (%s); elect for each loss separately." % ", ".join(
                "%s: last covered %s" % (person.member_id, held[person.member_id].last_covered_day)
                for person in electing)]})
    last_covered_day = days.pop()
    coverage_from = last_covered_day + timedelta(days=1)

    subscriber_elects = any(person.relationship_code == SUBSCRIBER_CODE for person in electing)
    if subscriber_elects and qualifying_event not in EMPLOYEE_EVENTS:
        problems.add("qualifying_event", "A %s gives continuation to the dependents; the subscriber elects only "
                     "on a termination of employment (1) or a reduction of hours (2)."
                     % QUALIFYING_EVENTS[qualifying_event])
    if event_date > coverage_from:
        problems.add("event_date", "The qualifying event must come before the loss of coverage on %s."
                     % coverage_from)
    problems.raise_if_any("The election cannot be recorded; see errors.")

    deadline = election_deadline(notice_date, coverage_from)
    if today > deadline:
        raise ElectionWindowClosed(
            "The election window closed on %s." % deadline, errors={"election_date": [
                "The election window closed on %s: %d days after the later of the notice (%s) and the loss of "
                "coverage (%s); an election on %s is too late." % (deadline, ELECTION_WINDOW_DAYS, notice_date,
                                                                   coverage_from, today)]})

    holder = contract_holder(electing)
    kind = policy if policy in (COBRA, STATE) else COBRA
    months = duration(kind, qualifying_event, state_months)
    return Election(
        kind=kind, months=months, qualifying_event=qualifying_event, event_date=event_date,
        notice_date=notice_date, election_date=today, coverage_from=coverage_from,
        coverage_through=coverage_through(coverage_from, months), deadline=deadline,
        holder_member_id=holder.member_id, member_ids=tuple(person.member_id for person in electing),
        plan_codes={person.member_id: held[person.member_id].plan_code for person in electing},
        tier=tier_of(person.relationship_code for person in electing if person is not holder))


def contract_holder(electing):
    """The subscriber when electing; else a spouse or partner; else the oldest electing dependent (a dependent
    electing alone becomes their own contract)."""
    for person in electing:
        if person.relationship_code == SUBSCRIBER_CODE:
            return person
    for person in electing:
        if person.relationship_code in SPOUSE_CODES:
            return person
    return min(electing, key=lambda person: person.date_of_birth)


def _refuse(person, held):
    if held.kind == STILL_COVERED:
        raise MemberStillCovered("Member %s is still covered (or enrolled for a later date); terminate the "
                                 "coverage first, then elect continuation." % person.member_id)
    if held.kind == NEVER_COVERED:
        raise NeverCovered("Member %s never had active coverage, so there is none to continue."
                           % person.member_id)
    if held.kind == ALREADY_CONTINUED:
        raise ContinuationAlreadyElected("Member %s already has continuation coverage after the loss of coverage "
                                         "on %s." % (person.member_id, held.last_covered_day
                                                     and held.last_covered_day + timedelta(days=1)))


# --- the disability extension -------------------------------------------------------------------------------

def decide_extension(*, kind, qualifying_event, disability_extended, coverage_from, current_through,
                     determination_date, today):
    """18 -> 29 months for COBRA on event 1 or 2, asked while the 18 months last; or the refusal."""
    if kind != COBRA:
        raise NotExtendable("State continuation has no disability extension; it lasts the state's months.")
    if qualifying_event not in EMPLOYEE_EVENTS:
        raise NotExtendable("Only the 18 months of a termination of employment or a reduction of hours extend to "
                            "29; this COBRA already lasts 36 months.")
    if disability_extended:
        raise NotExtendable("This COBRA was already extended to 29 months, through %s." % current_through)
    if today > current_through:
        raise NotExtendable("The 18 months ended on %s; an extension must be asked while they last."
                            % current_through)
    problems = Problems()
    if determination_date > today:
        problems.add("determination_date", "The disability determination cannot be in the future.")
    elif determination_date > current_through:
        problems.add("determination_date", "The determination must come within the 18 months (through %s)."
                     % current_through)
    problems.raise_if_any("The extension cannot be recorded; see errors.")
    return Extension(DISABILITY_MONTHS, coverage_through(coverage_from, DISABILITY_MONTHS))
