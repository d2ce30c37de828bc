"""The census file of a group moving in (issue 3): one CSV row per member, a header row first, rows grouped
into families by the subscriber's SSN. Every row is checked (the fields, then the same family rules as a new
enrollment) and the file is all or nothing: any bad row rejects it, naming every bad row and field.

Row numbers are line numbers as a spreadsheet shows them: the header is row 1, the first member row 2.

Columns (names case-insensitive, order free):
  required  subgroup_number, plan_code, relationship, subscriber_ssn, first_name, last_name, date_of_birth,
            gender, ssn, hire_date, effective_date
  optional  middle_name, marital_status, employment_status, email, phone, disabled,
            mailing_line1, mailing_line2, mailing_city, mailing_state, mailing_zip
A subscriber row has relationship `self` (or `subscriber`, `employee`), its own ssn, hire_date, subgroup,
plan and effective date; a dependent row has a dependent relationship (spouse, child, ...) and points at its
subscriber with subscriber_ssn; its subgroup, plan and effective date may be left blank (they are the
family's). Dependents listed are covered: a census records coverage that exists, not waivers.

Pure: no nameko, no database. What the roster already holds comes in as arguments.
"""
import csv
import io
from dataclasses import dataclass, field

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from portal_contracts.roster_members import (CODE, EMPLOYMENT_STATUSES, GENDERS, MARITAL_STATUSES, NAME,
                                             RELATIONSHIPS, SSN, Text)
from roster.domain.enrollment import EnrollmentInvalid, decide_census_family
from servicekit.errors import ValidationFailed

MAX_ROWS = 25_000  # per file; a larger roster is loaded in several files (a family never spans two)
REQUIRED_COLUMNS = ("subgroup_number", "plan_code", "relationship", "subscriber_ssn", "first_name", "last_name",
                    "date_of_birth", "gender", "ssn", "hire_date", "effective_date")
ADDRESS_COLUMNS = {"mailing_line1": "line1", "mailing_line2": "line2", "mailing_city": "city",
                   "mailing_state": "state", "mailing_zip": "zip"}
SUBSCRIBER_WORDS = ("self", "subscriber", "employee")
FAMILY_COLUMNS = ("subgroup_number", "plan_code", "effective_date")  # the subscriber's row decides these


class CensusRejected(ValidationFailed):
    code = "census_rejected"
    title = "The census file has invalid rows; nothing was imported"


def row_key(row_number):
    return "row %d" % row_number


class CensusRow(Schema):
    """One row's fields. Blank cells count as absent."""

    class Meta:
        unknown = EXCLUDE  # extra columns (a notes column, say) are the sender's business

    subgroup_number = fields.String(load_default=None, validate=CODE)
    plan_code = fields.String(load_default=None, validate=CODE)
    relationship = fields.String(required=True, validate=validate.OneOf(SUBSCRIBER_WORDS + tuple(RELATIONSHIPS)))
    subscriber_ssn = SSN(load_default=None)
    first_name = Text(required=True, validate=NAME)
    middle_name = Text(load_default=None, validate=validate.Length(max=60))
    last_name = Text(required=True, validate=NAME)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    marital_status = fields.String(load_default=None, validate=validate.OneOf(MARITAL_STATUSES))
    employment_status = fields.String(load_default="active", validate=validate.OneOf(EMPLOYMENT_STATUSES))
    ssn = SSN(load_default=None)
    hire_date = fields.Date(load_default=None)
    effective_date = fields.Date(load_default=None)
    email = fields.Email(load_default=None, validate=validate.Length(max=254))
    phone = Text(load_default=None, validate=validate.Regexp(r"^[0-9+() .-]{7,30}$", error="Enter a phone number."))
    disabled = fields.Boolean(load_default=False)
    mailing_line1 = Text(load_default=None, validate=validate.Length(max=100))
    mailing_line2 = Text(load_default=None, validate=validate.Length(max=100))
    mailing_city = Text(load_default=None, validate=validate.Length(max=60))
    mailing_state = Text(load_default=None, validate=validate.Regexp(r"^[A-Z]{2}$", error="Use the 2-letter code."))
    mailing_zip = Text(load_default=None, validate=validate.Regexp(r"^\d{5}(-\d{4})?$", error="Use 12345 or 12345-6789."))


