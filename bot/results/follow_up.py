"""What the follow-up services return: a handed-off lead as its owner and the escalation's reader see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.results.leads import LeadFormOptions, RatedLead, RatingStart


@dataclass(frozen=True)
class LeadShown:
    """A handed-off lead and where its follow-up clock stands (minutes are working minutes)."""

    id: int
    crm_id: str
    name: str | None
    company: str | None
    source: str | None
    campaign: str | None
    url: str | None
    owner_user_id: str | None
    status: str  # unassigned | assigned | accepted
    received_at: datetime
    due_at: datetime
    accepted_at: datetime | None
    accept_minutes: int | None
    minutes_left: int  # to the SLA, from now (0 once due)
    rated: bool = False  # by its owner

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


@dataclass(frozen=True)
class FollowUpAnswer:
    """What Accept or Not mine did: `changed` is False for a second click that found it already done."""

    lead: LeadShown
    changed: bool


@dataclass(frozen=True)
class LeadReminder:
    """The owner's reminder at half the SLA; `still_theirs` is False once accepted or passed on."""

    lead: LeadShown
    still_theirs: bool


@dataclass(frozen=True)
class LeadEscalation:
    """The breach: the lead, its owner (None: nobody claimed it) and the working minutes it waited."""

    lead: LeadShown
    waited_minutes: int


@dataclass(frozen=True)
class LeadRatePrompt:
    """The owner's nudge to rate a lead they accepted; `reminder` for the one reminder a working day later."""

    lead: LeadShown
    reminder: bool


@dataclass(frozen=True)
class LeadRatingForm:
    """What the Rate button opens: the rating modal, prefilled with the lead (or the owner's rating of it)."""

    options: LeadFormOptions
    rating: RatedLead | None  # the owner's earlier rating of this lead, to edit
    start: RatingStart | None  # else the lead's reference, source and campaign


@dataclass(frozen=True)
class FollowUpCounts:
    """What one clock run queued in a workspace."""

    reminders: int = 0
    escalations: int = 0
    rate_prompts: int = 0
    rate_reminders: int = 0

    def __add__(self, other: FollowUpCounts) -> FollowUpCounts:
        return FollowUpCounts(self.reminders + other.reminders, self.escalations + other.escalations,
                              self.rate_prompts + other.rate_prompts, self.rate_reminders + other.rate_reminders)
