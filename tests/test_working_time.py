"""Working-time arithmetic, checked against hand-worked dates: weekends, holidays, out-of-hours arrivals and
both DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.working_time import NoWorkingTime, WorkingCalendar

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)


def calendar(zone=NEW_YORK, **changes) -> WorkingCalendar:
    settings = dict(start="09:00", end="17:00", days=["mon", "tue", "wed", "thu", "fri"], holidays=[])
    return WorkingCalendar.of(zone=zone, **{**settings, **changes})


def test_inside_one_working_day():
    # Tuesday 2026-12-01 10:15 + 60 working minutes = 11:15.
    assert calendar().add(local(NEW_YORK, 2026, 12, 1, 10, 15), 60) == local(NEW_YORK, 2026, 12, 1, 11, 15)


def test_friday_afternoon_runs_on_into_monday():
    # Friday 16:30 + 60: 30 minutes on Friday, 30 on Monday from 09:00.
    assert calendar().add(local(NEW_YORK, 2026, 12, 4, 16, 30), 60) == local(NEW_YORK, 2026, 12, 7, 9, 30)


def test_a_lead_arriving_at_night_or_at_the_weekend_starts_at_the_next_opening():
    assert calendar().add(local(NEW_YORK, 2026, 12, 1, 22, 0), 30) == local(NEW_YORK, 2026, 12, 2, 9, 30)
    assert calendar().add(local(NEW_YORK, 2026, 12, 5, 11, 0), 30) == local(NEW_YORK, 2026, 12, 7, 9, 30)
    assert calendar().add(local(NEW_YORK, 2026, 12, 1, 7, 0), 30) == local(NEW_YORK, 2026, 12, 1, 9, 30)


def test_holidays_are_skipped():
    # Thursday 2026-12-24 16:45 + 60, with the 25th a holiday: 15 minutes on Thursday, then Monday the 28th.
    holidays = calendar(holidays=["2026-12-25"])
    assert holidays.add(local(NEW_YORK, 2026, 12, 24, 16, 45), 60) == local(NEW_YORK, 2026, 12, 28, 9, 45)


def test_working_hours_stay_09_to_17_local_across_both_dst_changes():
    # New York springs forward on Sunday 2026-03-08 and falls back on Sunday 2026-11-01.
    spring = calendar().add(local(NEW_YORK, 2026, 3, 6, 16, 0), 120)
    assert spring == local(NEW_YORK, 2026, 3, 9, 10, 0)
    assert spring.astimezone(NEW_YORK).hour == 10
    autumn = calendar().add(local(NEW_YORK, 2026, 10, 30, 16, 0), 120)
    assert autumn == local(NEW_YORK, 2026, 11, 2, 10, 0)
    # Berlin changes on 2026-03-29 (a Sunday): a Friday-to-Monday span counts 8 working hours, not 7 or 9.
    berlin = calendar(BERLIN)
    assert berlin.minutes_between(local(BERLIN, 2026, 3, 27, 13, 0), local(BERLIN, 2026, 3, 30, 13, 0)) == 480


def test_minutes_between_counts_only_working_time():
    cal = calendar(holidays=["2026-12-25"])
    assert cal.minutes_between(local(NEW_YORK, 2026, 12, 4, 16, 0), local(NEW_YORK, 2026, 12, 7, 10, 0)) == 120
    assert cal.minutes_between(local(NEW_YORK, 2026, 12, 24, 12, 0), local(NEW_YORK, 2026, 12, 28, 12, 0)) == 480
    assert cal.minutes_between(local(NEW_YORK, 2026, 12, 5, 9, 0), local(NEW_YORK, 2026, 12, 6, 17, 0)) == 0
    assert cal.minutes_between(local(NEW_YORK, 2026, 12, 7, 10, 0), local(NEW_YORK, 2026, 12, 7, 9, 0)) == 0


@pytest.mark.parametrize("minutes", [1, 59, 60, 480, 481, 2000])
def test_adding_then_measuring_gives_back_the_minutes(minutes):
    cal = calendar(holidays=["2026-12-25", "2026-12-31"])
    start = local(NEW_YORK, 2026, 12, 23, 15, 17)
    assert cal.minutes_between(start, cal.add(start, minutes)) == pytest.approx(minutes)


def test_next_working_day_keeps_the_local_time_inside_working_hours():
    cal = calendar(holidays=["2026-12-25"])
    assert cal.next_working_day(local(NEW_YORK, 2026, 12, 24, 15, 0)) == local(NEW_YORK, 2026, 12, 28, 15, 0)
    assert cal.next_working_day(local(NEW_YORK, 2026, 12, 1, 20, 0)) == local(NEW_YORK, 2026, 12, 2, 17, 0)
    assert cal.next_working_day(local(NEW_YORK, 2026, 12, 1, 6, 0), days=2) == local(NEW_YORK, 2026, 12, 3, 9, 0)


def test_a_calendar_without_working_time_says_so_instead_of_looping():
    with pytest.raises(NoWorkingTime):
        calendar(days=[]).add(local(NEW_YORK, 2026, 12, 1, 10, 0), 60)
    with pytest.raises(NoWorkingTime):
        calendar(start="17:00", end="09:00").add(local(NEW_YORK, 2026, 12, 1, 10, 0), 60)


def test_a_working_weekend_counts_when_set():
    sunday_shift = calendar(days=["sun", "mon"])
    assert sunday_shift.is_working_day(date(2026, 12, 6)) and not sunday_shift.is_working_day(date(2026, 12, 5))
