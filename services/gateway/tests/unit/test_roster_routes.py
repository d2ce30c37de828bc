"""Issue 3's paths (routes_roster.py): each calls the roster RPC the contract names with the path's, body's and
query's values and this request's context, validates with the roster's wire contracts, passes the service's
problems through, and streams exports and census uploads as files."""
import base64
import inspect
import io
import json

import pytest
from nameko.exceptions import RemoteError
from servicekit.errors import BusinessError, Conflict, Forbidden, NotFound, ValidationFailed
from portal_contracts import roster_groups, roster_members
from servicekit.testing.tokens import mint_token

from gateway.app import ROUTE_GROUPS
from gateway.roster_contracts import EXPORT_FORMATS, RPC_SCHEMAS
from gateway.routes_roster import CENSUS_MAX_BYTES, EXPORT_MEDIA_TYPES, roster_routes
from gateway.testing import assert_problem

G = "/api/v1/groups/G100"
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}
PLAN = {"plan_code": "PPO-SILVER", "name": "Silver PPO", "product": "medical", "plan_type": "PPO",
        "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}
GROUP = {"group_number": "G200", "legal_name": "Widgets LLC", "ein": "061234567", "mailing_address": ADDRESS,
         "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@example.com"}],
         "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 0,
         "age_off_policy": "end_of_month", "continuation": "cobra"}
SUBGROUP = {"subgroup_number": "001", "name": "Office"}
OFFERING = {"plan_year_start": "2027-01-01", "plan_codes": ["HMO-GOLD", "PPO-SILVER"]}
PROVIDER = {"npi": "1234567893", "name": "Dr. Ada Lovelace", "specialty": "Family Medicine", "address": ADDRESS,
            "networks": ["METRO"]}
CONTACT = {"kind": "billing", "name": "Sam Payer", "email": "sam@example.com"}
SUBGROUP_CONTACT = {"phone": "+1 860 555 0100"}
ENROLLMENT = {
    "subgroup_number": "001", "plan_code": "PPO-SILVER",
    "subscriber": {"first_name": "Avery", "last_name": "Quinlan", "date_of_birth": "1985-04-12", "gender": "F",
                   "marital_status": "M", "ssn": "123456789", "email": "avery@example.com",
                   "mailing_address": ADDRESS, "hire_date": "2026-11-01", "employment_status": "active"},
    "dependents": [{"relationship": "spouse", "first_name": "Jordan", "last_name": "Quinlan",
                    "date_of_birth": "1984-02-03", "gender": "M", "ssn": "287654321", "elect_coverage": True}],
}
CHANGES = {"effective_date": "2027-02-01"}
TXN = {"confirmation_number": "T20261123-0001", "status": "pending", "type": "enrollment"}
PAGE = {"items": [], "total": 0, "page": 1, "limit": 50}

