"""Billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6).

Each entrypoint reads the same way: the caller may do the action on the group (billing.access: 404 for a group
the caller holds no grant on, 403 for a role without the action), the input loads with its wire schema
(portal_contracts.billing_setup), the rules decide (billing.domain.policy), then the write or the answer. What an
account owes always comes from its ledger (billing.ledger), never from a stored total.

Who sees rates: API.md lists them next to the plans, but a rate is a price the group pays, so they are shown
to those who may view billing (VIEW_BILLING: group admin, billing manager, viewer, broker, carrier staff), not
to every roster user (an enrollment manager gets 403).
"""
from sqlalchemy import delete, select

from billing import access, ledger
from billing.domain import policy
from billing.domain.money import ZERO
from billing.events_setup import RATES_LOADED, RatesLoaded, rates_aggregate
from billing.models import AutoPay, BillingGroup, PlanYearOffering, Rate, Statement
from portal_contracts import billing_setup as wire
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.roles import CARRIER_ADMIN, VIEW_BILLING

GROUP_WIDE, SUBGROUPS = "group", "subgroups"


def _of_group(group_number, body=None):
    return "group:%s" % group_number


class SetupEntrypoints:
    """Mixed into BillingService (billing.service), which provides db and caller."""

    # --- carrier set-up ----------------------------------------------------------------------------------

    @rpc
    @idempotent(target=_of_group)
    def set_billing_policy(self, group_number, body):
        """The group's rating method, proration, grace days, COBRA billing and retro window; fields left out
        keep their value. The next statement run bills by the policy in force when it runs."""
        access.require_carrier(self.caller)
        group = self._locked_group(group_number)
        data = load_input(wire.BillingPolicyInput(), body)
        for name, value in data.items():
            setattr(group, name, value)
        group.updated_at = clock.utcnow()
        self.db.flush()
        return wire.BillingPolicy().dump(group)

    @rpc
    @idempotent(target=_of_group)
    def load_rates(self, group_number, body):
        """A plan year's rates of some plans, replacing what those plans had for it. After the load every plan
        offered to any subgroup in the plan year must have the full set of keys of the group's rating method:
        otherwise nothing is saved and the 422 names each missing or unknown key by plan code."""
        access.require_carrier(self.caller)
        group = self._locked_group(group_number)
        data = load_input(wire.RateSheetInput(), body)
        year_start = data["plan_year_start"]
        offerings = self._offerings(group, year_start)
        if not offerings:
            raise ValidationFailed("No subgroup of group %s is offered plans for the plan year starting %s."
                                   % (group.group_number, year_start.isoformat()),
                                   errors={"plan_year_start": ["No subgroup is offered plans for this plan year."]})
        on_file = self._rates(group, year_start)
        errors = policy.rate_sheet_errors(group.rating_method, policy.offered_tiers(o.plans for o in offerings),
                                          data["rates"], _keys_by_plan(on_file))
        if errors:
            raise ValidationFailed("The rate sheet is incomplete or names rates no plan needs (%s rating)."
                                   % group.rating_method, errors={"rates": errors})

        replaced = sorted({rate["plan_code"] for rate in data["rates"]})
        self.db.execute(delete(Rate).where(Rate.group_id == group.id, Rate.plan_year_start == year_start,
                                           Rate.plan_code.in_(replaced)))
        self.db.add_all(Rate(group_id=group.id, plan_year_start=year_start, plan_code=rate["plan_code"],
                             rate_key=rate["rate_key"], amount=rate["amount"]) for rate in data["rates"])
        self.db.flush()
        plan_year = policy.PlanYear(year_start, max(offering.plan_year_end for offering in offerings))
        rated = self._rates(group, year_start)
        self.outbox.record(RATES_LOADED, RatesLoaded().dump({
            "group_number": group.group_number, "plan_year_start": year_start, "rating_method": group.rating_method,
            "plan_codes": sorted({rate.plan_code for rate in rated})}),
            aggregate_id=rates_aggregate(group.group_number, year_start), group_id=group.group_number)
        return self._rates_answer(group, plan_year, offerings, rated, visible=None)

    # --- what a group's users see ------------------------------------------------------------------------

    @rpc
    def get_rates(self, group_number, query=None):
        """The rates of the plan year holding `plan_year_start` (default: today), by plan, with the rating
        method. A caller limited to some subgroups sees the plans offered to those."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        data = load_input(wire.RatesQuery(), query or {})
        plan_year = self._plan_year_holding(group, data["plan_year_start"] or clock.today())
        visible = self.caller.subgroups(group.group_number, VIEW_BILLING)
        offerings = [offering for offering in self._offerings(group, plan_year.start)
                     if visible is None or offering.subgroup_number in visible]
        return self._rates_answer(group, plan_year, offerings, self._rates(group, plan_year.start), visible)

    @rpc
    def get_billing(self, group_number):
        """Each account the caller sees: balance, amount due, the newest statement and its due date, paid
        through, delinquency stage, auto pay; the group's totals only for a grant on the whole group."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_BILLING)
        accounts = [self._account_billing(account)
                    for account in access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)]
        group_wide = access.is_group_wide(self.caller, group, VIEW_BILLING)
        totals = None
        if group_wide:
            totals = {name: sum((account[name] for account in accounts), ZERO)
                      for name in ("balance", "amount_due", "credit_balance")}
        return wire.GroupBilling().dump({
            "group_number": group.group_number, "legal_name": group.legal_name,
            "scope": GROUP_WIDE if group_wide else SUBGROUPS, "accounts": accounts, "totals": totals})

    @rpc
    def dashboard(self):
        """Per group the caller may view billing of: the amount due and the newest due date. A grant on the
        whole group sums every account; one limited to some subgroups sums only those (scope "subgroups": no
        group-wide figure, DOMAIN.md). Carrier staff hold no grants: an empty list."""
        self.caller.require_authenticated()
        if self.caller.is_carrier:
            return []
        groups = self.db.scalars(select(BillingGroup).where(BillingGroup.group_number.in_(sorted(self.caller.groups())))
                                 .order_by(BillingGroup.group_number)).all()
        entries = []
        for group in groups:
            visible = self.caller.subgroups(group.group_number, VIEW_BILLING)
            if visible is not None and not visible:
                continue  # a role without billing (an enrollment manager)
            accounts = [self._account_billing(account)
                        for account in access.visible_accounts(self.db, self.caller, group, VIEW_BILLING)]
            due_dates = [account["due_date"] for account in accounts if account["due_date"] is not None]
            entries.append({"group_number": group.group_number, "scope": GROUP_WIDE if visible is None else SUBGROUPS,
                            "amount_due": sum((account["amount_due"] for account in accounts), ZERO),
                            "due_date": max(due_dates) if due_dates else None})
        return wire.DashboardBilling(many=True).dump(entries)

    # --- helpers -----------------------------------------------------------------------------------------

    def _locked_group(self, group_number):
        """The group for a carrier's change, its row locked: two policy or rate loads of one group run one
        after the other (the rate sheet is checked against the policy it will be used with)."""
        group = access.load_group(self.db, self.caller, group_number, CARRIER_ADMIN)
        return self.db.scalars(select(BillingGroup).where(BillingGroup.id == group.id).with_for_update()
                               .execution_options(populate_existing=True)).one()

    def _offerings(self, group, plan_year_start):
        return self.db.scalars(select(PlanYearOffering)
                               .where(PlanYearOffering.group_id == group.id,
                                      PlanYearOffering.plan_year_start == plan_year_start)
                               .order_by(PlanYearOffering.subgroup_number)).all()

    def _rates(self, group, plan_year_start):
        return self.db.scalars(select(Rate).where(Rate.group_id == group.id, Rate.plan_year_start == plan_year_start)
                               .order_by(Rate.plan_code)).all()

    def _plan_year_holding(self, group, day):
        """The plan year roster offered for that day, else the group's renewal calendar."""
        offering = self.db.scalars(select(PlanYearOffering)
                                   .where(PlanYearOffering.group_id == group.id,
                                          PlanYearOffering.plan_year_start <= day,
                                          PlanYearOffering.plan_year_end >= day)
                                   .order_by(PlanYearOffering.plan_year_start.desc())).first()
        if offering is not None:
            return policy.PlanYear(offering.plan_year_start, offering.plan_year_end)
        return policy.plan_year_holding(day, group.renewal_date)

    def _rates_answer(self, group, plan_year, offerings, rates, visible):
        """Rates by plan: the plans offered (to the subgroups the caller sees) and, for a group-wide caller,
        any plan with rates on file besides."""
        tiers = policy.offered_tiers(offering.plans for offering in offerings)
        subgroups = {}
        for offering in offerings:
            for plan in offering.plans:
                subgroups.setdefault(plan["plan_code"], []).append(offering.subgroup_number)
        by_plan = {}
        for rate in rates:
            by_plan.setdefault(rate.plan_code, {})[rate.rate_key] = rate.amount
        shown = set(tiers) | (set(by_plan) if visible is None else set())
        plans = []
        for plan_code in sorted(shown):
            amounts = by_plan.get(plan_code, {})
            plans.append({
                "plan_code": plan_code,
                "tiers": policy.sort_rate_keys(tiers.get(plan_code, ())),
                "subgroups": sorted(subgroups.get(plan_code, [])),
                "rates": [{"rate_key": key, "amount": amounts[key]} for key in policy.sort_rate_keys(amounts)],
                "missing_rate_keys": (policy.missing_rate_keys(group.rating_method, tiers[plan_code], amounts)
                                      if plan_code in tiers else []),
            })
        return wire.GroupRates().dump({"group_number": group.group_number, "plan_year_start": plan_year.start,
                                       "plan_year_end": plan_year.end, "rating_method": group.rating_method,
                                       "plans": plans})

    def _account_billing(self, account):
        """One account as the billing page shows it, from its ledger, newest statement and auto pay."""
        balance = ledger.balance(self.db, account.id)
        statement = self.db.scalars(select(Statement)
                                    .where(Statement.account_id == account.id, Statement.status == "issued")
                                    .order_by(Statement.coverage_month.desc(), Statement.issued_at.desc(),
                                              Statement.id.desc())).first()
        autopay = self.db.scalar(select(AutoPay).where(AutoPay.account_id == account.id, AutoPay.status == "active"))
        return {
            "account_number": account.account_number, "subgroup_number": account.subgroup_number,
            "name": account.name, "status": account.status, "balance": balance,
            "amount_due": policy.amount_due(balance), "credit_balance": policy.credit_balance(balance),
            "due_date": statement.due_date if statement is not None else None,
            "last_statement": None if statement is None else {
                "statement_number": statement.statement_number, "coverage_month": statement.coverage_month,
                "due_date": statement.due_date, "amount_due": statement.amount_due},
            "paid_through": ledger.paid_through(self.db, account.id),
            "delinquency_stage": account.delinquency_stage,
            "autopay": {"active": autopay is not None,
                        "days_before_due": autopay.days_before_due if autopay is not None else None},
        }


def _keys_by_plan(rates):
    keys = {}
    for rate in rates:
        keys.setdefault(rate.plan_code, set()).add(rate.rate_key)
    return keys
