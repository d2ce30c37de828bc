"""Renewal (plan year load, notices, the renewal-date carry-over) and open enrollment (issue 5): the roster service's paths.

Carrier staff load a group's next plan year and can run the renewal job for a date; the group sees the
open-enrollment window and records each subscriber's choice (begin, keep, decline). The roster service decides
who may do what (carrier staff only on the admin paths; a viewer or billing manager may look but not choose).
"""
from gateway.calls import call_service
from gateway.roster_contracts import rpc_input, rpc_output
from gateway.routes_roster import ADMIN, ADMIN_GROUP, GROUP, PATH_PATTERNS, SERVICE, bulk_timeout, problems
from gateway.routing import Routes

renewal_routes = Routes(path_patterns=PATH_PATTERNS)

OPEN_ENROLLMENT = GROUP + "/subscribers/<member:member>/open-enrollment"


@renewal_routes.post(ADMIN_GROUP + "/plan-years", body=rpc_input("load_plan_year"),
                     response=rpc_output("load_plan_year"), validate_only=True, tag="admin",
                     summary="Load a group's next plan year: offerings per subgroup and retired-plan mappings",
                     problems=problems(not_found="No such group",
                                       conflict="Open enrollment has started: the plan year can no longer be "
                                                "replaced",
                                       invalid="Not the group's renewal date, a plan not sold, or a plan a subgroup "
                                               "loses without a mapping to a plan offered there (named in errors)"))
def load_plan_year(group, body):
    """`plan_year_start` must be the group's renewal date (the day after the current plan year ends). Every
    plan of the ending year a subgroup is not offered any more needs a mapping to a plan offered there: its
    families carry over into it on the renewal date. Loading again replaces the load until open enrollment
    opens. The rates are billing's to load (it hears `plan_year_loaded`). Carrier staff only."""
    return call_service(SERVICE, "load_plan_year", group, body)


@renewal_routes.post(ADMIN + "/jobs/renewals", body=rpc_input("run_renewals"), body_optional=True,
                     response=rpc_output("run_renewals"), validate_only=True, tag="admin",
                     summary="Run the renewal job for a date: notices due, renewal dates reached (the daily job)")
def run_renewals(body):
    """`as_of`: a business date (default: today's). Renewal notices 60 and 30 days before a renewal date, and
    on a renewal date the carry-over into the new plan year; each happens once however often this runs.
    Carrier staff only."""
    return call_service(SERVICE, "run_renewals", body.get("as_of"), timeout=bulk_timeout())


@renewal_routes.get(GROUP + "/open-enrollment", response=rpc_output("get_open_enrollment"), tag="open enrollment",
                    problems=problems(not_found="No such group (or no grant for it)"),
                    summary="The coming plan year's open enrollment: window, plans, mappings, choices made")
def get_open_enrollment(group):
    """The window opens 30 days before the renewal date and closes the day before. Plans are those of the
    caller's subgroups."""
    return call_service(SERVICE, "get_open_enrollment", group)


@renewal_routes.post(OPEN_ENROLLMENT, body=rpc_input("elect_open_enrollment"),
                     response=rpc_output("elect_open_enrollment"), validate_only=True, tag="open enrollment",
                     problems=problems(forbidden="Your role may not change the roster (e.g. a viewer)",
                                       not_found="No such subscriber in this group (or no grant for it)",
                                       conflict="The plan year is not loaded yet, or the family has another "
                                                "pending change",
                                       invalid="Outside the open-enrollment window (named), or a plan not offered "
                                               "to the subscriber's subgroup"),
                     summary="A subscriber's open-enrollment choice: begin, keep or decline")
def elect_open_enrollment(group, member, body):
    """`begin`: a plan of the new plan year and the dependents covered, effective the renewal date (pending
    until then); `keep`: the family's coverage goes on (into the mapped plan if its plan retires); `decline`
    with a reason (and the other plan's name): coverage ends on the plan year's last day. A later choice in
    the window replaces the earlier one. Answers the confirmation number."""
    return call_service(SERVICE, "elect_open_enrollment", group, member, body)


@renewal_routes.get(OPEN_ENROLLMENT, response=rpc_output("get_open_enrollment_election"), tag="open enrollment",
                    problems=problems(not_found="No such subscriber in this group (or no grant for it)"),
                    summary="A subscriber's open-enrollment choice for the coming plan year, and earlier ones")
def get_open_enrollment_election(group, member):
    return call_service(SERVICE, "get_open_enrollment_election", group, member)