# (method, path, JSON body or None, roster RPC, its positional arguments, success status)
CALLS = [
    ("POST", "/api/v1/admin/plans", [PLAN], "load_plans", ([PLAN],), 200),
    ("GET", "/api/v1/admin/plans", None, "list_plans", (), 200),
    ("POST", "/api/v1/admin/groups", GROUP, "create_group", (GROUP,), 201),
    ("POST", "/api/v1/admin/groups/G200/subgroups", SUBGROUP, "create_subgroup", ("G200", SUBGROUP), 201),
    ("PUT", "/api/v1/admin/groups/G200/subgroups/001/plans", OFFERING, "set_subgroup_plans",
     ("G200", "001", OFFERING), 200),
    ("POST", "/api/v1/admin/providers", [PROVIDER], "load_providers", ([PROVIDER],), 200),
    ("GET", "/api/v1/admin/transactions?group_number=G100&page=2", None, "list_held_transactions",
     ({"group_number": "G100", "page": "2"},), 200),
    ("POST", "/api/v1/admin/transactions/T20261123-0001/approve", {"note": "retro ok"}, "approve_transaction",
     ("T20261123-0001", "retro ok"), 200),
    ("POST", "/api/v1/admin/transactions/T20261123-0001/reject", {"reason": "No proof of hire"}, "reject_transaction",
     ("T20261123-0001", "No proof of hire"), 200),
    ("POST", "/api/v1/admin/jobs/complete-due-transactions", {"as_of": "2026-12-01"}, "complete_due_transactions",
     ("2026-12-01",), 200),
    ("GET", G, None, "get_group", ("G100",), 200),
    ("PATCH", G + "/contact", CONTACT, "update_group_contact", ("G100", CONTACT), 200),
    ("GET", G + "/subgroups", None, "list_subgroups", ("G100",), 200),
    ("GET", G + "/subgroups/001", None, "get_subgroup", ("G100", "001"), 200),
    ("PATCH", G + "/subgroups/001/contact", SUBGROUP_CONTACT, "update_subgroup_contact",
     ("G100", "001", SUBGROUP_CONTACT), 200),
    ("GET", G + "/plans", None, "list_group_plans", ("G100", None), 200),
    ("GET", G + "/plans?plan_year_start=2027-01-01", None, "list_group_plans", ("G100", "2027-01-01"), 200),
    ("GET", G + "/members?q=zab&subgroup=001&status=active&page=2&limit=20", None, "search_members",
     ("G100", {"q": "zab", "subgroup": "001", "status": "active", "page": "2", "limit": "20"}), 200),
    ("GET", G + "/subscribers/M000000123", None, "get_subscriber", ("G100", "M000000123"), 200),
    ("POST", G + "/subscribers/preview", ENROLLMENT, "preview_enrollment", ("G100", ENROLLMENT), 200),
    ("POST", G + "/subscribers", ENROLLMENT, "enroll_subscriber", ("G100", ENROLLMENT), 201),
    ("GET", G + "/transactions?date_from=2026-01-01&date_to=2026-12-31&type=enrollment&status=pending"
            "&member_id=M000000123&requested_by=u-100&page=1&limit=200", None, "list_transactions",
     ("G100", {"date_from": "2026-01-01", "date_to": "2026-12-31", "type": "enrollment", "status": "pending",
               "member_id": "M000000123", "requested_by": "u-100", "page": "1", "limit": "200"}), 200),
    ("GET", G + "/members?member_id=m000000123&last_name=Zab&first_name=Av&date_of_birth=1985-04-12&ssn_last4=6789",
     None, "search_members", ("G100", {"member_id": "m000000123", "last_name": "Zab", "first_name": "Av",
                                       "date_of_birth": "1985-04-12", "ssn_last4": "6789"}), 200),
    ("GET", G + "/transactions/T20261123-0001", None, "get_transaction", ("G100", "T20261123-0001"), 200),
    ("PATCH", G + "/transactions/T20261123-0001", CHANGES, "edit_transaction", ("G100", "T20261123-0001", CHANGES),
     200),
    ("POST", G + "/transactions/T20261123-0001/cancel", {"reason": "Offer withdrawn"}, "cancel_transaction",
     ("G100", "T20261123-0001", "Offer withdrawn"), 200),
]
CALL_IDS = ["%s %s" % (method, path) for method, path, *_ in CALLS]


@pytest.fixture
def carrier_auth():
    return {"Authorization": "Bearer " + mint_token("staff-1", carrier=True)}


def send(client, method, path, body=None, headers=None):
    if body is None:
        return client.open(path, method=method, headers=headers)
    return client.open(path, method=method, headers=headers, data=json.dumps(body), content_type="application/json")


def remote(error):
    """A service's BusinessError as nameko delivers it to the gateway."""
    return RemoteError(type(error).__name__, str(error))


