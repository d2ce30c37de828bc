"""COBRA and state continuation rules (roster.domain.continuation): who may elect, the 60-day window from the
later of the notice and the loss of coverage, continuous coverage from the day after it ended, 18/36/30
months, a dependent's own contract, and the 18 -> 29 month disability extension."""
from datetime import date

import pytest

from roster.domain import continuation as rules
from roster.domain.enrollment import EnrollmentInvalid

TERMINATED_JAN = rules.Span("PPO-FAM", date(2026, 1, 1), date(2027, 1, 31), "terminated")
SUBSCRIBER = rules.Person("M000000001", "18", date(1986, 4, 12), (TERMINATED_JAN,))
SPOUSE = rules.Person("M000000002", "01", date(1985, 9, 30), (TERMINATED_JAN,))
CHILD = rules.Person("M000000003", "19", date(2015, 2, 3), (TERMINATED_JAN,))
DECLINED_CHILD = rules.Person("M000000004", "19", date(2017, 6, 1), ())
FAMILY = [SUBSCRIBER, SPOUSE, CHILD, DECLINED_CHILD]


def elect(family=FAMILY, policy="cobra", state_months=None, event="1", event_date=date(2027, 1, 20),
          notice=date(2027, 2, 20), members=None, today=date(2027, 4, 11)):
    return rules.decide_election(family=family, policy=policy, state_months=state_months, qualifying_event=event,
                                 event_date=event_date, notice_date=notice, member_ids=members, today=today)


# --- dates ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("start, months, through", [
    (date(2027, 2, 1), 18, date(2028, 7, 31)),
    (date(2027, 2, 1), 29, date(2029, 6, 30)),
    (date(2027, 2, 1), 36, date(2030, 1, 31)),
    (date(2027, 3, 1), 30, date(2029, 8, 31)),
    (date(2027, 1, 16), 18, date(2028, 7, 15)),   # after a death mid-month
    (date(2027, 1, 31), 1, date(2027, 2, 28)),    # 2027-02-31 does not exist: February's last day
    (date(2027, 3, 31), 1, date(2027, 4, 30)),
])
def test_coverage_runs_n_months_from_its_first_day(start, months, through):
    assert rules.coverage_through(start, months) == through


def test_the_deadline_is_60_days_after_the_later_of_notice_and_loss_of_coverage():
    assert rules.election_deadline(date(2027, 2, 20), date(2027, 2, 1)) == date(2027, 4, 21)
    assert rules.election_deadline(date(2027, 1, 25), date(2027, 2, 1)) == date(2027, 4, 2)


# --- who elects, from when, for how long ----------------------------------------------------------------------

def test_70_days_after_the_termination_with_a_later_notice_the_family_continues_without_a_gap():
    # Last covered 2027-01-31; notice sent 2027-02-20; elected 2027-04-11 (70 days after the last covered day).
    election = elect()
    assert (election.kind, election.months) == ("cobra", 18)
    assert (election.coverage_from, election.coverage_through) == (date(2027, 2, 1), date(2028, 7, 31))
    assert (election.election_date, election.deadline) == (date(2027, 4, 11), date(2027, 4, 21))
    assert election.member_ids == ("M000000001", "M000000002", "M000000003")  # not the declined child
    assert (election.holder_member_id, election.tier) == ("M000000001", "FAM")
    assert election.plan_codes == {"M000000001": "PPO-FAM", "M000000002": "PPO-FAM", "M000000003": "PPO-FAM"}


def test_the_last_day_of_the_window_is_accepted_and_the_day_after_refused():
    assert elect(today=date(2027, 4, 21)).election_date == date(2027, 4, 21)
    with pytest.raises(rules.ElectionWindowClosed) as refused:
        elect(today=date(2027, 4, 22))
    assert refused.value.code == "election_window_closed"
    assert "2027-04-21" in refused.value.errors["election_date"][0]


