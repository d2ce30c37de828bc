"""Statement history: search, details, CSV export, PDF, consolidated invoices, rebill requests, adjust invoice
(issue 6): the billing service's paths.

Bodies and query strings are validated with billing's wire contracts (portal_contracts.billing_invoice, through
billing_contracts.py) and sent on as received; the billing service loads them again and decides who may see or
do what. The CSV export and the PDF are answered as the files they are. A statement number always starts with
"S" and a digit, so `/invoices/consolidated` is never taken for one.
"""
from gateway.billing_contracts import rpc_input, rpc_output
from gateway.calls import call_service
from gateway.routes_roster import PATH_PATTERNS, bulk_timeout, download, problems
from gateway.routing import Routes

SERVICE = "billing"

INVOICE_PATTERNS = dict(PATH_PATTERNS,
                        statement_number=r"[Ss][0-9]{6}-[0-9A-Za-z-]{1,30}",
                        rebill_request=r"[A-Za-z0-9-]{1,24}")

billing_invoice_routes = Routes(path_patterns=INVOICE_PATTERNS)

GROUP = "/api/v1/groups/<group:group>"
INVOICES = GROUP + "/invoices"
INVOICE = INVOICES + "/<statement_number:number>"
CSV = "text/csv"
PDF = "application/pdf"
FILE_HEADERS = {"Content-Disposition": {
    "description": "attachment; filename=\"...\": e.g. invoices-G100-20270310.csv, invoice-S202704-G100-001.pdf",
    "schema": {"type": "string"}}}

NO_GROUP = "No such group (or no grant for it)"
NO_STATEMENT = "No such statement in this group (or no grant for the group)"
NOT_YOUR_SUBGROUP = "The statement's subgroup is outside your grant"


# --- the statement history ------------------------------------------------------------------------------

@billing_invoice_routes.get(INVOICES, query=rpc_input("list_invoices"), response=rpc_output("list_invoices"),
                            media_type=("application/json", CSV), response_headers=FILE_HEADERS,
                            validate_only=True, tag="billing", problems=problems(not_found=NO_GROUP),
                            summary="Search the group's statements (or export them as CSV)")
def list_invoices(group, query):
    """By cut date (`date_from`, `date_to`), `subgroup`, statement `number` (or its beginning) and `status`;
    newest first, paginated with `page` and `limit` (at most 200), with the total. Only the accounts the caller
    may see. `format=csv` answers every matching statement as a CSV file (one row each)."""
    if query.get("format") == "csv":
        export = call_service(SERVICE, "list_invoices", group, query, timeout=bulk_timeout())
        return download(export, fallback_type=CSV, fallback_name="invoices-%s.csv" % group)
    return call_service(SERVICE, "list_invoices", group, query)


@billing_invoice_routes.get(INVOICES + "/consolidated", query=rpc_input("get_consolidated"),
                            response=rpc_output("get_consolidated"), validate_only=True, tag="billing",
                            problems=problems(forbidden="Your grant is limited to some subgroups",
                                              not_found=NO_GROUP + "; or no consolidated invoice for the period"),
                            summary="The group's consolidated invoice of a month and its subgroup statements")
def get_consolidated(group, query):
    """`period`: the coverage month, YYYY-MM. For users of the whole group only."""
    return call_service(SERVICE, "get_consolidated", group, query)


@billing_invoice_routes.get(INVOICE, response=rpc_output("get_invoice"), tag="billing",
                            problems=problems(forbidden=NOT_YOUR_SUBGROUP, not_found=NO_STATEMENT),
                            summary="A statement: its header, lines and paid state")
def get_invoice(group, number):
    """Balance forward, payments, charges, adjustments, amount due, due date; issued or superseded (and by
    which rebill); paid when the ledger shows the coverage month paid in full."""
    return call_service(SERVICE, "get_invoice", group, number)


@billing_invoice_routes.get(INVOICE + ".pdf", media_type=PDF, response_headers=FILE_HEADERS, tag="billing",
                            problems=problems(forbidden=NOT_YOUR_SUBGROUP, not_found=NO_STATEMENT),
                            summary="Download a statement as a PDF")
def invoice_pdf(group, number):
    document = call_service(SERVICE, "invoice_pdf", group, number)
    return download(document, fallback_type=PDF, fallback_name="invoice-%s.pdf" % number)


# --- adjust invoice -------------------------------------------------------------------------------------

@billing_invoice_routes.post(INVOICE + "/adjustments", body=rpc_input("adjust_invoice"),
                             response=rpc_output("adjust_invoice"), validate_only=True, tag="billing",
                             problems={**problems(
                                 forbidden="Your role may not change the roster (or see this statement)",
                                 not_found=NO_STATEMENT + "; or roster does not know the member",
                                 conflict="The family has a pending change",
                                 invalid="Invalid fields, a member not billed on this statement, or a termination "
                                         "roster's rules refuse"),
                                 504: ("Roster did not answer in time; retry with the same Idempotency-Key",
                                       "Problem")},
                             summary="Report a member's or family's termination from a statement line")
def adjust_invoice(group, number, body):
    """Roster records the termination (a transaction with its confirmation number, answered here); the premium
    change shows on the next statement as an adjustment. Needs the right to change the roster."""
    return call_service(SERVICE, "adjust_invoice", group, number, body)


# --- rebill requests ------------------------------------------------------------------------------------

@billing_invoice_routes.get(GROUP + "/rebill-requests", query=rpc_input("list_rebill_requests"),
                            response=rpc_output("list_rebill_requests"), validate_only=True, tag="billing",
                            problems=problems(not_found=NO_GROUP), summary="The group's rebill requests")
def list_rebill_requests(group, query):
    return call_service(SERVICE, "list_rebill_requests", group, query)


@billing_invoice_routes.post(GROUP + "/rebill-requests", body=rpc_input("request_rebill"),
                             response=rpc_output("request_rebill"), status=201, validate_only=True, tag="billing",
                             problems=problems(forbidden="Your role may not ask for a rebill (e.g. a viewer)",
                                               not_found=NO_STATEMENT,
                                               conflict="Superseded, not the account's newest statement, or a "
                                                        "rebill of it is already requested"),
                             summary="Ask the carrier to reissue a statement")
def request_rebill(group, body):
    return call_service(SERVICE, "request_rebill", group, body)


@billing_invoice_routes.post("/api/v1/admin/rebill-requests/<rebill_request:request_number>/decide",
                             body=rpc_input("decide_rebill"), response=rpc_output("decide_rebill"),
                             validate_only=True, tag="admin",
                             problems=problems(forbidden="Carrier staff only", not_found="No such rebill request",
                                               conflict="Already decided, or the statement can no longer be "
                                                        "rebilled"),
                             summary="Approve (reissue the statement) or deny a rebill request")
def decide_rebill(request_number, body):
    """Approve: the statement is superseded by a new one (its number + "-R1") taking up the same ledger entries,
    its amounts recomputed from the ledger. Deny: with a note. Carrier staff only."""
    return call_service(SERVICE, "decide_rebill", request_number, body)