# --- each route calls its RPC ------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body, rpc_method, args, status", CALLS, ids=CALL_IDS)
def test_each_route_calls_its_rpc_with_the_request_values_and_context(client, rpc, token, method, path, body,
                                                                       rpc_method, args, status):
    answer = {"answered_by": rpc_method, "items": [1, "two"]}
    rpc.answer("roster", rpc_method, answer)
    headers = {"Authorization": "Bearer " + token, "X-Request-ID": "req-42"}

    response = send(client, method, path, body, headers)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json() == answer  # as the service returned it
    assert [(call.service, call.method) for call in rpc.calls] == [("roster", rpc_method)]
    call = rpc.calls[0]
    assert call.args == args and call.kwargs == {}
    assert call.context["authorization"] == token and call.context["request_id"] == "req-42"
    if method != "GET":
        assert call.context["idempotency_key"] == "req-42"  # no Idempotency-Key: the request id


def test_the_dashboard_joins_roster_rows_with_billing_figures(client, rpc, auth):
    groups = [{"group_number": "G100", "legal_name": "Widgets", "renewal_date": "2027-01-01",
               "pending_transactions": 2},
              {"group_number": "G200", "legal_name": "Gadgets", "renewal_date": "2027-07-01",
               "pending_transactions": 0}]
    rpc.answer("roster", "dashboard", groups)
    rpc.answer("billing", "dashboard", [{"group_number": "G100", "scope": "group", "amount_due": "1400.00",
                                         "due_date": "2027-04-01"}])

    response = client.get("/api/v1/dashboard", headers=auth)

    assert response.status_code == 200
    assert response.get_json() == {"unavailable": [], "groups": [
        dict(groups[0], amount_due="1400.00", due_date="2027-04-01", billing_scope="group"),
        dict(groups[1], amount_due=None, due_date=None, billing_scope=None)]}  # no billing view of G200
    assert rpc.last("roster", "dashboard").args == () and rpc.last("billing", "dashboard").args == ()


def test_the_dashboard_still_answers_when_billing_does_not(client, rpc, auth):
    groups = [{"group_number": "G100", "legal_name": "Widgets", "renewal_date": "2027-01-01",
               "pending_transactions": 2}]
    rpc.answer("roster", "dashboard", groups)  # billing is not running

    response = client.get("/api/v1/dashboard", headers=auth)

    assert response.status_code == 200
    assert response.get_json() == {"unavailable": ["billing"], "groups": [
        dict(groups[0], amount_due=None, due_date=None, billing_scope=None)]}


def test_an_enrollment_carries_the_clients_idempotency_key(client, rpc, auth):
    rpc.answer("roster", "enroll_subscriber", {"confirmation_number": "T1"})

    response = send(client, "POST", G + "/subscribers", ENROLLMENT, dict(auth, **{"Idempotency-Key": "enroll-7f3a"}))

    assert response.status_code == 201
    assert rpc.last("roster", "enroll_subscriber").context["idempotency_key"] == "enroll-7f3a"


@pytest.mark.parametrize("body", [{}, None, {"note": None}])
def test_an_approval_without_a_note_sends_none_and_needs_no_body(client, rpc, carrier_auth, body):
    rpc.answer("roster", "approve_transaction", TXN)

    response = send(client, "POST", "/api/v1/admin/transactions/T20261123-0001/approve", body, carrier_auth)

    assert response.status_code == 200
    assert rpc.last("roster", "approve_transaction").args == ("T20261123-0001", None)


@pytest.mark.parametrize("body", [{}, None])
def test_the_transactions_job_runs_for_the_business_date_without_as_of(client, rpc, carrier_auth, body):
    rpc.answer("roster", "complete_due_transactions", {"completed": 3})

    response = send(client, "POST", "/api/v1/admin/jobs/complete-due-transactions", body, carrier_auth)

    assert response.status_code == 200 and response.get_json() == {"completed": 3}
    call = rpc.last("roster", "complete_due_transactions")
    assert call.args == (None,) and call.timeout == 60.0


def test_a_required_body_may_not_be_left_out(client, rpc, carrier_auth):
    response = client.post("/api/v1/admin/transactions/T1/reject", headers=carrier_auth)

    assert_problem(response, 415, "unsupported_media_type")
    assert rpc.calls == []