ROW_SCHEMA = CensusRow()


@dataclass
class ParsedRow:
    number: int
    data: dict = None          # the loaded fields, when the row loaded
    errors: dict = None        # field -> messages

    @property
    def is_subscriber(self):
        return self.data["relationship"] in SUBSCRIBER_WORDS


@dataclass
class CensusFamily:
    """A subscriber row and its dependents' rows, as an enrollment, with the rules' decision."""
    rows: list                 # row numbers: the subscriber's first, then the dependents' in file order
    enrollment: dict           # shaped as EnrollmentInput loads it
    decision: object = None    # roster.domain.enrollment.EnrollmentDecision
    also_dependent_elsewhere: bool = False


@dataclass
class ParsedCensus:
    rows: list = field(default_factory=list)

    def ssns(self):
        """Every SSN the file names (subscribers' and dependents'), for the roster's look-ups."""
        return {row.data["ssn"] for row in self.rows if row.data and row.data.get("ssn")}


def parse(csv_text):
    """Read the file and load every row; CensusRejected for a file that is not a census at all (no header,
    missing columns, no rows, too many rows). Row-level problems are kept on each row for `validate`."""
    text = csv_text.lstrip("\ufeff")  # a byte-order mark, as spreadsheet programs write one
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise CensusRejected("The file is empty; the first row must name the columns.",
                             errors={"file": ["The first row must name the columns."]})
    columns = [cell.strip().lower() for cell in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CensusRejected("The header row lacks required columns: %s." % ", ".join(missing),
                             errors={row_key(1): {name: ["Missing required column."] for name in missing}})
    parsed = ParsedCensus()
    for line_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (a trailing newline, a spreadsheet's empty rows) are not members
        if len(parsed.rows) >= MAX_ROWS:
            raise CensusRejected("A census file holds at most %d rows; split the roster into several files "
                                 "(keeping each family in one file)." % MAX_ROWS,
                                 errors={"file": ["More than %d rows." % MAX_ROWS]})
        values = {name: cell.strip() for name, cell in zip(columns, cells) if cell.strip()}
        try:
            parsed.rows.append(ParsedRow(line_number, data=ROW_SCHEMA.load(values)))
        except ValidationError as exc:
            parsed.rows.append(ParsedRow(line_number, errors=dict(exc.messages)))
    if not parsed.rows:
        raise CensusRejected("The file has a header but no member rows.", errors={"file": ["No member rows."]})
    return parsed


def validate(parsed, offerings_by_subgroup, today, existing_subscribers=None, covered_dependents=None):
    """Group the rows into families and check them; the families, or CensusRejected naming every bad row.

    offerings_by_subgroup: {subgroup number: [Offering]} of the group's subgroups.
    existing_subscribers: {ssn: member id} of subscribers the group already has (a second is refused).
    covered_dependents: {ssn: subscriber member id} of people covered as dependents in the group already
    (a subscriber among them is flagged, as in a new enrollment).
    """
    existing_subscribers = existing_subscribers or {}
    covered_dependents = covered_dependents or {}
    errors = {}

    def problem(row_number, column, message):
        errors.setdefault(row_key(row_number), {}).setdefault(column, []).append(message)

    for row in parsed.rows:
        if row.errors:
            errors[row_key(row.number)] = row.errors

    families = {}  # subscriber ssn -> CensusFamily
    subscriber_rows = {}
    for row in parsed.rows:
        if row.data is None or not row.is_subscriber:
            continue
        data = row.data
        for column in ("ssn", "hire_date") + FAMILY_COLUMNS:
            if data.get(column) is None:
                problem(row.number, column, "Required on a subscriber's row.")
        if data.get("subgroup_number") and data["subgroup_number"] not in offerings_by_subgroup:
            problem(row.number, "subgroup_number", "The group has no subgroup %s." % data["subgroup_number"])
        ssn = data.get("ssn")
        if ssn is None:
            continue
        if ssn in existing_subscribers:
            problem(row.number, "ssn", "Already a subscriber of this group as member %s." % existing_subscribers[ssn])
        if ssn in subscriber_rows:
            problem(row.number, "ssn", "The same subscriber SSN is on row %d too." % subscriber_rows[ssn])
            continue
        subscriber_rows[ssn] = row.number
        families[ssn] = CensusFamily(rows=[row.number], enrollment=_enrollment_of(data),
                                     also_dependent_elsewhere=ssn in covered_dependents)

    dependent_ssns = {}
    for row in parsed.rows:
        if row.data is None or row.is_subscriber:
            continue
        data = row.data
        if data.get("subscriber_ssn") is None:
            problem(row.number, "subscriber_ssn", "Required on a dependent's row: the SSN of their subscriber.")
            continue
        family = families.get(data["subscriber_ssn"])
        if family is None:
            if data["subscriber_ssn"] not in subscriber_rows:  # (a refused duplicate has its own error)
                problem(row.number, "subscriber_ssn", "No subscriber row in this file has this SSN.")
            continue
        subscriber = family.enrollment
        for column in FAMILY_COLUMNS:
            if data.get(column) is not None and data[column] != subscriber[column]:
                problem(row.number, column, "Differs from the subscriber's row %d; leave it blank or repeat it."
                        % family.rows[0])
        if data.get("ssn"):
            dependent_ssns.setdefault(data["ssn"], data["subscriber_ssn"])
        family.rows.append(row.number)
        subscriber["dependents"].append(_dependent_of(data))

    for ssn, family in families.items():
        other_family = dependent_ssns.get(ssn)
        if other_family is not None and other_family != ssn:
            family.also_dependent_elsewhere = True
        subgroup = family.enrollment["subgroup_number"]
        if subgroup not in offerings_by_subgroup or family.enrollment["effective_date"] is None \
                or family.enrollment["plan_code"] is None:
            continue  # already reported on the subscriber's row
        try:
            family.decision = decide_census_family(family.enrollment, offerings_by_subgroup[subgroup], today)
        except EnrollmentInvalid as invalid:
            for row_number, column, message in _rows_of(family, invalid.errors):
                problem(row_number, column, message)

    if errors:
        ordered = dict(sorted(errors.items(), key=lambda item: _row_number(item[0])))
        raise CensusRejected("%d row(s) of the census are invalid; nothing was imported." % len(ordered),
                             errors=ordered)
    return list(families.values())


def _enrollment_of(data):
    address = {key: data.get(column) for column, key in ADDRESS_COLUMNS.items()}
    subscriber = {
        "first_name": data["first_name"], "middle_name": data.get("middle_name"), "last_name": data["last_name"],
        "date_of_birth": data["date_of_birth"], "gender": data["gender"],
        "marital_status": data.get("marital_status"), "ssn": data["ssn"], "email": data.get("email"),
        "phone": data.get("phone"), "mailing_address": address if address["line1"] else None,
        "physical_address": None, "hire_date": data["hire_date"], "employment_status": data["employment_status"],
    }
    return {"subgroup_number": data["subgroup_number"], "plan_code": data["plan_code"],
            "effective_date": data["effective_date"], "subscriber": subscriber, "dependents": []}


def _dependent_of(data):
    return {"relationship": data["relationship"], "first_name": data["first_name"],
            "middle_name": data.get("middle_name"), "last_name": data["last_name"],
            "date_of_birth": data["date_of_birth"], "gender": data["gender"], "ssn": data.get("ssn"),
            "elect_coverage": True, "other_coverage": None, "disabled": data["disabled"]}


def _rows_of(family, errors):
    """Enrollment errors ({"dependents": {1: {"ssn": [...]}}, "plan_code": [...]}) as (row, column, message)."""
    for key, value in errors.items():
        if key == "dependents":
            for index, fields_ in value.items():
                for column, messages in fields_.items():
                    for message in messages:
                        yield family.rows[1 + int(index)], column, message
        elif key == "subscriber" and isinstance(value, dict):
            for column, messages in value.items():
                for message in messages:
                    yield family.rows[0], column, message
        else:
            for message in value:
                yield family.rows[0], key if key != "subscriber" else "hire_date", message


def _row_number(key):
    try:
        return int(key.split()[-1])
    except ValueError:
        return 0
