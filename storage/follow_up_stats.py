"""Lead follow-up figures: how fast handed-off leads were accepted, in SQL over the leads received in a window.

A lead counts in the window it was received in (by `received_at`), whatever happened to it since, so a week's
figures are about that week's leads. Times to accept are the working minutes stored with each lead when it was
accepted (`accept_minutes`), never recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Lead, LeadRating, LeadSource, WorkspaceConfig


@dataclass(frozen=True)
class FollowUpTotals:
    """Counts over the leads received in a window, as of a moment (`as_of`)."""

    handed_off: int
    accepted: int
    within_sla: int  # accepted in no more working minutes than their SLA
    decided: int  # accepted, or still open past their due time: those whose SLA is met or missed by now
    breached: int  # accepted late, or still open past their due time
    rated: int  # a rating in the workspace names the lead (its lead_key)
    still_open: int  # not accepted (yet)


def _received(team_id: str, start: datetime, end: datetime):
    return and_(Lead.team_id == team_id, Lead.received_at >= start, Lead.received_at < end)


def _accepted():
    return Lead.accepted_at.is_not(None)


def _within_sla():
    return and_(_accepted(), Lead.accept_minutes <= Lead.sla_minutes)


def _overdue(as_of: datetime):
    """Still open, past its due time."""
    return and_(Lead.accepted_at.is_(None), Lead.due_at <= as_of)


def _breached(as_of: datetime):
    return or_(and_(_accepted(), Lead.accept_minutes > Lead.sla_minutes), _overdue(as_of))


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rated(team_id: str, since: datetime):
    """A rating in the workspace given since `since` names the lead. Ratings are found from their (team, time)
    index and matched as one set: lead_ratings has no index on lead_key alone, and a lookup per lead read every
    rating of the workspace (5 s a week on PostgreSQL at 100,000 ratings). A rating given before the window began
    (before the lead was handed off) does not count."""
    return Lead.lead_key.in_(select(LeadRating.lead_key).where(LeadRating.team_id == team_id,
                                                               LeadRating.rated_at >= since))


def totals(*, session: Session, team_id: str, start: datetime, end: datetime, as_of: datetime) -> FollowUpTotals:
    """The window's handed-off leads, accepted, within SLA, breached, rated and still open: one statement."""
    row = session.execute(
        select(func.count(), _count(_accepted()), _count(_within_sla()), _count(or_(_accepted(), _overdue(as_of))),
               _count(_breached(as_of)), _count(_rated(team_id, start)), _count(Lead.accepted_at.is_(None)))
        .where(_received(team_id, start, end))
    ).one()
    return FollowUpTotals(*(int(value) for value in row))


def breaches_by_source(*, session: Session, team_id: str, start: datetime, end: datetime,
                       as_of: datetime) -> list[tuple[str | None, int, int]]:
    """(source label or None, leads, breaches) for each source with a breach in the window, most breaches first."""
    breaches = _count(_breached(as_of))
    rows = session.execute(
        select(LeadSource.label, func.count(), breaches)
        .select_from(Lead).outerjoin(LeadSource, LeadSource.id == Lead.source_id)
        .where(_received(team_id, start, end))
        .group_by(LeadSource.label)
        .having(breaches > 0)
        .order_by(breaches.desc(), LeadSource.label)
    ).all()
    return [(label, int(leads), int(breached)) for label, leads, breached in rows]


def waits(*, session: Session, team_id: str, start: datetime,
          end: datetime) -> list[tuple[str | None, int | None, datetime]]:
    """(source label or None, working minutes to accept or None while open, received_at) for each lead received
    in the window: the rows the median, the 90th percentile and each source's wait are taken from."""
    return [tuple(row) for row in session.execute(
        select(LeadSource.label, Lead.accept_minutes, Lead.received_at)
        .select_from(Lead).outerjoin(LeadSource, LeadSource.id == Lead.source_id)
        .where(_received(team_id, start, end))
        .order_by(Lead.received_at, Lead.id)
    ).all()]


@dataclass(frozen=True)
class SourceFollowUp:
    label: str | None  # None: leads that came without a source
    leads: int
    within_sla: int
    decided: int
    median_minutes: float | None  # over the accepted leads; None when none was accepted


