"""Queries for messaging asks and answers; tallies are aggregated in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.claims import claim_one
from storage.models import MessagingAnswer, MessagingAsk, MessagingUsage, OutboxMessage, TeamMember
from storage.queries import dialect_insert

REACTIONS = ("resonated", "mixed", "flat", "not_used")


def create_ask(*, session: Session, team_id: str, submission_key: str, **values) -> tuple[int, bool]:
    """Insert the ask once per modal submission; returns (id, created)."""
    created = session.scalar(
        dialect_insert(session, MessagingAsk)
        .values(team_id=team_id, submission_key=submission_key, **values)
        .on_conflict_do_nothing(index_elements=["team_id", "submission_key"])
        .returning(MessagingAsk.id)
    )
    if created is not None:
        return created, True
    existing = session.scalar(select(MessagingAsk.id).where(
        MessagingAsk.team_id == team_id, MessagingAsk.submission_key == submission_key))
    return existing, False


def ask(*, session: Session, team_id: str, ask_id: int) -> MessagingAsk | None:
    return session.scalar(select(MessagingAsk).where(MessagingAsk.team_id == team_id, MessagingAsk.id == ask_id))


def _in_sales_team(team_id, user_id) -> ColumnElement[bool]:
    """Asks are for the sales team; a workspace with no teams at all hasn't said who that is, so everyone is."""
    return or_(
        exists().where(TeamMember.team_id == team_id, TeamMember.side == "sales", TeamMember.user_id == user_id),
        ~exists().where(TeamMember.team_id == team_id),
    )


def counts_in_tally() -> ColumnElement[bool]:
    """Whether an answer counts: its rep is in the sales team (answers stored before asks were limited to
    sales, or by someone who has since left the sales team, don't)."""
    return _in_sales_team(MessagingAnswer.team_id, MessagingAnswer.rep_user_id)


def in_sales_team(*, session: Session, team_id: str, user_id: str) -> bool:
    """Whether this person is someone asks are for."""
    return bool(session.scalar(select(_in_sales_team(team_id, user_id))))


def sales_team_among(*, session: Session, team_id: str, user_ids: Sequence[str]) -> list[str]:
    """The people of `user_ids` that asks are for, in the given order."""
    if not session.scalar(select(exists().where(TeamMember.team_id == team_id))):
        return list(user_ids)
    sales = set(session.scalars(select(TeamMember.user_id).where(
        TeamMember.team_id == team_id, TeamMember.side == "sales", TeamMember.user_id.in_(list(user_ids)))))
    return [user_id for user_id in user_ids if user_id in sales]


def side_of(*, session: Session, team_id: str, user_id: str) -> str | None:
    return session.scalar(select(TeamMember.side).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id))


def open_asks(*, session: Session, team_id: str, now: datetime, limit: int) -> Sequence[MessagingAsk]:
    return session.scalars(
        select(MessagingAsk)
        .where(MessagingAsk.team_id == team_id, MessagingAsk.closed_at.is_(None), MessagingAsk.closes_at > now)
        .order_by(MessagingAsk.closes_at, MessagingAsk.id)
        .limit(limit)
    ).all()


def asks_by(*, session: Session, team_id: str, asker_user_id: str, limit: int) -> Sequence[MessagingAsk]:
    return session.scalars(
        select(MessagingAsk)
        .where(MessagingAsk.team_id == team_id, MessagingAsk.asker_user_id == asker_user_id)
        .order_by(MessagingAsk.opened_at.desc(), MessagingAsk.id.desc())
        .limit(limit)
    ).all()


def asks_named(*, session: Session, team_id: str, typed: str) -> Sequence[MessagingAsk]:
    """Asks whose name contains `typed` (case-insensitive), newest first."""
    return session.scalars(
        select(MessagingAsk)
        .where(MessagingAsk.team_id == team_id, func.lower(MessagingAsk.name).contains(typed.casefold()))
        .order_by(MessagingAsk.opened_at.desc())
        .limit(10)
    ).all()


