"""Member lifecycle rules (issue 5): address and demographic changes, terminating and reinstating coverage (one
member or a whole family), transferring a family to another subgroup. Pure functions of dates and plain values
(no nameko, no database); a broken rule raises EnrollmentInvalid (422, errors by field) or a typed Conflict.

Numbers (DOMAIN.md): a termination ends on the last day of the event's month, except a death (that day); it
reaches back at most 60 days (31-60 held for carrier review); a reinstatement is asked within 60 days of the
termination date (request date - termination date <= 60) and restores continuous coverage.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from portal_contracts.roster_lifecycle import TERMINATION_CAUSES
from roster.domain import coverage
from roster.domain.enrollment import (CHILD_AGE_LIMIT, CHILD_CODES, SPOUSE_CODES, TERMINATED, TXN_COMPLETED,
                                      TXN_PENDING, EnrollmentInvalid, Problems, age_on, choose_offering,
                                      first_of_month_on_or_after, timing)
from servicekit.errors import Conflict

# --- codes (ASC X12 834) ------------------------------------------------------------------------------
CHANGE = "001"                  # INS03 maintenance types
TERMINATION = "024"
REINSTATEMENT = "025"
CHANGE_OF_LOCATION = "43"       # INS04 reasons
IDENTIFYING_DATA = "25"
RE_ENROLLMENT = "41"
TRANSFER = "XT"
DEATH = TERMINATION_CAUSES["death"]
DIVORCE = TERMINATION_CAUSES["divorce"]
END_OF_EMPLOYMENT = TERMINATION_CAUSES["termination_of_employment"]

# --- transaction types --------------------------------------------------------------------------------
ADDRESS_CHANGE = "address_change"
DEMOGRAPHIC_CHANGE = "demographic_change"
COVERAGE_TERMINATION = "coverage_termination"
COVERAGE_REINSTATEMENT = "coverage_reinstatement"
SUBSCRIBER_TERMINATION = "subscriber_termination"
SUBSCRIBER_REINSTATEMENT = "subscriber_reinstatement"
TRANSFER_TYPE = "transfer"

REINSTATEMENT_DAYS = 60         # DOMAIN.md: asked within 60 days of the termination date
MAX_DAYS_AHEAD = 366            # a termination is scheduled at most a year ahead (a typo in the year is caught)


class MemberNotTerminated(Conflict):
    code = "member_not_terminated"
    title = "The member's coverage is not terminated"


class TerminationNotCompleted(Conflict):
    code = "termination_not_completed"
    title = "The termination has not completed"


class CoverageChangedSinceTermination(Conflict):
    code = "coverage_changed_since_termination"
    title = "The family's coverage changed after the termination"


class SsnInUse(Conflict):
    code = "ssn_in_use"
    title = "The SSN belongs to another member"


# --- address --------------------------------------------------------------------------------------------

def address_changes(current, requested):
    """{kind: new address} for the addresses (mailing_address, physical_address) the request changes; 422 when
    it changes none (the addresses on file are the ones sent)."""
    changed = {kind: address for kind, address in requested.items() if not same_address(address, current.get(kind))}
    if not changed:
        raise EnrollmentInvalid("The addresses sent are the ones on file; nothing changes.",
                                errors={kind: ["This is the address on file already."] for kind in requested})
    return changed


def same_address(one, other):
    """Equal addresses, whether an empty line is absent or None (rows from a census and from a form)."""
    if one is None or other is None:
        return one is other
    return _filled(one) == _filled(other)


def _filled(address):
    return {key: value for key, value in address.items() if value not in (None, "")}


def follows_subscriber(dependent_address, subscriber_address_before):
    """A dependent's address follows the subscriber's unless the dependent has their own: none on file, or
    the subscriber's (before the change), means the subscriber's."""
    return dependent_address is None or same_address(dependent_address, subscriber_address_before)


# --- demographics ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonOnFile:
    """What a demographic correction checks a member against."""
    relationship_code: str
    disabled: bool
    covered: bool                # coverage in force or pending
    coverage_starts: date = None  # the start of coverage not begun yet (the age limit applies from it)


def demographic_changes(current, requested, person, today):
    """The corrections that change something ({field: new value}, compared with `current`), checked: a birth
    date not in the future, and a covered child (not disabled) still under 26 by it on the business date or
    when their coverage starts. 422 when nothing changes."""
    changed = {name: value for name, value in requested.items() if value != current.get(name)}
    problems = Problems()
    if not changed:
        problems.add("_schema", "Every value sent is the one on file; nothing to correct.")
    born = changed.get("date_of_birth")
    if born is not None:
        if born > today:
            problems.add("date_of_birth", "The date of birth is in the future.")
        elif person.relationship_code in CHILD_CODES and person.covered and not person.disabled:
            on_day = max(today, person.coverage_starts or today)
            if age_on(born, on_day) >= CHILD_AGE_LIMIT:
                problems.add("date_of_birth", "A child is covered until age %d; born on %s, this child is %d on "
                             "%s. End the child's coverage first, or mark the child disabled."
                             % (CHILD_AGE_LIMIT, born.isoformat(), age_on(born, on_day), on_day.isoformat()))
    problems.raise_if_any("The correction breaks a rule; see errors.")
    return changed


# --- termination ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TerminationDecision:
    termination_date: date      # the last covered day (834 DTP*349): the transaction's effective date
    completes_on: date          # the day after: when the daily job completes a future one
    status: str                 # completed | pending (future, or held for carrier review)
    hold_reason: str
    reason: str                 # X12 INS04
    date_of_death: date = None


def decide_termination(*, cause, event_date, relationship_code, whole_family, covered_on_last_day, coverage_ends,
                       today):
    """When coverage ends and whether that completes now. `cause` is a TERMINATION_CAUSES name; the member must
    be covered on the last covered day by coverage that goes on after it (`coverage_ends`: its end, None when
    open). Divorce ends a spouse's or partner's coverage only; termination of employment the subscriber's (the
    whole family's); a date of death is not in the future."""
    problems = Problems()
    reason = TERMINATION_CAUSES[cause]
    if reason == DIVORCE and relationship_code not in SPOUSE_CODES:
        problems.add("cause", "Divorce ends the coverage of a spouse or domestic partner only.")
    if reason == END_OF_EMPLOYMENT and not whole_family:
        problems.add("cause", "Termination of employment ends the subscriber's coverage: terminate the "
                     "subscriber (the whole family) instead.")
    if reason == DEATH and event_date > today:
        problems.add("event_date", "A date of death cannot be in the future.")
    if event_date > today + timedelta(days=MAX_DAYS_AHEAD):
        problems.add("event_date", "A termination may be scheduled at most %d days ahead." % MAX_DAYS_AHEAD)
    last_day = coverage.termination_date(event_date, reason)
    # A fresh Problems: termination_timing names the field only when it records the first problem.
    late = Problems()
    status, hold_reason = coverage.termination_timing(last_day, today, late, field="event_date")
    for message in late.errors.get("event_date", ()):
        problems.add("event_date", message)
    if "event_date" not in problems.errors:
        if not covered_on_last_day:
            problems.add("event_date", "The member is not covered on %s; there is no coverage to end."
                         % last_day.isoformat())
        elif coverage_ends is not None and coverage_ends <= last_day:
            problems.add("event_date", "The member's coverage already ends on %s." % coverage_ends.isoformat())
    problems.raise_if_any("The termination breaks a rule; see errors.")
    return TerminationDecision(last_day, last_day + timedelta(days=1), status, hold_reason, reason,
                               event_date if reason == DEATH else None)


