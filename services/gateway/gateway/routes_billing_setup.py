"""Billing policy and rates (carrier staff), a group's rates, billing accounts and their balances, the dashboard (issue 6): the billing service's paths."""
from gateway.routes_roster import PATH_PATTERNS
from gateway.routing import Routes

billing_setup_routes = Routes(path_patterns=PATH_PATTERNS)
