"""Queries for a lead's follow-up once it has an owner: Accept and Not mine (each once), and the clock's claims
of the reminder, the escalation and the rating prompt and its reminder (each once, whatever number of clocks).

Every claim is a conditional UPDATE of the `*_at` column that stands for the message (`… WHERE x IS NULL`),
made before the message is queued: whoever the UPDATE returns rows to sends them (storage/claims.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from storage.claims import claim_one, claim_rows
from storage.models import Lead, LeadRating

OPEN = ("assigned", "unassigned")
STATUSES = ("unassigned", "assigned", "accepted")
# Every follow-up of a lead falls within this long after its due time (the latest, the rating reminder, after up
# to 20 working days): older leads are never looked at again, so each minute's scan is the index range of recent
# leads (ix_leads_status_due), not the whole history. A lead the clock missed for that long is past helping.
FOLLOW_UP_WINDOW = timedelta(days=60)
# A rating reminder is a working day after the prompt, never less than this: a cheap first cut in SQL before the
# workspace's calendar decides.
RATE_REMINDER_AT_LEAST = timedelta(hours=12)


def lead(*, session: Session, team_id: str, lead_id: int) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.team_id == team_id, Lead.id == lead_id))


def rated_by_owner() -> ColumnElement[bool]:
    """The lead's owner has rated it (a rating of its lead key, by them)."""
    return exists().where(LeadRating.team_id == Lead.team_id, LeadRating.lead_key == Lead.lead_key,
                          LeadRating.rater_user_id == Lead.owner_user_id)


def rated_by_their_owner(*, session: Session, lead_ids: Sequence[int]) -> set[int]:
    """Which of these leads their owner has rated."""
    if not lead_ids:
        return set()
    return set(session.scalars(select(Lead.id).where(Lead.id.in_(lead_ids), rated_by_owner())))


def is_rated_by(*, session: Session, team_id: str, lead_key: str, user_id: str) -> bool:
    return session.scalar(select(exists().where(LeadRating.team_id == team_id, LeadRating.lead_key == lead_key,
                                                LeadRating.rater_user_id == user_id))) or False


def accept(*, session: Session, team_id: str, lead_id: int, owner_user_id: str, now: datetime, accept_minutes: int,
           rate_prompt_at: datetime) -> bool:
    """Record the owner's acceptance (first touch); True for the one click that did it."""
    return claim_one(session, Lead,
                     where=(Lead.team_id == team_id) & (Lead.id == lead_id) & (Lead.owner_user_id == owner_user_id)
                     & (Lead.status == "assigned") & Lead.accepted_at.is_(None),
                     values=dict(status="accepted", accepted_at=now, accept_minutes=accept_minutes,
                                 rate_prompt_at=rate_prompt_at, updated_at=now))


def pass_back(*, session: Session, team_id: str, lead_id: int, owner_user_id: str, now: datetime) -> bool:
    """The owner says it isn't theirs: no owner, open to claim; True for the one click that did it."""
    return claim_one(session, Lead,
                     where=(Lead.team_id == team_id) & (Lead.id == lead_id) & (Lead.owner_user_id == owner_user_id)
                     & (Lead.status == "assigned"),
                     values=dict(status="unassigned", owner_user_id=None, assigned_at=None, updated_at=now))


# --- the clock ------------------------------------------------------------------------------------------------

def _reminder_due(now: datetime) -> ColumnElement[bool]:
    # Only a lead someone holds: one waiting in the sales channel to be claimed has its claim post instead.
    return and_(Lead.status == "assigned", Lead.owner_user_id.is_not(None), Lead.reminded_at.is_(None),
                Lead.remind_at <= now)


def _escalation_due(now: datetime) -> ColumnElement[bool]:
    return and_(Lead.status.in_(OPEN), Lead.escalated_at.is_(None), Lead.due_at <= now)


# A lead its owner has rated is claimed like the others (and sent nothing): every accepted lead passes each stage
# once, so what the clock scans each minute stays the few leads in flight, never the rated history.
def _rate_prompt_due(now: datetime) -> ColumnElement[bool]:
    return and_(Lead.status == "accepted", Lead.rate_prompted_at.is_(None), Lead.rate_prompt_at <= now)


def _rate_reminder_maybe_due(now: datetime) -> ColumnElement[bool]:
    return and_(Lead.status == "accepted", Lead.rate_prompted_at <= now - RATE_REMINDER_AT_LEAST,
                Lead.rate_reminded_at.is_(None))


def _in_flight(now: datetime) -> ColumnElement[bool]:
    """Routed leads recent enough to have a follow-up left, as a range of ix_leads_status_due."""
    return and_(Lead.status.in_(STATUSES), Lead.due_at >= now - FOLLOW_UP_WINDOW, Lead.routing_pending.is_(False))


def teams_with_follow_ups_due(*, session: Session, now: datetime) -> list[str]:
    """Workspaces with a lead whose reminder, escalation, rating prompt or (perhaps) rating reminder is due."""
    due = or_(_reminder_due(now), _escalation_due(now), _rate_prompt_due(now), _rate_reminder_maybe_due(now))
    return list(session.scalars(
        select(Lead.team_id).distinct().where(_in_flight(now), due).order_by(Lead.team_id)))


def _claim(session: Session, team_id: str, due: ColumnElement[bool], values: dict, now: datetime) -> list[Lead]:
    """Claim the workspace's leads matching `due`; the ones this caller won, loaded."""
    ids = [row.id for row in claim_rows(session, Lead, where=(Lead.team_id == team_id) & _in_flight(now) & due,
                                        values=values)]
    if not ids:
        return []
    return list(session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)
                                .execution_options(populate_existing=True)).unique())


def claim_reminders(*, session: Session, team_id: str, now: datetime) -> list[Lead]:
    return _claim(session, team_id, _reminder_due(now), dict(reminded_at=now), now)


def claim_escalations(*, session: Session, team_id: str, now: datetime) -> list[Lead]:
    return _claim(session, team_id, _escalation_due(now), dict(escalated_at=now), now)


def claim_rate_prompts(*, session: Session, team_id: str, now: datetime) -> list[Lead]:
    return _claim(session, team_id, _rate_prompt_due(now), dict(rate_prompted_at=now), now)


def rate_reminder_candidates(*, session: Session, team_id: str, now: datetime) -> list[tuple[int, datetime]]:
    """(id, prompted at) of accepted, unrated leads whose rating reminder may be due; the calendar decides."""
    return [tuple(row) for row in session.execute(
        select(Lead.id, Lead.rate_prompted_at)
        .where(Lead.team_id == team_id, _in_flight(now), _rate_reminder_maybe_due(now)))]


def claim_rate_reminders(*, session: Session, team_id: str, lead_ids: Sequence[int], now: datetime) -> list[Lead]:
    if not lead_ids:
        return []
    return _claim(session, team_id, Lead.id.in_(lead_ids) & _rate_reminder_maybe_due(now),
                  dict(rate_reminded_at=now), now)


def rating_id_by(*, session: Session, team_id: str, lead_key: str, user_id: str) -> int | None:
    """The id of this person's rating of the lead, if they rated it."""
    return session.scalar(select(LeadRating.id).where(LeadRating.team_id == team_id, LeadRating.lead_key == lead_key,
                                                      LeadRating.rater_user_id == user_id))

