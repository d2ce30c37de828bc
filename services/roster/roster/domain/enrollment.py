"""New-enrollment rules (DOMAIN.md, seed 002): when coverage starts, who may be covered, which tier that
makes, which plan may be chosen, whether the change completes at once, waits for its date or waits for
carrier review; who a person already is on the roster; and the transaction state machine.

Pure functions of their arguments: no nameko, no database. Input is an enrollment as
portal_contracts.roster_members.EnrollmentInput loads it. A broken rule raises `EnrollmentInvalid` whose
`errors` name every offending field in the shape marshmallow uses ({"dependents": {1: {"date_of_birth":
[...]}}}), so a form shows each message next to its field.
"""
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal_contracts.roster_members import RELATIONSHIPS, SUBSCRIBER_CODE
from roster.domain.groups import LATEST_COVERAGE_DAY
from servicekit.errors import Conflict, ValidationFailed

# --- codes (ASC X12 834) ------------------------------------------------------------------------------
ADDITION = "021"                 # INS03 maintenance type of a new enrollment
INITIAL_ENROLLMENT = "28"        # INS04
RE_ENROLLMENT = "41"             # INS04: a rehired former subscriber, on the same member row
SPOUSE_CODES = frozenset({RELATIONSHIPS["spouse"], RELATIONSHIPS["domestic_partner"]})
CHILD_CODES = frozenset({RELATIONSHIPS[name] for name in
                         ("child", "adopted_child", "stepchild", "foster_child", "ward")})
EMP, ESP, ECH, FAM = "EMP", "ESP", "ECH", "FAM"

# --- numbers (DOMAIN.md) ------------------------------------------------------------------------------
CHILD_AGE_LIMIT = 26             # children are eligible until 26 (ACA §2714); a disabled child may stay
NEWBORN_WITHOUT_SSN_YEARS = 1    # a dependent under one may not have an SSN yet
RETRO_HOLD_DAYS = 30             # an effective date further back than this waits for carrier review
RETRO_LIMIT_DAYS = 60            # further back than this is refused (the retroactive window)

# --- member and transaction states --------------------------------------------------------------------
PROSPECTIVE, PENDING_REVIEW, ACTIVE, TERMINATED = "prospective", "pending", "active", "terminated"
DECLINED, CANCELLED = "declined", "cancelled"
LIVE_SUBSCRIBER_STATUSES = frozenset({PROSPECTIVE, PENDING_REVIEW, ACTIVE, "cobra"})
COVERED_STATUSES = frozenset({PROSPECTIVE, PENDING_REVIEW, ACTIVE, "cobra"})

TXN_PENDING, TXN_COMPLETED, TXN_REJECTED, TXN_CANCELLED = "pending", "completed", "rejected", "cancelled"
TRANSITIONS = {TXN_PENDING: frozenset({TXN_COMPLETED, TXN_REJECTED, TXN_CANCELLED})}

# Crockford base32 without look-alikes (no I, L, O, U), as messaging's references: read over the phone.
CONFIRMATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EnrollmentInvalid(ValidationFailed):
    code = "enrollment_invalid"
    title = "The enrollment breaks an enrollment rule"


class SubscriberAlreadyEnrolled(Conflict):
    code = "subscriber_exists"
    title = "This person is already a subscriber of the group"


class TransactionNotPending(Conflict):
    code = "transaction_not_pending"
    title = "Only a pending transaction can be changed"


class Problems:
    """Collects rule failures by field path, in marshmallow's error shape."""

    def __init__(self):
        self.errors = {}

    def add(self, path, message):
        if isinstance(path, str):
            path = (path,)
        node = self.errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).append(message)

    def __bool__(self):
        return bool(self.errors)

    def raise_if_any(self, detail="The enrollment breaks an enrollment rule; see errors."):
        if self.errors:
            raise EnrollmentInvalid(detail, errors=self.errors)


# --- identifiers --------------------------------------------------------------------------------------

