"""The census file (roster.domain.census): rows into families, every row checked, all or nothing."""
import csv
import io
import time
from datetime import date, timedelta

import pytest

from roster.domain import census
from roster.domain.enrollment import Offering

TODAY = date(2026, 6, 15)
OFFERINGS = {"001": [Offering("PPO-1", date(2026, 1, 1), date(2026, 12, 31), ("EMP", "ESP", "ECH", "FAM"))],
             "002": [Offering("HMO-E", date(2026, 1, 1), date(2026, 12, 31), ("EMP",))]}
COLUMNS = list(census.REQUIRED_COLUMNS) + ["mailing_line1", "mailing_city", "mailing_state", "mailing_zip"]


def row(relationship="self", ssn="123-45-6789", subscriber_ssn="", first="Dana", born="1986-04-12", **extra):
    values = {"subgroup_number": "001", "plan_code": "PPO-1", "relationship": relationship,
              "subscriber_ssn": subscriber_ssn, "first_name": first, "last_name": "Whitfield",
              "date_of_birth": born, "gender": "F", "ssn": ssn,
              "hire_date": "2019-03-01" if relationship == "self" else "", "effective_date": "2026-01-01"}
    if relationship != "self":
        values.update(subgroup_number="", plan_code="", effective_date="")
    values.update(extra)
    return values


def family(ssn, first="Dana", spouse_ssn=None, child_ssn=None):
    rows = [row(ssn=ssn, first=first)]
    if spouse_ssn:
        rows.append(row("spouse", spouse_ssn, ssn, "Sam", "1985-09-30"))
    if child_ssn:
        rows.append(row("child", child_ssn, ssn, "Riley", "2015-02-03"))
    return rows


def csv_text(rows, columns=COLUMNS, bom=False):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "") + out.getvalue()


def rejected(text, **kwargs):
    with pytest.raises(census.CensusRejected) as caught:
        census.validate(census.parse(text), OFFERINGS, TODAY, **kwargs)
    assert caught.value.status == 422 and caught.value.code == "census_rejected"
    return caught.value.errors


def test_rows_make_families_with_their_tiers():
    rows = (family("123-45-6789", spouse_ssn="234-56-7890", child_ssn="345-67-8901")
            + family("456-78-9012", first="Ari"))
    families = census.validate(census.parse(csv_text(rows, bom=True) + "\n,,,\n"), OFFERINGS, TODAY)
    assert [(f.rows, f.decision.tier, f.decision.status) for f in families] == [
        ([2, 3, 4], "FAM", "completed"), ([5], "EMP", "completed")]
    first = families[0].enrollment
    assert first["subscriber"]["ssn"] == "123456789" and first["effective_date"] == date(2026, 1, 1)
    assert [d["relationship"] for d in first["dependents"]] == ["spouse", "child"]


def test_dependents_may_come_before_their_subscriber_and_columns_in_any_order():
    rows = family("123-45-6789", child_ssn="345-67-8901")
    families = census.validate(census.parse(csv_text(rows[::-1], columns=COLUMNS[::-1])), OFFERINGS, TODAY)
    assert families[0].rows == [3, 2] and families[0].decision.tier == "ECH"


def test_effective_dates_as_given_with_no_retro_limit():
    rows = [row(effective_date="2026-01-01", hire_date="1999-05-17")]  # years after hire, months ago
    assert census.validate(census.parse(csv_text(rows)), OFFERINGS, TODAY)[0].decision.status == "completed"


def test_one_bad_row_rejects_the_file_and_names_the_row_and_field():
    rows = family("123-45-6789") + family("456-78-9012", first="Ari") + [row(ssn="567-89-0123", born="1986-13-40")]
    errors = rejected(csv_text(rows))
    assert list(errors) == ["row 4"] and "date_of_birth" in errors["row 4"]


