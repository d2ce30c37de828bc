"""Roster and enrollment (issue 3): the roster service's paths, top-down as a user meets them.

Carrier set-up (admin), the group and its subgroups, the roster (search, export, a subscriber's family), new
enrollment, transactions, the dashboard. Every route needs sign-in; the roster service decides what the caller
may do (carrier staff only on the admin paths, the caller's grant for the group elsewhere: another group's
number answers 404). Bodies and query strings are validated with the roster's wire contracts
(roster_contracts.py) and sent on as received, which the contracts ask for: the service loads them again with
the same classes, and what `load` returns (dates) does not travel over RPC. Answers are forwarded as the
service serialised them; an export is answered as the file it holds.
"""
import base64
import re

from flask import Response, current_app

from gateway import uploads
from gateway.calls import call_service
from gateway.problems import Problem
from gateway.roster_contracts import Dashboard, rpc_input, rpc_output
from gateway.routing import Routes

SERVICE = "roster"

# Path parameters that do not match answer 404 before anything else (routing.Routes.path_patterns).
PATH_PATTERNS = {
    "group": r"[0-9A-Za-z-]{1,20}",         # a group number, and a subgroup number
    "member": r"[A-Za-z0-9]{1,12}",         # a member id
    "confirmation": r"[A-Za-z0-9-]{1,24}",  # a transaction's confirmation number
}

roster_routes = Routes(path_patterns=PATH_PATTERNS)

ADMIN = "/api/v1/admin"
ADMIN_GROUP = ADMIN + "/groups/<group:group>"
GROUP = "/api/v1/groups/<group:group>"
SUBGROUP = GROUP + "/subgroups/<group:subgroup>"
TRANSACTION = GROUP + "/transactions/<confirmation:confirmation>"

EXPORT_MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_HEADERS = {"Content-Disposition": {
    "description": "attachment; filename=\"...\": the file's name, e.g. roster-G100-20261123.csv",
    "schema": {"type": "string"}}}

CENSUS_MAX_BYTES = uploads.MAX_BYTES
CENSUS_INPUT = rpc_input("import_census")  # {"csv_text": ...}: import_census(group, csv_text)
CENSUS = uploads.CsvUpload("census", CENSUS_INPUT)
CENSUS_COLUMNS = CENSUS.columns
CENSUS_UPLOAD = CENSUS.media_types


def bulk_timeout():
    """Census imports, exports, catalogue loads and the transactions job may take longer than a usual call."""
    return current_app.config["BULK_RPC_TIMEOUT_SECONDS"]