def test_blank_query_parameters_count_as_absent_and_values_are_trimmed(client, rpc, auth):
    rpc.answer("roster", "search_members", PAGE)

    response = client.get(G + "/members?q=+zab+&last_name=&date_of_birth=&ssn_last4=&status=", headers=auth)

    assert response.status_code == 200
    assert rpc.last("roster", "search_members").args == ("G100", {"q": "zab"})


# --- sign-in and path parameters ---------------------------------------------------------------------

def concrete(rule):
    return (rule.replace("<group:group>", "G100").replace("<group:subgroup>", "001")
            .replace("<member:member>", "M000123").replace("<confirmation:confirmation>", "T20261123-0001"))


@pytest.mark.parametrize("route", roster_routes.routes, ids=lambda route: "%s %s" % (route.method, route.rule))
def test_every_roster_route_needs_sign_in(client, rpc, route):
    response = client.open(concrete(route.rule), method=route.method, data="{}", content_type="application/json")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert rpc.calls == []


def test_every_rpc_of_the_contract_has_a_route():
    """docs/roster-contract.md's RPCs, as the wire contracts' RPC_SCHEMAS list them: each is called by a route."""
    issue_3 = set(roster_groups.RPC_SCHEMAS) | set(roster_members.RPC_SCHEMAS)
    called = {call[3] for call in CALLS} | {"dashboard", "import_census", "export_roster"}
    assert called == issue_3
    assert len(roster_routes.routes) == len(issue_3) == 27


def test_every_rpc_of_every_roster_part_is_called_by_some_route():
    """The lifecycle parts (docs/lifecycle-contract.md) too: no RPC in a contract without a path to it."""
    sources = "".join(inspect.getsource(route.view) for group in ROUTE_GROUPS for route in group.routes)
    missing = sorted(rpc for rpc in RPC_SCHEMAS if '"%s"' % rpc not in sources)
    assert missing == []


@pytest.mark.parametrize("path", [
    "/api/v1/groups/G1000000000000000000X",          # 21 characters
    "/api/v1/groups/G_100",
    "/api/v1/groups/G%20100/members",
    "/api/v1/groups/G100/subgroups/0.1",
    "/api/v1/groups/G100/subscribers/M0001234567890",  # 13 characters
    "/api/v1/groups/G100/subscribers/M-1",
    "/api/v1/groups/G100/transactions/T2026-0001-0000000000000000",  # 25 characters
    "/api/v1/groups/G100/transactions/T_1",
    "/api/v1/admin/transactions/T.1/approve",
])
def test_a_path_parameter_outside_its_pattern_is_404_without_a_call(client, rpc, auth, path):
    method = "POST" if path.endswith("approve") else "GET"

    assert_problem(client.open(path, method=method, headers=auth), 404, "not_found")
    assert rpc.calls == []


def test_the_longest_allowed_path_parameters_are_accepted(client, rpc, auth):
    rpc.answer("roster", "get_transaction", TXN)
    rpc.answer("roster", "get_subscriber", {})
    group = "G-" + "1" * 18

    assert client.get("/api/v1/groups/%s/transactions/%s" % (group, "T-" + "9" * 22), headers=auth).status_code == 200
    assert client.get("/api/v1/groups/%s/subscribers/%s" % (group, "M" * 12), headers=auth).status_code == 200
    assert rpc.last("roster", "get_subscriber").args == (group, "M" * 12)


def test_preview_is_not_taken_for_a_member_id(client, rpc, auth):
    rpc.answer("roster", "get_subscriber", {"member_id": "preview"})

    assert client.get(G + "/subscribers/preview", headers=auth).status_code == 200  # a GET is a member lookup
    assert rpc.last("roster", "get_subscriber").args == ("G100", "preview")


# --- validation with the contracts ---------------------------------------------------------------------

