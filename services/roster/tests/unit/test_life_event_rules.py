"""Life-event and age-off rules (roster.domain.life_events) and their wire schemas, without a service."""
from datetime import date

import pytest
from marshmallow import ValidationError

from portal_contracts.roster_life_event import ADD_EVENTS, REMOVE_EVENTS, AddDependentInput, RemoveDependentInput
from roster.domain import life_events as rules
from roster.domain.enrollment import EnrollmentInvalid
from roster.domain.life_events import Relative, Span

TODAY = date(2027, 3, 15)
TIERS = {"PPO": ("EMP", "ESP", "ECH", "FAM"), "DUO": ("EMP", "ESP")}


def covered_since(day="2027-01-01", plan="PPO", through=None, status="active", continuation=None):
    return (Span(date.fromisoformat(day), date.fromisoformat(through) if through else None, status, plan,
                 continuation),)


SUBSCRIBER = Relative("M100000001", "18", "Dana", "Whitfield", date(1986, 4, 12), spans=covered_since())
SPOUSE = Relative("M100000002", "01", "Sam", "Whitfield", date(1985, 9, 30), spans=covered_since())
CHILD = Relative("M100000003", "19", "Riley", "Whitfield", date(2015, 2, 3), spans=covered_since())


def person(relationship="child", born="2027-01-14", ssn=None, **extra):
    return dict({"relationship": relationship, "first_name": "Robin", "last_name": "Whitfield",
                 "date_of_birth": date.fromisoformat(born), "gender": "U", "ssn": ssn, "disabled": False}, **extra)


def add(event, event_date, who, subscriber=SUBSCRIBER, dependents=(), tiers=TIERS, today=TODAY, **options):
    return rules.decide_addition(event, date.fromisoformat(event_date), who, today, subscriber, list(dependents),
                                 tiers, **options)


def refused(call, *args, **kwargs):
    with pytest.raises(EnrollmentInvalid) as caught:
        call(*args, **kwargs)
    return caught.value.errors


# --- the window table ---------------------------------------------------------------------------------

def test_the_window_table_has_every_event_of_the_wire_vocabulary_with_domain_md_numbers():
    table = {row["life_event"]: row for row in rules.window_table()}
    assert set(table) == set(ADD_EVENTS) | set(REMOVE_EVENTS)
    assert [(name, table[name]["window_days"], table[name]["effective_date_rule"], table[name]["reason"])
            for name in ("birth", "adoption", "placement_for_adoption", "marriage", "loss_of_other_coverage",
                         "medicaid_chip", "court_order", "domestic_partnership", "divorce", "death")] == [
        ("birth", 60, "event_date", "02"), ("adoption", 60, "event_date", "05"),
        ("placement_for_adoption", 60, "event_date", "05"),
        ("marriage", 30, "first_of_month_after_request", "32"),
        ("loss_of_other_coverage", 30, "first_of_month_after_request", "28"),
        ("medicaid_chip", 60, "first_of_month_after_request", "28"),
        ("court_order", None, "first_of_month_after_request", "28"),
        ("domestic_partnership", 30, "first_of_month_after_request", "28"),
        ("divorce", None, "end_of_event_month", "01"), ("death", None, "date_of_death", "03")]
    assert {table[name]["maintenance_type"] for name in ADD_EVENTS} == {"021"}
    assert {table[name]["maintenance_type"] for name in REMOVE_EVENTS} == {"024"}


# --- adding: windows and effective dates --------------------------------------------------------------

def test_a_newborn_added_on_day_60_is_covered_from_the_birth_date_at_once():
    # Born 2027-01-14; 2027-03-15 is day 60: past the 30-day review hold of other retro changes, yet completed.
    decision = add("birth", "2027-01-14", person(born="2027-01-14"))
    assert (decision.effective_date, decision.status, decision.tier, decision.event.reason) == (
        date(2027, 1, 14), "completed", "ECH", "02")
    assert decision.covered_member_ids == ["M100000001"]


def test_a_newborn_reported_on_day_61_is_refused_on_the_event_date_naming_the_window():
    errors = refused(add, "birth", "2027-01-13", person(born="2027-01-13"))
    assert errors == {"event_date": ["A birth must be reported within 60 days of the event; 2027-01-13 was 61 days "
                                     "ago."]}


def test_a_marriage_on_day_30_starts_the_first_of_next_month_and_day_31_is_refused():
    decision = add("marriage", "2027-02-13", person("spouse", born="1988-05-05", ssn="234567890"))
    assert (decision.effective_date, decision.status, decision.tier, decision.event.reason) == (
        date(2027, 4, 1), "pending", "ESP", "32")
    errors = refused(add, "marriage", "2027-02-12", person("spouse", born="1988-05-05", ssn="234567890"))
    assert "within 30 days" in errors["event_date"][0] and "31 days ago" in errors["event_date"][0]