def asks_due_to_close(*, session: Session, now: datetime) -> Sequence[MessagingAsk]:
    return session.scalars(
        select(MessagingAsk).where(MessagingAsk.closed_at.is_(None), MessagingAsk.closes_at <= now)
    ).all()


def claim_close(*, session: Session, ask_id: int, now: datetime) -> bool:
    """Mark the ask closed; only one caller ever wins."""
    return claim_one(session, MessagingAsk, where=(MessagingAsk.id == ask_id) & MessagingAsk.closed_at.is_(None),
                     values=dict(closed_at=now))


def save_answer(*, session: Session, team_id: str, ask_id: int, rep_user_id: str, used_in: Sequence[str],
                now: datetime, **values) -> int:
    """Insert or replace the rep's one answer to the ask, with where they used it; returns its id."""
    statement = dialect_insert(session, MessagingAnswer).values(
        team_id=team_id, ask_id=ask_id, rep_user_id=rep_user_id, answered_at=now, updated_at=now, **values
    )
    answer_id = session.scalar(statement.on_conflict_do_update(
        index_elements=["ask_id", "rep_user_id"], set_=dict(updated_at=now, **values)
    ).returning(MessagingAnswer.id))
    session.execute(delete(MessagingUsage).where(MessagingUsage.answer_id == answer_id))
    if used_in:
        session.execute(dialect_insert(session, MessagingUsage),
                        [dict(team_id=team_id, answer_id=answer_id, used_in=place) for place in dict.fromkeys(used_in)])
    return answer_id


def usage_counts(*, session: Session, ask_id: int) -> dict[str, int]:
    """Where the ask's messaging was used: place → number of reps."""
    return dict(session.execute(
        select(MessagingUsage.used_in, func.count())
        .join(MessagingAnswer, MessagingAnswer.id == MessagingUsage.answer_id)
        .where(MessagingAnswer.ask_id == ask_id, counts_in_tally())
        .group_by(MessagingUsage.used_in)
        .order_by(func.count().desc(), MessagingUsage.used_in)
    ).all())


def usage_of(*, session: Session, answer_ids: Sequence[int]) -> dict[int, list[str]]:
    places: dict[int, list[str]] = {answer_id: [] for answer_id in answer_ids}
    for answer_id, place in session.execute(
        select(MessagingUsage.answer_id, MessagingUsage.used_in).where(MessagingUsage.answer_id.in_(list(answer_ids)))
    ):
        places[answer_id].append(place)
    return places


def answer_of(*, session: Session, ask_id: int, rep_user_id: str) -> MessagingAnswer | None:
    return session.scalar(select(MessagingAnswer).where(
        MessagingAnswer.ask_id == ask_id, MessagingAnswer.rep_user_id == rep_user_id))


def answers(*, session: Session, ask_id: int) -> Sequence[MessagingAnswer]:
    """The answers that count (from the sales team), latest first."""
    return session.scalars(
        select(MessagingAnswer).where(MessagingAnswer.ask_id == ask_id, counts_in_tally())
        .order_by(MessagingAnswer.updated_at.desc(), MessagingAnswer.id.desc())
    ).all()


