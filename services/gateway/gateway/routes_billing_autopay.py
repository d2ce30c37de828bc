"""Auto pay (authorisation, the debit run and its NACHA file) and delinquency (stages, termination for non-payment)
(issue 6): the billing service's paths.

Bodies are validated with billing's wire contracts (portal_contracts.billing_autopay, through
billing_contracts.py) and sent on as received; the service loads them again and decides (the caller's grant on
the account's subgroup, the payment method, the terms version in force). The two jobs run daily in the service;
carrier staff can run them for a business date here.
"""
from flask import current_app

from gateway.billing_contracts import rpc_input, rpc_output
from gateway.calls import call_service
from gateway.routes_roster import PATH_PATTERNS, problems
from gateway.routing import Routes

SERVICE = "billing"

# A billing account number is "<group>-<subgroup>".
billing_autopay_routes = Routes(path_patterns=dict(PATH_PATTERNS, billing_account=r"[0-9A-Za-z-]{1,41}"))

ADMIN_JOBS = "/api/v1/admin/jobs"
AUTOPAY = "/api/v1/groups/<group:group>/billing-accounts/<billing_account:account>/autopay"

NO_ACCOUNT = "No such group or billing account (or no grant for it)"
MAY_NOT_PAY = "Your role may not set up auto pay (pay_billing), or your grant does not reach this account"


def job_timeout():
    """A run over every account may take longer than a usual call."""
    return current_app.config["BULK_RPC_TIMEOUT_SECONDS"]


@billing_autopay_routes.get(AUTOPAY, response=rpc_output("get_autopay"), tag="billing",
                            problems=problems(forbidden="Your grant does not reach this account",
                                              not_found=NO_ACCOUNT),
                            summary="A billing account's auto pay")
def get_autopay(group, account):
    """The authorisation on file (the method's last 4, days before the due date, who authorised it under which
    terms, when; who cancelled it), `status` none when never set up, and the terms version in force."""
    return call_service(SERVICE, "get_autopay", group, account)


@billing_autopay_routes.put(AUTOPAY, body=rpc_input("set_autopay"), response=rpc_output("set_autopay"),
                            validate_only=True, tag="billing",
                            problems=problems(forbidden=MAY_NOT_PAY, not_found=NO_ACCOUNT,
                                              invalid="Invalid fields, terms not accepted, terms_version not the "
                                                      "one in force, or not an active payment method of the group"),
                            summary="Turn auto pay on for a billing account (or change it)")
def set_autopay(group, account, body):
    """Debits the method `days_before_due` (0-10) days before each statement's due date for what the account
    owes. `accept_terms` must be true and `terms_version` the current one: the authorisation is kept."""
    return call_service(SERVICE, "set_autopay", group, account, body)


@billing_autopay_routes.delete(AUTOPAY, response=rpc_output("cancel_autopay"), tag="billing",
                               problems=problems(forbidden=MAY_NOT_PAY,
                                                 not_found=NO_ACCOUNT + "; or the account has no auto pay"),
                               summary="Turn auto pay off for a billing account")
def cancel_autopay(group, account):
    """The authorisation stays on file with who cancelled it and when; a debit already sent is not taken back."""
    return call_service(SERVICE, "cancel_autopay", group, account)


@billing_autopay_routes.post(ADMIN_JOBS + "/autopay", body=rpc_input("run_autopay"), body_optional=True,
                             response=rpc_output("run_autopay"), validate_only=True, tag="admin",
                             problems=problems(forbidden="Carrier staff only",
                                               conflict="Another run wrote this date's file meanwhile"),
                             summary="Run auto pay for a business date (the daily job, on demand)")
def run_autopay(body):
    """`as_of` (default: today's business date): every active auto pay whose newest statement reaches its
    debit date (or passed it without a debit) is debited for what the account owes, as a pending payment, and
    the day's debits are written as one NACHA file. Nothing is debited twice; a rerun of a date whose file is
    written adds nothing."""
    return call_service(SERVICE, "run_autopay", body.get("as_of"), timeout=job_timeout())


@billing_autopay_routes.post(ADMIN_JOBS + "/delinquency", body=rpc_input("run_delinquency"), body_optional=True,
                             response=rpc_output("run_delinquency"), validate_only=True, tag="admin",
                             problems=problems(forbidden="Carrier staff only"),
                             summary="Assess delinquency for a business date (the daily job, on demand)")
def run_delinquency(body):
    """`as_of` (default: today's business date): each account's stage (current, past_due from day 1 after the
    due date, in_grace from day 16, terminated_nonpayment from day grace_days + 1); every change is published,
    and on terminated_nonpayment roster ends the subgroup's coverage back to the paid-through date."""
    return call_service(SERVICE, "run_delinquency", body.get("as_of"), timeout=job_timeout())
