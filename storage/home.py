"""Queries for the App Home tab: what waits for one person, and what they did lately."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.models import MessagingAnswer, MessagingAsk, PulseParticipation, PulseRound, TeamMember


def team_sizes(*, session: Session, team_id: str) -> dict[str, int]:
    """side → number of members, for the sides that have any."""
    return dict(session.execute(
        select(TeamMember.side, func.count()).where(TeamMember.team_id == team_id).group_by(TeamMember.side)
    ).all())


def _open(team_id: str, now: datetime):
    return and_(MessagingAsk.team_id == team_id, MessagingAsk.closed_at.is_(None), MessagingAsk.closes_at > now)


def _page(session: Session, query, order: Sequence, limit: int) -> tuple[list, int]:
    """The first `limit` rows of `query` and how many rows it has in all, in one round trip."""
    rows = session.execute(query.add_columns(func.count().over().label("total")).order_by(*order).limit(limit)).all()
    return [row[0] for row in rows], (rows[0].total if rows else 0)


def asks_to_answer(*, session: Session, team_id: str, user_id: str, now: datetime,
                   limit: int) -> tuple[list[MessagingAsk], int]:
    """Open asks this person can answer and hasn't: posted to a channel, or DM'd to them; never their own.

    A DM'd ask lists its recipients as a JSON array of user ids, matched as the quoted id in its text.
    """
    answered = exists().where(MessagingAnswer.ask_id == MessagingAsk.id, MessagingAnswer.rep_user_id == user_id)
    sent_to_them = cast(MessagingAsk.recipients, String).contains(f'"{user_id}"', autoescape=True)
    query = select(MessagingAsk).where(
        _open(team_id, now), MessagingAsk.asker_user_id != user_id, ~answered,
        or_(MessagingAsk.audience == "channel", sent_to_them),
    )
    return _page(session, query, (MessagingAsk.closes_at, MessagingAsk.id), limit)


def open_asks_by(*, session: Session, team_id: str, user_id: str, now: datetime,
                 limit: int) -> tuple[list[MessagingAsk], int]:
    """This person's own asks that are still open, newest first."""
    query = select(MessagingAsk).where(_open(team_id, now), MessagingAsk.asker_user_id == user_id)
    return _page(session, query, (MessagingAsk.opened_at.desc(), MessagingAsk.id.desc()), limit)


def recent_answers(*, session: Session, team_id: str, user_id: str,
                   limit: int) -> tuple[list[tuple[int, str, str, datetime]], int]:
    """(ask id, ask name, reaction, answered or changed at) of this person's latest answers, and their count."""
    rows = session.execute(
        select(MessagingAsk.id, MessagingAsk.name, MessagingAnswer.reaction, MessagingAnswer.updated_at,
               func.count().over().label("total"))
        .join(MessagingAsk, MessagingAsk.id == MessagingAnswer.ask_id)
        .where(MessagingAnswer.team_id == team_id, MessagingAnswer.rep_user_id == user_id)
        .order_by(MessagingAnswer.updated_at.desc(), MessagingAnswer.id.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows], (rows[0].total if rows else 0)


def pulse_turns(*, session: Session, team_id: str, user_id: str,
                limit: int) -> tuple[list[tuple[str, datetime, datetime, bool]], int, int]:
    """(period, opens at, closes at, answered) of the latest rounds this person was asked in, newest first,
    with how many rounds they were asked in and answered in all (the ledger never says when or what)."""
    answered = PulseParticipation.answered_via.is_not(None)
    rows = session.execute(
        select(PulseRound.period, PulseRound.opens_at, PulseRound.closes_at, answered,
               func.count().over().label("asked"), func.count(PulseParticipation.answered_via).over().label("done"))
        .join(PulseRound, PulseRound.id == PulseParticipation.round_id)
        .where(PulseParticipation.team_id == team_id, PulseParticipation.user_id == user_id)
        .order_by(PulseRound.opens_at.desc())
        .limit(limit)
    ).all()
    turns = [(r[0], r[1], r[2], bool(r[3])) for r in rows]
    return turns, (rows[0].asked if rows else 0), (rows[0].done if rows else 0)