def by_source(*, session: Session, team_id: str, start: datetime, end: datetime,
              as_of: datetime) -> list[SourceFollowUp]:
    """Each source's leads received in the window, how many met their SLA of those decided, and the median working
    minutes to accept: one statement (Home's budget), the median taken in SQL from each source's middle one or two
    accepted leads (row_number over a window, which SQLite and PostgreSQL both have)."""
    label = LeadSource.label.label("label")
    accepted = _accepted()
    place = func.row_number().over(partition_by=(LeadSource.label, accepted), order_by=Lead.accept_minutes)
    per_lead = (
        select(label, Lead.accept_minutes,
               case((_within_sla(), 1), else_=0).label("within"),
               case((or_(accepted, _overdue(as_of)), 1), else_=0).label("decided"),
               place.label("place"),
               func.count(Lead.accept_minutes).over(partition_by=LeadSource.label).label("accepted"))
        .select_from(Lead).outerjoin(LeadSource, LeadSource.id == Lead.source_id)
        .where(_received(team_id, start, end))
        .subquery()
    )
    # The middle row of an odd count n is place (n + 1) / 2; the two middle rows of an even count are n/2 and n/2 + 1:
    # both are the places with n <= 2 × place <= n + 2.
    middle = and_(per_lead.c.accept_minutes.is_not(None), 2 * per_lead.c.place >= per_lead.c.accepted,
                  2 * per_lead.c.place <= per_lead.c.accepted + 2)
    rows = session.execute(
        select(per_lead.c.label, func.count(), func.sum(per_lead.c.within), func.sum(per_lead.c.decided),
               func.avg(case((middle, per_lead.c.accept_minutes))))
        .group_by(per_lead.c.label)
    ).all()
    return [SourceFollowUp(label, int(leads), int(within), int(decided), float(median) if median is not None else None)
            for label, leads, within, decided, median in rows]


@dataclass(frozen=True)
class OpenLeadRow:
    id: int
    crm_id: str
    name: str | None
    company: str | None
    source: str | None
    url: str | None
    received_at: datetime
    due_at: datetime
    total: int  # how many open leads the owner has in all


def open_leads(*, session: Session, team_id: str, user_id: str, limit: int) -> list[OpenLeadRow]:
    """The leads assigned to this person and not accepted yet, soonest due first, cut to `limit`: one statement."""
    rows = session.execute(
        select(Lead.id, Lead.crm_id, Lead.name, Lead.company, LeadSource.label, Lead.url, Lead.received_at,
               Lead.due_at, func.count().over())
        .select_from(Lead).outerjoin(LeadSource, LeadSource.id == Lead.source_id)
        .where(Lead.team_id == team_id, Lead.owner_user_id == user_id, Lead.status == "assigned")
        .order_by(Lead.due_at, Lead.id)
        .limit(limit)
    ).all()
    return [OpenLeadRow(*row) for row in rows]


def owns_open_leads_clause(team_id, user_id):
    """Whether the person has a lead to accept: read with who they are, so Home asks for the list only then."""
    return exists().where(Lead.team_id == team_id, Lead.owner_user_id == user_id, Lead.status == "assigned")


def leads_since_clause(team_id, since):
    """Whether the workspace received a lead since `since`: marketers' Home reads follow-up by source only then."""
    return exists().where(Lead.team_id == team_id, Lead.received_at >= since)


def lead_rows(*, session: Session, team_id: str, since: datetime) -> list[tuple]:
    """Handed-off leads received since `since`, with their follow-up, for the export (oldest first)."""
    rated = _rated(team_id, since).label("rated")
    return [tuple(row) for row in session.execute(
        select(Lead.received_at, Lead.crm_id, Lead.name, Lead.company, LeadSource.label, Lead.source_text,
               Lead.campaign, Lead.owner_user_id, Lead.status, Lead.sla_minutes, Lead.due_at, Lead.accepted_at,
               Lead.accept_minutes, Lead.escalated_at, rated)
        .select_from(Lead).outerjoin(LeadSource, LeadSource.id == Lead.source_id)
        .where(Lead.team_id == team_id, Lead.received_at >= since)
        .order_by(Lead.received_at, Lead.id)
    ).all()]


def qualified_lead_definition(*, session: Session, team_id: str) -> str | None:
    return session.scalar(select(WorkspaceConfig.qualified_lead_definition).where(WorkspaceConfig.team_id == team_id))
