"""Events of billing's setup part (issue 6), on `billing.events`; see billing.events.

rates_loaded: after a rate load, every plan offered for the plan year has its full rate sheet. Roster reads it
to open enrollment only for a plan year that can be billed (DOMAIN.md: open enrollment needs the next plan
year's offering, rates and retired-plan mapping loaded first). No amounts: consumers need to know the sheet is
complete, not the prices."""
from marshmallow import Schema, fields

RATES_LOADED = "rates_loaded"


def rates_aggregate(group_number, plan_year_start):
    """One aggregate per group and plan year, so each plan year's loads are ordered on their own."""
    return "rates:%s:%s" % (group_number, plan_year_start.isoformat())


class RatesLoaded(Schema):
    group_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    rating_method = fields.String(required=True)            # composite | age_rated
    plan_codes = fields.List(fields.String(), required=True)  # every plan with a complete sheet for the year


PUBLISHED = {
    RATES_LOADED: {"version": 1, "schema": RatesLoaded, "example": {
        "group_number": "100234", "plan_year_start": "2028-01-01", "rating_method": "composite",
        "plan_codes": ["MED-HMO-1500", "MED-PPO-1000"]}},
}
