"""Queries for pulse rounds, the participation ledger and the anonymous answers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, case, delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from storage.claims import claim_one
from storage.models import Person, PulseAnswer, PulseComment, PulseParticipation, PulseRound, TeamMember
from storage.queries import dialect_insert

# The ledger's mark: this person answered (not how or when; that would help link them to their answers).
ANSWERED = "yes"


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


def pulse_rounds(*, session: Session, round_ids: Collection[int]) -> dict[int, PulseRound]:
    """These rounds by id, in one query (a missing one is left out)."""
    if not round_ids:
        return {}
    return {row.id: row for row in session.scalars(select(PulseRound).where(PulseRound.id.in_(round_ids)))}


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


def member_zones(*, session: Session, team_id: str) -> set[str | None]:
    """The time zones the workspace's team members are in (None: someone whose zone isn't known yet)."""
    return set(session.scalars(
        select(Person.timezone).distinct().select_from(TeamMember)
        .outerjoin(Person, and_(Person.team_id == TeamMember.team_id, Person.user_id == TeamMember.user_id))
        .where(TeamMember.team_id == team_id)
    ))


def members_with_zones(*, session: Session, team_id: str) -> list[tuple[str, str, str | None]]:
    """(user id, side, time zone or None) of every team member, in the order they joined."""
    return [tuple(row) for row in session.execute(
        select(TeamMember.user_id, TeamMember.side, Person.timezone).select_from(TeamMember)
        .outerjoin(Person, and_(Person.team_id == TeamMember.team_id, Person.user_id == TeamMember.user_id))
        .where(TeamMember.team_id == team_id).order_by(TeamMember.id)
    ).all()]


def enrol(*, session: Session, team_id: str, round_id: int,
          people: Sequence[tuple[str, str, datetime, datetime | None]]) -> None:
    """Write the round's ledger: (user id, side, when they are prompted, when reminded) for each person asked."""
    if people:
        session.execute(
            dialect_insert(session, PulseParticipation).on_conflict_do_nothing(),
            [dict(team_id=team_id, round_id=round_id, user_id=user_id, side=side, prompt_at=prompt_at,
                  remind_at=remind_at) for user_id, side, prompt_at, remind_at in people],
        )


# The two per-person moments of a round, and the round's column saying up to when each was queued.
PROMPTS = (PulseParticipation.prompt_at, PulseRound.prompted_through)
REMINDERS = (PulseParticipation.remind_at, PulseRound.reminded_through)


def rounds_with_people_due(*, session: Session, now: datetime, moment=PROMPTS
                           ) -> list[tuple[int, str, datetime | None]]:
    """(round id, workspace, queued through) of open rounds with someone whose prompt (or reminder) time came
    after what was queued already."""
    person_at, through = moment
    return [tuple(row) for row in session.execute(
        select(PulseRound.id, PulseRound.team_id, through).distinct()
        .join(PulseParticipation, PulseParticipation.round_id == PulseRound.id)
        .where(PulseRound.opens_at <= now, PulseRound.closes_at > now, person_at <= now,
               or_(through.is_(None), person_at > through))
    ).all()]


def claim_people_due(*, session: Session, round_id: int, since: datetime | None, now: datetime,
                     moment=PROMPTS) -> bool:
    """Move the round's "queued through" from `since` to `now`: the one caller that does queues that window."""
    _, through = moment
    was = through.is_(None) if since is None else through == since
    return claim_one(session, PulseRound, where=(PulseRound.id == round_id) & was, values={through.key: now})


def people_due(*, session: Session, round_id: int, since: datetime | None, now: datetime, moment=PROMPTS
               ) -> list[tuple[str, bool]]:
    """(user id, away) of the people not marked answered whose prompt (or reminder) time is in (since, now]."""
    person_at, _ = moment
    window = person_at <= now if since is None else and_(person_at > since, person_at <= now)
    return [tuple(row) for row in session.execute(
        select(PulseParticipation.user_id, PulseParticipation.away)
        .where(PulseParticipation.round_id == round_id, PulseParticipation.answered_via.is_(None), window)
        .order_by(PulseParticipation.id)
    ).all()]


def mark_away(*, session: Session, round_id: int, user_ids: Iterable[str], away: bool = True) -> None:
    """Mark people away (or back) in the round's ledger: only the fact, never why or until when."""
    ids = sorted(set(user_ids))
    if ids:
        session.execute(update(PulseParticipation)
                        .where(PulseParticipation.round_id == round_id, PulseParticipation.user_id.in_(ids))
                        .values(away=away).execution_options(synchronize_session=False))


def rounds_to_seal(*, session: Session, now: datetime, limit: int = 5) -> list[int]:
    """Closed rounds whose answers haven't been sealed yet (a few per run: old rounds are sealed gradually)."""
    return list(session.scalars(select(PulseRound.id).where(PulseRound.closes_at <= now,
                                                            PulseRound.answers_sealed.is_(False))
                                .order_by(PulseRound.closes_at).limit(limit)))


