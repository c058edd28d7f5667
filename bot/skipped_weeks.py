"""Weeks with no pulse: ISO weeks ("2026-W52") an admin skips for everyone, read, checked and described.

`bot.pulse.scheduled_round` opens no round in a week listed in the workspace's `skipped_pulse_weeks`, and the
digest of that week says why it has no pulse. The list is kept sorted, each week once.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.results.setup import SKIPPED_WEEKS_MAX
from bot.text import escape_mrkdwn, truncate
from bot.zones import workspace_zone
from storage.digest import round_for_week
from storage.teams import workspace_config

_WEEK = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)
WEEK_EXAMPLE = "2026-W52"
WEEKS_LISTED = 20


def week_label(typed: str) -> str:
    """An ISO week as typed ("2026-W52", "2026-w52", "2026W52") in its one spelling; ValueError naming it if not."""
    match = _WEEK.fullmatch(typed.strip())
    problem = (f"“{escape_mrkdwn(truncate(typed.strip(), 20))}” isn't a week I can read: write it as an ISO week "
               f"like `{WEEK_EXAMPLE}` (year, W, week number).")
    if not match:
        raise ValueError(problem)
    year, number = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, number, 1)  # week 53 exists only in some years; week 0 in none
    except ValueError:
        raise ValueError(f"{year} has no week {number}: ISO weeks run from W01 to W52 (W53 in some years), "
                         f"e.g. `{WEEK_EXAMPLE}`.") from None
    return f"{year}-W{number:02d}"


def week_labels(text: str | None) -> list[str]:
    """Weeks typed one per line or separated by commas or spaces, as sorted ISO labels (each once)."""
    weeks = {week_label(typed) for typed in re.split(r"[\s,;]+", text or "") if typed}
    if len(weeks) > SKIPPED_WEEKS_MAX:
        raise ValueError(f"Keep it to {SKIPPED_WEEKS_MAX} skipped weeks; past ones can go.")
    return sorted(weeks)


def monday_of(label: str) -> date:
    year, _, number = label.partition("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_span(label: str) -> str:
    """"Mon 21 Dec – Sun 27 Dec": the week's days as people read them."""
    monday = monday_of(label)
    sunday = monday + timedelta(days=6)
    return f"Mon {monday.day} {monday:%b} – Sun {sunday.day} {sunday:%b}"


def upcoming(weeks: list[str] | None, today: date) -> list[str]:
    """Of these weeks, this one and those still to come."""
    return [week for week in weeks or [] if monday_of(week) + timedelta(days=6) >= today]


def _today(session: Session, team_id: str, now: datetime, default_zone: str | None) -> date:
    return now.astimezone(workspace_zone(workspace_config(session=session, team_id=team_id), default_zone)).date()


def _not_past(label: str, today: date, verb: str) -> None:
    if monday_of(label) + timedelta(days=6) < today:
        raise InvalidInput({"week": f"{label} ({week_span(label)}) is over, so there is nothing to {verb}. "
                                    f"Name this week or a later one, e.g. `/alignment pulse {verb} {WEEK_EXAMPLE}`."})


def skip_week(*, session: Session, team_id: str, label: str, now: datetime, default_zone: str | None) -> str:
    """Skip a week's pulse (this week or a later one); skipping it again changes nothing. Returns the confirmation."""
    _not_past(label, _today(session, team_id, now, default_zone), "skip")
    config = workspace_config(session=session, team_id=team_id)
    config.skipped_pulse_weeks = sorted({*(config.skipped_pulse_weeks or []), label})
    said = f"No pulse in {label} ({week_span(label)}): no round opens that week, and its digest says why."
    if round_for_week(session=session, team_id=team_id, period=label) is not None:
        said += " This week's round is already open, so it runs to its end."
    return said


def unskip_week(*, session: Session, team_id: str, label: str, now: datetime, default_zone: str | None) -> str:
    """Take a week off the skipped list, so its round opens as scheduled. Returns the confirmation."""
    _not_past(label, _today(session, team_id, now, default_zone), "unskip")
    config = workspace_config(session=session, team_id=team_id)
    if label not in (config.skipped_pulse_weeks or []):
        return f"{label} ({week_span(label)}) wasn't skipped: its pulse opens as scheduled."
    config.skipped_pulse_weeks = [week for week in config.skipped_pulse_weeks if week != label]
    return f"The pulse is back on in {label} ({week_span(label)}): its round opens as scheduled."


def skipped_weeks(*, session: Session, team_id: str, now: datetime, default_zone: str | None) -> str:
    """The weeks still to come (this one included) that have no pulse, as a short list."""
    weeks = upcoming(workspace_config(session=session, team_id=team_id).skipped_pulse_weeks,
                     _today(session, team_id, now, default_zone))
    if not weeks:
        return ("No week is skipped: every round opens as scheduled. Skip one with "
                f"`/alignment pulse skip {WEEK_EXAMPLE}`.")
    listed = "\n".join(f"• {week} ({week_span(week)})" for week in weeks[:WEEKS_LISTED])
    if len(weeks) > WEEKS_LISTED:
        listed += f"\n…and {len(weeks) - WEEKS_LISTED} more"
    return (f"No pulse in these weeks:\n{listed}\n"
            f"`/alignment pulse unskip {WEEK_EXAMPLE}` puts one back.")