def tallies(*, session: Session, ask_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """ask id → {reaction: count} of the answers that count, every reaction present (zero when nobody chose it)."""
    columns = [func.sum(case((MessagingAnswer.reaction == r, 1), else_=0)).label(r) for r in REACTIONS]
    rows = session.execute(
        select(MessagingAnswer.ask_id, *columns)
        .where(MessagingAnswer.ask_id.in_(list(ask_ids)), counts_in_tally())
        .group_by(MessagingAnswer.ask_id)
    ).all()
    found = {row.ask_id: {r: int(getattr(row, r) or 0) for r in REACTIONS} for row in rows}
    return {ask_id: found.get(ask_id, dict.fromkeys(REACTIONS, 0)) for ask_id in ask_ids}


# --- the ask loop: one reminder, "what we changed", versions -------------------------------------------


def asks_due_for_reminders(*, session: Session, now: datetime) -> Sequence[MessagingAsk]:
    """Open asks whose reminder time has come and whose reminders nobody has queued yet."""
    return session.scalars(
        select(MessagingAsk).where(
            MessagingAsk.reminders_queued.is_(False), MessagingAsk.remind_at <= now,
            MessagingAsk.closed_at.is_(None), MessagingAsk.closes_at > now,
        ).order_by(MessagingAsk.id)
    ).all()


def claim_reminders(*, session: Session, ask_id: int) -> bool:
    """Mark the ask's reminders as queued; only one caller (of any number of clocks) ever wins."""
    return claim_one(session, MessagingAsk,
                     where=(MessagingAsk.id == ask_id) & MessagingAsk.reminders_queued.is_(False),
                     values=dict(reminders_queued=True))


def reps_yet_to_answer(*, session: Session, ask: MessagingAsk) -> list[str]:
    """Who should answer the ask and hasn't: its DM recipients (a channel ask: the sales team's members) who
    are in the sales team, have given no answer, and didn't ask it. A channel ask in a workspace with no
    teams has nobody to name: who reads a channel is not someone asks are known to be for."""
    answered = select(MessagingAnswer.rep_user_id).where(MessagingAnswer.ask_id == ask.id)
    if ask.audience == "dm":
        candidates = sales_team_among(session=session, team_id=ask.team_id, user_ids=list(ask.recipients or []))
        gave = set(session.scalars(answered))
        return [user_id for user_id in candidates if user_id not in gave and user_id != ask.asker_user_id]
    return list(session.scalars(
        select(TeamMember.user_id).where(
            TeamMember.team_id == ask.team_id, TeamMember.side == "sales",
            TeamMember.user_id != ask.asker_user_id, TeamMember.user_id.not_in(answered),
        ).order_by(TeamMember.id)
    ))


def reminded_reps(*, session: Session, team_id: str, ask_id: int) -> list[str]:
    """The reps whose reminder about the ask was posted (its outbox key ends in their user id)."""
    prefix = f"ask-reminder:{ask_id}:"
    return [key.removeprefix(prefix) for key in session.scalars(
        select(OutboxMessage.dedupe_key).where(
            OutboxMessage.team_id == team_id, OutboxMessage.kind == "messaging_reminder",
            OutboxMessage.dedupe_key.startswith(prefix, autoescape=True), OutboxMessage.slack_ts.is_not(None))
        .order_by(OutboxMessage.id))]


def has_answered(*, session: Session, ask_id: int, user_id: str) -> bool:
    return bool(session.scalar(select(exists().where(MessagingAnswer.ask_id == ask_id,
                                                     MessagingAnswer.rep_user_id == user_id))))


def answerers(*, session: Session, ask_id: int) -> list[str]:
    """The reps whose answers count (the sales team), first to answer first."""
    return list(session.scalars(
        select(MessagingAnswer.rep_user_id).where(MessagingAnswer.ask_id == ask_id, counts_in_tally())
        .order_by(MessagingAnswer.answered_at, MessagingAnswer.id)
    ))


def save_change(*, session: Session, ask_id: int, note: str, link: str | None, now: datetime) -> bool:
    """Store "what we changed" on the ask; False when it already says exactly that (a retried submission)."""
    return claim_one(session, MessagingAsk,
                     where=(MessagingAsk.id == ask_id) & or_(
                         MessagingAsk.change_note.is_(None), MessagingAsk.change_note != note,
                         MessagingAsk.change_link.is_distinct_from(link)),
                     values=dict(change_note=note, change_link=link, changed_at=now))


def recent_asks(*, session: Session, team_id: str, limit: int) -> list[tuple[int, str]]:
    """(id, name) of the workspace's latest asks, newest first."""
    return [tuple(row) for row in session.execute(
        select(MessagingAsk.id, MessagingAsk.name).where(MessagingAsk.team_id == team_id)
        .order_by(MessagingAsk.opened_at.desc(), MessagingAsk.id.desc()).limit(limit)
    )]


def asks_by_id(*, session: Session, team_id: str, ask_ids: Sequence[int]) -> dict[int, MessagingAsk]:
    return {ask.id: ask for ask in session.scalars(
        select(MessagingAsk).where(MessagingAsk.team_id == team_id, MessagingAsk.id.in_(list(ask_ids))))}
