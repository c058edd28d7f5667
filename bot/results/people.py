"""What the time-off commands and the Home tab show of a person's time off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Away:
    """Why a person is away right now: the time off they declared, and/or a Slack status that says so."""

    today: date  # in their own zone
    until: date | None = None  # declared with `/pulse away`, inclusive; None: not declared (or it has passed)
    status_text: str | None = None  # their Slack status, when it says they're away
    status_emoji: str | None = None
    status_expires_at: datetime | None = None  # None: the status doesn't expire

    @property
    def by_status(self) -> bool:
        return bool(self.status_text or self.status_emoji)


@dataclass(frozen=True)
class AwayMarked:
    """`/pulse away until DATE` done: away through `until` (inclusive, in their own zone)."""

    until: date
    today: date


@dataclass(frozen=True)
class BackMarked:
    """`/pulse back` done: whether they had declared time off, and whether their status still says away."""

    was_away: bool
    still_away: Away | None  # their Slack status still says they're away (it isn't Crossfeed's to clear)
    pulse_sent: bool = False  # an open round had marked them away: its pulse is theirs again, in their DMs
