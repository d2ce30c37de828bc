"""Address and demographic changes, terminate and reinstate (a member, a subscriber and family), transfer (issue 5):
the roster service's paths.

Bodies are validated with the roster's wire contracts (portal_contracts.roster_lifecycle, through
roster_contracts.py) and sent on as received; the service loads them again and decides (the caller's grant,
the retroactive limits, the 60-day reinstatement window). Each answer holds the confirmation number, the
transaction and the family after the change.
"""
from gateway.calls import call_service
from gateway.roster_contracts import rpc_input, rpc_output
from gateway.routes_roster import GROUP, MAY_NOT_CHANGE, PATH_PATTERNS, SERVICE, problems
from gateway.routing import Routes

lifecycle_routes = Routes(path_patterns=PATH_PATTERNS)

SUBSCRIBER = GROUP + "/subscribers/<member:member>"
MEMBER = GROUP + "/members/<member:member>"

NO_SUBSCRIBER = "No such subscriber in this group (or no grant for its subgroup)"
NO_MEMBER = "No such member in this group (or no grant for its subgroup)"
PENDING_CHANGE = "The family has a pending change (cancel it or wait until it completes)"


@lifecycle_routes.patch(SUBSCRIBER + "/address", body=rpc_input("update_address"),
                        response=rpc_output("update_address"), validate_only=True, tag="lifecycle",
                        problems=problems(forbidden=MAY_NOT_CHANGE, not_found=NO_SUBSCRIBER,
                                          invalid="Invalid fields, or the addresses on file already"),
                        summary="Change the subscriber's mailing and/or physical address")
def update_address(group, member, body):
    """Dependents whose address was the subscriber's (or who have none on file) move too; a dependent with an
    address of their own keeps it. A completed transaction (834 reason 43)."""
    return call_service(SERVICE, "update_address", group, member, body)


@lifecycle_routes.patch(MEMBER + "/demographics", body=rpc_input("correct_demographics"),
                        response=rpc_output("correct_demographics"), validate_only=True, tag="lifecycle",
                        problems=problems(forbidden=MAY_NOT_CHANGE + "; or an SSN, which only roles that see SSNs "
                                                                     "may correct",
                                          not_found=NO_MEMBER, conflict="The SSN belongs to another member",
                                          invalid="Invalid fields, nothing to correct, or a child who would be "
                                                  "26 or older"),
                        summary="Correct a member's name, date of birth, gender or SSN")
def correct_demographics(group, member, body):
    """Only the fields sent are corrected (834 reason 25); the event names the fields changed."""
    return call_service(SERVICE, "correct_demographics", group, member, body)


TERMINATION_PROBLEMS = problems(
    forbidden=MAY_NOT_CHANGE, not_found=NO_MEMBER, conflict=PENDING_CHANGE,
    invalid="Invalid fields, a cause that does not fit the member, coverage not in force then, or a termination "
            "more than 60 days back")
REINSTATEMENT_PROBLEMS = problems(
    forbidden=MAY_NOT_CHANGE, not_found=NO_MEMBER,
    conflict="Not terminated, the termination is still pending, or the family changed since",
    invalid="Asked more than 60 days after the termination date (re-enroll instead), or the subscriber is not "
            "covered")


@lifecycle_routes.post(MEMBER + "/coverage/terminate", body=rpc_input("terminate_coverage"),
                       response=rpc_output("terminate_coverage"), validate_only=True, tag="lifecycle",
                       problems=TERMINATION_PROBLEMS, summary="End one member's coverage")
def terminate_coverage(group, member, body):
    """Coverage ends on the last day of the event's month (a death: that day); a future date makes a pending
    transaction the daily job completes the day after; 31-60 days back is held for carrier review. The rest of
    the family's tier is recomputed. A subscriber's member id ends the whole family's coverage."""
    return call_service(SERVICE, "terminate_coverage", group, member, body)


@lifecycle_routes.post(MEMBER + "/coverage/reinstate", body=rpc_input("reinstate_coverage"), body_optional=True,
                       response=rpc_output("reinstate_coverage"), validate_only=True, tag="lifecycle",
                       problems=REINSTATEMENT_PROBLEMS, summary="Reinstate one member's terminated coverage")
def reinstate_coverage(group, member, body):
    """Within 60 days of the termination date: coverage continues from the day after it, in the same plan."""
    return call_service(SERVICE, "reinstate_coverage", group, member, body)


@lifecycle_routes.post(SUBSCRIBER + "/terminate", body=rpc_input("terminate_subscriber"),
                       response=rpc_output("terminate_subscriber"), validate_only=True, tag="lifecycle",
                       problems=TERMINATION_PROBLEMS, summary="End the coverage of a subscriber and family")
def terminate_subscriber(group, member, body):
    return call_service(SERVICE, "terminate_subscriber", group, member, body)


@lifecycle_routes.post(SUBSCRIBER + "/reinstate", body=rpc_input("reinstate_subscriber"), body_optional=True,
                       response=rpc_output("reinstate_subscriber"), validate_only=True, tag="lifecycle",
                       problems=REINSTATEMENT_PROBLEMS, summary="Reinstate a terminated subscriber and family")
def reinstate_subscriber(group, member, body):
    return call_service(SERVICE, "reinstate_subscriber", group, member, body)


@lifecycle_routes.post(SUBSCRIBER + "/transfer", body=rpc_input("transfer_subscriber"),
                       response=rpc_output("transfer_subscriber"), validate_only=True, tag="lifecycle",
                       problems=problems(forbidden=MAY_NOT_CHANGE + "; or the target subgroup is out of your grant",
                                         not_found=NO_SUBSCRIBER + "; or no such target subgroup",
                                         conflict=PENDING_CHANGE,
                                         invalid="The target subgroup does not offer the plan, or the date is out "
                                                 "of the retroactive window"),
                       summary="Transfer a subscriber and family to another subgroup")
def transfer_subscriber(group, member, body):
    """Coverage continues without a gap: the same plan's coverage goes on, or a plan the target offers
    (`plan_code`) starts on the transfer date (default: the first of next month)."""
    return call_service(SERVICE, "transfer_subscriber", group, member, body)
