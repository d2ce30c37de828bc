"""Member search and roster export through the real roster service: every search key, pages and totals,
subgroup-limited callers, SSN masking by role, CSV and XLSX read back, the access log, and a search plan that
uses ix_members_group_last_name on PostgreSQL (EXPLAIN on a group of 5,000 members)."""
import base64
import csv
import io
import json
import logging
import uuid
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from roster import search
from roster.models import Group, Member, Subgroup
from servicekit.logs import JsonFormatter
from servicekit.testing.tokens import mint_token
from rostertesting import ADDRESS, refusal, user

PLANS = [
    {"plan_code": "PPO-FAM", "name": "Family PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
]
EXPORT_HEADER = ["Member ID", "Subscriber ID", "Last name", "First name", "Relationship", "Date of birth", "Gender",
                 "SSN", "Subgroup", "Plan code", "Tier", "Effective from", "Effective through", "Status"]




def person(first, last, ssn, hire="2027-03-01", born="1986-04-12"):
    return {"first_name": first, "last_name": last, "date_of_birth": born, "gender": "F", "marital_status": "M",
            "ssn": ssn, "mailing_address": ADDRESS, "hire_date": hire, "employment_status": "active"}



@pytest.fixture
def roster_group(roster):
    """A group with the Whitfields (FAM, subgroup 001), Seán O'Brien (prospective, 001), María Peña-López
    (002) and seven Smiths (001, by census); returns (group number, {name: enrollment answer})."""
    number = "G%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup, name, plan in (("001", "Office", "PPO-FAM"), ("002", "Plant", "HMO-PLANT")):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": name})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": [plan]})
    admin = user(number, "group_admin")
    enrolled = {}
    enrolled["whitfield"] = roster.call("enroll_subscriber", number, {
        "subgroup_number": "001", "plan_code": "PPO-FAM", "subscriber": person("Dana", "Whitfield", "123-45-6789"),
        "dependents": [
            {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
             "gender": "M", "ssn": "234-56-7890"},
            {"relationship": "child", "first_name": "Riley", "last_name": "Whitfield", "date_of_birth": "2015-02-03",
             "gender": "U", "ssn": "345-67-8901"}]}, token=admin)
    enrolled["obrien"] = roster.call("enroll_subscriber", number, {
        "subgroup_number": "001", "plan_code": "PPO-FAM",
        "subscriber": person("Seán", "O'Brien", "456-78-9012", hire="2027-03-20")}, token=admin)
    enrolled["pena"] = roster.call("enroll_subscriber", number, {
        "subgroup_number": "002", "plan_code": "HMO-PLANT",
        "subscriber": person("María", "Peña-López", "567-89-0123", born="1990-11-05")}, token=admin)
    census = ["subgroup_number,plan_code,relationship,subscriber_ssn,first_name,last_name,date_of_birth,gender,ssn,"
              "hire_date,effective_date"]
    census += ["001,PPO-FAM,self,,Al%d,Smith,1970-01-%02d,M,6%02d-11-1111,2010-01-01,2027-01-01" % (i, i + 1, i + 10)
               for i in range(7)]
    roster.call("import_census", number, "\n".join(census))
    return number, enrolled


def search_names(roster, number, filters, token=None):
    page = roster.call("search_members", number, filters, token=token or user(number, "viewer"))
    return page["total"], [(item["first_name"], item["last_name"]) for item in page["items"]]


# --- search ---------------------------------------------------------------------------------------------