def test_the_first_of_the_month_after_the_request_is_strictly_after_it():
    on_the_first = add("marriage", "2027-02-20", person("spouse", born="1988-05-05", ssn="234567890"),
                       today=date(2027, 3, 1))
    assert on_the_first.effective_date == date(2027, 4, 1)


def test_a_court_order_has_no_window():
    decision = add("court_order", "2026-12-01", person(born="2016-06-01", ssn="345678901"))  # 104 days ago
    assert (decision.effective_date, decision.status, decision.event.reason) == (date(2027, 4, 1), "pending", "28")


def test_an_event_in_the_future_is_refused():
    errors = refused(add, "marriage", "2027-03-20", person("spouse", born="1988-05-05", ssn="234567890"))
    assert "in the future" in errors["event_date"][0]


# --- adding: who may be added -------------------------------------------------------------------------

def test_the_event_decides_the_relationship():
    errors = refused(add, "birth", "2027-03-01", person("spouse", born="2027-03-01"))
    assert errors["dependent"]["relationship"] == ["A birth adds a child, not a spouse."]


def test_a_birth_is_on_the_date_of_birth():
    errors = refused(add, "birth", "2027-03-01", person(born="2027-02-27"))
    assert errors["dependent"]["date_of_birth"] == ["For a birth, the date of birth is the event date (2027-03-01)."]


def test_a_child_of_26_is_refused_unless_disabled():
    older = person(born="2000-12-01", ssn="345678901")
    errors = refused(add, "loss_of_other_coverage", "2027-03-01", older)
    assert "covered until age 26" in errors["dependent"]["date_of_birth"][0]
    assert add("loss_of_other_coverage", "2027-03-01", dict(older, disabled=True)).tier == "ECH"


def test_one_spouse_or_partner_at_most():
    errors = refused(add, "domestic_partnership", "2027-03-01", person("domestic_partner", born="1990-01-01",
                                                                        ssn="234567890"), dependents=[SPOUSE])
    assert "Only one spouse or domestic partner" in errors["dependent"]["relationship"][0]
    # A spouse whose coverage ended before the effective date does not count.
    former = Relative("M100000002", "01", "Sam", "Whitfield", date(1985, 9, 30),
                      spans=covered_since(through="2027-02-28", status="terminated"))
    assert add("marriage", "2027-03-01", person("spouse", born="1990-01-01", ssn="234567890"),
               dependents=[former]).tier == "ESP"


def test_a_newborn_may_lack_an_ssn_but_an_older_child_may_not():
    assert add("birth", "2027-03-01", person(born="2027-03-01")).status == "completed"
    errors = refused(add, "adoption", "2027-03-01", person("adopted_child", born="2020-03-01"))
    assert "SSN is required" in errors["dependent"]["ssn"][0]


def test_the_subscriber_must_be_covered_and_the_plan_must_sell_the_new_tier():
    ended = Relative("M100000001", "18", "Dana", "Whitfield", date(1986, 4, 12),
                     spans=covered_since(through="2027-03-31", status="active"))
    errors = refused(add, "marriage", "2027-03-01", person("spouse", born="1990-01-01", ssn="234567890"),
                     subscriber=ended)
    assert errors["event_date"] == ["Subscriber M100000001 has no active coverage on 2027-04-01 for the dependent "
                                    "to join."]
    duo = Relative("M100000001", "18", "Dana", "Whitfield", date(1986, 4, 12), spans=covered_since(plan="DUO"))
    errors = refused(add, "birth", "2027-03-01", person(born="2027-03-01"), subscriber=duo)
    assert errors["dependent"]["relationship"][0].startswith("Plan DUO does not sell ECH coverage")


def test_the_tier_follows_the_family():
    assert add("birth", "2027-03-01", person(born="2027-03-01"), dependents=[SPOUSE]).tier == "FAM"
    assert add("marriage", "2027-03-01", person("spouse", born="1990-01-01", ssn="234567890"),
               dependents=[CHILD]).tier == "FAM"


def test_a_person_already_covered_in_the_family_is_refused():
    errors = refused(add, "loss_of_other_coverage", "2027-03-01", person(born="2015-02-03", ssn="345678901"),
                     dependents=[CHILD], returning_member_id="M100000003")
    assert errors["dependent"] == ["This person is already covered in this family as member M100000003."]


# --- dropping -----------------------------------------------------------------------------------------

def remove(event, event_date, dependent=SPOUSE, others=(CHILD,), today=TODAY):
    return rules.decide_removal(event, date.fromisoformat(event_date), dependent, today, SUBSCRIBER, list(others))


def test_a_divorce_ends_coverage_at_the_month_end_and_the_tier_drops():
    decision = remove("divorce", "2027-03-10", others=())
    assert (decision.last_covered_day, decision.status, decision.tier, decision.event.reason) == (
        date(2027, 3, 31), "pending", "EMP", "01")
    assert remove("divorce", "2027-03-10").tier == "ECH"


def test_a_death_ends_coverage_on_the_date_of_death():
    decision = remove("death", "2027-03-01")
    assert (decision.last_covered_day, decision.status, decision.hold_reason, decision.event.reason) == (
        date(2027, 3, 1), "completed", None, "03")


