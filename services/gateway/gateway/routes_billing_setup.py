"""Billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6): the billing service's paths.

Bodies and query strings are validated with billing's wire contracts (portal_contracts.billing_setup, through
billing_contracts.py) and sent on as received; the service loads them again and decides (carrier staff only on
the admin paths; the caller's grant elsewhere: another group's number answers 404). billing's dashboard() has
no path of its own: GET /api/v1/dashboard adds its figures to each group.
"""
from gateway.billing_contracts import rpc_input, rpc_output
from gateway.calls import call_service
from gateway.routes_roster import ADMIN_GROUP, GROUP, PATH_PATTERNS, problems
from gateway.routing import Routes

SERVICE = "billing"

billing_setup_routes = Routes(path_patterns=PATH_PATTERNS)

CARRIER_ONLY = "Only carrier staff may do this"
NO_GROUP = "No such group (or no grant for it)"


@billing_setup_routes.put(ADMIN_GROUP + "/billing-policy", body=rpc_input("set_billing_policy"),
                          response=rpc_output("set_billing_policy"), validate_only=True, tag="admin",
                          problems=problems(forbidden=CARRIER_ONLY, not_found="No such group in billing",
                                            invalid="Invalid fields, or none given"),
                          summary="Set a group's billing policy: rating method, proration, grace, COBRA billing")
def set_billing_policy(group, body):
    """`rating_method` (composite, age_rated), `proration` (none, daily, fifteenth), `grace_days` (1-90),
    `cobra_billing` (group_billed, direct_billed), `retro_window_days` (0-365): the fields sent replace the
    group's, the others keep theirs. Carrier staff only."""
    return call_service(SERVICE, "set_billing_policy", group, body)


@billing_setup_routes.put(ADMIN_GROUP + "/rates", body=rpc_input("load_rates"), response=rpc_output("load_rates"),
                          validate_only=True, tag="admin",
                          problems=problems(forbidden=CARRIER_ONLY, not_found="No such group in billing",
                                            invalid="Invalid fields; no offering for the plan year; or a plan "
                                                    "offered that year without the full set of rate keys of the "
                                                    "group's rating method, a key no plan needs, or a plan not "
                                                    "offered (errors.rates.<plan code>)"),
                          summary="Load a plan year's rates of a group's plans (replacing those plans' rates)")
def load_rates(group, body):
    """Composite rating: a rate per tier each plan is sold in; age_rated: a rate per ACA age band ("0-14",
    "15" ... "63", "64+"). Amounts above 0.00, with at most 2 decimals. Carrier staff only."""
    return call_service(SERVICE, "load_rates", group, body)


@billing_setup_routes.get(GROUP + "/rates", query=rpc_input("get_rates"), response=rpc_output("get_rates"),
                          validate_only=True, tag="billing",
                          problems=problems(forbidden="Your role may not view billing", not_found=NO_GROUP),
                          summary="A group's premium rates by plan and tier (or age band) for a plan year")
def get_rates(group, query):
    """`plan_year_start`: any day of the plan year wanted (default: today's). With the group's rating method and,
    per plan, the rate keys still missing."""
    return call_service(SERVICE, "get_rates", group, query)


@billing_setup_routes.get(GROUP + "/billing", response=rpc_output("get_billing"), tag="billing",
                          problems=problems(forbidden="Your role may not view billing", not_found=NO_GROUP),
                          summary="A group's billing accounts: balances, amount due, due date, auto pay, delinquency")
def get_billing(group):
    """One entry per account the caller may see; group totals only for a grant on the whole group."""
    return call_service(SERVICE, "get_billing", group)