def test_members_are_found_by_each_search_key(roster, roster_group):
    number, enrolled = roster_group
    family = enrolled["whitfield"]["subscriber"]
    dana, sam, riley = family["member_id"], family["dependents"][0]["member_id"], family["dependents"][1]["member_id"]
    viewer = user(number, "viewer")

    by_id = roster.call("search_members", number, {"member_id": sam.lower()}, token=viewer)
    assert by_id["total"] == 1
    [row] = by_id["items"]
    assert row == {"member_id": sam, "subscriber_member_id": dana, "relationship": "spouse",
                   "relationship_code": "01", "first_name": "Sam", "middle_name": None, "last_name": "Whitfield",
                   "date_of_birth": "1985-09-30", "gender": "M", "ssn": "***-**-7890", "subgroup_number": "001",
                   "plan_code": "PPO-FAM", "tier": "FAM", "effective_from": "2027-03-01", "effective_through": None,
                   "status": "active", "also_dependent_elsewhere": False}

    family_names = [("Riley", "Whitfield"), ("Dana", "Whitfield"), ("Sam", "Whitfield")]
    family_names.sort(key=lambda name: name[0].lower())
    for q in ("whit", "WHITF", "Whitfield"):
        assert search_names(roster, number, {"q": q}) == (3, family_names)
    assert search_names(roster, number, {"q": "whitfield, sa"}) == (1, [("Sam", "Whitfield")])
    assert search_names(roster, number, {"q": "Ril Whit"}) == (1, [("Riley", "Whitfield")])
    assert search_names(roster, number, {"last_name": "o'br"}) == (1, [("Seán", "O'Brien")])
    assert search_names(roster, number, {"q": "obrien"}) == (1, [("Seán", "O'Brien")])
    assert search_names(roster, number, {"q": "pena"}) == (1, [("María", "Peña-López")])  # accents folded
    assert search_names(roster, number, {"first_name": "SEAN"}) == (1, [("Seán", "O'Brien")])
    assert search_names(roster, number, {"date_of_birth": "2015-02-03"}) == (1, [("Riley", "Whitfield")])
    assert search_names(roster, number, {"ssn_last4": "6789"}) == (1, [("Dana", "Whitfield")])
    assert search_names(roster, number, {"subgroup": "002"}) == (1, [("María", "Peña-López")])
    assert search_names(roster, number, {"status": "prospective"}) == (1, [("Seán", "O'Brien")])
    assert search_names(roster, number, {"status": "active", "q": "whit"})[0] == 3
    assert search_names(roster, number, {"q": "nobody"}) == (0, [])
    assert roster.call("search_members", number, {"member_id": riley}, token=viewer)["items"][0]["tier"] == "FAM"

    bad = refusal(roster.call, "search_members", number, {"ssn_last4": "12a4", "limit": "500"}, token=viewer)
    assert bad["status"] == 422 and set(bad["errors"]) == {"ssn_last4", "limit"}


def test_search_pages_in_name_order_with_the_total(roster, roster_group):
    number, _enrolled = roster_group
    everyone = search_names(roster, number, {"limit": 200})
    assert everyone[0] == 12  # 3 Whitfields, O'Brien, Peña-López, 7 Smiths
    keys = [(search.name_key(last), search.name_key(first)) for first, last in everyone[1]]
    assert keys == sorted(keys)
    pages = [search_names(roster, number, {"q": "smith", "limit": 3, "page": page}) for page in (1, 2, 3, 4)]
    assert [total for total, _names in pages] == [7, 7, 7, 7]
    assert [len(names) for _total, names in pages] == [3, 3, 1, 0]
    assert sum((names for _total, names in pages), []) == search_names(roster, number, {"q": "smith"})[1]


def test_ssns_show_in_full_only_to_group_admins_and_carrier_staff(roster, roster_group):
    number, _enrolled = roster_group
    for token, shown in ((user(number, "group_admin"), "123-45-6789"), (None, "***-**-6789"),
                         (user(number, "enrollment_manager"), "***-**-6789"), (user(number, "broker"), "***-**-6789"),
                         (mint_token("carrier-1", carrier=True), "123-45-6789")):
        page = roster.call("search_members", number, {"ssn_last4": "6789"}, token=token or user(number, "viewer"))
        assert page["items"][0]["ssn"] == shown


def test_a_subgroup_limited_caller_only_ever_sees_their_subgroups(roster, roster_group):
    number, enrolled = roster_group
    plant = user(number, "viewer", subgroups=["002"])
    assert search_names(roster, number, {}, token=plant) == (1, [("María", "Peña-López")])
    assert search_names(roster, number, {"q": "whit"}, token=plant) == (0, [])
    assert search_names(roster, number, {"subgroup": "001"}, token=plant) == (0, [])
    dana = enrolled["whitfield"]["subscriber"]["member_id"]
    assert search_names(roster, number, {"member_id": dana}, token=plant) == (0, [])
    assert refusal(roster.call, "get_subscriber", number, dana, token=plant)["code"] == "member_not_found"
    export = roster.call("export_roster", number, {}, "csv", token=plant)
    assert [row[2] for row in read_csv(export)[1:]] == ["Peña-López"]


