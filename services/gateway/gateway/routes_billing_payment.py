"""Payment methods, payments split across accounts, settlement, returns, check and lockbox posting, refund
requests (issue 6): the billing service's paths.

Bodies and query strings are validated with billing's wire contracts (portal_contracts.billing_payment, through
billing_contracts.py) and sent on as received; the billing service loads them again and decides (the caller's
grant per account, allocations adding up, the credit balance). A payment needs an Idempotency-Key: a retry with
the same key answers the first payment again and charges nothing; the same key with another body is a 422.
"""
from flask import request

from gateway.billing_contracts import rpc_input, rpc_output
from gateway.calls import call_service
from gateway.problems import Problem
from gateway.routes_roster import ADMIN, ADMIN_GROUP, GROUP, PATH_PATTERNS, download, problems
from gateway.routing import Routes, load_json_body

SERVICE = "billing"
billing_payment_routes = Routes(path_patterns=PATH_PATTERNS)

MAY_NOT_PAY = "Your role may not pay for this group (a viewer, carrier staff), or not for this account's subgroup"
NO_GROUP = "No such group (or no grant for it)"
ACH_RETURN_FILE_BYTES = 5 * 1024 * 1024
ACH_RETURN_UPLOAD = {
    "text/plain": {"type": "string", "description": "The NACHA return file as the bank sent it (94-character "
                                                    "records), UTF-8 or ASCII."},
    "application/json": {"type": "object", "required": ["file"],
                         "properties": {"file": {"type": "string", "description": "The NACHA return file's text."}}},
}
CSV_HEADERS = {"Content-Disposition": {
    "description": "attachment; filename=\"...\": e.g. payments-100234-20270310.csv", "schema": {"type": "string"}}}


# --- payment methods ------------------------------------------------------------------------------------

@billing_payment_routes.get(GROUP + "/payment-methods", response=rpc_output("list_payment_methods"), tag="payments",
                            problems=problems(not_found=NO_GROUP),
                            summary="The group's bank accounts (last 4 digits only)")
def list_payment_methods(group):
    return call_service(SERVICE, "list_payment_methods", group)


@billing_payment_routes.post(GROUP + "/payment-methods", body=rpc_input("add_payment_method"),
                             response=rpc_output("add_payment_method"), status=201, validate_only=True,
                             tag="payments",
                             problems=problems(forbidden=MAY_NOT_PAY, not_found=NO_GROUP,
                                               conflict="The bank account is already on file",
                                               invalid="Invalid fields, or a routing number whose check digit "
                                                       "does not match"),
                             summary="Add a bank account to pay from")
def add_payment_method(group, body):
    """Holder name, checking or savings, the 9-digit routing number (its ABA check digit is verified) and the
    account number (4-17 digits), which is stored encrypted and never shown again but for its last 4."""
    return call_service(SERVICE, "add_payment_method", group, body)


@billing_payment_routes.delete(GROUP + "/payment-methods/<int:method_id>",
                               response=rpc_output("remove_payment_method"), tag="payments",
                               problems=problems(forbidden=MAY_NOT_PAY,
                                                 not_found="No such payment method in this group",
                                                 conflict="Auto pay uses this bank account: cancel it first"),
                               summary="Remove a bank account (payments made with it keep naming it)")
def remove_payment_method(group, method_id):
    return call_service(SERVICE, "remove_payment_method", group, method_id)


# --- payments -------------------------------------------------------------------------------------------

@billing_payment_routes.get(GROUP + "/payments", query=rpc_input("list_payments"), response=rpc_output("list_payments"),
                            media_type=("application/json", "text/csv"), response_headers=CSV_HEADERS,
                            validate_only=True, tag="payments", problems=problems(not_found=NO_GROUP),
                            summary="The group's payments (JSON pages, or ?format=csv as a file)")
def list_payments(group, query):
    """Filters: `date_from`, `date_to` (received), `status` (pending, settled, returned); `page` and `limit`.
    Only allocations to accounts the caller sees are shown. `format=csv`: every match, one row per allocation."""
    answer = call_service(SERVICE, "list_payments", group, query)
    if query.get("format") == "csv":
        return download(answer, fallback_type="text/csv", fallback_name="payments-%s.csv" % group)
    return answer


@billing_payment_routes.post(GROUP + "/payments", body=rpc_input("make_payment"), response=rpc_output("make_payment"),
                             status=201, validate_only=True, idempotency="required", tag="payments",
                             problems=problems(forbidden=MAY_NOT_PAY,
                                               not_found="No such group, billing account or payment method",
                                               invalid="Invalid fields; allocations that do not add up to the "
                                                       "amount; or this Idempotency-Key with another body"),
                             summary="Pay by ACH from a bank account, split across billing accounts")