def test_a_drop_within_the_retroactive_limit():
    held = remove("death", "2027-02-01")  # 42 days back
    assert held.status == "pending" and "carrier review" in held.hold_reason
    errors = refused(remove, "death", "2027-01-10")  # 64 days back
    assert "at most 60 days" in errors["event_date"][0]


def test_a_divorce_drops_a_spouse_not_a_child_nor_someone_no_longer_covered():
    errors = refused(remove, "divorce", "2027-03-10", dependent=CHILD, others=(SPOUSE,))
    assert errors["life_event"] == ["A divorce drops a spouse or stepchild; member M100000003 is a child."]
    gone = Relative("M100000002", "01", "Sam", "Whitfield", date(1985, 9, 30),
                    spans=covered_since(through="2027-02-28", status="terminated"))
    errors = refused(remove, "divorce", "2027-03-10", dependent=gone)
    assert "not covered after 2027-03-31" in errors["event_date"][0]


# --- age-off ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, last_day", [
    ("birthday", date(2027, 3, 14)), ("end_of_month", date(2027, 3, 31)), ("end_of_year", date(2027, 12, 31))])
def test_the_age_off_day_follows_the_group_policy(policy, last_day):
    assert rules.age_off_last_day(date(2001, 3, 15), policy) == last_day


def test_a_leap_day_birthday_turns_26_on_the_first_of_march():
    assert rules.twenty_sixth_birthday(date(2000, 2, 29)) == date(2026, 3, 1)
    assert rules.age_off_last_day(date(2000, 2, 29), "birthday") == date(2026, 2, 28)


def child(born, disabled=False, spans=None, code="19"):
    return Relative("M100000009", code, "Riley", "Whitfield", date.fromisoformat(born), disabled,
                    spans if spans is not None else covered_since("2020-01-01"))


def test_a_child_turning_26_mid_month_is_kept_to_the_month_end():
    riley = child("2001-03-15")
    assert rules.age_off_due(riley, "end_of_month", date(2027, 3, 15)) is None   # the birthday
    assert rules.age_off_due(riley, "end_of_month", date(2027, 3, 31)) is None   # the last covered day
    assert rules.age_off_due(riley, "end_of_month", date(2027, 4, 1)) == date(2027, 3, 31)
    assert rules.age_off_due(riley, "end_of_month", date(2027, 5, 20)) == date(2027, 3, 31)  # caught up


def test_disabled_children_spouses_ended_and_continuation_coverage_are_not_aged_off():
    as_of = date(2027, 4, 1)
    assert rules.age_off_due(child("2001-03-15", disabled=True), "end_of_month", as_of) is None
    assert rules.age_off_due(child("2001-03-15", code="01"), "end_of_month", as_of) is None
    ended = covered_since("2020-01-01", through="2027-02-28", status="terminated")
    assert rules.age_off_due(child("2001-03-15", spans=ended), "end_of_month", as_of) is None
    cobra = covered_since("2026-01-01", continuation="cobra")
    assert rules.age_off_due(child("2001-03-15", spans=cobra), "end_of_month", as_of) is None


def test_an_age_off_caught_up_late_waits_for_carrier_review_instead_of_being_refused():
    assert rules.age_off_timing(date(2027, 3, 31), date(2027, 4, 1)) == ("completed", None)
    status, hold = rules.age_off_timing(date(2027, 3, 31), date(2027, 6, 15))
    assert status == "pending" and "76 days in the past" in hold
    assert rules.oldest_birth_date_due(date(2027, 4, 1)) == date(2001, 4, 1)


def test_change_points_are_the_later_starts_and_the_days_after_ends():
    spans = [Span(date(2027, 1, 1), date(2027, 2, 28), "terminated"), Span(date(2027, 3, 1), None, "active"),
             Span(date(2027, 2, 1), None, "cancelled")]
    assert rules.change_points(spans, date(2027, 1, 15)) == [date(2027, 3, 1)]


# --- wire schemas -------------------------------------------------------------------------------------

def test_the_add_form_reuses_the_dependent_fields_without_declining():
    body = {"life_event": "birth", "event_date": "2027-03-01",
            "dependent": {"relationship": "child", "first_name": "Robin", "last_name": "Whitfield",
                          "date_of_birth": "2027-03-01", "gender": "U"}}
    assert AddDependentInput().load(body)["dependent"]["ssn"] is None
    with pytest.raises(ValidationError) as caught:
        AddDependentInput().load(dict(body, life_event="graduation", dependent=dict(body["dependent"],
                                                                                   elect_coverage=False)))
    assert set(caught.value.messages) == {"life_event", "dependent"}
    assert caught.value.messages["dependent"] == {"elect_coverage": ["Unknown field."]}
    with pytest.raises(ValidationError) as caught:
        RemoveDependentInput().load({"life_event": "birth"})
    assert set(caught.value.messages) == {"life_event", "event_date"}
