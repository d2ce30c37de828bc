"""Payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund requests (issue 6): the billing service's paths."""
from gateway.routes_roster import PATH_PATTERNS
from gateway.routing import Routes

billing_payment_routes = Routes(path_patterns=PATH_PATTERNS)