def test_every_bad_row_is_reported_in_row_order():
    rows = (family("123-45-6789", child_ssn="345-67-8901")
            + [row("child", "234-56-7890", "123-45-6789", "Old", "1999-03-01")]   # 27 on the effective date
            + [row(ssn="666-12-3456", first="Bad")]                               # never issued
            + [row("spouse", "456-78-9012", "999-99-9999", "Lost", "1980-01-01")]  # malformed pointer
            + [row("child", "567-89-0123", "111-22-3333", "Orphan", "2010-01-01")]  # no such subscriber
            + [row(ssn="222-33-4444", first="Gone", subgroup_number="009")]
            + [row(ssn="333-44-5555", first="Hmo", subgroup_number="002", plan_code="PPO-1")])
    errors = rejected(csv_text(rows))
    assert list(errors) == ["row 4", "row 5", "row 6", "row 7", "row 8", "row 9"]
    assert "until age 26" in errors["row 4"]["date_of_birth"][0]
    assert "ssn" in errors["row 5"] and "subscriber_ssn" in errors["row 6"]
    assert "No subscriber row" in errors["row 7"]["subscriber_ssn"][0]
    assert "no subgroup 009" in errors["row 8"]["subgroup_number"][0]
    assert "not offered to subgroup 002" in errors["row 9"]["plan_code"][0]
    for messages in errors.values():  # no SSN is ever repeated back
        assert not {"666-12-3456", "666123456", "999-99-9999", "999999999"} & set(str(messages).split("'"))
        assert "6661234" not in str(messages) and "99999" not in str(messages)


def test_family_rules_land_on_the_row_that_breaks_them():
    rows = (family("123-45-6789", spouse_ssn="234-56-7890")
            + [row("domestic_partner", "345-67-8901", "123-45-6789", "Pat", "1984-01-01")]
            + [row("child", "", "123-45-6789", "Toddler", (TODAY - timedelta(days=700)).isoformat())]
            + [row("child", "456-78-9012", "123-45-6789", "Other plan", "2012-01-01", plan_code="HMO-E")])
    errors = rejected(csv_text(rows))
    assert "one spouse" in errors["row 4"]["relationship"][0]
    assert "SSN is required" in errors["row 5"]["ssn"][0]
    assert "Differs from the subscriber's row 2" in errors["row 6"]["plan_code"][0]


def test_a_newborn_without_an_ssn_is_fine():
    rows = family("123-45-6789") + [row("child", "", "123-45-6789", "Baby", (TODAY - timedelta(days=90)).isoformat())]
    assert census.validate(census.parse(csv_text(rows)), OFFERINGS, TODAY)[0].decision.tier == "ECH"


def test_one_subscriber_per_ssn_in_the_file_and_on_the_roster():
    rows = family("123-45-6789") + family("123-45-6789", first="Twin") + family("456-78-9012", first="Ari")
    errors = rejected(csv_text(rows), existing_subscribers={"456789012": "M000000042"})
    assert "row 2" in errors["row 3"]["ssn"][0]
    assert "M000000042" in errors["row 4"]["ssn"][0]


def test_a_subscriber_also_covered_as_a_dependent_is_flagged_not_refused():
    rows = family("123-45-6789", spouse_ssn="456-78-9012") + family("456-78-9012", first="Sam")
    rows += family("567-89-0123", first="Lee")
    families = census.validate(census.parse(csv_text(rows)), OFFERINGS, TODAY,
                               covered_dependents={"567890123": "M000000007"})
    assert [f.also_dependent_elsewhere for f in families] == [False, True, True]


def test_files_that_are_not_a_census_at_all():
    assert rejected("")["file"]
    errors = rejected("first_name,last_name\nDana,Whitfield\n")
    assert set(errors["row 1"]) >= {"ssn", "subscriber_ssn", "effective_date"}
    assert rejected(csv_text([]))["file"] == ["No member rows."]


def test_the_file_size_is_bounded(monkeypatch):
    monkeypatch.setattr(census, "MAX_ROWS", 3)
    assert "More than 3 rows" in rejected(csv_text(family("123-45-6789") * 4))["file"][0]


def test_ten_thousand_rows_check_in_seconds():
    rows = []
    for number in range(5000):
        subscriber = "1%02d-%02d-%04d" % (number % 99 + 1, number % 97 + 1, number + 1)
        rows.append(row(ssn=subscriber, first="P%d" % number))
        if number % 2:
            rows.append(row("spouse", "2%02d-%02d-%04d" % (number % 99 + 1, number % 97 + 1, number + 1),
                            subscriber, "S%d" % number, "1985-01-01"))
        if number % 3:
            rows.append(row("child", "3%02d-%02d-%04d" % (number % 99 + 1, number % 97 + 1, number + 1),
                            subscriber, "C%d" % number, "2014-01-01"))
    text = csv_text(rows[:10_000])
    began = time.perf_counter()
    families = census.validate(census.parse(text), OFFERINGS, TODAY)
    elapsed = time.perf_counter() - began
    assert sum(len(f.rows) for f in families) == 10_000
    assert elapsed < 5, "checking 10,000 rows took %.1f s" % elapsed