def test_a_notice_before_the_loss_counts_from_the_loss_of_coverage():
    assert elect(notice=date(2027, 1, 25), today=date(2027, 4, 2)).deadline == date(2027, 4, 2)
    with pytest.raises(rules.ElectionWindowClosed):
        elect(notice=date(2027, 1, 25), today=date(2027, 4, 3))


def test_an_active_member_must_be_terminated_first():
    active = rules.Person("M000000009", "18", date(1980, 1, 1), (rules.Span("PPO-FAM", date(2026, 1, 1), None,
                                                                            "active"),))
    with pytest.raises(rules.MemberStillCovered) as refused:
        elect(family=[active])
    assert refused.value.code == "member_still_covered" and refused.value.status == 409


def test_a_termination_still_ahead_leaves_the_member_covered():
    ending = rules.Person("M000000009", "18", date(1980, 1, 1), (rules.Span("PPO-FAM", date(2026, 1, 1),
                                                                            date(2027, 4, 30), "active"),))
    with pytest.raises(rules.MemberStillCovered):
        elect(family=[ending], today=date(2027, 4, 11))


def test_a_member_never_covered_is_refused():
    with pytest.raises(rules.NeverCovered) as refused:
        elect(members=["M000000004"])
    assert refused.value.code == "never_covered" and refused.value.status == 409
    cancelled = rules.Person("M000000005", "19", date(2016, 1, 1), (rules.Span("PPO-FAM", date(2027, 1, 1),
                                                                               None, "cancelled"),))
    with pytest.raises(rules.NeverCovered):
        elect(family=[SUBSCRIBER, cancelled], members=["M000000005"])


def test_a_second_election_for_the_same_loss_is_refused():
    cobra = rules.Span("PPO-FAM", date(2027, 2, 1), date(2028, 7, 31), "active", "cobra")
    continued = rules.Person("M000000001", "18", date(1986, 4, 12), (TERMINATED_JAN, cobra))
    with pytest.raises(rules.ContinuationAlreadyElected):
        elect(family=[continued])
    # COBRA that has run out is not continued again either.
    ended = rules.Span("PPO-FAM", date(2027, 2, 1), date(2027, 3, 31), "terminated", "cobra")
    with pytest.raises(rules.ContinuationAlreadyElected):
        elect(family=[rules.Person("M000000001", "18", date(1986, 4, 12), (TERMINATED_JAN, ended))])


def test_a_spouse_electing_alone_holds_their_own_contract_with_their_own_tier():
    election = elect(members=["M000000002"])
    assert (election.holder_member_id, election.member_ids, election.tier) == ("M000000002", ("M000000002",), "EMP")
    with_child = elect(members=["M000000002", "M000000003"])
    assert (with_child.holder_member_id, with_child.tier) == ("M000000002", "ECH")
    two_children = elect(family=[SUBSCRIBER, CHILD, rules.Person("M000000006", "19", date(2012, 5, 5),
                                                                 (TERMINATED_JAN,))],
                         members=["M000000003", "M000000006"])
    assert (two_children.holder_member_id, two_children.tier) == ("M000000006", "ECH")  # the older child


def test_dependent_events_last_36_months_and_are_not_the_subscribers():
    divorce = elect(event="5", members=["M000000002"])
    assert (divorce.months, divorce.coverage_through) == (36, date(2030, 1, 31))
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(event="4")
    assert "qualifying_event" in refused.value.errors


def test_a_divorced_spouse_continues_while_the_subscriber_stays_covered():
    active = rules.Person("M000000001", "18", date(1986, 4, 12), (rules.Span("PPO-FAM", date(2026, 1, 1), None,
                                                                              "active"),))
    removed = rules.Person("M000000002", "01", date(1985, 9, 30), (rules.Span("PPO-FAM", date(2026, 1, 1),
                                                                               date(2027, 2, 28), "terminated"),))
    election = elect(family=[active, removed], event="5", event_date=date(2027, 2, 10), notice=date(2027, 3, 1),
                     today=date(2027, 3, 15))
    assert (election.member_ids, election.holder_member_id, election.coverage_from, election.months) == (
        ("M000000002",), "M000000002", date(2027, 3, 1), 36)


