"""Queries for pulse rounds, the participation ledger and the anonymous answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from storage.models import PulseAnswer, PulseComment, PulseParticipation, PulseRound, TeamMember
from storage.queries import dialect_insert


def create_round(*, session: Session, team_id: str, period: str, **values) -> int | None:
    """Insert the round for this period; None when it already exists (another clock won)."""
    return session.scalar(
        dialect_insert(session, PulseRound)
        .values(team_id=team_id, period=period, **values)
        .on_conflict_do_nothing(index_elements=["team_id", "period"])
        .returning(PulseRound.id)
    )


def pulse_round(*, session: Session, round_id: int) -> PulseRound | None:
    return session.get(PulseRound, round_id)


def open_round(*, session: Session, team_id: str, now: datetime) -> PulseRound | None:
    return session.scalar(
        select(PulseRound)
        .where(PulseRound.team_id == team_id, PulseRound.opens_at <= now, PulseRound.closes_at > now)
        .order_by(PulseRound.opens_at.desc())
        .limit(1)
    )


def last_closed_round(*, session: Session, team_id: str, now: datetime) -> PulseRound | None:
    return session.scalar(
        select(PulseRound)
        .where(PulseRound.team_id == team_id, PulseRound.closes_at <= now)
        .order_by(PulseRound.closes_at.desc())
        .limit(1)
    )


def rounds_due_for_reminders(*, session: Session, now: datetime) -> Sequence[PulseRound]:
    return session.scalars(
        select(PulseRound).where(
            PulseRound.reminders_queued.is_(False), PulseRound.remind_at <= now, PulseRound.closes_at > now
        )
    ).all()


def claim_reminders(*, session: Session, round_id: int) -> bool:
    """Mark the round's reminders as queued; only one caller ever wins."""
    return session.execute(
        update(PulseRound)
        .where(PulseRound.id == round_id, PulseRound.reminders_queued.is_(False))
        .values(reminders_queued=True)
    ).rowcount == 1


def enrol_team_members(*, session: Session, team_id: str, round_id: int) -> list[str]:
    """Copy today's team members into the round's ledger; returns who was enrolled."""
    members = session.execute(
        select(TeamMember.user_id, TeamMember.side).where(TeamMember.team_id == team_id).order_by(TeamMember.id)
    ).all()
    if members:
        session.execute(
            dialect_insert(session, PulseParticipation).on_conflict_do_nothing(),
            [dict(team_id=team_id, round_id=round_id, user_id=user_id, side=side) for user_id, side in members],
        )
    return [user_id for user_id, _ in members]


def participation(*, session: Session, round_id: int, user_id: str) -> PulseParticipation | None:
    return session.scalar(
        select(PulseParticipation).where(
            PulseParticipation.round_id == round_id, PulseParticipation.user_id == user_id
        )
    )


def non_responders(*, session: Session, round_id: int) -> list[str]:
    return list(session.scalars(
        select(PulseParticipation.user_id)
        .where(PulseParticipation.round_id == round_id, PulseParticipation.answered_via.is_(None))
        .order_by(PulseParticipation.id)
    ))


def mark_answered(*, session: Session, round_id: int, user_id: str, via: str) -> bool:
    """Record that the person answered, by `via`; False if they already answered another way."""
    return session.execute(
        update(PulseParticipation)
        .where(
            PulseParticipation.round_id == round_id,
            PulseParticipation.user_id == user_id,
            (PulseParticipation.answered_via.is_(None)) | (PulseParticipation.answered_via == via),
        )
        .values(answered_via=via)
    ).rowcount == 1


def save_answer(*, session: Session, team_id: str, round_id: int, respondent: str, question: int, side: str,
                score: int) -> None:
    statement = dialect_insert(session, PulseAnswer).values(
        team_id=team_id, round_id=round_id, respondent=respondent, question=question, side=side, score=score
    )
    session.execute(statement.on_conflict_do_update(
        index_elements=["round_id", "respondent", "question"], set_=dict(score=score)
    ))


def answers_of(*, session: Session, round_id: int, respondent: str) -> dict[int, int]:
    rows = session.execute(
        select(PulseAnswer.question, PulseAnswer.score)
        .where(PulseAnswer.round_id == round_id, PulseAnswer.respondent == respondent)
    ).all()
    return dict(rows)


def save_comment(*, session: Session, team_id: str, round_id: int, respondent: str, side: str, text: str) -> None:
    statement = dialect_insert(session, PulseComment).values(
        team_id=team_id, round_id=round_id, respondent=respondent, side=side, text=text
    )
    session.execute(statement.on_conflict_do_update(
        index_elements=["round_id", "respondent"], set_=dict(text=text)
    ))


def comment_of(*, session: Session, round_id: int, respondent: str) -> str | None:
    return session.scalar(
        select(PulseComment.text).where(PulseComment.round_id == round_id, PulseComment.respondent == respondent)
    )


def score_aggregates(*, session: Session, round_id: int) -> list[tuple[str, int, int, float]]:
    """(side, question, respondents, average score) per team and question, aggregated in SQL."""
    return [tuple(row) for row in session.execute(
        select(PulseAnswer.side, PulseAnswer.question, func.count(), func.avg(PulseAnswer.score))
        .where(PulseAnswer.round_id == round_id)
        .group_by(PulseAnswer.side, PulseAnswer.question)
        .order_by(PulseAnswer.side, PulseAnswer.question)
    ).all()]


def respondents_by_side(*, session: Session, round_id: int) -> dict[str, int]:
    return dict(session.execute(
        select(PulseAnswer.side, func.count(func.distinct(PulseAnswer.respondent)))
        .where(PulseAnswer.round_id == round_id)
        .group_by(PulseAnswer.side)
    ).all())


def participation_by_side(*, session: Session, round_id: int) -> dict[str, tuple[int, int]]:
    """side → (asked, answered)."""
    rows = session.execute(
        select(PulseParticipation.side, func.count(),
               func.count(PulseParticipation.answered_via))
        .where(PulseParticipation.round_id == round_id)
        .group_by(PulseParticipation.side)
    ).all()
    return {side: (asked, answered) for side, asked, answered in rows}


def comments(*, session: Session, round_id: int, side: str) -> list[str]:
    # Ordered by text, not by arrival, so the order says nothing about who wrote what.
    return list(session.scalars(
        select(PulseComment.text)
        .where(and_(PulseComment.round_id == round_id, PulseComment.side == side))
        .order_by(PulseComment.text)
    ))