def make_payment(group, body):
    """`allocations` ([{account_number, statement_number?, amount}]) must add up to `amount` exactly, each to an
    account you may pay for. Without them the amount pays the oldest open months of your accounts first and
    the rest stays as a credit on the first. Pending until it settles 2 business days later."""
    return call_service(SERVICE, "make_payment", group, body)


@billing_payment_routes.post(ADMIN_GROUP + "/payments", body=rpc_input("post_check_payment"),
                             response=rpc_output("post_check_payment"), status=201, validate_only=True, tag="admin",
                             problems=problems(not_found="No such group or billing account",
                                               invalid="Invalid fields, or allocations that do not add up"),
                             summary="Post a check or lockbox payment (settled at once)")
def post_check_payment(group, body):
    """Carrier staff only; to any account of the group."""
    return call_service(SERVICE, "post_check_payment", group, body)


@billing_payment_routes.post(ADMIN + "/jobs/payment-settlement", body=rpc_input("settle_payments"),
                             body_optional=True, response=rpc_output("settle_payments"), validate_only=True,
                             tag="admin", summary="Settle the ACH payments due by a date (the daily job, on demand)")
def settle_payments(body):
    """`as_of`: a business date (default: today's). A payment settles once. Carrier staff only."""
    return call_service(SERVICE, "settle_payments", body.get("as_of"))


@billing_payment_routes.post(ADMIN + "/ach-returns", upload=ACH_RETURN_UPLOAD, max_body_bytes=ACH_RETURN_FILE_BYTES,
                             response=rpc_output("import_ach_returns"), tag="admin",
                             problems=problems(invalid="Not a readable NACHA return file (errors.file names each "
                                                       "bad line); nothing was imported"),
                             summary="Import the bank's NACHA return file: returned payments are reversed")
def import_ach_returns():
    """Send the file as `text/plain`, or as JSON `{"file": "..."}`. Each return's payment is marked returned and
    its allocations are owed again; unknown trace numbers are listed, payments already returned skipped.
    Carrier staff only."""
    return call_service(SERVICE, "import_ach_returns", _return_file())


def _return_file():
    if request.mimetype == "text/plain":
        try:
            text = request.get_data(cache=False).decode(request.mimetype_params.get("charset") or "utf-8-sig")
        except (UnicodeDecodeError, LookupError):
            raise _bad_file("The file is not readable as text.") from None
    elif request.mimetype == "application/json":
        text = load_json_body(rpc_input("import_ach_returns"))["file"]
    else:
        raise Problem(415, "unsupported_media_type", "Unsupported Media Type",
                      "Send the return file as 'Content-Type: text/plain', or JSON {\"file\": \"...\"}.")
    if not text.strip():
        raise _bad_file("The file is empty.")
    return text


def _bad_file(message):
    return Problem(422, "validation_failed", "The request has invalid fields", "Correct the fields listed in errors.",
                   errors={"file": [message]})


# --- refund requests ------------------------------------------------------------------------------------

@billing_payment_routes.get(GROUP + "/refund-requests", query=rpc_input("list_refund_requests"),
                            response=rpc_output("list_refund_requests"), validate_only=True, tag="payments",
                            problems=problems(not_found=NO_GROUP),
                            summary="Refund requests of the accounts you see (filter: status)")
def list_refund_requests(group, query):
    return call_service(SERVICE, "list_refund_requests", group, query)


@billing_payment_routes.post(GROUP + "/refund-requests", body=rpc_input("request_refund"),
                             response=rpc_output("request_refund"), status=201, validate_only=True, tag="payments",
                             problems=problems(forbidden=MAY_NOT_PAY, not_found="No such group or billing account",
                                               invalid="No credit balance, or more than the credit balance"),
                             summary="Ask for a refund of an account's credit balance")
def request_refund(group, body):
    """`amount` defaults to the whole credit balance (less what open requests already ask for)."""
    return call_service(SERVICE, "request_refund", group, body)


@billing_payment_routes.post(ADMIN + "/refund-requests/<confirmation:request_number>/decide",
                             body=rpc_input("decide_refund"), response=rpc_output("decide_refund"), validate_only=True,
                             tag="admin",
                             problems=problems(not_found="No such refund request",
                                               conflict="Already decided, or the credit balance is now smaller"),
                             summary="Approve (the refund is paid out of the credit) or deny a refund request")
def decide_refund(request_number, body):
    """Carrier staff only."""
    return call_service(SERVICE, "decide_refund", request_number, body)