def seal_answers(*, session: Session, round_id: int) -> bool:
    """Rewrite a closed round's answers and comments in one transaction, in respondent-key order.

    While a round is open each answer sits where and when it was written: in arrival order on disk and under its
    own transaction id, which line up with whose prompt had gone out (people are prompted at their own local
    time). Rewritten, they share one transaction id and sit in key order, which says nothing about anyone.
    False if another clock sealed it first.
    """
    if not claim_one(session, PulseRound, where=(PulseRound.id == round_id) & PulseRound.answers_sealed.is_(False),
                     values=dict(answers_sealed=True)):
        return False
    for table, order in ((PulseAnswer, (PulseAnswer.respondent, PulseAnswer.question)),
                         (PulseComment, (PulseComment.respondent,))):
        columns = [column.key for column in table.__table__.columns]
        rows = [dict(row._mapping) for row in session.execute(
            select(*table.__table__.columns).where(table.round_id == round_id).order_by(*order))]
        session.execute(delete(table).where(table.round_id == round_id))
        if rows:
            session.execute(table.__table__.insert(), [{key: row[key] for key in columns} for row in rows])
    return True


def participation(*, session: Session, round_id: int, user_id: str) -> PulseParticipation | None:
    return session.scalar(
        select(PulseParticipation).where(
            PulseParticipation.round_id == round_id, PulseParticipation.user_id == user_id
        )
    )


def participations(*, session: Session, asked: Collection[tuple[int, str]]) -> dict[tuple[int, str],
                                                                                  PulseParticipation]:
    """The ledger rows of these (round id, user id) pairs, in one query (a pair not asked is left out)."""
    if not asked:
        return {}
    ledger = PulseParticipation
    rows = session.scalars(select(ledger).where(tuple_(ledger.round_id, ledger.user_id).in_(list(asked))))
    return {(row.round_id, row.user_id): row for row in rows}


def unmarked_participants(*, session: Session, round_id: int) -> list[str]:
    """People asked in the round whose ledger row doesn't say they answered (yet)."""
    return list(session.scalars(
        select(PulseParticipation.user_id)
        .where(PulseParticipation.round_id == round_id, PulseParticipation.answered_via.is_(None))
        .order_by(PulseParticipation.id)
    ))


def asked_count(*, session: Session, round_id: int) -> int:
    """How many were asked: everyone enrolled but those away."""
    return session.scalar(
        select(func.count()).select_from(PulseParticipation)
        .where(PulseParticipation.round_id == round_id, PulseParticipation.away.is_(False))
    )


def mark_answered(*, session: Session, round_id: int, user_ids: Iterable[str]) -> None:
    """Mark people as having answered by rewriting the round's whole ledger in one statement.

    Every row of the round, marked or not, gets a new version in this one transaction, so on
    PostgreSQL they all carry the same xmin and land in the ledger's own order: neither says which
    rows changed, nor in which order people answered.
    """
    marked = sorted(set(user_ids))
    session.execute(
        update(PulseParticipation)
        .where(PulseParticipation.round_id == round_id)
        .values(answered_via=case((PulseParticipation.user_id.in_(marked), ANSWERED),
                                  else_=PulseParticipation.answered_via))
        .execution_options(synchronize_session=False)
    )


def respondents(*, session: Session, round_id: int, among: Iterable[str]) -> set[str]:
    """Which of these respondent keys have an answer or a comment in the round."""
    keys = list(among)
    found: set[str] = set()
    for start in range(0, len(keys), 500):  # keep IN lists small enough for any database
        chunk = keys[start:start + 500]
        for table in (PulseAnswer, PulseComment):
            found.update(session.scalars(
                select(table.respondent).distinct().where(table.round_id == round_id, table.respondent.in_(chunk))
            ))
    return found


def answered_rounds(*, session: Session, keys_by_round: dict[int, str]) -> set[int]:
    """Of these (round, respondent key) pairs, the rounds where that key has answers."""
    if not keys_by_round:
        return set()
    pairs = [and_(PulseAnswer.round_id == round_id, PulseAnswer.respondent == key)
             for round_id, key in keys_by_round.items()]
    return set(session.scalars(select(PulseAnswer.round_id).distinct().where(or_(*pairs))))


def asked_rounds(*, session: Session, team_id: str, user_id: str, unmarked: bool = False) -> list[int]:
    """The rounds this person was asked in (only those whose ledger doesn't mark them answered, if `unmarked`)."""
    statement = select(PulseParticipation.round_id).where(PulseParticipation.team_id == team_id,
                                                          PulseParticipation.user_id == user_id)
    if unmarked:
        statement = statement.where(PulseParticipation.answered_via.is_(None))
    return list(session.scalars(statement))


def periods(*, session: Session, round_ids: Iterable[int]) -> set[str]:
    ids = list(round_ids)
    return set(session.scalars(select(PulseRound.period).where(PulseRound.id.in_(ids)))) if ids else set()


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


def delete_comment(*, session: Session, round_id: int, respondent: str) -> None:
    session.execute(delete(PulseComment).where(PulseComment.round_id == round_id,
                                               PulseComment.respondent == respondent))


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


def asked_by_side(*, session: Session, round_id: int) -> dict[str, tuple[int, int]]:
    """side → (how many were asked, how many were away instead). How many answered comes from the answers, never
    from the ledger."""
    return {side: (int(asked or 0), int(away or 0)) for side, asked, away in session.execute(
        select(PulseParticipation.side,
               func.sum(case((PulseParticipation.away.is_(False), 1), else_=0)),
               func.sum(case((PulseParticipation.away.is_(True), 1), else_=0)))
        .where(PulseParticipation.round_id == round_id)
        .group_by(PulseParticipation.side)
    ).all()}


def comments(*, session: Session, round_id: int, side: str) -> list[str]:
    # Ordered by text, not by arrival, so the order says nothing about who wrote what.
    return list(session.scalars(
        select(PulseComment.text)
        .where(and_(PulseComment.round_id == round_id, PulseComment.side == side))
        .order_by(PulseComment.text)
    ))
