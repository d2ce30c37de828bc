"""Primary care providers and ID cards: the rules (issue 5), as pure functions of dates and plain values.

A member's PCP belongs to the plan of their current coverage (or, for a prospective member, of the coverage
about to start), is chosen from the providers in that plan's network, and is required by HMO and POS plans
(or any plan marked `requires_pcp`). A change takes effect on the request date (the coverage's start, when that
is later) or on a later date asked for; it is never back-dated. ID cards are one per plan of the member's
current coverage (else of the next pending one); a mailed replacement changes no coverage.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from roster.domain.enrollment import ACTIVE, CANCELLED, TXN_COMPLETED, TXN_PENDING
from servicekit.errors import Conflict, NotFound

# Transaction types and their X12 834 codes.
PCP_CHANGE = "pcp_change"
ID_CARD_REQUEST = "id_card_request"
CHANGE = "001"                    # INS03 change: a PCP change
PCP_CHANGE_REASON = "15"          # INS04 PCP change
# INS03 030 (audit or compare): a card request changes nothing in the enrollment, so an 834 export must not
# send it as a change (001 would need an INS04 reason, and none fits); no INS04 reason.
AUDIT_OR_COMPARE = "030"

PCP_PLAN_TYPES = frozenset({"HMO", "POS"})  # gatekeeper plans: a PCP refers members to specialists
PCP_MAX_DAYS_AHEAD = 90                     # a future-dated change is scheduled at most this far ahead
FAMILY = "family"                           # a card request for every covered member of the family
MEDICAL = "medical"
IN_FORCE_STATUSES = frozenset({ACTIVE, "pending", "terminated"})  # cancelled spans never counted


class NoCurrentCoverage(Conflict):
    code = "member_not_covered"
    title = "The member has no current or upcoming coverage"


class PcpChangePending(Conflict):
    code = "pcp_change_pending"
    title = "The member has a pending PCP change"


class IdCardNotFound(NotFound):
    code = "id_card_not_found"
    title = "No such ID card"


@dataclass(frozen=True)
class CoverageView:
    """One coverage span with what the rules need of its plan."""
    plan_code: str
    plan_name: str
    product: str
    plan_type: str
    network: str
    requires_pcp: bool
    tier: str
    effective_from: date
    effective_through: date | None
    status: str


@dataclass(frozen=True)
class ProviderView:
    npi: str
    name: str
    networks: frozenset
    accepting_new_patients: bool


# --- which coverage ---------------------------------------------------------------------------------------

def _in_force(span, day):
    return span.status in IN_FORCE_STATUSES and span.effective_from <= day \
        and (span.effective_through is None or span.effective_through >= day)


def current_coverage(spans, today):
    """The spans a member's cards and PCP are about: those in force today, else those of the next start date
    to come (a prospective member's), else none (terminated, declined, cancelled). Oldest plan first."""
    live = [span for span in spans if span.status != CANCELLED]
    now = [span for span in live if _in_force(span, today)]
    if now:
        return sorted(now, key=lambda span: (span.effective_from, span.plan_code))
    upcoming = [span for span in live if span.effective_from > today and span.status in IN_FORCE_STATUSES]
    if not upcoming:
        return []
    first = min(span.effective_from for span in upcoming)
    return sorted((span for span in upcoming if span.effective_from == first), key=lambda span: span.plan_code)


def pcp_coverage(coverages):
    """The coverage a PCP belongs to: the medical plan's (PCPs are a medical-plan notion), else None."""
    return next((coverage for coverage in coverages if coverage.product == MEDICAL), None)


def continuous_start(spans, coverage):
    """The first day of the member's uninterrupted coverage in `coverage`'s plan (a tier change or a
    reinstatement starts a new span, not new coverage): the date the card shows as effective."""
    same_plan = sorted((span for span in spans if span.plan_code == coverage.plan_code and span.status != CANCELLED),
                       key=lambda span: span.effective_from)
    start = coverage.effective_from
    for span in reversed(same_plan):
        if span.effective_from < start and span.effective_through is not None \
                and span.effective_through >= start - timedelta(days=1):
            start = span.effective_from
    return start


def reference_date(coverage, today):
    """The day the member's PCP is looked at: today, or the coverage's start when it starts later."""
    return max(today, coverage.effective_from)


# --- PCP ------------------------------------------------------------------------------------------------

def requires_pcp(plan_requires_pcp, plan_type):
    return bool(plan_requires_pcp) or (plan_type or "").upper() in PCP_PLAN_TYPES


def pcp_required(coverage, has_pcp):
    """The flag a member page shows: the plan requires a PCP and none is on file for it."""
    return coverage is not None and requires_pcp(coverage.requires_pcp, coverage.plan_type) and not has_pcp


def pcp_effective_date(requested, coverage, today, problems):
    """The change's first day: the request date (the coverage's start, when later), or a requested date that is
    not in the past, lies within the coverage and at most PCP_MAX_DAYS_AHEAD days ahead."""
    earliest = reference_date(coverage, today)
    if requested is None:
        return earliest
    latest = today + timedelta(days=PCP_MAX_DAYS_AHEAD)
    if requested < today:
        problems.add("effective_date", "A PCP change cannot be back-dated: choose %s or later." % today.isoformat())
    elif requested < coverage.effective_from:
        problems.add("effective_date", "Coverage in plan %s starts on %s: choose that date or later."
                     % (coverage.plan_code, coverage.effective_from.isoformat()))
    elif coverage.effective_through is not None and requested > coverage.effective_through:
        problems.add("effective_date", "Coverage in plan %s ends on %s: choose a date up to then."
                     % (coverage.plan_code, coverage.effective_through.isoformat()))
    elif requested > latest:
        problems.add("effective_date", "A PCP change can be scheduled at most %d days ahead (by %s)."
                     % (PCP_MAX_DAYS_AHEAD, latest.isoformat()))
    return requested


def check_pcp_choice(npi, provider, coverage, current_npi, existing_patient_npi, problems):
    """The provider asked for may be the member's PCP in `coverage`'s plan: it is in the directory and in the
    plan's network, is not the PCP already, and accepts new patients unless the member is already its patient
    (their latest PCP, in any plan: a member keeps their doctor across a plan change). No PCP (npi None) is
    refused: HMO/POS plans require one, and for the others the portal changes a PCP but does not remove it."""
    if npi is None:
        if requires_pcp(coverage.requires_pcp, coverage.plan_type):
            problems.add("npi", "Plan %s (%s) requires a primary care provider: choose another in-network "
                                "provider instead of removing it." % (coverage.plan_code, coverage.plan_type))
        else:
            problems.add("npi", "Choose a provider: a primary care provider can be changed here, not removed.")
        return
    if provider is None:
        problems.add("npi", "No provider with NPI %s is in the directory." % npi)
        return
    if coverage.network not in provider.networks:
        problems.add("npi", "%s is not in the %s network of plan %s: choose an in-network provider."
                     % (provider.name, coverage.network, coverage.plan_code))
    elif provider.npi == current_npi:
        problems.add("npi", "%s is already the member's primary care provider." % provider.name)
    elif not provider.accepting_new_patients and provider.npi != existing_patient_npi:
        problems.add("npi", "%s is not accepting new patients." % provider.name)


def pcp_change_status(effective_date, today):
    """Completed when it takes effect today; pending (the daily job completes it) when future-dated."""
    return TXN_COMPLETED if effective_date <= today else TXN_PENDING


def previous_ends(assignments, effective_from):
    """{assignment id: its new last day} for the member's assignments still running on `effective_from`:
    each ends the day before (one started that very day ends before it began, and so never shows)."""
    day_before = effective_from - timedelta(days=1)
    return {assignment_id: day_before for assignment_id, through in assignments
            if through is None or through >= effective_from}


# --- ID cards -------------------------------------------------------------------------------------------

def card_id(member_id, plan_code):
    return "%s-%s" % (member_id, plan_code)


def find_card(card, member_id, cards):
    """The card whose id is `card` (any case) among the member's current `cards` ({"card_id", ...}), or
    IdCardNotFound: a card of ended coverage is not issued any more."""
    wanted = str(card).upper()
    for shown in cards:
        if shown["card_id"].upper() == wanted:
            return shown
    raise IdCardNotFound("Member %s has no current ID card %s." % (member_id, card))


def mailing_address(given, on_file, problems):
    """Where replacement cards go: the address given, else the subscriber's mailing address."""
    address = given or on_file
    if not address:
        problems.add("mail_to", "The subscriber has no mailing address on file: give the address to mail to.")
    return address


def card_holders(scope, member, family_cards):
    """The members whose cards are mailed: the member, or every member of the family with a card.
    `family_cards`: [(member, [coverage])] in family order."""
    holders = [(person, coverages) for person, coverages in family_cards
               if coverages and (scope == FAMILY or person is member)]
    if not holders:
        raise NoCurrentCoverage("%s no current or upcoming coverage, so no ID card to mail."
                                % ("No member of the family has" if scope == FAMILY else "The member has"))
    return holders