def new_confirmation_number(today):
    """E + YYMMDD + 6 unambiguous characters: the day it was asked and a random part (unique in the table)."""
    return "E%s%s" % (today.strftime("%y%m%d"), "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(6)))


def new_member_id():
    """M + 9 random digits (unique in the table); random so ids say nothing about order or group size."""
    return "M%09d" % secrets.randbelow(10 ** 9)


# --- dates --------------------------------------------------------------------------------------------

def first_of_month_on_or_after(day):
    if day.day == 1:
        return day
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def policy_effective_date(hire_date, waiting_period_days):
    """The group's eligibility policy: the first of the month on or after hire + the waiting period
    (0, 30 or 60 days; the same reading as roster.domain.groups, so both sides agree on day 91)."""
    return first_of_month_on_or_after(hire_date + timedelta(days=waiting_period_days))


def latest_effective_date(hire_date):
    """Day 91 counting the hire date as day 1 (29 CFR 2590.715-2708: a wait of at most 90 days)."""
    return hire_date + timedelta(days=LATEST_COVERAGE_DAY - 1)


def age_on(date_of_birth, day):
    """Whole years of age on `day` (a 29 February birthday turns over on 1 March in other years)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def choose_effective_date(hire_date, waiting_period_days, requested, problems):
    """The effective date of a new hire's enrollment: the policy's, or a later one the group asked for,
    never later than day 91 after hire. Returns None (and records why) when there is none."""
    policy = policy_effective_date(hire_date, waiting_period_days)
    latest = latest_effective_date(hire_date)
    if policy > latest:
        problems.add("subscriber", "The group's waiting period of %d days would start coverage on %s, after day "
                     "%d from the hire date %s; the eligibility policy must be corrected first."
                     % (waiting_period_days, policy.isoformat(), LATEST_COVERAGE_DAY, hire_date.isoformat()))
        return None
    if requested is None:
        return policy
    if requested < policy:
        problems.add("effective_date", "Coverage cannot start before %s, the first date the group's eligibility "
                     "policy allows for a hire on %s." % (policy.isoformat(), hire_date.isoformat()))
        return None
    if requested > latest:
        problems.add("effective_date", "Coverage must start by %s, day %d after the hire date %s; %s is too late."
                     % (latest.isoformat(), LATEST_COVERAGE_DAY, hire_date.isoformat(), requested.isoformat()))
        return None
    return requested


def timing(effective_date, today, problems, retro_limits=True):
    """(transaction status, hold reason) for a change effective on `effective_date`, asked on `today`.

    Future: pending until the daily job reaches the date. Up to 30 days back: completed at once. 31 to 60
    days back: pending, held for carrier review. Further back: refused. A group moving in (census) has no
    retro limits: its existing coverage is simply recorded.
    """
    days_back = (today - effective_date).days
    if effective_date > today:
        return TXN_PENDING, None
    if not retro_limits or days_back <= RETRO_HOLD_DAYS:
        return TXN_COMPLETED, None
    if days_back > RETRO_LIMIT_DAYS:
        problems.add("effective_date", "%s is %d days in the past; a change may reach back at most %d days."
                     % (effective_date.isoformat(), days_back, RETRO_LIMIT_DAYS))
        return None, None
    return TXN_PENDING, ("Effective %d days in the past: retroactive changes beyond %d days need carrier review."
                         % (days_back, RETRO_HOLD_DAYS))


def member_status_for(txn_status, hold_reason):
    """What a newly enrolled (covered) member's status is while their enrollment is in this state."""
    if txn_status == TXN_COMPLETED:
        return ACTIVE
    return PENDING_REVIEW if hold_reason else PROSPECTIVE


def span_status_for(txn_status):
    return ACTIVE if txn_status == TXN_COMPLETED else "pending"


# --- who is covered -----------------------------------------------------------------------------------

def coverage_tier(covered_relationship_codes):
    """X12 HD05 from who is covered besides the employee: a spouse or partner, children (and other
    dependents), both, or nobody."""
    codes = set(covered_relationship_codes)
    with_partner = bool(codes & SPOUSE_CODES)
    with_children = bool(codes - SPOUSE_CODES - {SUBSCRIBER_CODE})
    if with_partner and with_children:
        return FAM
    if with_partner:
        return ESP
    if with_children:
        return ECH
    return EMP


def check_people(enrollment, effective_date, today, problems, newborn_ssn_rule=True):
    """Rules about the people: birth dates not in the future, children under 26 on the effective date
    (unless disabled), at most one spouse or partner, an SSN for every dependent a year or older, no SSN
    twice in one family."""
    subscriber = enrollment["subscriber"]
    if subscriber["date_of_birth"] > today:
        problems.add(("subscriber", "date_of_birth"), "The date of birth is in the future.")
    seen_ssns = {subscriber["ssn"]: ("subscriber",)}
    partners = 0
    for index, dependent in enumerate(enrollment.get("dependents") or ()):
        path = ("dependents", index)
        code = RELATIONSHIPS[dependent["relationship"]]
        born = dependent["date_of_birth"]
        if born > today:
            problems.add(path + ("date_of_birth",), "The date of birth is in the future.")
        if code in SPOUSE_CODES:
            partners += 1
            if partners > 1:
                problems.add(path + ("relationship",), "Only one spouse or domestic partner can be enrolled.")
        if (code in CHILD_CODES and dependent.get("elect_coverage", True) and not dependent.get("disabled")
                and effective_date is not None and age_on(born, effective_date) >= CHILD_AGE_LIMIT):
            problems.add(path + ("date_of_birth",), "A child is covered until age %d; %s %s is %d on the "
                         "effective date %s (a disabled child may stay covered: set disabled)."
                         % (CHILD_AGE_LIMIT, dependent["first_name"], dependent["last_name"],
                            age_on(born, effective_date), effective_date.isoformat()))
        ssn = dependent.get("ssn")
        if ssn is None:
            if newborn_ssn_rule and born <= today and age_on(born, today) >= NEWBORN_WITHOUT_SSN_YEARS:
                problems.add(path + ("ssn",), "An SSN is required for a dependent one year or older; only a "
                             "newborn may be enrolled without one.")
        elif ssn in seen_ssns:
            problems.add(path + ("ssn",), "The same SSN is given twice in this family.")
        else:
            seen_ssns[ssn] = path


# --- the plan -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Offering:
    """A plan offered to the subgroup for one plan year, with the tiers the plan sells."""
    plan_code: str
    plan_year_start: date
    plan_year_end: date
    tiers: tuple
    name: str = ""
    product: str = ""
    plan_type: str = ""
    network: str = ""


def choose_offering(offerings, plan_code, effective_date, tier, subgroup_number, problems):
    """The offering the enrollment may use: the plan offered to the subgroup for the plan year holding the
    effective date, selling the family's tier. Records why not otherwise."""
    same_plan = [offer for offer in offerings if offer.plan_code == plan_code]
    in_year = [offer for offer in same_plan if offer.plan_year_start <= effective_date <= offer.plan_year_end]
    if not in_year:
        offered = sorted({offer.plan_code for offer in offerings
                          if offer.plan_year_start <= effective_date <= offer.plan_year_end})
        problems.add("plan_code", "Plan %s is not offered to subgroup %s for the plan year holding %s; offered: %s."
                     % (plan_code, subgroup_number, effective_date.isoformat(), ", ".join(offered) or "none"))
        return None
    offering = in_year[0]
    if tier not in offering.tiers:
        problems.add("plan_code", "Plan %s does not sell %s coverage (it sells %s)."
                     % (plan_code, tier, ", ".join(offering.tiers)))
        return None
    return offering


# --- the whole decision -------------------------------------------------------------------------------

@dataclass
class EnrollmentDecision:
    effective_date: date
    tier: str
    offering: Offering
    status: str                     # pending | completed
    hold_reason: str = None
    covered: list = field(default_factory=list)   # indexes of the dependents electing coverage

    @property
    def member_status(self):
        return member_status_for(self.status, self.hold_reason)


def decide_enrollment(enrollment, waiting_period_days, offerings, today):
    """Check a new hire's enrollment against every rule at once; the decision, or EnrollmentInvalid naming
    every problem."""
    problems = Problems()
    subscriber = enrollment["subscriber"]
    effective_date = choose_effective_date(subscriber["hire_date"], waiting_period_days,
                                           enrollment.get("effective_date"), problems)
    return _decide(enrollment, effective_date, offerings, today, problems, retro_limits=True)


def decide_census_family(enrollment, offerings, today):
    """A family of a group moving in: coverage as the census gives it (its effective date, no hire-date or
    retroactive limits: the coverage already exists elsewhere), every other rule as for a new enrollment."""
    problems = Problems()
    return _decide(enrollment, enrollment["effective_date"], offerings, today, problems, retro_limits=False)


def _decide(enrollment, effective_date, offerings, today, problems, retro_limits):
    check_people(enrollment, effective_date, today, problems)
    dependents = enrollment.get("dependents") or ()
    covered = [index for index, dependent in enumerate(dependents) if dependent.get("elect_coverage", True)]
    tier = coverage_tier(RELATIONSHIPS[dependents[index]["relationship"]] for index in covered)
    offering = status = hold_reason = None
    if effective_date is not None:
        offering = choose_offering(offerings, enrollment["plan_code"], effective_date, tier,
                                   enrollment["subgroup_number"], problems)
        status, hold_reason = timing(effective_date, today, problems, retro_limits=retro_limits)
    problems.raise_if_any()
    return EnrollmentDecision(effective_date, tier, offering, status, hold_reason, covered)


def decide_edit(*, hire_date, waiting_period_days, current_effective_date, requested_effective_date,
                plan_code, tier, dependents, offerings, subgroup_number, today):
    """A pending enrollment's new effective date and/or plan: the same date, age, plan and retro rules as the
    enrollment itself. `dependents` are the covered dependents as (relationship code, date of birth,
    disabled, name). Returns (effective date, offering, status, hold reason)."""
    problems = Problems()
    effective_date = current_effective_date
    if requested_effective_date is not None and requested_effective_date != current_effective_date:
        effective_date = choose_effective_date(hire_date, waiting_period_days, requested_effective_date, problems) \
            if hire_date is not None else requested_effective_date
    offering = status = hold_reason = None
    if effective_date is not None:
        for code, born, disabled, name in dependents:
            if code in CHILD_CODES and not disabled and age_on(born, effective_date) >= CHILD_AGE_LIMIT:
                problems.add("effective_date", "%s would be %d on %s, past the child age limit of %d."
                             % (name, age_on(born, effective_date), effective_date.isoformat(), CHILD_AGE_LIMIT))
        offering = choose_offering(offerings, plan_code, effective_date, tier, subgroup_number, problems)
        status, hold_reason = timing(effective_date, today, problems)
    problems.raise_if_any("The change breaks an enrollment rule; see errors.")
    return effective_date, offering, status, hold_reason


# --- identity of people -------------------------------------------------------------------------------

def enrollment_reason(existing_subscriber_status, existing_member_id=None):
    """One subscriber per SSN per group: X12 INS04 reason for enrolling a person whose SSN already belongs to
    a subscriber of the group with this status (None: nobody). A live subscriber is refused; a former one
    (terminated) is re-enrolled on the same member row with reason 41; an enrollment that was cancelled or
    rejected before it took effect is simply enrolled again (reason 28)."""
    if existing_subscriber_status is None or existing_subscriber_status == CANCELLED:
        return INITIAL_ENROLLMENT
    if existing_subscriber_status == TERMINATED:
        return RE_ENROLLMENT
    raise SubscriberAlreadyEnrolled(
        "A subscriber with this SSN is already enrolled in the group as member %s (status %s); change that "
        "member's coverage instead of enrolling them again." % (existing_member_id, existing_subscriber_status))


def also_dependent_flag(person, covered_in_family_of):
    """The flag for a person who is also covered as someone else's dependent in the group: allowed (both
    spouses may work for the employer), but billing and claims need to know."""
    return {"code": "also_dependent_elsewhere", "person": person, "member_id": None,
            "detail": "Also covered as a dependent in the family of subscriber %s." % covered_in_family_of}


# --- the transaction state machine --------------------------------------------------------------------

def check_transition(current, target, confirmation_number):
    """pending -> completed | rejected | cancelled; nothing leaves completed, rejected or cancelled."""
    if target not in TRANSITIONS.get(current, ()):
        raise TransactionNotPending("Transaction %s is %s; only a pending transaction can be %s."
                                    % (confirmation_number, current, _verb(target)))


def check_editable(current, confirmation_number):
    if current != TXN_PENDING:
        raise TransactionNotPending("Transaction %s is %s; only a pending transaction can be edited."
                                    % (confirmation_number, current))


def is_due(status, hold_reason, effective_date, as_of):
    """The daily job completes pending transactions without a hold whose date has come."""
    return status == TXN_PENDING and not hold_reason and effective_date <= as_of


def _verb(target):
    return {TXN_COMPLETED: "completed", TXN_REJECTED: "rejected", TXN_CANCELLED: "cancelled"}.get(target, target)
