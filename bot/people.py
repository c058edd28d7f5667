"""People's own time: the time zone Slack gives each person, and whether they are away.

A person is away when they said so (`/pulse away until DATE`, through that date in their own zone) or when
their Slack status says so (a holiday or sick emoji, or words like "OOO", "vacation", "out of office") and
hasn't expired. Away people get no pulse prompt or reminder and don't count as asked.

Reminders to a person (messaging asks, lead follow-ups, actions' due dates) come in their own working time: the
workspace's working hours, days and holidays lived in the person's zone (`working_calendars`), so a rep in Tokyo
is reminded at 09:00 Tokyo, not at 15:00 New York in the middle of their night.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidInput
from bot.results.people import Away, AwayMarked, BackMarked
from bot.text import escape_mrkdwn, is_user_id, truncate
from bot.working_time import WorkingCalendar
from bot.zones import workspace_zone, zone_named
from storage import people as store
from storage.models import Person, WorkspaceConfig
from storage.outbox import Message, queue_home_refresh
from storage.teams import team_members, workspace_config

if TYPE_CHECKING:
    from bot.container import ClientFor

logger = logging.getLogger(__name__)

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


def away_now(row: Person | None, *, default_zone: ZoneInfo, now: datetime) -> Away | None:
    """Why this person is away right now (what they declared, what their status says), or None: they aren't."""
    time = PersonTime.of(row, default_zone)
    if row is None or not time.is_away(now):
        return None
    today = now.astimezone(time.zone).date()
    declared = row.away_until if row.away_until is not None and today <= row.away_until else None
    by_status = time.status_away and (time.status_expires_at is None or now < time.status_expires_at)
    return Away(today=today, until=declared,
                status_text=row.status_text if by_status else None,
                status_emoji=row.status_emoji if by_status else None,
                status_expires_at=time.status_expires_at if by_status else None)


# --- what Slack says of a person: users.info, and the user_change and user_status_changed events ----------------

PROFILE_STALE_AFTER = timedelta(days=7)  # a zone rarely changes, and user_change keeps it current in between
PROFILES_PER_CALL = 50  # users.info is Tier 4 (100+ a minute): half of it per workspace per minute
# users.info errors that say this person won't ever be found: recorded as checked, with no zone.
USER_GONE = frozenset({"user_not_found", "user_not_visible"})


def _text_or_none(value: object, limit: int) -> str | None:
    """A Slack string, blank as None, cut to the column that keeps it (Slack's own limits are lower)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return truncate(value.strip(), limit)


class SlackStatus(BaseModel):
    """The part of a Slack profile Crossfeed keeps: the status. Anything unreadable is read as no status."""

    model_config = ConfigDict(extra="ignore")

    status_text: str | None = None
    status_emoji: str | None = None
    status_expiration: datetime | None = None  # Slack's epoch seconds; 0 (no expiry) is None

    @field_validator("status_text", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return _text_or_none(value, 150)

    @field_validator("status_emoji", mode="before")
    @classmethod
    def _emoji(cls, value: object) -> str | None:
        return _text_or_none(value, 100)

    @field_validator("status_expiration", mode="before")
    @classmethod
    def _expiration(cls, value: object) -> datetime | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            seconds = int(value)
            return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None
        except (ValueError, OverflowError, OSError):
            return None


class SlackUser(BaseModel):
    """A Slack user object (users.info, or the user in a user_change event), as far as Crossfeed reads it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    deleted: bool = False
    tz: str | None = None  # an IANA name; one Python doesn't know is no zone
    profile: SlackStatus = SlackStatus()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not is_user_id(value):
            raise ValueError("not a Slack user id")
        return value

    @field_validator("deleted", mode="before")
    @classmethod
    def _deleted(cls, value: object) -> bool:
        return value is True

    @field_validator("tz", mode="before")
    @classmethod
    def _zone(cls, value: object) -> str | None:
        return value if isinstance(value, str) and len(value) <= 64 and zone_named(value) else None

    @classmethod
    def gone(cls, user_id: str) -> SlackUser:
        """Someone Slack no longer shows (deleted, not found): checked, with no zone and no status."""
        return cls(id=user_id, deleted=True)

    def saved(self) -> dict:
        """What storage.people.save_profile keeps of them; a deactivated account has no zone and no status."""
        if self.deleted:
            return dict(timezone=None, status_text=None, status_emoji=None, status_expires_at=None)
        return dict(timezone=self.tz, status_text=self.profile.status_text, status_emoji=self.profile.status_emoji,
                    status_expires_at=self.profile.status_expiration)