# --- reinstatement --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TerminationOnFile:
    """The member's (or family's) last termination: its transaction's confirmation number, status and
    effective date (the last covered day)."""
    confirmation_number: str
    status: str
    termination_date: date


@dataclass(frozen=True)
class ReinstatementDecision:
    reinstated_from: date       # the day after the termination date: coverage is continuous
    status: str
    hold_reason: str


def decide_reinstatement(*, member_status, termination, today, changed_since, holder_covered=True):
    """Reinstating the last termination: the member must be terminated by a completed termination, asked
    within 60 days of its termination date (day 60 allowed, 61 refused: re-enroll instead); the family's
    coverage must not have changed after it (`changed_since`), and a dependent needs the subscriber covered
    (`holder_covered`). Timing as any start: up to 30 days back completed, 31-60 held for carrier review."""
    if termination is not None and termination.status == TXN_PENDING:
        raise TerminationNotCompleted("The termination %s is still pending; cancel it instead of reinstating."
                                      % termination.confirmation_number)
    if member_status != TERMINATED or termination is None or termination.status != TXN_COMPLETED:
        raise MemberNotTerminated("The member's coverage is not terminated (status %s); there is nothing to "
                                  "reinstate." % member_status)
    if changed_since:
        raise CoverageChangedSinceTermination(
            "The family's coverage changed after the termination %s; reinstating would overwrite that change. "
            "Enroll the member again instead." % termination.confirmation_number)
    problems = Problems()
    days = (today - termination.termination_date).days
    if not coverage.within_days(termination.termination_date, today, REINSTATEMENT_DAYS):
        problems.add("termination_date", "Coverage ended on %s, %d days ago; a reinstatement must be asked within "
                     "%d days of the termination date. Re-enroll the member instead."
                     % (termination.termination_date.isoformat(), days, REINSTATEMENT_DAYS))
    if not holder_covered:
        problems.add("subscriber", "The subscriber is not covered from %s; reinstate the subscriber (the whole "
                     "family) instead." % (termination.termination_date + timedelta(days=1)).isoformat())
    problems.raise_if_any("The reinstatement breaks a rule; see errors.")
    reinstated_from = termination.termination_date + timedelta(days=1)
    status, hold_reason = timing(reinstated_from, today, problems)
    problems.raise_if_any("The reinstatement breaks a rule; see errors.")
    return ReinstatementDecision(reinstated_from, status, hold_reason)


