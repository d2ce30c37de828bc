"""Primary care providers (view, change, provider search) and ID cards (view, PDF, mailed replacements) (issue 5):
the roster service's paths.

The provider directory is open to any signed-in user; a member's PCP and cards need the caller's grant on the
group (viewing: view_roster; changing the PCP and asking for cards: change_roster), which the roster service
checks. An ID card PDF is answered as the file the service built.
"""
from gateway.calls import call_service
from gateway.roster_contracts import rpc_input, rpc_output
from gateway.routes_roster import GROUP, MAY_NOT_CHANGE, PATH_PATTERNS, SERVICE, download, problems
from gateway.routing import Routes

CARD_PATTERN = r"[A-Za-z0-9]{1,12}-[A-Za-z0-9-]{1,20}"  # <member id>-<plan code>
care_routes = Routes(path_patterns=dict(PATH_PATTERNS, card=CARD_PATTERN))

MEMBER = GROUP + "/members/<member:member>"
NO_MEMBER = problems(not_found="No such member in this group (or no grant for it)")
CHANGE_PROBLEMS = problems(forbidden=MAY_NOT_CHANGE, not_found="No such member in this group (or no grant for it)",
                           conflict="The member has no current coverage, or a PCP change is pending",
                           invalid="Invalid fields, or a choice the rules refuse (see errors)")
PDF = "application/pdf"


@care_routes.get("/api/v1/providers", query=rpc_input("list_providers"), response=rpc_output("list_providers"),
                 validate_only=True, tag="care", summary="Search the provider directory (in-network for a plan)",
                 problems=problems(invalid="Invalid parameters, or an unknown plan"))
def list_providers(query):
    """`plan` (a plan code) offers only the providers in the plan's network; `q` is a name prefix, `zip` a
    5-digit ZIP code, `specialty` an exact specialty; paginated with `page` and `limit`, with the total."""
    return call_service(SERVICE, "list_providers", query)


@care_routes.get(MEMBER + "/pcp", response=rpc_output("get_pcp"), tag="care", problems=NO_MEMBER,
                 summary="A member's primary care provider, and whether their plan requires one")
def get_pcp(group, member):
    """`pcp_required` is true when the plan (HMO, POS) requires a PCP and none is on file."""
    return call_service(SERVICE, "get_pcp", group, member)


@care_routes.put(MEMBER + "/pcp", body=rpc_input("change_pcp"), response=rpc_output("change_pcp"),
                 validate_only=True, tag="care", problems=CHANGE_PROBLEMS,
                 summary="Change a member's PCP to an in-network provider: answers the confirmation number")
def change_pcp(group, member, body):
    """From today (or the coverage's start) or a later `effective_date` (at most 90 days ahead: pending until
    then). Refused (422 on `npi`): a provider outside the plan's network, one not accepting new patients
    (unless already the member's PCP), and no provider at all."""
    return call_service(SERVICE, "change_pcp", group, member, body)


@care_routes.get(MEMBER + "/id-cards", response=rpc_output("list_id_cards"), tag="care", problems=NO_MEMBER,
                 summary="A member's ID cards: one per plan of the current (or next pending) coverage")
def list_id_cards(group, member):
    return call_service(SERVICE, "list_id_cards", group, member)


@care_routes.get(MEMBER + "/id-cards/<card:card>.pdf", media_type=PDF, tag="care",
                 problems=problems(not_found="No such member, or no such current card"),
                 summary="Download an ID card as a PDF")
def id_card_pdf(group, member, card):
    card_file = call_service(SERVICE, "id_card_pdf", group, member, card)
    return download(card_file, fallback_type=PDF, fallback_name="id-card-%s.pdf" % card)


@care_routes.post(MEMBER + "/id-card-requests", body=rpc_input("request_id_cards"),
                  response=rpc_output("request_id_cards"), status=201, validate_only=True, tag="care",
                  problems=CHANGE_PROBLEMS,
                  summary="Ask for replacement ID cards by mail: answers the confirmation number")
def request_id_cards(group, member, body):
    """The member's cards, or the whole family's (`scope`), with a `reason`; mailed to the subscriber's mailing
    address unless `mail_to` gives another."""
    return call_service(SERVICE, "request_id_cards", group, member, body)
