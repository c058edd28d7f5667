"""Small readers for assertions: what is in the database."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import LeadRating, LeadSource, OutboxMessage


def ratings(crossfeed) -> list[LeadRating]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(LeadRating).order_by(LeadRating.id)).unique())


def rating_count(crossfeed) -> int:
    with crossfeed.sessions() as session:
        return session.scalar(select(func.count()).select_from(LeadRating))


def outbox(crossfeed) -> list[OutboxMessage]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def sources(crossfeed) -> list[LeadSource]:
    with crossfeed.sessions() as session:
        return list(session.scalars(select(LeadSource).order_by(LeadSource.position)))


def reason_codes(rating: LeadRating) -> list[str]:
    return [reason.code for reason in rating.reasons]