def test_an_enrollment_missing_a_nested_field_is_422_naming_it(client, rpc, auth):
    body = json.loads(json.dumps(ENROLLMENT))
    del body["subscriber"]["date_of_birth"]
    body["dependents"][0]["date_of_birth"] = "not-a-date"

    problem = assert_problem(send(client, "POST", G + "/subscribers", body, auth), 422, "validation_failed")

    assert "subscriber.date_of_birth" in problem["errors"]
    assert "dependents.0.date_of_birth" in problem["errors"]
    assert all(isinstance(messages, list) and messages for messages in problem["errors"].values())
    assert rpc.calls == []


def test_a_preview_is_validated_like_the_enrollment(client, rpc, auth):
    problem = assert_problem(send(client, "POST", G + "/subscribers/preview", {"plan_code": "X"}, auth),
                             422, "validation_failed")

    assert {"subgroup_number", "subscriber"} <= set(problem["errors"])
    assert rpc.calls == []


def test_a_group_missing_required_fields_is_422(client, rpc, carrier_auth):
    problem = assert_problem(send(client, "POST", "/api/v1/admin/groups", {"group_number": "NOPE1"}, carrier_auth),
                             422, "validation_failed")

    assert {"legal_name", "renewal_date"} <= set(problem["errors"])
    assert rpc.calls == []


def test_a_bad_plan_in_a_list_is_named_by_its_index(client, rpc, carrier_auth):
    bad = dict(PLAN)
    del bad["plan_code"]

    problem = assert_problem(send(client, "POST", "/api/v1/admin/plans", [PLAN, bad], carrier_auth),
                             422, "validation_failed")

    assert "1.plan_code" in problem["errors"]
    assert rpc.calls == []


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/admin/transactions/T1/reject", {}, "reason"),
    ("/api/v1/admin/jobs/complete-due-transactions", {"as_of": "2026-13-01"}, "as_of"),
    (G + "/transactions/T1/cancel", {}, "reason"),
    ("/api/v1/admin/groups/G200/subgroups", {"name": "Office"}, "subgroup_number"),
])
def test_small_bodies_are_validated_too(client, rpc, carrier_auth, path, body, field):
    problem = assert_problem(send(client, "POST", path, body, carrier_auth), 422, "validation_failed")

    assert field in problem["errors"]
    assert rpc.calls == []


@pytest.mark.parametrize("method, path, body, fields", [
    ("PATCH", G + "/transactions/T1", {"effective_date": "soon"}, {"effective_date"}),
    ("PATCH", G + "/transactions/T1", {}, {"_schema"}),
    ("PATCH", G + "/contact", {"kind": "primary"}, {"_schema"}),
    ("PATCH", G + "/contact", {"kind": "owner", "email": "not-mail"}, {"kind", "email"}),
    ("PATCH", G + "/subgroups/001/contact", {"kind": "primary", "name": "Lee"}, {"kind"}),
    ("PUT", "/api/v1/admin/groups/G100/subgroups/001/plans", {"plan_year_start": "2027-01-01", "plan_codes": []},
     {"plan_codes"}),
    ("POST", "/api/v1/admin/providers", [dict(PROVIDER, npi="1234567890")], {"0.npi"}),
    ("POST", "/api/v1/admin/providers", PROVIDER, {"_schema"}),  # a list is expected
])
def test_changes_are_validated_with_the_contracts(client, rpc, carrier_auth, method, path, body, fields):
    problem = assert_problem(send(client, method, path, body, carrier_auth), 422, "validation_failed")

    assert set(problem["errors"]) == fields
    assert rpc.calls == []


def test_a_list_body_must_be_a_list(client, rpc, carrier_auth):
    problem = assert_problem(send(client, "POST", "/api/v1/admin/plans", PLAN, carrier_auth), 422, "validation_failed")

    assert problem["errors"] == {"_schema": ["Not a valid list."]}


