"""People's own time: the time zone Slack gives each person, and whether they are away.

A person is away when they said so (`/pulse away until DATE`, through that date in their own zone) or when
their Slack status says so (a holiday or sick emoji, or words like "OOO", "vacation", "out of office") and
hasn't expired. Away people get no pulse prompt or reminder and don't count as asked.

Reminders to a person (messaging asks, lead follow-ups, actions' due dates) come in their own working time: the
workspace's working hours, days and holidays lived in the person's zone (`working_calendars`), so a rep in Tokyo
is reminded at 09:00 Tokyo, not at 15:00 New York in the middle of their night.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.working_time import WorkingCalendar
from bot.zones import zone_named
from storage import people as store
from storage.models import Person
from storage.outbox import Message

# Slack's own "Vacationing" and "Out sick" statuses, and the emoji people use for time off.
AWAY_EMOJI = frozenset({":palm_tree:", ":desert_island:", ":beach_with_umbrella:", ":airplane:",
                        ":airplane_departure:", ":face_with_thermometer:", ":thermometer:", ":sick:"})
AWAY_WORDS = re.compile(
    r"\b(ooo|out[- ]of[- ](the[- ])?office|vacation(ing)?|holidays?|on leave|annual leave|parental leave|"
    r"maternity leave|paternity leave|pto|out sick|off sick|sick leave|time off|day off)\b",
    re.IGNORECASE,
)


def away_by_status(text: str | None, emoji: str | None) -> bool:
    """Whether a Slack status (its text and emoji) says the person is off work."""
    return bool((emoji and emoji.strip() in AWAY_EMOJI) or (text and AWAY_WORDS.search(text)))


@dataclass(frozen=True)
class PersonTime:
    """One person's zone and time off, as the schedules read them."""

    zone: ZoneInfo
    away_until: date | None = None
    status_away: bool = False
    status_expires_at: datetime | None = None  # None: the status doesn't expire

    @classmethod
    def of(cls, row: Person | None, default_zone: ZoneInfo) -> PersonTime:
        """From what Crossfeed stored of them; someone it knows nothing of is in the workspace's zone."""
        if row is None:
            return cls(zone=default_zone)
        return cls(zone=zone_named(row.timezone) or default_zone, away_until=row.away_until,
                   status_away=away_by_status(row.status_text, row.status_emoji),
                   status_expires_at=row.status_expires_at)

    def is_away(self, now: datetime) -> bool:
        if self.away_until is not None and now.astimezone(self.zone).date() <= self.away_until:
            return True
        return self.status_away and (self.status_expires_at is None or now < self.status_expires_at)


def people_times(*, session: Session, team_id: str, user_ids, default_zone: ZoneInfo) -> dict[str, PersonTime]:
    """Each of these people's time (zone and time off); everyone asked for is in the answer."""
    rows = store.people_of(session=session, team_id=team_id, user_ids=user_ids)
    return {user_id: PersonTime.of(rows.get(user_id), default_zone) for user_id in user_ids}


def working_calendars(*, session: Session, team_id: str, user_ids: Iterable[str],
                      calendar: WorkingCalendar) -> dict[str, WorkingCalendar]:
    """Each person's working time: the workspace's `calendar` (hours, days, holidays) in their own zone, the
    workspace's for someone Crossfeed knows nothing of. Every reminder to a person is timed by this."""
    times = people_times(session=session, team_id=team_id, user_ids=set(user_ids), default_zone=calendar.zone)
    return {user_id: calendar.in_zone(time.zone) for user_id, time in times.items()}


def held_for_working_time(messages: Iterable[Message], *, session: Session, team_id: str,
                          calendar: WorkingCalendar, now: datetime) -> list[Message]:
    """These DMs (each `channel` a person's user id), each held until its person's next working moment: now if
    they are at work, else the start of their next working day. Queued now, delivered then (outbox not_before)."""
    messages = list(messages)
    calendars = working_calendars(session=session, team_id=team_id, user_ids={m.channel for m in messages},
                                  calendar=calendar)
    return [replace(message, not_before=calendars[message.channel].add(now, 0)) for message in messages]