def test_a_small_group_gets_state_continuation_for_its_months():
    election = elect(policy="state")
    assert (election.kind, election.months, election.coverage_through) == ("state", 30, date(2029, 7, 31))
    assert elect(policy="state", state_months=24).coverage_through == date(2029, 1, 31)
    assert elect(policy="state", event="5", members=["M000000002"]).months == 30


def test_members_who_lost_coverage_on_different_days_elect_separately():
    earlier = rules.Person("M000000007", "19", date(2010, 1, 1), (rules.Span("PPO-FAM", date(2026, 1, 1),
                                                                              date(2026, 12, 31), "terminated"),))
    family = [SUBSCRIBER, earlier]
    assert elect(family=family).member_ids == ("M000000001",)  # the latest loss by default
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(family=family, members=["M000000001", "M000000007"])
    assert "different days" in refused.value.errors["member_ids"][0]


def test_dates_that_cannot_be_are_field_errors():
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(event_date=date(2027, 5, 1), notice=date(2027, 5, 2))
    assert set(refused.value.errors) == {"event_date", "notice_date"}
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(notice=date(2027, 1, 10))
    assert "before the qualifying event" in refused.value.errors["notice_date"][0]
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(event_date=date(2027, 2, 15))  # after coverage was lost on 2027-02-01
    assert "event_date" in refused.value.errors
    with pytest.raises(EnrollmentInvalid) as refused:
        elect(members=["M999999999"])
    assert "M999999999" in refused.value.errors["member_ids"][0]


# --- the election window a page shows -------------------------------------------------------------------------

def test_a_terminated_family_sees_its_window_until_someone_elects():
    window = rules.election_window(FAMILY, date(2027, 3, 1))
    assert (window.member_ids, window.last_covered_day, window.loss_of_coverage_date, window.deadline,
            window.open) == (("M000000001", "M000000002", "M000000003"), date(2027, 1, 31), date(2027, 2, 1),
                             date(2027, 4, 2), True)
    assert rules.election_window(FAMILY, date(2027, 4, 3)).open is False
    active = rules.Person("M000000001", "18", date(1986, 4, 12), (rules.Span("PPO-FAM", date(2026, 1, 1), None,
                                                                              "active"),))
    assert rules.election_window([active], date(2027, 3, 1)) is None


# --- the disability extension ----------------------------------------------------------------------------------

def extend(kind="cobra", event="1", extended=False, through=date(2028, 7, 31), determination=date(2027, 9, 1),
           today=date(2027, 10, 1)):
    return rules.decide_extension(kind=kind, qualifying_event=event, disability_extended=extended,
                                  coverage_from=date(2027, 2, 1), current_through=through,
                                  determination_date=determination, today=today)


def test_a_disability_determination_extends_18_months_to_29():
    assert extend() == rules.Extension(29, date(2029, 6, 30))
    assert extend(today=date(2028, 7, 31), determination=date(2028, 7, 31)).coverage_through == date(2029, 6, 30)


@pytest.mark.parametrize("arguments, message", [
    ({"kind": "state"}, "State continuation"),
    ({"event": "4"}, "36 months"),
    ({"extended": True, "through": date(2029, 6, 30)}, "already extended"),
    ({"today": date(2028, 8, 1), "determination": date(2028, 7, 1)}, "ended on 2028-07-31"),
])
def test_only_running_18_month_cobra_extends(arguments, message):
    with pytest.raises(rules.NotExtendable) as refused:
        extend(**arguments)
    assert refused.value.code == "continuation_not_extendable" and message in refused.value.detail


def test_a_determination_in_the_future_is_a_field_error():
    with pytest.raises(EnrollmentInvalid) as refused:
        extend(determination=date(2027, 10, 2))
    assert "determination_date" in refused.value.errors
