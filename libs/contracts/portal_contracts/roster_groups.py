"""Wire schemas of roster's group-side RPCs: carrier plans, groups, subgroups, plan offerings, the provider
directory, contact updates, the group overview and the dashboard.

Input schemas refuse unknown fields, trim strings and treat an empty optional string as absent (what a form
sends for a field left blank). Roster loads its RPC input with them (servicekit.errors.load_input); the gateway
validates HTTP bodies with the same classes and builds the OpenAPI document from them. Send the JSON body on
as received: what `load` returns holds dates, which do not travel over RPC.

Dates are YYYY-MM-DD. Codes are DOMAIN.md's (X12 834 coverage levels EMP, ESP, ECH, FAM).
"""
import re

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, \
    validates_schema

from portal_contracts.forms import Input
from portal_contracts.roster_members import MEMBER_STATUSES as ALL_MEMBER_STATUSES
from portal_contracts.roster_members import Transaction

PRODUCTS = ("medical", "dental", "vision")
PLAN_TYPES = ("HMO", "POS", "PPO", "EPO")
TIERS = ("EMP", "ESP", "ECH", "FAM")
PLAN_STATUSES = ("active", "retired")
CONTACT_KINDS = ("primary", "billing", "enrollment")
WAITING_PERIOD_DAYS = (0, 30, 60)
AGE_OFF_POLICIES = ("birthday", "end_of_month", "end_of_year")
CONTINUATIONS = ("cobra", "state")
# Counted in an overview: everyone on file but the members of a cancelled enrollment (it never took effect).
COUNTED_MEMBER_STATUSES = tuple(status for status in ALL_MEMBER_STATUSES if status != "cancelled")

# USPS codes: the states, DC, the territories and the military post offices.
US_STATES = frozenset("""
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK
    OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP AA AE AP""".split())

PLAN_CODE = r"^[A-Z0-9-]{2,20}$"
GROUP_NUMBER = r"^[0-9A-Z]{3,20}$"
SUBGROUP_NUMBER = r"^[0-9A-Z]{1,20}$"
PHONE = r"^\+?[0-9(][0-9 ().-]{6,24}( ?(x|ext\.?) ?[0-9]{1,6})?$"


def _unique(values):
    return len(values) == len(set(values))


# --- identifiers with a check of their own ---------------------------------------------------------

def npi_is_valid(npi):
    """The NPI standard's check: the Luhn check digit of the card-issuer prefix 80840 + the first 9 digits."""
    if not isinstance(npi, str) or not re.fullmatch(r"\d{10}", npi):
        return False
    total = 0
    # Right to left over the payload (the check digit is appended to its right): every other digit from the
    # rightmost is doubled, and a two-digit product counts as the sum of its digits.
    for position, digit in enumerate(int(ch) for ch in reversed("80840" + npi[:9])):
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


