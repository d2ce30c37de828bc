"""Coverage rules every lifecycle change shares: the tier a covered set makes, a member's status from their
spans on a day, and when coverage ends (last covered day, retroactive limits). Pure functions (no nameko, no
database)."""
from dataclasses import dataclass
from datetime import date, timedelta

from roster.domain.enrollment import ACTIVE, CANCELLED, PENDING_REVIEW, PROSPECTIVE, TERMINATED, TXN_PENDING, \
    Problems, coverage_tier, timing

COBRA_STATUS = "cobra"
OFF_ROSTER_STATUSES = ("declined", CANCELLED)  # never covered: no span decides their status


@dataclass(frozen=True)
class SpanView:
    effective_from: date
    effective_through: date | None
    status: str
    continuation: str | None = None


def tier_of(other_covered_relationship_codes):
    """X12 HD05 of a contract: who is covered besides its holder (a spouse or partner, children, both)."""
    return coverage_tier(other_covered_relationship_codes)


def member_status(spans, today, current):
    """active (or cobra) when a span covers `today`; prospective/pending while only a pending span waits;
    terminated when every span has ended; otherwise the status the member had (declined, cancelled)."""
    live = [span for span in spans if span.status != CANCELLED]
    for span in live:
        if span.status == ACTIVE and span.effective_from <= today \
                and (span.effective_through is None or span.effective_through >= today):
            return COBRA_STATUS if span.continuation else ACTIVE
    if any(span.status == "pending" for span in live):
        return current if current in (PROSPECTIVE, PENDING_REVIEW) else PROSPECTIVE
    if any(span.status == ACTIVE and span.effective_from > today for span in live):
        return PROSPECTIVE
    if live:
        return TERMINATED
    return current


# --- ends of coverage -----------------------------------------------------------------------------------

DEATH = "03"  # X12 INS04


def last_day_of_month(day):
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def termination_date(event_date, cause):
    """The last covered day: the date of death for a death, otherwise the last day of the event's month."""
    return event_date if cause == DEATH else last_day_of_month(event_date)


def within_days(event_date, request_date, days):
    """DOMAIN.md: "within N days" means request_date - event_date <= N, in whole days."""
    return (request_date - event_date).days <= days


def termination_timing(last_covered_day, today, problems, field="termination_date"):
    """(transaction status, hold reason) for coverage ending after `last_covered_day`: pending while that day
    has not passed (the daily job completes it the day after); otherwise as any retroactive change
    (enrollment.timing: up to 30 days back completed, 31-60 held for carrier review, further back refused)."""
    if last_covered_day >= today:
        return TXN_PENDING, None
    late = Problems()
    status, hold = timing(last_covered_day, today, late)
    for message in late.errors.get("effective_date", ()):
        problems.add(field, message)  # timing() names effective_date; say it of the field the form has
    return status, hold
