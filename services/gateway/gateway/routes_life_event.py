"""Qualifying life events (add or drop a dependent) and the daily dependent age-off job (issue 5): the roster
service's paths."""
from gateway.calls import call_service
from gateway.roster_contracts import rpc_input, rpc_output
from gateway.routes_roster import ADMIN, GROUP, MAY_NOT_CHANGE, PATH_PATTERNS, SERVICE, bulk_timeout, problems
from gateway.routing import Routes

life_event_routes = Routes(path_patterns=PATH_PATTERNS)

DEPENDENTS = GROUP + "/subscribers/<member:member>/dependents"
LIFE_EVENT_PROBLEMS = problems(
    forbidden=MAY_NOT_CHANGE,
    not_found="No such subscriber (or dependent) in this group, or no grant for it",
    conflict="The family has a pending change: edit or cancel it first",
    invalid="Invalid fields, or a change the rules refuse (reported outside the event's window, a child of 26 or "
            "more, a second spouse, a termination further back than 60 days)")


@life_event_routes.get("/api/v1/life-events", response=rpc_output("list_life_events"), tag="life events",
                       summary="The qualifying life events with their windows and effective-date rules (for forms)")
def list_life_events():
    return call_service(SERVICE, "list_life_events")


@life_event_routes.post(DEPENDENTS, body=rpc_input("add_dependent"), response=rpc_output("add_dependent"),
                        status=201, validate_only=True, tag="life events", problems=LIFE_EVENT_PROBLEMS,
                        summary="Add a dependent for a qualifying life event (birth, adoption, marriage, ...)")
def add_dependent(group, member, body):
    """The dependent joins the subscriber's current plan from the event's effective date (a birth, adoption
    or placement: the event date; otherwise the first of the month after the request); the tier is
    recomputed. Answers the confirmation number and the family."""
    return call_service(SERVICE, "add_dependent", group, member, body)


@life_event_routes.post(DEPENDENTS + "/<member:dependent>/remove", body=rpc_input("remove_dependent"),
                        response=rpc_output("remove_dependent"), validate_only=True, tag="life events",
                        problems=LIFE_EVENT_PROBLEMS,
                        summary="Drop a dependent for a divorce, separation, end of partnership or death")
def remove_dependent(group, member, dependent, body):
    """Coverage ends on the last day of the event's month (a death: that day); the rest of the family's tier
    is recomputed."""
    return call_service(SERVICE, "remove_dependent", group, member, dependent, body)


@life_event_routes.post(ADMIN + "/jobs/dependent-age-off", body=rpc_input("age_off_dependents"), body_optional=True,
                        response=rpc_output("age_off_dependents"), validate_only=True, tag="admin",
                        problems=problems(invalid="as_of is after the business date"),
                        summary="End the coverage of children past the age limit (the daily job, on demand)")
def age_off_dependents(body):
    """`as_of`: a business date, not later than today's (default: today's). Carrier staff only."""
    return call_service(SERVICE, "age_off_dependents", body.get("as_of"), timeout=bulk_timeout())
