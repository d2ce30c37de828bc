"""Wire schemas of the roster service's primary care providers (view, change, provider search) and ID cards
(view, PDF, mailed replacements) (issue 5).

The service loads RPC input with these classes and dumps its answers with them; the gateway validates query
strings and bodies with the same classes (gateway.roster_contracts merges RPC_SCHEMAS). Dates YYYY-MM-DD.
"""
from marshmallow import Schema, fields, validate

from portal_contracts.roster_groups import NPI
from portal_contracts.roster_members import (CODE, FormInput, IdCardSummary, Paging, PcpSummary, PersonAddress,
                                             Text, Transaction)

CARD_REASONS = ("lost", "damaged", "not_received", "name_change", "new_coverage")
CARD_SCOPES = ("member", "family")


# --- input ----------------------------------------------------------------------------------------------

class ProviderSearch(Paging):
    """GET /providers: the directory, filtered; `plan` offers only that plan's in-network providers."""
    plan = fields.String(load_default=None, validate=CODE, metadata={
        "description": "A plan code: only providers in the plan's network."})
    zip = fields.String(load_default=None, validate=validate.Regexp(r"^\d{5}$", error="Use a 5-digit ZIP code."))
    q = Text(load_default=None, validate=validate.Length(min=1, max=200),
             metadata={"description": "Name prefix, any case ('ana r' finds 'Ana Ruiz, MD')."})
    specialty = Text(load_default=None, validate=validate.Length(min=1, max=80),
                     metadata={"description": "Exact specialty, any case, e.g. 'Family Medicine'."})
    accepting_new_patients = fields.Boolean(load_default=None)


class PcpChangeInput(FormInput):
    npi = NPI(required=True, allow_none=True, metadata={
        "description": "The new PCP: an in-network provider of the member's plan (GET /providers?plan=...). "
                       "A PCP is changed, never removed (HMO and POS plans require one)."})
    effective_date = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "Default: today (the coverage's start, when later). Never in the past; at most 90 days "
                       "ahead; a future date leaves the change pending until then."})


class IdCardRequestInput(FormInput):
    scope = fields.String(load_default="member", validate=validate.OneOf(CARD_SCOPES), metadata={
        "description": "member: this member's cards; family: every covered member of the family."})
    reason = fields.String(required=True, validate=validate.OneOf(CARD_REASONS))
    mail_to = fields.Nested(PersonAddress, load_default=None, allow_none=True, metadata={
        "description": "Default: the subscriber's mailing address."})


# --- output ---------------------------------------------------------------------------------------------

class Provider(Schema):
    npi = fields.String()
    name = fields.String()
    specialty = fields.String()
    phone = fields.String(allow_none=True)
    address = fields.Dict()
    zip = fields.String()
    accepting_new_patients = fields.Boolean()
    networks = fields.List(fields.String())


class ProviderPage(Schema):
    items = fields.List(fields.Nested(Provider))
    total = fields.Integer()
    page = fields.Integer()
    limit = fields.Integer()
    plan_code = fields.String(allow_none=True)
    network = fields.String(allow_none=True, metadata={"description": "The plan's network, when plan was given."})


class MemberPcp(Schema):
    """A member's PCP for the plan of their current (or next pending) coverage."""
    member_id = fields.String()
    plan_code = fields.String(allow_none=True, metadata={"description": "None: no current or upcoming coverage."})
    plan_name = fields.String(allow_none=True)
    plan_type = fields.String(allow_none=True)
    network = fields.String(allow_none=True)
    requires_pcp = fields.Boolean(metadata={"description": "The plan requires a PCP (HMO, POS)."})
    pcp_required = fields.Boolean(metadata={"description": "It requires one and none is on file: choose one."})
    pcp = fields.Nested(PcpSummary, allow_none=True)
    scheduled_pcp = fields.Nested(PcpSummary, allow_none=True,
                                  metadata={"description": "A future-dated change, pending until its date."})


class PcpChanged(Schema):
    confirmation_number = fields.String()
    status = fields.String(metadata={"description": "completed, or pending when future-dated."})
    effective_date = fields.Date()
    member_id = fields.String()
    pcp = fields.Nested(PcpSummary)
    previous_pcp = fields.Nested(PcpSummary, allow_none=True)
    transaction = fields.Nested(Transaction)


class IdCard(IdCardSummary):
    member_id = fields.String()
    member_name = fields.String()
    relationship = fields.String()
    subscriber_member_id = fields.String()
    subscriber_name = fields.String()
    group_number = fields.String()
    group_name = fields.String()
    product = fields.String()
    plan_type = fields.String()
    network = fields.String()
    tier = fields.String()
    coverage_status = fields.String()
    pcp = fields.Nested(PcpSummary, allow_none=True)
    pcp_required = fields.Boolean()
    carrier_name = fields.String()
    carrier_phone = fields.String()


class IdCardList(Schema):
    member_id = fields.String()
    cards = fields.List(fields.Nested(IdCard))


class IdCardFile(Schema):
    filename = fields.String()
    content_type = fields.String()
    content_base64 = fields.String()


class IdCardRequested(Schema):
    confirmation_number = fields.String()
    status = fields.String()
    effective_date = fields.Date()
    scope = fields.String()
    reason = fields.String()
    member_ids = fields.List(fields.String())
    card_ids = fields.List(fields.String())
    mail_to = fields.Dict()
    transaction = fields.Nested(Transaction)


RPC_SCHEMAS = {
    "list_providers": (ProviderSearch, ProviderPage),
    "get_pcp": (None, MemberPcp),
    "change_pcp": (PcpChangeInput, PcpChanged),
    "list_id_cards": (None, IdCardList),
    "id_card_pdf": (None, IdCardFile),
    "request_id_cards": (IdCardRequestInput, IdCardRequested),
}
