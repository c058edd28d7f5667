"""Lead follow-up as leaders, marketers and reps see it: the digest's section, Home's lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def working_duration(minutes: float) -> str:
    """Working minutes as people say them: "45 min", "2 h", "2 h 5 min" (to the nearest minute)."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


@dataclass(frozen=True)
class SourceBreaches:
    label: str
    leads: int  # the source's leads handed off in the week
    breaches: int  # accepted late, or still open past their due time


@dataclass(frozen=True)
class SourceWait:
    """The source whose leads waited longest: the median of its leads' working minutes from arrival to
    acceptance, a lead still open counting the working minutes it has waited so far."""

    label: str
    leads: int
    still_open: int
    median_minutes: float


@dataclass(frozen=True)
class FollowUpSection:
    """The digest's "Follow-up": the leads handed off in its week (by arrival) and how fast sales took them up."""

    handed_off: int
    accepted: int
    within_sla: int  # accepted within their SLA
    decided: int  # accepted, or open past their due time: the leads whose SLA is met or missed
    median_minutes: float | None  # working minutes to accept, over the accepted leads
    p90_minutes: float | None
    breaches: tuple[SourceBreaches, ...]  # most breaches first
    rated: int  # handed-off leads a rep has rated
    still_open: int
    slowest: SourceWait | None = None  # among sources with at least MIN_SOURCE_LEADS leads

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.decided if self.decided else None


@dataclass(frozen=True)
class SourceFollowUpLine:
    """One source's follow-up over Home's weeks."""

    label: str
    leads: int
    within_sla: int
    decided: int
    median_minutes: float | None

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.decided if self.decided else None


@dataclass(frozen=True)
class OpenLead:
    """A lead waiting for its owner to accept it, with the working time left (negative: overdue by that much)."""

    id: int
    crm_id: str
    name: str | None
    company: str | None
    source: str | None
    url: str | None
    received_at: datetime
    due_at: datetime
    minutes_left: float