@pytest.mark.parametrize("path, field", [
    (G + "/members?date_of_birth=1985-13-45", "date_of_birth"),
    (G + "/members?limit=500", "limit"),
    (G + "/members?page=first", "page"),
    (G + "/members?status=asleep", "status"),
    (G + "/transactions?date_from=yesterday", "date_from"),
    (G + "/transactions?date_to=2026-02-30", "date_to"),
    (G + "/plans?plan_year_start=2027", "plan_year_start"),
    (G + "/roster?format=pdf", "format"),
    ("/api/v1/admin/transactions?page=0", "page"),
    (G + "/members?ssn_last4=12345", "ssn_last4"),
    (G + "/members?member_id=12345", "member_id"),
    (G + "/members?colour=red", "colour"),  # an unknown parameter is not silently ignored
    (G + "/transactions?status=done", "status"),
])
def test_a_bad_query_parameter_is_422_naming_it(client, rpc, auth, path, field):
    problem = assert_problem(client.get(path, headers=auth), 422, "validation_failed")

    assert list(problem["errors"]) == [field]
    assert problem["errors"][field] and all(isinstance(message, str) for message in problem["errors"][field])
    assert rpc.calls == []


def test_a_non_json_body_is_415(client, rpc, auth):
    response = client.post(G + "/subscribers", data="first_name=Avery", headers=auth,
                           content_type="application/x-www-form-urlencoded")

    assert_problem(response, 415, "unsupported_media_type")


# --- the service's problems pass through ----------------------------------------------------------------

@pytest.mark.parametrize("error", [
    NotFound("No group G100."),
    Forbidden("Your role may not change the roster."),
    Conflict("The SSN belongs to member M000001 of this group."),
    ValidationFailed("The plan is not offered to subgroup 001.", errors={"plan_code": ["Not offered to 001."]}),
], ids=lambda error: error.code)
@pytest.mark.parametrize("method, path, body, rpc_method", [
    ("POST", G + "/subscribers", ENROLLMENT, "enroll_subscriber"),
    ("GET", G + "/members", None, "search_members"),
    ("POST", G + "/transactions/T20261123-0001/cancel", {"reason": "x"}, "cancel_transaction"),
])
def test_remote_problems_pass_through(client, rpc, auth, error, method, path, body, rpc_method):
    rpc.answer("roster", rpc_method, remote(error))

    problem = assert_problem(send(client, method, path, body, auth), error.status, error.code)

    assert problem["detail"] == error.detail
    assert problem.get("errors") == (error.errors or None)


# --- the roster export -------------------------------------------------------------------------------

XLSX_BYTES = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe binary \x00\x01 workbook"
CSV_BYTES = "\ufeffmember_id,last_name,ssn\r\nM000123,Zabriskie,***-**-6789\r\nM000124,Müller,***-**-1234\r\n"\
    .encode("utf-8")


def export_answer(content, content_type, filename):
    return {"filename": filename, "content_type": content_type, "rows": 2,
            "content_base64": base64.b64encode(content).decode("ascii")}


def test_the_gateway_knows_the_media_type_of_every_export_format_of_the_contract():
    assert set(EXPORT_MEDIA_TYPES) == set(EXPORT_FORMATS)


@pytest.mark.parametrize("fmt, content", [("csv", CSV_BYTES), ("xlsx", XLSX_BYTES)])
def test_the_roster_exports_as_a_file(client, rpc, auth, fmt, content):
    content_type = EXPORT_MEDIA_TYPES[fmt] + ("; charset=utf-8" if fmt == "csv" else "")
    rpc.answer("roster", "export_roster", export_answer(content, content_type, "roster-G100-001.%s" % fmt))

    response = client.get(G + "/roster?format=%s&subgroup=001&status=active" % fmt, headers=auth)

    assert response.status_code == 200
    assert response.get_data() == content  # the bytes, untouched
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"] == 'attachment; filename="roster-G100-001.%s"' % fmt
    assert response.headers["Cache-Control"] == "no-store"
    call = rpc.last("roster", "export_roster")
    assert call.args == ("G100", {"subgroup": "001", "status": "active"}, fmt)
    assert call.timeout == 60.0  # an export may take longer than a usual call


