"""`/alignment setup`: the configuration as the modal shows it, and what saving changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

THRESHOLD_MIN = 3  # fewer answers would let people work out who said what
THRESHOLD_MAX = 50
ASK_REMINDER_HOURS_MAX = 336  # two weeks: an ask stays open 14 days by default
LEAD_SLA_MINUTES_MAX = 2400  # five 8-hour working days
LEAD_RATE_AFTER_DAYS_MAX = 20
HOLIDAYS_MAX = 100
DEFINITION_MAX = 1000
PULSE_REMINDER_HOURS_MAX = 168  # and always before the round closes (pulse_open_hours, 72 by default)
SKIPPED_WEEKS_MAX = 100


class CodeLine(BaseModel):
    """One reason code or source as the form writes it: `code: Label`."""

    code: str
    label: str


@dataclass(frozen=True)
class SetupState:
    """The current configuration, as the modal shows it."""

    digest_channels: list[str]
    sales_channel: str | None
    lead_feed_channel: str | None
    usergroups: dict[str, str]  # side → user group id
    members: dict[str, list[str]]  # side → people added by hand
    synced_counts: dict[str, int]  # side → people who came from the user group
    leaders: list[str]
    pulse_cadence: str
    pulse_day: str
    pulse_time: str
    pulse_questions: list[str]
    digest_day: str
    digest_time: str
    timezone: str
    anonymity_threshold: int
    bad_reasons: list[CodeLine]
    good_reasons: list[CodeLine]
    sources: list[CodeLine]
    allow_new_sources: bool
    typed_sources: list[tuple[str, int]]  # sources reps typed that match none, with how many ratings name each
    ask_reminder_hours: int = 24  # hours after a messaging ask opens that reps who haven't answered are reminded
    # Lead handoff: the follow-up SLA in working minutes, the working week, who hears of a breach, when to ask for
    # a rating, and what both teams call a qualified lead.
    lead_sla_minutes: int = 60
    work_start: str = "09:00"
    work_end: str = "17:00"
    work_days: list[str] = field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    holidays: list[str] = field(default_factory=list)  # ISO dates
    lead_escalation_user_id: str | None = None
    lead_rate_after_days: int = 1
    qualified_lead_definition: str | None = None
    # The pulse reminder, hours after a round opens (before it closes, pulse_open_hours after), and the ISO weeks
    # ("2026-W52") in which no round opens.
    pulse_reminder_hours: int = 24
    pulse_open_hours: int = 72
    skipped_pulse_weeks: list[str] = field(default_factory=list)
    ask_open_days: int = 14  # how long a messaging ask stays open when the asker doesn't choose
    # Targets the digest and leaders' Home read figures against (None: no target).
    alignment_target: int | None = None
    lead_quality_target: float | None = None
    lead_quality_target_kind: str = "average"  # "average" (a rating 1–5) or "good" (% of ratings 4–5)


@dataclass(frozen=True)
class SavedSetup:
    """What saving changed, for the confirmation, and the user groups to read after the ack."""

    changes: list[str]
    groups_to_sync: dict[str, str]
