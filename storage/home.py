"""Queries for the App Home tab: what waits for one person, and what they did lately."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from storage.messaging import REACTIONS, _in_sales_team, counts_in_tally
from storage.models import (
    Admin,
    MessagingAnswer,
    MessagingAsk,
    PulseParticipation,
    PulseRound,
    TeamMember,
    WorkspaceConfig,
)


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


# --- one person's Home in few statements ------------------------------------------------------------


@dataclass(frozen=True)
class PulseTurnRow:
    round_id: int
    period: str
    opens_at: datetime
    closes_at: datetime
    marked: bool  # the ledger says they answered (it is written in batches, so unmarked may still be answered)


@dataclass(frozen=True)
class PersonRow:
    """Who a person is to Crossfeed, and every pulse round they were asked in (newest first)."""

    config: WorkspaceConfig
    side: str | None
    admin: bool
    any_admin: bool
    set_up: bool  # someone is in a team
    in_sales_team: bool
    open_round_id: int | None  # the workspace's open pulse round, if any
    turns: tuple[PulseTurnRow, ...]


def person(*, session: Session, team_id: str, user_id: str, now: datetime) -> PersonRow | None:
    """The person's roles, the workspace's configuration and their pulse rounds: one statement.
    None when the workspace has no configuration yet."""
    side = (select(TeamMember.side).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
            .scalar_subquery())
    open_round = (select(PulseRound.id)
                  .where(PulseRound.team_id == team_id, PulseRound.opens_at <= now, PulseRound.closes_at > now)
                  .order_by(PulseRound.opens_at.desc()).limit(1).scalar_subquery())
    rows = session.execute(
        select(WorkspaceConfig, side.label("side"),
               exists().where(Admin.team_id == team_id, Admin.user_id == user_id).label("admin"),
               exists().where(Admin.team_id == team_id).label("any_admin"),
               exists().where(TeamMember.team_id == team_id).label("set_up"),
               _in_sales_team(team_id, user_id).label("in_sales_team"), open_round.label("open_round_id"),
               PulseRound.id.label("round_id"), PulseRound.period, PulseRound.opens_at, PulseRound.closes_at,
               PulseParticipation.answered_via)
        .select_from(WorkspaceConfig)
        .outerjoin(PulseParticipation, and_(PulseParticipation.team_id == WorkspaceConfig.team_id,
                                            PulseParticipation.user_id == user_id))
        .outerjoin(PulseRound, PulseRound.id == PulseParticipation.round_id)
        .where(WorkspaceConfig.team_id == team_id)
        .order_by(PulseRound.opens_at.desc())
    ).all()
    if not rows:
        return None
    first = rows[0]
    return PersonRow(
        config=first.WorkspaceConfig, side=first.side, admin=bool(first.admin), any_admin=bool(first.any_admin),
        set_up=bool(first.set_up), in_sales_team=bool(first.in_sales_team), open_round_id=first.open_round_id,
        turns=tuple(PulseTurnRow(row.round_id, row.period, row.opens_at, row.closes_at, row.answered_via is not None)
                    for row in rows if row.round_id is not None),
    )


@dataclass(frozen=True)
class AskRow:
    ask: MessagingAsk
    tally: dict[str, int]
    reaction: str | None  # this person's answer, if they gave one
    answered_at: datetime | None


@dataclass(frozen=True)
class PersonAsks:
    """The asks on one person's Home, each list cut to `limit` with its full length."""

    waiting: tuple[list[AskRow], int]  # open asks they can answer and haven't, soonest closing first
    answered: tuple[list[AskRow], int]  # their latest answers, newest first
    mine: tuple[list[AskRow], int]  # their own open asks, newest first


def person_asks(*, session: Session, team_id: str, user_id: str, now: datetime, limit: int, waiting: bool,
                mine: bool) -> PersonAsks:
    """The asks waiting for this person (if `waiting`), those they answered lately, and their own open ones (if
    `mine`), with tallies: one statement."""
    answered = exists().where(MessagingAnswer.ask_id == MessagingAsk.id, MessagingAnswer.rep_user_id == user_id)
    sent_to_them = cast(MessagingAsk.recipients, String).contains(f'"{user_id}"', autoescape=True)
    lists = [("answered", select(MessagingAsk.id).join(MessagingAnswer, MessagingAnswer.ask_id == MessagingAsk.id)
              .where(MessagingAnswer.team_id == team_id, MessagingAnswer.rep_user_id == user_id),
              (MessagingAnswer.updated_at.desc(), MessagingAnswer.id.desc()))]
    if waiting:
        lists.append(("waiting", select(MessagingAsk.id).where(
            _open(team_id, now), MessagingAsk.asker_user_id != user_id, ~answered,
            or_(MessagingAsk.audience == "channel", sent_to_them)), (MessagingAsk.closes_at, MessagingAsk.id)))
    if mine:
        lists.append(("mine", select(MessagingAsk.id).where(_open(team_id, now), MessagingAsk.asker_user_id == user_id),
                      (MessagingAsk.opened_at.desc(), MessagingAsk.id.desc())))
    pages = [
        select(page).select_from(page) for page in (
            query.add_columns(literal(kind).label("kind"), func.row_number().over(order_by=order).label("place"),
                              func.count().over().label("total")).order_by(*order).limit(limit).subquery()
            for kind, query, order in lists)
    ]
    picked = union_all(*pages).subquery()
    columns = [func.sum(case((MessagingAnswer.reaction == r, 1), else_=0)).label(r) for r in REACTIONS]
    tallies = (select(MessagingAnswer.ask_id, *columns)
               .where(MessagingAnswer.ask_id.in_(select(picked.c.id)), counts_in_tally())
               .group_by(MessagingAnswer.ask_id).subquery())
    theirs = aliased(MessagingAnswer)
    rows = session.execute(
        select(MessagingAsk, picked.c.kind, picked.c.total, theirs.reaction, theirs.updated_at,
               *(tallies.c[r] for r in REACTIONS))
        .join(picked, picked.c.id == MessagingAsk.id)
        .outerjoin(tallies, tallies.c.ask_id == MessagingAsk.id)
        .outerjoin(theirs, and_(theirs.ask_id == MessagingAsk.id, theirs.rep_user_id == user_id))
        .order_by(picked.c.kind, picked.c.place)
    ).all()
    found: dict[str, tuple[list[AskRow], int]] = {kind: ([], 0) for kind in ("waiting", "answered", "mine")}
    for row in rows:
        shown, _ = found[row.kind]
        shown.append(AskRow(ask=row.MessagingAsk, tally={r: int(row._mapping[r] or 0) for r in REACTIONS},
                            reaction=row.reaction, answered_at=row.updated_at))
        found[row.kind] = (shown, row.total)
    return PersonAsks(waiting=found["waiting"], answered=found["answered"], mine=found["mine"])