def test_every_read_of_member_records_is_in_the_access_log_without_ssns(roster, roster_group, caplog):
    number, enrolled = roster_group
    caplog.set_level(logging.INFO, logger="roster.access")
    manager = user(number, "group_admin")
    roster.call("search_members", number, {"q": "whit"}, token=manager)
    roster.call("get_subscriber", number, enrolled["whitfield"]["subscriber"]["member_id"], token=manager)
    roster.call("export_roster", number, {}, "xlsx", token=manager)
    entries = [(r.access_user_id, r.access_group, r.access_action, r.access_count)
               for r in caplog.records if r.name == "roster.access"]
    assert entries[-3:] == [("group_admin-%s-all" % number, number, "search_members", 3),
                            ("group_admin-%s-all" % number, number, "get_subscriber", 3),
                            ("group_admin-%s-all" % number, number, "export_roster", 12)]
    lines = [JsonFormatter(service="roster").format(r) for r in caplog.records if r.name == "roster.access"]
    assert all(json.loads(line)["access_group"] == number for line in lines)
    for ssn in ("123456789", "123-45-6789", "234-56-7890", "234567890"):
        assert not any(ssn in line for line in lines)


# --- export -------------------------------------------------------------------------------------------

def read_csv(export):
    assert export["content_type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(base64.b64decode(export["content_base64"]).decode("utf-8-sig"))))


def test_the_roster_exports_as_csv_with_masked_ssns_for_an_enrollment_manager(roster, roster_group):
    number, enrolled = roster_group
    export = roster.call("export_roster", number, {}, "csv", token=user(number, "enrollment_manager"))
    rows = read_csv(export)
    assert rows[0] == EXPORT_HEADER
    assert export["rows"] == len(rows) - 1 == 12
    assert export["filename"] == "roster-%s-20270315.csv" % number
    family = enrolled["whitfield"]["subscriber"]
    dana = next(row for row in rows if row[0] == family["member_id"])
    assert dana == [family["member_id"], family["member_id"], "Whitfield", "Dana", "subscriber", "1986-04-12", "F",
                    "***-**-6789", "001", "PPO-FAM", "FAM", "2027-03-01", "", "active"]
    riley = next(row for row in rows if row[3] == "Riley")
    assert (riley[1], riley[4], riley[7], riley[10]) == (family["member_id"], "child", "***-**-8901", "FAM")
    assert [row[1] for row in rows[1:]].count(family["member_id"]) == 3
    assert all(row[7].startswith("***-**-") for row in rows[1:])
    # Ordered by subgroup, then name.
    assert [row[8] for row in rows[1:]] == ["001"] * 11 + ["002"]

    subgroup = read_csv(roster.call("export_roster", number, {"subgroup": "002"}, "csv",
                                    token=user(number, "viewer")))
    assert [(row[2], row[8], row[9]) for row in subgroup[1:]] == [("Peña-López", "002", "HMO-PLANT")]
    prospective = roster.call("export_roster", number, {"prospective": "true"}, "csv",
                              token=user(number, "viewer"))
    assert prospective["filename"] == "roster-%s-prospective-20270315.csv" % number
    assert [(row[2], row[13], row[11]) for row in read_csv(prospective)[1:]] == [("O'Brien", "prospective",
                                                                                  "2027-04-01")]


def test_the_roster_exports_as_xlsx_with_full_ssns_for_a_group_admin(roster, roster_group):
    number, enrolled = roster_group
    export = roster.call("export_roster", number, {"subgroup": "001"}, "xlsx", token=user(number, "group_admin"))
    assert export["content_type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert export["filename"] == "roster-%s-001-20270315.xlsx" % number
    sheet = load_workbook(io.BytesIO(base64.b64decode(export["content_base64"]))).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == EXPORT_HEADER and len(rows) - 1 == export["rows"] == 11
    family = enrolled["whitfield"]["subscriber"]
    dana = next(row for row in rows if row[0] == family["member_id"])
    assert dana[:5] == [family["member_id"], family["member_id"], "Whitfield", "Dana", "subscriber"]
    assert dana[5] == datetime(1986, 4, 12) and dana[11] == datetime(2027, 3, 1)  # real dates
    assert dana[7] == "123-45-6789" and (dana[9], dana[10], dana[13]) == ("PPO-FAM", "FAM", "active")
    assert sheet.cell(row=2, column=6).number_format == "yyyy-mm-dd"
    assert {row[8] for row in rows[1:]} == {"001"}

    assert refusal(roster.call, "export_roster", number, {}, "pdf", token=user(number, "viewer"))["errors"] == {
        "format": ["Must be one of: csv, xlsx."]}


# --- the search is served by an index -----------------------------------------------------------------

def test_a_last_name_prefix_search_uses_the_group_last_name_index(roster, roster_group, roster_db):
    number, _enrolled = roster_group
    with Session(roster_db) as session:
        group = session.scalar(select(Group).where(Group.group_number == number))
        subgroup_id = session.scalar(select(Subgroup.id).where(Subgroup.group_id == group.id))
        surnames = ["Abbott", "Baker", "Carter", "Dawson", "Ellis", "Foster", "Garcia", "Hughes", "Ingram", "Jensen",
                    "Keller", "Lawson", "Morgan", "Nolan", "Owens", "Parker", "Quinn", "Reyes", "Sutton", "Turner"]
        now = datetime.now(timezone.utc)
        session.execute(insert(Member), [
            {"member_id": "M9%08d" % index, "group_id": group.id, "subgroup_id": subgroup_id,
             "relationship_code": "18", "first_name": "P%d" % index,
             "last_name": "%s%d" % (surnames[index % 20], index // 20),
             "last_name_key": search.name_key("%s%d" % (surnames[index % 20], index // 20)),
             "first_name_key": "p%d" % index, "date_of_birth": date(1960 + index % 40, 1 + index % 12, 1),
             "gender": "F", "ssn_last4": "%04d" % index, "status": "active", "created_at": now}
            for index in range(5000)])
        session.commit()
        session.execute(text("ANALYZE members"))
        session.commit()

        filters = {"q": "Tur", "page": 1, "limit": 50}
        query = search.page_of(search.member_query(session, group, None, filters), filters)
        # The statement search_members runs, with its parameters bound by the driver as in the service.
        compiled = query.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
        cursor = session.connection().connection.cursor()
        cursor.execute("EXPLAIN " + str(compiled), compiled.params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
        assert "ix_members_group_last_name" in plan, plan
        assert "Index Scan" in plan or "Bitmap Index Scan" in plan, plan
        assert "Seq Scan on members" not in plan, plan
    found = roster.call("search_members", number, {"q": "tur", "limit": 200}, token=user(number, "viewer"))
    assert found["total"] == 250 and all(item["last_name"].startswith("Turner") for item in found["items"])


# --- name keys (pure) -----------------------------------------------------------------------------------

def test_name_keys_fold_case_accents_and_punctuation():
    assert search.name_key("O'Brien-Peña") == "obrienpena"
    assert search.name_key("  de la Cruz ") == "delacruz"
    assert search.name_key("ÆSIR Ødegård") == "æsirødegard"  # letters without a decomposition stay
    assert len(search.name_key("x" * 100)) == 60


def test_a_prefix_range_ends_before_the_next_prefix():
    assert search._next_prefix("tur") == "tus"
    assert search._next_prefix("a9") == "aa"        # digits sort before letters in every collation
    assert search._next_prefix("abz") == "ac"
    assert search._next_prefix("zz") is None      # no upper end: a key of 0-9a-z >= "zz" starts with it
    assert search.split_name_query("smith, jo") == ("smith", "jo")
    assert search.split_name_query("Mary Ann Smith") == ("Smith", "Mary Ann")