def problems(**described):
    """{status: (description, "Problem")} from not_found="...", conflict="...", ..."""
    statuses = {"forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 422}
    return {statuses[name]: (description, "Problem") for name, description in described.items()}


# --- carrier set-up (carrier staff only; the service refuses anyone else with 403) ------------------------

@roster_routes.post(ADMIN + "/plans", body=rpc_input("load_plans"), response=rpc_output("load_plans"),
                    validate_only=True, tag="admin", summary="Load or update carrier plans (upsert by plan code)")
def load_plans(body):
    """A JSON list of plans. Carrier staff only."""
    return call_service(SERVICE, "load_plans", body, timeout=bulk_timeout())


@roster_routes.get(ADMIN + "/plans", response=rpc_output("list_plans"), tag="admin", summary="The carrier's plans")
def list_plans():
    """Carrier staff only."""
    return call_service(SERVICE, "list_plans")


@roster_routes.post(ADMIN + "/groups", body=rpc_input("create_group"), response=rpc_output("create_group"),
                    status=201, validate_only=True, tag="admin", summary="Create a group",
                    problems=problems(conflict="A group with this number exists"))
def create_group(body):
    """Number, legal name, EIN, addresses, contacts, renewal date, eligibility policy (waiting period), age-off
    and continuation policy. Carrier staff only."""
    return call_service(SERVICE, "create_group", body)


@roster_routes.post(ADMIN_GROUP + "/subgroups", body=rpc_input("create_subgroup"),
                    response=rpc_output("create_subgroup"), status=201, validate_only=True, tag="admin",
                    summary="Create a subgroup of a group",
                    problems=problems(not_found="No such group", conflict="A subgroup with this number exists"))
def create_subgroup(group, body):
    """Carrier staff only."""
    return call_service(SERVICE, "create_subgroup", group, body)


@roster_routes.put(ADMIN_GROUP + "/subgroups/<group:subgroup>/plans", body=rpc_input("set_subgroup_plans"),
                   response=rpc_output("set_subgroup_plans"), validate_only=True, tag="admin",
                   summary="Set the plans a subgroup is offered for a plan year",
                   problems=problems(not_found="No such group or subgroup"))
def set_subgroup_plans(group, subgroup, body):
    """Replaces that plan year's offering as a whole. Carrier staff only."""
    return call_service(SERVICE, "set_subgroup_plans", group, subgroup, body)


@roster_routes.post(ADMIN + "/providers", body=rpc_input("load_providers"), response=rpc_output("load_providers"),
                    validate_only=True, tag="admin", summary="Load the provider directory (upsert by NPI)")
def load_providers(body):
    """A JSON list of providers. Carrier staff only."""
    return call_service(SERVICE, "load_providers", body, timeout=bulk_timeout())


@roster_routes.post(ADMIN_GROUP + "/census", upload=CENSUS_UPLOAD, max_body_bytes=CENSUS_MAX_BYTES,
                    response=rpc_output("import_census"), tag="admin",
                    summary="Import a census (CSV) into a group: every row or none",
                    problems={**problems(not_found="No such group",
                                         invalid="A bad row: errors names every bad row and field, and nothing "
                                                 "was imported; or an unreadable file (errors.file)"),
                              413: ("The file is larger than 10 MB", "Problem")})
def import_census(group):
    """The existing roster of a group moving in. Send the CSV as the body (`Content-Type: text/csv`) or as the
    `file` field of a form (`multipart/form-data`), at most 10 MB, in UTF-8. Every row is validated; one bad row
    imports nothing, and the answer names every bad row (numbered as a spreadsheet shows the file: the header
    is row 1). Carrier staff only."""
    return call_service(SERVICE, "import_census", group, census_text(), timeout=bulk_timeout())


def census_text():
    """The uploaded census as text, or a 415/422 problem (gateway.uploads)."""
    return CENSUS.text()


@roster_routes.get(ADMIN + "/transactions", query=rpc_input("list_held_transactions"),
                   response=rpc_output("list_held_transactions"), validate_only=True, tag="admin",
                   summary="Transactions held for carrier review, across groups")
def list_held_transactions(query):
    """Pending transactions held for review (e.g. a retroactive change near the limit). Carrier staff only."""
    return call_service(SERVICE, "list_held_transactions", query)


@roster_routes.post(ADMIN + "/transactions/<confirmation:confirmation>/approve",
                    body=rpc_input("approve_transaction"), body_optional=True,
                    response=rpc_output("approve_transaction"), validate_only=True, tag="admin",
                    summary="Approve a held transaction (it completes), with an optional note",
                    problems=problems(not_found="No such transaction", conflict="The transaction is not pending"))
def approve_transaction(confirmation, body):
    """Carrier staff only."""
    return call_service(SERVICE, "approve_transaction", confirmation, body.get("note"))


@roster_routes.post(ADMIN + "/transactions/<confirmation:confirmation>/reject", body=rpc_input("reject_transaction"),
                    response=rpc_output("reject_transaction"), validate_only=True, tag="admin",
                    summary="Reject a held transaction, with a reason",
                    problems=problems(not_found="No such transaction", conflict="The transaction is not pending"))
def reject_transaction(confirmation, body):
    """Carrier staff only."""
    return call_service(SERVICE, "reject_transaction", confirmation, body["reason"])


@roster_routes.post(ADMIN + "/jobs/complete-due-transactions", body=rpc_input("complete_due_transactions"),
                    body_optional=True, response=rpc_output("complete_due_transactions"), validate_only=True,
                    tag="admin", summary="Complete the pending transactions due by a date (the daily job, on demand)")
def complete_due_transactions(body):
    """`as_of`: a business date (default: today's). What is already completed is not done twice. Carrier staff
    only."""
    return call_service(SERVICE, "complete_due_transactions", body.get("as_of"), timeout=bulk_timeout())


# --- the group and its subgroups ------------------------------------------------------------------------

NO_GROUP = problems(not_found="No such group (or no grant for it)")
NO_SUBGROUP = problems(not_found="No such group or subgroup (or no grant for it)")
MAY_NOT_CHANGE = "Your role may not change the roster"


@roster_routes.get(GROUP, response=rpc_output("get_group"), tag="group", problems=NO_GROUP,
                   summary="A group's overview: subgroups, plans, renewal date, member counts")
def get_group(group):
    """Coverage info: the current plan year's plans, the renewal date, member counts by tier and by status.
    A caller limited to some subgroups sees those subgroups and their counts only."""
    return call_service(SERVICE, "get_group", group)


@roster_routes.patch(GROUP + "/contact", body=rpc_input("update_group_contact"),
                     response=rpc_output("update_group_contact"), validate_only=True, tag="group",
                     problems={**NO_GROUP, **problems(forbidden=MAY_NOT_CHANGE)},
                     summary="Update one of the group's contacts (recorded as a transaction)")
def update_group_contact(group, body):
    return call_service(SERVICE, "update_group_contact", group, body)


@roster_routes.get(GROUP + "/subgroups", response=rpc_output("list_subgroups"), tag="group", problems=NO_GROUP,
                   summary="The group's subgroups (the caller's, when limited to some)")
def list_subgroups(group):
    return call_service(SERVICE, "list_subgroups", group)


@roster_routes.get(SUBGROUP, response=rpc_output("get_subgroup"), tag="group", problems=NO_SUBGROUP,
                   summary="A subgroup's overview: plans offered and member counts")
def get_subgroup(group, subgroup):
    return call_service(SERVICE, "get_subgroup", group, subgroup)


@roster_routes.patch(SUBGROUP + "/contact", body=rpc_input("update_subgroup_contact"),
                     response=rpc_output("update_subgroup_contact"), validate_only=True, tag="group",
                     problems={**NO_SUBGROUP, **problems(forbidden=MAY_NOT_CHANGE)},
                     summary="Update a subgroup's contact (recorded as a transaction)")
def update_subgroup_contact(group, subgroup, body):
    return call_service(SERVICE, "update_subgroup_contact", group, subgroup, body)


@roster_routes.get(GROUP + "/plans", query=rpc_input("list_group_plans"), response=rpc_output("list_group_plans"),
                   validate_only=True, tag="group", problems=NO_GROUP,
                   summary="The plans offered to each subgroup for a plan year (default: the current one)")
def list_group_plans(group, query):
    return call_service(SERVICE, "list_group_plans", group, query.get("plan_year_start"))


# --- the roster: search, export, a subscriber's family ---------------------------------------------------

@roster_routes.get(GROUP + "/members", query=rpc_input("search_members"), response=rpc_output("search_members"),
                   validate_only=True, tag="roster", problems=NO_GROUP, summary="Search the group's members")
def search_members(group, query):
    """By member id, name (`q`: a name prefix, any case; `last_name`, `first_name`: prefixes), date of birth,
    SSN last 4, subgroup and status (`prospective`: pending a future effective date); paginated with `page`
    and `limit` (at most 200), with the total."""
    return call_service(SERVICE, "search_members", group, query)


@roster_routes.get(GROUP + "/roster", query=rpc_input("export_roster"), media_type=tuple(EXPORT_MEDIA_TYPES.values()),
                   response_headers=EXPORT_HEADERS, validate_only=True, tag="roster", problems=NO_GROUP,
                   summary="Export the roster as CSV or XLSX (the group, a subgroup, or prospective subscribers)")
def export_roster(group, query):
    """A file to download (`format`: csv, the default, or xlsx): member id, name, relationship, date of birth,
    tier, plan, effective dates, status, subgroup; SSNs masked unless the caller's role may see them."""
    filters = dict(query)
    fmt = filters.pop("format", "csv")
    export = call_service(SERVICE, "export_roster", group, filters, fmt, timeout=bulk_timeout())
    return download(export, fallback_type=EXPORT_MEDIA_TYPES[fmt], fallback_name="roster-%s.%s" % (group, fmt))


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def download(export, fallback_type, fallback_name):
    """The service's {filename, content_type, content_base64} as a file to download."""
    content = base64.b64decode(export["content_base64"], validate=True)  # a bad one is a ValueError: a 500
    filename = _UNSAFE_FILENAME.sub("_", export.get("filename") or "").strip("._") or fallback_name
    return Response(content, content_type=export.get("content_type") or fallback_type,
                    headers={"Content-Disposition": 'attachment; filename="%s"' % filename})


@roster_routes.get(GROUP + "/subscribers/<member:member>", response=rpc_output("get_subscriber"), tag="roster",
                   problems=problems(not_found="No such subscriber in this group (or no grant for it)"),
                   summary="A subscriber's family: details, dependents, coverage history, transactions")
def get_subscriber(group, member):
    return call_service(SERVICE, "get_subscriber", group, member)


# --- new enrollment -----------------------------------------------------------------------------------

ENROLLMENT_PROBLEMS = problems(
    forbidden="Your role may not enroll (e.g. a viewer)",
    not_found="No such group (or no grant for it)",
    conflict="The SSN already belongs to a subscriber of the group",
    invalid="Invalid fields, or an enrollment the rules refuse (a plan not offered to the subgroup, a child of "
            "26 or more, an effective date past day 91 after hire)")


@roster_routes.post(GROUP + "/subscribers/preview", body=rpc_input("preview_enrollment"),
                    response=rpc_output("preview_enrollment"), validate_only=True, tag="enrollment",
                    problems=ENROLLMENT_PROBLEMS,
                    summary="Review an enrollment before confirming it (nothing is written)")
def preview_enrollment(group, body):
    """The summary step: effective date, tier, members, plan and flags, checked by the same rules as the
    enrollment itself. Send the same body to POST …/subscribers to confirm."""
    return call_service(SERVICE, "preview_enrollment", group, body)


@roster_routes.post(GROUP + "/subscribers", body=rpc_input("enroll_subscriber"),
                    response=rpc_output("enroll_subscriber"), status=201, validate_only=True, tag="enrollment",
                    problems=ENROLLMENT_PROBLEMS,
                    summary="Enroll a subscriber and dependents: answers the confirmation number")
def enroll_subscriber(group, body):
    """Subscriber, dependents (each electing coverage or naming their other coverage), plan, and an optional
    later effective date. A retry with the same Idempotency-Key answers the first enrollment again."""
    return call_service(SERVICE, "enroll_subscriber", group, body)


# --- transactions ---------------------------------------------------------------------------------------

NO_TRANSACTION = "No such transaction in this group (or no grant for it)"
NOT_PENDING = "The transaction is not pending any more"


@roster_routes.get(GROUP + "/transactions", query=rpc_input("list_transactions"),
                   response=rpc_output("list_transactions"), validate_only=True, tag="transactions",
                   problems=NO_GROUP, summary="The group's transactions (history and pending), with filters")
def list_transactions(group, query):
    """Filters: `date_from`, `date_to`, `type`, `status`, `member_id` (the family's), `requested_by`;
    paginated with `page` and `limit`."""
    return call_service(SERVICE, "list_transactions", group, query)


@roster_routes.get(TRANSACTION, response=rpc_output("get_transaction"), tag="transactions",
                   problems=problems(not_found=NO_TRANSACTION), summary="One transaction")
def get_transaction(group, confirmation):
    return call_service(SERVICE, "get_transaction", group, confirmation)


@roster_routes.patch(TRANSACTION, body=rpc_input("edit_transaction"), response=rpc_output("edit_transaction"),
                     validate_only=True, tag="transactions",
                     problems=problems(forbidden=MAY_NOT_CHANGE, not_found=NO_TRANSACTION, conflict=NOT_PENDING),
                     summary="Edit a pending transaction (effective date, plan)")
def edit_transaction(group, confirmation, body):
    return call_service(SERVICE, "edit_transaction", group, confirmation, body)


@roster_routes.post(TRANSACTION + "/cancel", body=rpc_input("cancel_transaction"),
                    response=rpc_output("cancel_transaction"), validate_only=True, tag="transactions",
                    problems=problems(forbidden=MAY_NOT_CHANGE, not_found=NO_TRANSACTION, conflict=NOT_PENDING),
                    summary="Cancel a pending transaction, with a reason")
def cancel_transaction(group, confirmation, body):
    """The family's unchanged state is published, so no consumer acts on the cancelled change."""
    return call_service(SERVICE, "cancel_transaction", group, confirmation, body["reason"])


# --- dashboard ---------------------------------------------------------------------------------------

@roster_routes.get("/api/v1/dashboard", response=Dashboard, tag="dashboard",
                   summary="Per group I hold a grant on: renewal date, pending transactions, amount due and due date")
def dashboard():
    """Roster's rows (every group the caller holds a grant on) with billing's figures where the caller may see
    the group's bills (amount due and due date: for the whole group only with a group-wide grant, else the
    caller's subgroups, `billing_scope`). The page still answers when billing does not: its figures are null
    and `unavailable` names it. Carrier staff hold no group grants: their list is empty."""
    rows = call_service(SERVICE, "dashboard")
    unavailable = []
    try:
        figures = {row["group_number"]: row for row in call_service("billing", "dashboard")}
    except Problem as problem:
        if problem.status < 500:
            raise
        figures = {}
        unavailable.append("billing")
    for row in rows:
        billing = figures.get(row["group_number"]) or {}
        row.update(amount_due=billing.get("amount_due"), due_date=billing.get("due_date"),
                   billing_scope=billing.get("scope"))
    return {"groups": rows, "unavailable": unavailable}
