"""Working time: a workspace's working hours, days and holidays, in its time zone.

A lead's follow-up clock runs only in working time: a lead that arrives on Friday at 16:30 with a one-hour SLA
is due on Monday at 09:30. Every window is built from the local date and wall-clock times and then converted
to UTC, so a DST change moves nothing a person would call "09:00", and durations are real elapsed minutes
inside those windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with working days always has one within a week; holidays could in theory fill years. Past this many
# days the arithmetic stops rather than loop: a setup that allows no working time at all is refused by setup.
_HORIZON_DAYS = 3 * 366


class NoWorkingTime(ValueError):
    """The calendar has no working time within years: no working days, or an empty working day."""


@dataclass(frozen=True)
class WorkingCalendar:
    zone: ZoneInfo
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = frozenset(range(5))  # date.weekday(): Monday is 0
    holidays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, *, zone: ZoneInfo, start: str, end: str, days: Iterable[str], holidays: Iterable[str]
           ) -> WorkingCalendar:
        """From setup's stored form: "09:00", "17:00", ["mon", …], ["2026-12-25", …]."""
        return cls(zone=zone, start=time.fromisoformat(start), end=time.fromisoformat(end),
                   days=frozenset(WEEKDAYS.index(day) for day in days),
                   holidays=frozenset(date.fromisoformat(day) for day in holidays))

    @classmethod
    def of_workspace(cls, config, zone: ZoneInfo) -> WorkingCalendar:
        """A workspace's working week as setup stores it (storage.models.WorkspaceConfig), in `zone`: every
        working-time figure (a lead's clock, the digest's follow-up times, Home) uses this one."""
        return cls.of(zone=zone, start=config.work_start, end=config.work_end, days=config.work_days or (),
                      holidays=config.holidays or ())

    def in_zone(self, zone: ZoneInfo) -> WorkingCalendar:
        """The same working week lived in another zone: a person's own 09:00 to 17:00, holidays on their dates."""
        return replace(self, zone=zone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """A working day's hours in UTC."""
        return (datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC),
                datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC))

    def _windows_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working windows that end after `at`, in order (the first may have begun before it)."""
        day = at.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if self.is_working_day(current):
                opens, closes = self.window(current)
                if closes > at and closes > opens:
                    yield opens, closes
        raise NoWorkingTime("no working time in the next three years")

    def add(self, at: datetime, minutes: float) -> datetime:
        """The moment `minutes` of working time after `at` (which may itself be outside working hours)."""
        remaining = timedelta(minutes=minutes)
        for opens, closes in self._windows_from(at):
            begin = max(at, opens)
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
        raise NoWorkingTime("no working time in the next three years")  # pragma: no cover - the loop raises

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes from `start` to `end` (0 if `end` is not after `start`)."""
        total = timedelta()
        if end <= start:
            return 0.0
        for opens, closes in self._windows_from(start):
            if opens >= end:
                break
            total += min(end, closes) - max(start, opens)
        return total.total_seconds() / 60

    def next_working_day(self, at: datetime, days: int = 1) -> datetime:
        """The same local time `days` working days after `at`'s local date, or the day's opening if `at` was
        earlier, or the day's close if later: "tomorrow", in working days."""
        local = at.astimezone(self.zone)
        day, remaining = local.date(), days
        for _ in range(_HORIZON_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
                if remaining <= 0:
                    wall = min(max(local.time().replace(tzinfo=None), self.start), self.end)
                    return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)
        raise NoWorkingTime("no working day in the next three years")
