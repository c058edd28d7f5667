"""Rows for the CSV export: lead ratings, messaging answers (pulse goes out as aggregates only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    LeadRating,
    LeadRatingReason,
    LeadSource,
    MessagingAnswer,
    MessagingAsk,
    MessagingUsage,
    PulseRound,
    ReasonCode,
)


def lead_rating_rows(*, session: Session, team_id: str, since: datetime) -> list[tuple]:
    reasons: dict[int, list[str]] = {}
    for rating_id, code in session.execute(
        select(LeadRatingReason.rating_id, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == LeadRatingReason.reason_id)
        .where(LeadRatingReason.team_id == team_id, LeadRatingReason.rated_at >= since)
        .order_by(ReasonCode.position)
    ):
        reasons.setdefault(rating_id, []).append(code)
    rows = session.execute(
        select(LeadRating.id, LeadRating.rated_at, LeadRating.updated_at, LeadRating.rater_user_id,
               LeadRating.lead_ref, LeadRating.rating, LeadSource.label, LeadRating.source_text,
               LeadRating.campaign, LeadRating.note)
        .outerjoin(LeadSource, LeadSource.id == LeadRating.source_id)
        .where(LeadRating.team_id == team_id, LeadRating.rated_at >= since)
        .order_by(LeadRating.rated_at, LeadRating.id)
    ).all()
    return [(*row[1:6], " ".join(reasons.get(row[0], [])), *row[6:]) for row in rows]


def messaging_answer_rows(*, session: Session, team_id: str, since: datetime) -> list[tuple]:
    places: dict[int, list[str]] = {}
    for answer_id, place in session.execute(
        select(MessagingUsage.answer_id, MessagingUsage.used_in).where(MessagingUsage.team_id == team_id)
    ):
        places.setdefault(answer_id, []).append(place)
    rows = session.execute(
        select(MessagingAnswer.id, MessagingAsk.id, MessagingAsk.name, MessagingAsk.asker_user_id,
               MessagingAnswer.rep_user_id, MessagingAnswer.reaction, MessagingAnswer.buyer_stage,
               MessagingAnswer.buyer_quote, MessagingAnswer.suggestion, MessagingAnswer.answered_at,
               MessagingAnswer.updated_at)
        .join(MessagingAsk, MessagingAsk.id == MessagingAnswer.ask_id)
        .where(MessagingAnswer.team_id == team_id, MessagingAnswer.updated_at >= since)
        .order_by(MessagingAnswer.updated_at, MessagingAnswer.id)
    ).all()
    return [(*row[1:6], " ".join(sorted(places.get(row[0], []))), *row[6:]) for row in rows]


def rounds_for_periods(*, session: Session, team_id: str, periods: list[str]) -> list[PulseRound]:
    """The pulse rounds of these weeks (a round's period is its ISO week, as in the digest)."""
    return list(session.scalars(
        select(PulseRound).where(PulseRound.team_id == team_id, PulseRound.period.in_(periods))
        .order_by(PulseRound.opens_at)
    ))
