"""Statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice (issue 6): the billing service's paths."""
from gateway.routes_roster import PATH_PATTERNS
from gateway.routing import Routes

billing_invoice_routes = Routes(path_patterns=PATH_PATTERNS)
