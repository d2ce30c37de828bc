"""What billing's tests share: the business date, user tokens, and groups, accounts, rates and families
written straight into billing's tables (what roster's events and the carrier's rate load would have made), so
each part is tested on its own."""
from datetime import date, datetime, timezone
from decimal import Decimal

from billing.models import BillableFamily, BillingAccount, BillingGroup, PlanYearOffering, Rate
from servicekit.testing import refusal  # noqa: F401  (the test modules import it from here)
from servicekit.testing.tokens import grant, mint_token

TODAY = date(2027, 3, 10)
NOW = datetime(2027, 3, 10, 15, tzinfo=timezone.utc)
COMPOSITE_RATES = {"EMP": Decimal("500.00"), "ESP": Decimal("1000.00"), "ECH": Decimal("900.00"),
                   "FAM": Decimal("1400.00")}


def user(group_number, role, subgroups=None, user_id=None):
    """A token for a user of one group with one role (optionally limited to some subgroups)."""
    return mint_token(user_id or "%s-%s-%s" % (role, group_number, "-".join(subgroups or ["all"])),
                      grants=[grant(group_number, role, subgroups=subgroups)])


def seed_group(session, group_number, subgroups=("001",), rating_method="composite", proration="none",
               plan_code="PPO-1", plan_year_start=date(2027, 1, 1), rates=None):
    """A group with one account per subgroup, the plan offered to each for the plan year, and its rates
    (composite tiers by default; pass {band: amount} for age_rated)."""
    group = BillingGroup(group_number=group_number, legal_name="Group %s" % group_number, status="active",
                         renewal_date=plan_year_start, rating_method=rating_method, proration=proration,
                         updated_at=NOW)
    session.add(group)
    session.flush()
    end = plan_year_start.replace(year=plan_year_start.year + 1) - (date(2000, 1, 2) - date(2000, 1, 1))
    for number in subgroups:
        session.add(BillingAccount(account_number="%s-%s" % (group_number, number), group_id=group.id,
                                   subgroup_number=number, name="Subgroup %s" % number, created_at=NOW))
        session.add(PlanYearOffering(group_id=group.id, subgroup_number=number, plan_year_start=plan_year_start,
                                     plan_year_end=end, plans=[{"plan_code": plan_code,
                                                                "tiers": ["EMP", "ESP", "ECH", "FAM"]}]))
    for key, amount in (rates or COMPOSITE_RATES).items():
        session.add(Rate(group_id=group.id, plan_year_start=plan_year_start, plan_code=plan_code, rate_key=key,
                         amount=Decimal(amount)))
    session.flush()
    return group


def span(plan_code, tier, effective_from, effective_through=None, status="active", continuation=None):
    return {"plan_code": plan_code, "tier": tier, "effective_from": effective_from,
            "effective_through": effective_through, "status": status, "continuation": continuation}


def member(member_id, relationship_code, date_of_birth, *spans, status="active"):
    return {"member_id": member_id, "relationship_code": relationship_code, "date_of_birth": date_of_birth,
            "status": status, "coverage": list(spans)}


def seed_family(session, group, subgroup_number, subscriber_member_id, members, sequence=1):
    """A family as billing's projection holds it (dates as YYYY-MM-DD text)."""
    family = BillableFamily(subscriber_member_id=subscriber_member_id, group_id=group.id,
                            subgroup_number=subgroup_number, sequence=sequence, members=members, updated_at=NOW)
    session.add(family)
    session.flush()
    return family
