"""Handed-off leads put straight into the database, as bot.handoff.receive_lead and the follow-up clock leave them,
for the tests of what leaders, marketers and reps see of them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.text import lead_key
from bot.working_time import WorkingCalendar
from storage.models import Lead, LeadSource
from tests.helpers import TEAM

NY = ZoneInfo("America/New_York")
# The workspace's default working week, in New York: Monday to Friday, 09:00 to 17:00.
CALENDAR = WorkingCalendar.of(zone=NY, start="09:00", end="17:00", days=["mon", "tue", "wed", "thu", "fri"],
                              holidays=[])


def hand_off(crossfeed, crm_id: str, received_at: datetime, *, source: str | None = None, owner: str | None = "U1",
             accepted_at: datetime | None = None, sla_minutes: int = 60, campaign: str | None = None,
             name: str | None = None, company: str | None = None, url: str | None = None,
             escalated_at: datetime | None = None,
             calendar: WorkingCalendar = CALENDAR) -> int:
    """A lead received at `received_at` (its clock set then, in working time), owned by `owner`, accepted at
    `accepted_at` if given; `source` is a source code of the workspace."""
    with crossfeed.transaction() as session:
        source_id = session.scalar(select(LeadSource.id).where(LeadSource.team_id == TEAM,
                                                               LeadSource.code == source)) if source else None
        assert source is None or source_id is not None, f"no source {source}"
        lead = Lead(
            team_id=TEAM, crm_id=crm_id, lead_key=lead_key(crm_id), name=name, company=company, source_id=source_id,
            campaign=campaign, url=url, owner_given=owner, owner_user_id=owner,
            status="accepted" if accepted_at else "assigned" if owner else "unassigned", routing_pending=False,
            received_at=received_at, updated_at=accepted_at or received_at, sla_minutes=sla_minutes,
            remind_at=calendar.add(received_at, sla_minutes / 2), due_at=calendar.add(received_at, sla_minutes),
            assigned_at=received_at if owner else None, accepted_at=accepted_at,
            accept_minutes=round(calendar.minutes_between(received_at, accepted_at)) if accepted_at else None,
            escalated_at=escalated_at,
        )
        session.add(lead)
        session.flush()
        return lead.id
