"""COBRA and state continuation (issue 5): the roster service's paths. Elect continuation for members of a
terminated family, extend COBRA 18 -> 29 months on a disability determination, and read the family's
elections with its open election window. Bodies are validated with the roster's wire contract
(portal_contracts.roster_continuation) and sent on as received; the service decides who may do what.
"""
from gateway.calls import call_service
from gateway.roster_contracts import rpc_input, rpc_output
from gateway.routes_roster import GROUP, PATH_PATTERNS, SERVICE, problems
from gateway.routing import Routes

continuation_routes = Routes(path_patterns=PATH_PATTERNS)

COBRA = GROUP + "/subscribers/<member:member>/cobra"
NO_FAMILY = "No such member in this group (or no grant for it)"
MAY_NOT_CHANGE = "Your role may not change the roster"


@continuation_routes.post(
    COBRA, body=rpc_input("elect_continuation"), response=rpc_output("elect_continuation"), status=201,
    validate_only=True, tag="continuation", summary="Elect COBRA (or state continuation) after a loss of coverage",
    problems=problems(
        forbidden=MAY_NOT_CHANGE, not_found=NO_FAMILY,
        conflict="member_still_covered (terminate first), never_covered, continuation_already_elected, or "
                 "family_has_pending_change",
        invalid="Invalid fields, or election_window_closed: past 60 days from the later of the notice and the "
                "loss of coverage"))
def elect_continuation(group, member, body):
    """The qualifying event (X12 INS07), its date, the notice date, and who elects (default: everyone who lost
    coverage with the family's latest loss). Coverage continues from the day after active coverage ended, in
    the same plan, for 18 months (events 1, 2), 36 (3-7), or the state's months for a group under 20. A
    dependent electing without the subscriber becomes their own contract with their own tier."""
    return call_service(SERVICE, "elect_continuation", group, member, body)


@continuation_routes.post(
    COBRA + "/extend", body=rpc_input("extend_continuation"), response=rpc_output("extend_continuation"),
    validate_only=True, tag="continuation", summary="Extend COBRA from 18 to 29 months on a disability determination",
    problems=problems(
        forbidden=MAY_NOT_CHANGE, not_found=NO_FAMILY,
        conflict="no_continuation, or continuation_not_extendable (state continuation, a 36-month event, "
                 "extended already, or the 18 months are over)",
        invalid="Invalid fields (a determination in the future or after the 18 months)"))
def extend_continuation(group, member, body):
    return call_service(SERVICE, "extend_continuation", group, member, body)


@continuation_routes.get(COBRA, response=rpc_output("get_continuation"), tag="continuation",
                         problems=problems(not_found=NO_FAMILY),
                         summary="A family's continuation elections and its open election window")
def get_continuation(group, member):
    return call_service(SERVICE, "get_continuation", group, member)