# --- transfer -------------------------------------------------------------------------------------------

def default_transfer_date(today):
    """The first of next month."""
    return first_of_month_on_or_after(today + timedelta(days=1))


@dataclass(frozen=True)
class TransferDecision:
    effective_date: date
    offering: object            # roster.domain.enrollment.Offering of the target subgroup
    plan_changes: bool
    status: str
    hold_reason: str


def decide_transfer(*, from_subgroup_number, to_subgroup_number, effective_date, current_plan_code, plan_code,
                    tier, family_covered, target_offerings, today):
    """A family moves to another subgroup of its group from `effective_date` (default: the first of next month)
    with continuous coverage: the family must be covered that day, the target must offer its plan (or the
    `plan_code` asked for) for that date and tier; the retroactive rules of any change apply."""
    problems = Problems()
    effective_date = effective_date or default_transfer_date(today)
    if to_subgroup_number == from_subgroup_number:
        problems.add("to_subgroup_number", "The family is in subgroup %s already." % from_subgroup_number)
    if not family_covered:
        problems.add("effective_date", "The subscriber is not covered on %s; only a covered family can be "
                     "transferred." % effective_date.isoformat())
    status, hold_reason = timing(effective_date, today, problems)
    offering = None
    if not problems:
        offering = choose_offering(target_offerings, plan_code or current_plan_code, effective_date, tier,
                                   to_subgroup_number, problems)
    if problems.errors.get("plan_code") and not plan_code:
        problems.errors["plan_code"].append("Choose a plan subgroup %s offers (plan_code) to transfer the family."
                                            % to_subgroup_number)
    problems.raise_if_any("The transfer breaks a rule; see errors.")
    return TransferDecision(effective_date, offering, offering.plan_code != current_plan_code, status, hold_reason)
