"""The business clock: carrier time zone, set_today / BUSINESS_DATE precedence, whole-day arithmetic."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from servicekit import clock


@pytest.fixture(autouse=True)
def real_clock(monkeypatch):
    monkeypatch.delenv("BUSINESS_DATE", raising=False)
    monkeypatch.delenv("CARRIER_TIMEZONE", raising=False)
    clock.reset()
    yield
    clock.reset()


def is_real_today(read_today):
    # Read the real date either side, so a test running across midnight still passes.
    before = datetime.now(ZoneInfo("America/New_York")).date()
    value = read_today()
    after = datetime.now(ZoneInfo("America/New_York")).date()
    return before <= value <= after


def at_utc(*args):
    instant = datetime(*args, tzinfo=timezone.utc)
    return lambda: instant


def test_today_is_the_carrier_date_not_the_utc_date(monkeypatch):
    # 03:30 UTC on 1 March is 22:30 on 28 February in New York (EST, UTC-5).
    monkeypatch.setattr(clock, "_utc_wall_clock", at_utc(2026, 3, 1, 3, 30))
    assert clock.today() == date(2026, 2, 28)
    assert clock.now() == datetime(2026, 2, 28, 22, 30, tzinfo=ZoneInfo("America/New_York"))
    assert clock.now().utcoffset().total_seconds() == -5 * 3600
    assert clock.utcnow() == datetime(2026, 3, 1, 3, 30, tzinfo=timezone.utc)


def test_daylight_saving_time_is_followed(monkeypatch):
    # In July New York is UTC-4: 03:30 UTC is still the previous evening.
    monkeypatch.setattr(clock, "_utc_wall_clock", at_utc(2026, 7, 1, 3, 30))
    assert clock.today() == date(2026, 6, 30)
    assert clock.now().utcoffset().total_seconds() == -4 * 3600
    monkeypatch.setattr(clock, "_utc_wall_clock", at_utc(2026, 7, 1, 4, 30))
    assert clock.today() == date(2026, 7, 1)


def test_carrier_timezone_comes_from_config(monkeypatch):
    monkeypatch.setattr(clock, "_utc_wall_clock", at_utc(2026, 3, 1, 3, 30))
    clock.configure({"CARRIER_TIMEZONE": "Asia/Tokyo"})
    assert clock.timezone_name() == "Asia/Tokyo"
    assert clock.today() == date(2026, 3, 1)
    assert clock.now().tzinfo == ZoneInfo("Asia/Tokyo")


def test_real_time_without_settings():
    assert is_real_today(clock.today)
    assert abs((clock.utcnow() - datetime.now(timezone.utc)).total_seconds()) < 5


def test_business_date_from_config_fixes_today_but_time_still_moves(monkeypatch):
    clock.configure({"BUSINESS_DATE": "2026-01-15"})
    assert clock.today() == date(2026, 1, 15)
    monkeypatch.setattr(clock, "_utc_wall_clock", at_utc(2030, 5, 5, 14, 0))  # 10:00 in New York (EDT)
    assert clock.now() == datetime(2026, 1, 15, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    # Record timestamps stay real so token and revocation times agree across processes.
    assert clock.utcnow() == datetime(2030, 5, 5, 14, 0, tzinfo=timezone.utc)


def test_business_date_from_environment(monkeypatch):
    monkeypatch.setenv("BUSINESS_DATE", "2001-02-01")
    clock.reset()
    assert clock.today() == date(2001, 2, 1)
    # An empty value in the service config means real time, even if the environment says otherwise.
    clock.configure({"BUSINESS_DATE": ""})
    assert is_real_today(clock.today)


def test_empty_or_null_business_date_means_real_time():
    clock.configure({"BUSINESS_DATE": "2001-01-15"})
    clock.configure({"BUSINESS_DATE": None})  # how YAML reads `${BUSINESS_DATE:}`
    assert is_real_today(clock.today)


def test_set_today_wins_and_reset_restores():
    clock.configure({"BUSINESS_DATE": "2026-01-15"})
    clock.set_today(date(2027, 6, 1))
    assert clock.today() == date(2027, 6, 1)
    # A container starting mid-test re-configures, but must not undo the test's date.
    clock.configure({"BUSINESS_DATE": "2026-01-15"})
    assert clock.today() == date(2027, 6, 1)
    clock.set_today("2027-06-02")
    assert clock.today() == date(2027, 6, 2)
    clock.reset()
    assert is_real_today(clock.today)


def test_bad_settings_fail_loudly():
    with pytest.raises(ValueError, match="BUSINESS_DATE"):
        clock.configure({"BUSINESS_DATE": "15/01/2026"})
    with pytest.raises(Exception):
        clock.configure({"CARRIER_TIMEZONE": "Mars/Olympus_Mons"})
    with pytest.raises(TypeError):
        clock.set_today(datetime(2026, 1, 1, 12, 0))


@pytest.mark.parametrize("event_date, request_date, days", [
    (date(2026, 1, 1), date(2026, 1, 31), 30),
    (date(2026, 1, 1), date(2026, 2, 1), 31),
    (date(2026, 2, 1), date(2026, 3, 1), 28),
    (date(2028, 2, 1), date(2028, 3, 1), 29),  # leap year
    (date(2026, 1, 10), date(2026, 1, 10), 0),
    (date(2026, 1, 10), date(2026, 1, 5), -5),
])
def test_days_between_counts_whole_days(event_date, request_date, days):
    assert clock.days_between(event_date, request_date) == days


def test_within_thirty_days_is_inclusive_of_day_thirty():
    # DOMAIN.md: "within N days" means request_date - event_date <= N.
    marriage = date(2026, 3, 1)
    assert clock.days_between(marriage, date(2026, 3, 31)) <= 30
    assert not clock.days_between(marriage, date(2026, 4, 1)) <= 30


def test_days_between_datetimes_uses_business_dates():
    new_york = ZoneInfo("America/New_York")
    late = datetime(2026, 3, 1, 23, 0, tzinfo=new_york)
    early = datetime(2026, 3, 2, 1, 0, tzinfo=new_york)
    assert clock.days_between(late, early) == 1
    # 02:00 UTC on 2 March is still 1 March in New York.
    assert clock.days_between(date(2026, 3, 1), datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)) == 0
    with pytest.raises(ValueError):
        clock.days_between(datetime(2026, 3, 1), date(2026, 3, 2))


def test_a_business_date_file_moves_the_clock_and_its_removal_restores_it(tmp_path, monkeypatch):
    path = str(tmp_path / "business-date")
    monkeypatch.setenv("BUSINESS_DATE_FILE", path)
    monkeypatch.setenv("BUSINESS_DATE", "2027-01-05")
    clock.reset()
    try:
        assert clock.today() == date(2027, 1, 5)          # no file yet: BUSINESS_DATE
        clock.write_date_file(path, date(2027, 3, 31))
        assert clock.today() == date(2027, 3, 31)
        clock.write_date_file(path, "2027-04-01")         # a second write at once is seen too
        assert clock.today() == date(2027, 4, 1)
        assert clock.now().date() == date(2027, 4, 1)
        clock.set_today(date(2026, 12, 1))                # an in-process override still wins
        assert clock.today() == date(2026, 12, 1)
        clock.reset()
        clock.write_date_file(path, None)                 # an empty file: no override
        assert clock.today() == date(2027, 1, 5)
    finally:
        monkeypatch.delenv("BUSINESS_DATE_FILE")
        monkeypatch.delenv("BUSINESS_DATE")
        clock.reset()