class EIN(fields.String):
    """An employer identification number: 9 digits, accepted as NNNNNNNNN or the printed NN-NNNNNNN;
    stored as digits, answered in the printed form."""
    default_error_messages = {"invalid_ein": "An EIN is 9 digits, written NN-NNNNNNN or NNNNNNNNN."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(r"\d{2}-?\d{7}", text):
            raise self.make_error("invalid_ein")
        return text.replace("-", "")

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return "%s-%s" % (value[:2], value[2:]) if len(value) == 9 else value


class NPI(fields.String):
    """A National Provider Identifier: 10 digits, the last a Luhn check digit (prefix 80840)."""
    default_error_messages = {"invalid_npi": "An NPI is 10 digits ending in its check digit."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not npi_is_valid(text):
            raise self.make_error("invalid_npi")
        return text


# --- the base of every input -----------------------------------------------------------------------

def _optional(field_class, *args, **kwargs):
    return field_class(*args, load_default=None, allow_none=True, **kwargs)


# --- addresses and contacts ------------------------------------------------------------------------

class Address(Input):
    line1 = fields.String(required=True, validate=validate.Length(min=1, max=100))
    line2 = _optional(fields.String, validate=validate.Length(max=100))
    city = fields.String(required=True, validate=validate.Length(min=1, max=60))
    state = fields.String(required=True, validate=validate.OneOf(sorted(US_STATES), error="Not a US state code."),
                          metadata={"description": "USPS two-letter code, e.g. CT."})
    zip = fields.String(required=True, validate=validate.Regexp(r"^\d{5}(-?\d{4})?$",
                                                                error="A ZIP code is 5 or 9 digits."),
                        metadata={"description": "NNNNN or NNNNN-NNNN."})

    @post_load
    def zip_plus_four_with_dash(self, data, **kwargs):
        if len(data["zip"]) == 9:
            data["zip"] = "%s-%s" % (data["zip"][:5], data["zip"][5:])
        return data


class ContactDetails(Input):
    """A person to reach; an e-mail address or a phone number at least."""
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    title = _optional(fields.String, validate=validate.Length(max=120))
    email = _optional(fields.Email, validate=validate.Length(max=254))
    phone = _optional(fields.String, validate=validate.Regexp(PHONE, error="Not a phone number."))

    @validates_schema
    def reachable(self, data, **kwargs):
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an e-mail address or a phone number.", "email")


class Contact(ContactDetails):
    """One of a group's contacts; a group has at most one of each kind."""
    kind = fields.String(required=True, validate=validate.OneOf(CONTACT_KINDS))


class _ContactChanges(Input):
    name = fields.String(validate=validate.Length(min=1, max=120))
    title = fields.String(allow_none=True, validate=validate.Length(max=120))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Regexp(PHONE, error="Not a phone number."))

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not set(data) & {"name", "title", "email", "phone"}:
            raise ValidationError("Give at least one of name, title, email, phone.", "_schema")


class ContactUpdate(_ContactChanges):
    """A partial update of the group's contact of `kind`: fields given replace (null clears title, email or
    phone), fields left out stay. A kind the group has no contact for yet is added (then name is required)."""
    kind = fields.String(required=True, validate=validate.OneOf(CONTACT_KINDS))


class SubgroupContactUpdate(_ContactChanges):
    """A partial update of the subgroup's contact; as ContactUpdate, without a kind (a subgroup has one)."""


# --- plans -----------------------------------------------------------------------------------------

class PlanInput(Input):
    plan_code = fields.String(required=True, validate=validate.Regexp(PLAN_CODE, error="2 to 20 of A-Z, 0-9, -."))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    product = fields.String(required=True, validate=validate.OneOf(PRODUCTS))
    plan_type = fields.String(required=True, validate=validate.OneOf(PLAN_TYPES))
    network = fields.String(required=True, validate=validate.Length(min=1, max=40))
    requires_pcp = _optional(fields.Boolean, metadata={"description": "Default: true for HMO and POS plans."})
    tiers = fields.List(fields.String(validate=validate.OneOf(TIERS)), load_default=list(TIERS),
                        validate=validate.Length(min=1),
                        metadata={"description": "Coverage levels the plan sells; default all four."})
    status = fields.String(load_default="active", validate=validate.OneOf(PLAN_STATUSES))

    @validates("tiers")
    def tiers_once(self, value, **kwargs):
        if not _unique(value):
            raise ValidationError("Each tier once.")


class Plan(Schema):
    plan_code = fields.String()
    name = fields.String()
    product = fields.String()
    plan_type = fields.String()
    network = fields.String()
    requires_pcp = fields.Boolean()
    tiers = fields.List(fields.String())
    status = fields.String()


class PlanLoadResult(Schema):
    plans = fields.List(fields.Nested(Plan))


# --- groups and subgroups --------------------------------------------------------------------------

class GroupInput(Input):
    group_number = fields.String(required=True, validate=validate.Regexp(GROUP_NUMBER,
                                                                         error="3 to 20 of 0-9, A-Z."))
    legal_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    ein = EIN(required=True, metadata={"description": "9 digits, NNNNNNNNN or NN-NNNNNNN; answered NN-NNNNNNN."})
    mailing_address = fields.Nested(Address, required=True)
    physical_address = _optional(fields.Nested, Address)
    contacts = fields.List(fields.Nested(Contact), required=True, validate=validate.Length(min=1))
    renewal_date = fields.Date(required=True, metadata={"description": "The day each plan year starts."})
    employee_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    waiting_period_days = fields.Integer(load_default=0, strict=True, validate=validate.OneOf(
        WAITING_PERIOD_DAYS, error="A waiting period is 0, 30 or 60 days (coverage must start by day 91)."))
    age_off_policy = fields.String(load_default="end_of_month", validate=validate.OneOf(AGE_OFF_POLICIES))
    continuation = _optional(fields.String, validate=validate.OneOf(CONTINUATIONS), metadata={
        "description": "Default: state continuation under 20 employees, else COBRA."})
    continuation_months = _optional(fields.Integer, strict=True, validate=validate.Range(min=1, max=36), metadata={
        "description": "State continuation only; default 30 (Connecticut)."})

    @validates("contacts")
    def one_contact_per_kind_and_a_primary(self, value, **kwargs):
        kinds = [contact["kind"] for contact in value]
        if not _unique(kinds):
            raise ValidationError("One contact of each kind.")
        if "primary" not in kinds:
            raise ValidationError("A primary contact is required.")


class SubgroupSummary(Schema):
    subgroup_number = fields.String()
    name = fields.String()
    status = fields.String()


class Group(Schema):
    group_number = fields.String()
    legal_name = fields.String()
    ein = EIN()
    mailing_address = fields.Nested(Address)
    physical_address = fields.Nested(Address, allow_none=True)
    contacts = fields.List(fields.Nested(Contact))
    renewal_date = fields.Date()
    status = fields.String()
    employee_count = fields.Integer()
    waiting_period_days = fields.Integer()
    age_off_policy = fields.String()
    continuation = fields.String()
    continuation_months = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    subgroups = fields.List(fields.Nested(SubgroupSummary),
                            metadata={"description": "Only those the caller may see."})


class SubgroupInput(Input):
    subgroup_number = fields.String(required=True, validate=validate.Regexp(SUBGROUP_NUMBER,
                                                                            error="1 to 20 of 0-9, A-Z."))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mailing_address = _optional(fields.Nested, Address)
    contact = _optional(fields.Nested, ContactDetails)


class Subgroup(Schema):
    group_number = fields.String()
    subgroup_number = fields.String()
    name = fields.String()
    mailing_address = fields.Nested(Address, allow_none=True)
    contact = fields.Nested(ContactDetails, allow_none=True)
    status = fields.String()


# --- plans offered ---------------------------------------------------------------------------------

class OfferingInput(Input):
    plan_year_start = fields.Date(required=True, metadata={"description": "A renewal date of the group."})
    plan_codes = fields.List(fields.String(validate=validate.Regexp(PLAN_CODE, error="Not a plan code.")),
                             required=True, validate=validate.Length(min=1, max=50))

    @validates("plan_codes")
    def each_plan_once(self, value, **kwargs):
        if not _unique(value):
            raise ValidationError("Each plan once.")


class PlanYear(Schema):
    start = fields.Date()
    end = fields.Date()


class Offering(Schema):
    """The plans a subgroup is offered for one plan year (replaced as a whole when set again)."""
    group_number = fields.String()
    subgroup_number = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    plans = fields.List(fields.Nested(Plan))


class GroupPlansQuery(Input):
    plan_year_start = _optional(fields.Date, metadata={
        "description": "Any day of the plan year wanted (its start, usually); default: the current plan year."})


class GroupPlans(Schema):
    group_number = fields.String()
    plan_year_start = fields.Date()
    plan_year_end = fields.Date()
    offerings = fields.List(fields.Nested(Offering), metadata={"description": "One per subgroup the caller sees."})


# --- the overview ----------------------------------------------------------------------------------

def _count_by(names, description):
    return fields.Dict(keys=fields.String(validate=validate.OneOf(names)), values=fields.Integer(),
                       metadata={"description": description})


class MemberCounts(Schema):
    subscribers = fields.Integer()
    members = fields.Integer(metadata={"description": "Subscribers and dependents."})
    subscribers_by_tier = _count_by(TIERS, "Subscribers by the tier of their current coverage.")
    subscribers_by_status = _count_by(COUNTED_MEMBER_STATUSES, "Subscribers by status.")
    members_by_status = _count_by(COUNTED_MEMBER_STATUSES, "Subscribers and dependents by status.")


class SubgroupOverview(Subgroup):
    plan_year = fields.Nested(PlanYear)
    plans = fields.List(fields.Nested(Plan), metadata={"description": "Offered in the current plan year."})
    counts = fields.Nested(MemberCounts)


class GroupOverview(Schema):
    group = fields.Nested(Group, exclude=("subgroups",))
    renewal_date = fields.Date(metadata={"description": "The next renewal."})
    plan_year = fields.Nested(PlanYear, metadata={"description": "The current plan year."})
    subgroups = fields.List(fields.Nested(SubgroupOverview))
    counts = fields.Nested(MemberCounts, metadata={
        "description": "Totals over the subgroups listed: a caller limited to some subgroups gets theirs only."})
    limited_to_subgroups = fields.Boolean()


# --- contact updates -------------------------------------------------------------------------------

def _transaction():
    return fields.Nested(Transaction, metadata={"description": "The completed transaction recording the change."})


class GroupContactUpdated(Schema):
    transaction = _transaction()
    group = fields.Nested(Group)


class SubgroupContactUpdated(Schema):
    transaction = _transaction()
    subgroup = fields.Nested(Subgroup)


# --- the provider directory ------------------------------------------------------------------------

class ProviderInput(Input):
    npi = NPI(required=True, metadata={"description": "10 digits, the last the Luhn check digit (prefix 80840)."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    specialty = fields.String(required=True, validate=validate.Length(min=1, max=80))
    phone = _optional(fields.String, validate=validate.Regexp(PHONE, error="Not a phone number."))
    address = fields.Nested(Address, required=True)
    networks = fields.List(fields.String(validate=validate.Length(min=1, max=40)), required=True,
                           validate=validate.Length(min=1))
    accepting_new_patients = fields.Boolean(load_default=True)

    @validates("networks")
    def each_network_once(self, value, **kwargs):
        if not _unique(value):
            raise ValidationError("Each network once.")


class ProviderLoadResult(Schema):
    loaded = fields.Integer()


# --- the dashboard ---------------------------------------------------------------------------------

class DashboardGroup(Schema):
    group_number = fields.String()
    legal_name = fields.String()
    renewal_date = fields.Date(metadata={"description": "The next renewal."})
    pending_transactions = fields.Integer(metadata={"description": "In the subgroups the caller may see."})


# For the gateway: rpc -> (input, output). A class is one object; an instance with many=True is a JSON list
# (load_plans and load_providers take a list; list_plans, list_subgroups and dashboard answer one). None: the
# RPC takes only path or query values.
RPC_SCHEMAS = {
    "load_plans": (PlanInput(many=True), PlanLoadResult),
    "list_plans": (None, Plan(many=True)),
    "create_group": (GroupInput, Group),
    "create_subgroup": (SubgroupInput, Subgroup),
    "set_subgroup_plans": (OfferingInput, Offering),
    "load_providers": (ProviderInput(many=True), ProviderLoadResult),
    "get_group": (None, GroupOverview),
    "list_subgroups": (None, Subgroup(many=True)),
    "get_subgroup": (None, SubgroupOverview),
    "update_group_contact": (ContactUpdate, GroupContactUpdated),
    "update_subgroup_contact": (SubgroupContactUpdate, SubgroupContactUpdated),
    "list_group_plans": (GroupPlansQuery, GroupPlans),  # the query string
    "dashboard": (None, DashboardGroup(many=True)),
}