def test_the_export_defaults_to_csv_and_passes_prospective(client, rpc, auth):
    rpc.answer("roster", "export_roster", export_answer(CSV_BYTES, "text/csv", "roster.csv"))

    response = client.get(G + "/roster?prospective=true", headers=auth)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert rpc.last("roster", "export_roster").args == ("G100", {"prospective": "true"}, "csv")


@pytest.mark.parametrize("offered, sent", [
    ('roster"; x=1.csv', 'roster_x_1.csv'),
    ("../../etc/passwd", "etc_passwd"),
    ("rôster\r\nSet-Cookie: a=b.csv", "r_ster_Set-Cookie_a_b.csv"),
    ("", "roster-G100.csv"),
    (None, "roster-G100.csv"),
])
def test_the_download_filename_is_made_safe_for_the_header(client, rpc, auth, offered, sent):
    rpc.answer("roster", "export_roster", export_answer(CSV_BYTES, "text/csv", offered))

    response = client.get(G + "/roster", headers=auth)

    assert response.headers["Content-Disposition"] == 'attachment; filename="%s"' % sent


def test_an_export_without_a_content_type_gets_the_formats(client, rpc, auth):
    answer = export_answer(XLSX_BYTES, None, "roster.xlsx")
    rpc.answer("roster", "export_roster", answer)

    response = client.get(G + "/roster?format=xlsx", headers=auth)

    assert response.headers["Content-Type"] == EXPORT_MEDIA_TYPES["xlsx"]


def test_a_broken_export_is_a_500_not_a_corrupt_file(client, rpc, auth):
    rpc.answer("roster", "export_roster", {"filename": "r.csv", "content_type": "text/csv", "content_base64": "%%%"})

    assert_problem(client.get(G + "/roster", headers=auth), 500, "internal_error")


def test_an_export_problem_passes_through(client, rpc, auth):
    rpc.answer("roster", "export_roster", remote(NotFound("No group G100.")))

    assert_problem(client.get(G + "/roster?format=xlsx", headers=auth), 404, "not_found")


# --- census import -------------------------------------------------------------------------------------

CENSUS = "subgroup_number,plan_code,relationship,first_name,last_name,date_of_birth\r\n" \
         "001,PPO-SILVER,self,Casey,Müller,1980-01-01\r\n"
CENSUS_URL = "/api/v1/admin/groups/G100/census"
IMPORTED = {"imported": 1, "rows": [{"row": 2, "member_id": "M000777"}]}


def test_a_census_is_accepted_as_a_text_csv_body(client, rpc, carrier_auth):
    rpc.answer("roster", "import_census", IMPORTED)

    response = client.post(CENSUS_URL, data=CENSUS.encode("utf-8"), headers=carrier_auth,
                           content_type="text/csv; charset=utf-8")

    assert response.status_code == 200
    assert response.get_json() == IMPORTED
    call = rpc.last("roster", "import_census")
    assert call.args == ("G100", CENSUS)
    assert call.timeout == 60.0
    assert call.context["idempotency_key"] == response.headers["X-Request-ID"]


def test_a_census_is_accepted_as_a_form_file(client, rpc, carrier_auth):
    rpc.answer("roster", "import_census", IMPORTED)

    response = client.post(CENSUS_URL, headers=dict(carrier_auth, **{"Idempotency-Key": "census-1"}),
                           data={"file": (io.BytesIO(b"\xef\xbb\xbf" + CENSUS.encode("utf-8")), "census.csv",
                                          "application/vnd.ms-excel")},
                           content_type="multipart/form-data")

    assert response.status_code == 200, response.get_data(as_text=True)
    call = rpc.last("roster", "import_census")
    assert call.args == ("G100", CENSUS)  # the byte-order mark a spreadsheet writes is dropped
    assert call.context["idempotency_key"] == "census-1"


def test_a_census_is_accepted_as_a_plain_form_field(client, rpc, carrier_auth):
    rpc.answer("roster", "import_census", IMPORTED)

    response = client.post(CENSUS_URL, headers=carrier_auth, data={"file": CENSUS}, content_type="multipart/form-data")

    assert response.status_code == 200
    assert rpc.last("roster", "import_census").args == ("G100", CENSUS)


