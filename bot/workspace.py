"""Workspace settings an admin can change from Slack: time zone and the pulse schedule."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from storage.teams import workspace_config

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_USAGE = ("`/alignment pulse schedule weekly|biweekly <day> <HH:MM>`, "
                  "e.g. `/alignment pulse schedule weekly wed 10:00`")


def set_timezone(*, session: Session, team_id: str, name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput({"timezone": f"“{name[:40]}” isn't a time zone I know. Use a name like "
                                        "`America/New_York` or `Europe/Paris`."}) from None
    workspace_config(session=session, team_id=team_id).timezone = name
    return name


def _day_and_time(words: list[str]) -> tuple[str | None, str | None]:
    day = next((w[:3] for w in words if w[:3] in DAYS), None)
    clock = next((w for w in words if re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", w)), None)
    return day, f"{int(clock.split(':')[0]):02d}:{clock.split(':')[1]}" if clock else None


def set_pulse_schedule(*, session: Session, team_id: str, words: list[str]) -> str:
    """Parse `weekly|biweekly <day> <HH:MM>` and store it; returns how it now reads."""
    cadence = next((w for w in words if w in ("weekly", "biweekly", "fortnightly")), None)
    day, clock = _day_and_time(words)
    if not (cadence and day and clock):
        raise InvalidInput({"schedule": f"I couldn't read that schedule. Write it like {SCHEDULE_USAGE}."})
    config = workspace_config(session=session, team_id=team_id)
    config.pulse_cadence = "weekly" if cadence == "weekly" else "biweekly"
    config.pulse_day, config.pulse_time = day, clock
    every = "every week" if config.pulse_cadence == "weekly" else "every two weeks"
    return f"{every} on {day.title()} at {config.pulse_time}"


def set_digest_schedule(*, session: Session, team_id: str, words: list[str]) -> str:
    """Parse `<day> <HH:MM>` for the weekly digest and store it; returns how it now reads."""
    day, clock = _day_and_time(words)
    if not (day and clock):
        raise InvalidInput({"schedule": "I couldn't read that. Write it like `/alignment digest schedule mon 09:00`."})
    config = workspace_config(session=session, team_id=team_id)
    config.digest_day, config.digest_time = day, clock
    return f"every {day.title()} at {clock}"