def refresh_profiles(*, sessions: sessionmaker[Session], client_for: ClientFor, team_id: str, now: datetime,
                     limit: int = PROFILES_PER_CALL) -> int:
    """Ask Slack (users.info) for the zone and status of up to `limit` team members whose profile Crossfeed
    hasn't checked in the last 7 days (or ever), and keep them; returns how many were stored.

    Slack is asked outside any transaction. Someone Slack can't find, or has deactivated, is stored as checked
    with no zone (so asked again in 7 days, not every minute); any other failure skips that person until the
    next call. A 429 the client's retry handler couldn't wait out ends this call: the rest wait for the next.
    """
    with sessions.begin() as session:
        members = [member.user_id for member in team_members(session=session, team_id=team_id)]
        stale = store.unchecked_since(session=session, team_id=team_id, user_ids=members,
                                      since=now - PROFILE_STALE_AFTER)[:limit]
    if not stale:
        return 0
    client = client_for(team_id)
    found: dict[str, SlackUser] = {}
    for user_id in stale:
        try:
            answer = client.users_info(user=user_id)
        except SlackApiError as error:
            if error.response.status_code == 429:
                logger.warning("users.info is rate limited in %s: %s profile(s) left for the next run", team_id,
                               len(stale) - len(found))
                break
            if error.response.get("error") in USER_GONE:
                found[user_id] = SlackUser.gone(user_id)
            else:
                logger.warning("users.info failed for %s in %s: %s", user_id, team_id, error.response.get("error"))
            continue
        except Exception:
            logger.warning("users.info failed for %s in %s", user_id, team_id, exc_info=True)
            continue
        found[user_id] = _user_in(answer.get("user"), user_id)
    with sessions.begin() as session:
        for user_id, user in found.items():
            store.save_profile(session=session, team_id=team_id, user_id=user_id, now=now, **user.saved())
    return len(found)


def _user_in(data: object, user_id: str) -> SlackUser:
    """The user in a users.info answer; one that can't be read (or is someone else) counts as gone."""
    try:
        user = SlackUser.model_validate(data)
    except ValidationError:
        logger.warning("users.info answered an unreadable user for %s", user_id)
        return SlackUser.gone(user_id)
    return user if user.id == user_id else SlackUser.gone(user_id)


def note_profile(*, session: Session, team_id: str, user: SlackUser, now: datetime) -> bool:
    """Slack says a person's profile or status changed (user_change, user_status_changed): kept for team members
    and people Crossfeed already keeps a row for, ignored for anyone else (no data on the whole workspace)."""
    if not store.is_known(session=session, team_id=team_id, user_id=user.id):
        return False
    store.save_profile(session=session, team_id=team_id, user_id=user.id, now=now, **user.saved())
    return True


# --- `/pulse away until DATE` and `/pulse back` -----------------------------------------------------------------

AWAY_EXAMPLES = ("`/pulse away until 2026-12-24`, `/pulse away Dec 24`, `/pulse away friday` or "
                 "`/pulse away tomorrow`")