def test_a_census_may_be_larger_than_a_json_body_up_to_10_mb(client, rpc, carrier_auth):
    rpc.answer("roster", "import_census", IMPORTED)
    big = CENSUS + "001,PPO-SILVER,self,Casey,Census,1980-01-01\r\n" * 3000  # > the 64 KB test body limit

    response = client.post(CENSUS_URL, data=big, headers=carrier_auth, content_type="text/csv")

    assert response.status_code == 200
    assert rpc.last("roster", "import_census").args == ("G100", big)


@pytest.mark.parametrize("as_form", [False, True])
def test_a_census_over_10_mb_is_413(client, rpc, carrier_auth, as_form):
    big = b"x" * (CENSUS_MAX_BYTES + 1)
    if as_form:
        response = client.post(CENSUS_URL, headers=carrier_auth, content_type="multipart/form-data",
                               data={"file": (io.BytesIO(big), "census.csv")})
    else:
        response = client.post(CENSUS_URL, data=big, headers=carrier_auth, content_type="text/csv")

    problem = assert_problem(response, 413, "payload_too_large")
    assert str(CENSUS_MAX_BYTES) in problem["detail"]
    assert rpc.calls == []


def test_json_bodies_keep_the_apps_limit(client, carrier_auth):
    huge = [dict(PLAN, name="x" * 70_000)]

    assert_problem(send(client, "POST", "/api/v1/admin/plans", huge, carrier_auth), 413, "payload_too_large")


@pytest.mark.parametrize("data, content_type, message", [
    (b"", "text/csv", "The file is empty."),
    (b" \r\n", "text/csv", "The file is empty."),
    ("Müller".encode("latin-1"), "text/csv", "The file is not readable as UTF-8 text: save it as 'CSV UTF-8'."),
    ({}, "multipart/form-data", "Attach the census CSV as the 'file' field of the form."),
    ({"census": (io.BytesIO(b"a,b\n"), "census.csv")}, "multipart/form-data",
     "Attach the census CSV as the 'file' field of the form."),
])
def test_an_unreadable_census_is_422_naming_the_file(client, rpc, carrier_auth, data, content_type, message):
    response = client.post(CENSUS_URL, data=data, headers=carrier_auth, content_type=content_type)

    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"] == {"file": [message]}
    assert rpc.calls == []


def test_a_census_in_a_declared_charset_is_decoded_with_it(client, rpc, carrier_auth):
    rpc.answer("roster", "import_census", IMPORTED)

    client.post(CENSUS_URL, data=CENSUS.encode("cp1252"), headers=carrier_auth,
                content_type="text/csv; charset=windows-1252")

    assert rpc.last("roster", "import_census").args == ("G100", CENSUS)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
def test_a_census_in_another_media_type_is_415(client, rpc, carrier_auth, content_type):
    response = client.post(CENSUS_URL, data=CENSUS, headers=carrier_auth, content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")
    assert rpc.calls == []


def test_a_rejected_census_reports_every_bad_row(client, rpc, carrier_auth):
    class CensusRejected(BusinessError):
        status, code, title = 422, "census_rejected", "The census has bad rows; nothing was imported"

    errors = {"row 3": {"date_of_birth": ["Not a valid date."]}, "row 7": {"plan_code": ["Not offered."]}}
    rpc.answer("roster", "import_census", remote(CensusRejected("2 bad rows.", errors=errors)))

    response = client.post(CENSUS_URL, data=CENSUS, headers=carrier_auth, content_type="text/csv")

    problem = assert_problem(response, 422, "census_rejected")
    assert problem["errors"] == errors  # as the service reported them


def test_a_census_needs_sign_in_before_the_file_is_read(client, rpc):
    response = client.post(CENSUS_URL, data=b"x" * (CENSUS_MAX_BYTES + 1), content_type="text/csv")

    assert_problem(response, 401, "not_authenticated")
    assert rpc.calls == []
