"""Workspace settings an admin changes from Slack, and `/alignment status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.results.digest import Targets

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_USAGE = ("`/alignment pulse schedule weekly|biweekly <day> <HH:MM>`, "
                  "e.g. `/alignment pulse schedule weekly wed 10:00`")


@dataclass(frozen=True)
class WorkspaceStatus:
    """`/alignment status`: the configuration and the next scheduled runs."""

    timezone: str
    team_sizes: dict[str, int]
    usergroups: dict[str, str]
    admins: list[str]
    pulse_schedule: str
    next_pulse: datetime
    thresholds: tuple[int, int]
    digest_channels: list[str]
    digest_schedule: str
    next_digest: datetime | None
    digest_overdue: bool  # next_digest has passed and last week's digest is still to post (the clock is behind)
    sales_channel: str | None
    lead_feed_channel: str | None
    leaders: list[str]
    ask_reminder_hours: int = 24
    ask_open_days: int = 14
    pulse_reminder_hours: int = 24
    skipped_weeks: list[str] = field(default_factory=list)  # this week's and later ones
    targets: Targets = field(default_factory=Targets)
