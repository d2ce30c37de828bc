"""The statement run (issue 6): the billing service's path for carrier staff to run it for a business date (the
daily job runs it on its own). What it cut is read through the invoice paths (routes_billing_invoice.py)."""
from gateway.billing_contracts import rpc_input, rpc_output
from gateway.calls import call_service
from gateway.routes_roster import ADMIN, PATH_PATTERNS, bulk_timeout, problems
from gateway.routing import Routes

SERVICE = "billing"

billing_statement_routes = Routes(path_patterns=PATH_PATTERNS)


@billing_statement_routes.post(ADMIN + "/jobs/statement-run", body=rpc_input("run_statements"), body_optional=True,
                               response=rpc_output("run_statements"), validate_only=True, tag="admin",
                               problems=problems(forbidden="Carrier staff only"),
                               summary="Run the statement run for a date: next month's statements (the daily job)")
def run_statements(body):
    """`as_of`: a business date (default: today's). From the 15th on, every active billing account gets the
    statement of the next coverage month (charges, retro adjustments within the retro window, balance
    forward, payments since the last cut), and each group its consolidated statement; each once however often
    this runs. Accounts that cannot be priced (a missing rate) are listed in `errors` and cut by a later run.
    Carrier staff only."""
    return call_service(SERVICE, "run_statements", body.get("as_of"), timeout=bulk_timeout())