AWAY_MAX_DAYS = 365

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), start=1) for name in names}
WEEKDAYS = {name: number for number, names in enumerate((
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun"))) for name in names}
_UNTIL = re.compile(r"^(until|till|til|through|thru)\b\s*")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_DAY = re.compile(r"([a-z]+)\.?\s+" + _ORDINAL + r"(?:\s+(\d{4}))?")
_DAY_MONTH = re.compile(_ORDINAL + r"\s+(?:of\s+)?([a-z]+)\.?(?:\s+(\d{4}))?")


def _written_date(words: str, today: date) -> date | None:
    """The date `words` names, from `today` on: 2026-12-24, Dec 24, 24 Dec, December 24 (the next one, unless a
    year is given), today, tomorrow, or a weekday (the next one, after today). None if it names none."""
    if words == "today":
        return today
    if words == "tomorrow":
        return today + timedelta(days=1)
    weekday = WEEKDAYS.get(words.removeprefix("next "))
    if weekday is not None:
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if match := _ISO_DATE.fullmatch(words):
        year, month, day = (int(part) for part in match.groups())
    elif (match := _MONTH_DAY.fullmatch(words)) and match[1] in MONTHS:
        month, day, year = MONTHS[match[1]], int(match[2]), int(match[3]) if match[3] else None
    elif (match := _DAY_MONTH.fullmatch(words)) and match[2] in MONTHS:
        day, month, year = int(match[1]), MONTHS[match[2]], int(match[3]) if match[3] else None
    else:
        return None
    # Without a year: the next such date (24 Dec asked on 26 Dec is next year's; 29 Feb the next leap year's).
    for candidate in [year] if year else range(today.year, today.year + 5):
        try:
            found = date(candidate, month, day)
        except ValueError:
            continue
        if year or found >= today:
            return found
    return None


def away_until_date(text: str, today: date) -> date:
    """The last day someone is away, as `/pulse away` reads it; a friendly InvalidInput if it can't be used."""
    words = _UNTIL.sub("", " ".join(text.replace(",", " ").split()).casefold())
    if not words:
        raise InvalidInput({"date": "Say until when you're away (the last day you're off)."},
                           usage=f"For example {AWAY_EXAMPLES}.")
    day = _written_date(words, today)
    if day is None:
        raise InvalidInput({"date": f"“{escape_mrkdwn(truncate(words, 40))}” isn't a date I can read."},
                           usage=f"Write it like {AWAY_EXAMPLES}.")
    if day < today:
        raise InvalidInput({"date": f"{day:%a} {day.day} {day:%b %Y} is in the past: give the last day you'll be "
                                    "away."}, usage=f"For example {AWAY_EXAMPLES}.")
    if day > today + timedelta(days=AWAY_MAX_DAYS):
        raise InvalidInput({"date": f"{day:%a} {day.day} {day:%b %Y} is more than a year ahead: mark time off "
                                    "within the next year."}, usage=f"For example {AWAY_EXAMPLES}.")
    return day


def _person_zone(config: WorkspaceConfig, row: Person | None, default_zone: str | None) -> ZoneInfo:
    return PersonTime.of(row, workspace_zone(config, default_zone)).zone


def mark_away(*, session: Session, team_id: str, user_id: str, text: str, now: datetime,
              default_zone: str | None) -> AwayMarked:
    """`/pulse away until DATE`: away through that date, inclusive, in the person's own zone (Slack's, else the
    workspace's). Their Home is refreshed to say so."""
    config = workspace_config(session=session, team_id=team_id)
    row = store.people_of(session=session, team_id=team_id, user_ids=[user_id]).get(user_id)
    today = now.astimezone(_person_zone(config, row, default_zone)).date()
    until = away_until_date(text, today)
    store.save_away_until(session=session, team_id=team_id, user_id=user_id, away_until=until)
    queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=now)
    return AwayMarked(until=until, today=today)


def mark_back(*, session: Session, team_id: str, user_id: str, now: datetime, default_zone: str | None) -> BackMarked:
    """`/pulse back`: their declared time off ends now. A Slack status that says away still counts (it is theirs
    to change, and says so)."""
    config = workspace_config(session=session, team_id=team_id)
    row = store.people_of(session=session, team_id=team_id, user_ids=[user_id]).get(user_id)
    away = away_now(row, default_zone=_person_zone(config, row, default_zone), now=now)
    if row is not None and row.away_until is not None:
        store.save_away_until(session=session, team_id=team_id, user_id=user_id, away_until=None)
    queue_home_refresh(session=session, team_id=team_id, user_ids=[user_id], now=now)
    still_away = replace(away, until=None) if away is not None and away.by_status else None
    return BackMarked(was_away=away is not None and away.until is not None, still_away=still_away)
