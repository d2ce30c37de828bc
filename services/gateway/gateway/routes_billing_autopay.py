"""Auto pay (authorisation, the debit run and its NACHA file) and delinquency (stages, termination for non-payment) (issue 6): the billing service's paths."""
from gateway.routes_roster import PATH_PATTERNS
from gateway.routing import Routes

billing_autopay_routes = Routes(path_patterns=PATH_PATTERNS)
