"""The statement run: premiums per member or subscriber, retro adjustments, statements per account and consolidated per group (issue 6): the billing service's paths."""
from gateway.routes_roster import PATH_PATTERNS
from gateway.routing import Routes

billing_statement_routes = Routes(path_patterns=PATH_PATTERNS)
