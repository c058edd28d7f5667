"""Queries for the App Home tab: what waits for one person, and what they did lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from storage.follow_up_stats import leads_since_clause, owns_open_leads_clause
from storage.loop import heard_back_clause, owns_open_actions_clause
from storage.messaging import REACTIONS, _in_sales_team, counts_in_tally
from storage.models import (
    Admin,
    MessagingAnswer,
    MessagingAsk,
    Person,
    PulseParticipation,
    PulseRound,
    TeamMember,
    UTCDateTime,
    WorkspaceConfig,
)


def _open(team_id: str, now: datetime):
    """The workspace's asks still taking answers."""
    return and_(MessagingAsk.team_id == team_id, MessagingAsk.closed_at.is_(None), MessagingAsk.closes_at > now)


@dataclass(frozen=True)
class PulseTurnRow:
    round_id: int
    period: str
    opens_at: datetime
    closes_at: datetime
    marked: bool  # the ledger says they answered (it is written in batches, so unmarked may still be answered)
    away: bool = False  # they were away when it went out: not asked
    prompt_at: datetime | None = None  # when it goes to them (their own opening time)


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
    heard_back: bool  # a reply to their ratings or intel, or an action they prompted, is there to show
    owns_open_actions: bool
    owns_open_leads: bool  # a lead assigned to them waits for them to accept it
    leads_lately: bool  # the workspace received a lead since `since`
    turns: tuple[PulseTurnRow, ...]
    time: Person | None = None  # their zone, status and declared time off, if Crossfeed keeps any


@cache
def _person_statement() -> Select:
    # Built once, with bound parameters: putting it together costs more Python than running it.
    team_id, user_id, now = bindparam("team_id"), bindparam("user_id"), bindparam("now", type_=UTCDateTime())
    since = bindparam("since", type_=UTCDateTime())
    side = (select(TeamMember.side).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
            .scalar_subquery())
    open_round = (select(PulseRound.id)
                  .where(PulseRound.team_id == team_id, PulseRound.opens_at <= now, PulseRound.closes_at > now)
                  .order_by(PulseRound.opens_at.desc()).limit(1).scalar_subquery())
    return (
        select(WorkspaceConfig, side.label("side"),
               exists().where(Admin.team_id == team_id, Admin.user_id == user_id).label("admin"),
               exists().where(Admin.team_id == team_id).label("any_admin"),
               exists().where(TeamMember.team_id == team_id).label("set_up"),
               _in_sales_team(team_id, user_id).label("in_sales_team"), open_round.label("open_round_id"),
               heard_back_clause(team_id, user_id).label("heard_back"),
               owns_open_actions_clause(team_id, user_id).label("owns_open_actions"),
               owns_open_leads_clause(team_id, user_id).label("owns_open_leads"),
               leads_since_clause(team_id, since).label("leads_lately"),
               PulseRound.id.label("round_id"), PulseRound.period, PulseRound.opens_at, PulseRound.closes_at,
               PulseParticipation.answered_via, PulseParticipation.away, PulseParticipation.prompt_at, Person)
        .select_from(WorkspaceConfig)
        .outerjoin(Person, and_(Person.team_id == WorkspaceConfig.team_id, Person.user_id == user_id))
        .outerjoin(PulseParticipation, and_(PulseParticipation.team_id == WorkspaceConfig.team_id,
                                            PulseParticipation.user_id == user_id))
        .outerjoin(PulseRound, PulseRound.id == PulseParticipation.round_id)
        .where(WorkspaceConfig.team_id == team_id)
        .order_by(PulseRound.opens_at.desc())
    )


def person(*, session: Session, team_id: str, user_id: str, now: datetime, since: datetime) -> PersonRow | None:
    """The person's roles, the workspace's configuration and their pulse rounds: one statement.
    None when the workspace has no configuration yet."""
    rows = session.execute(_person_statement(), dict(team_id=team_id, user_id=user_id, now=now, since=since)).all()
    if not rows:
        return None
    first = rows[0]
    return PersonRow(
        config=first.WorkspaceConfig, side=first.side, admin=bool(first.admin), any_admin=bool(first.any_admin),
        set_up=bool(first.set_up), in_sales_team=bool(first.in_sales_team), open_round_id=first.open_round_id,
        heard_back=bool(first.heard_back), owns_open_actions=bool(first.owns_open_actions),
        owns_open_leads=bool(first.owns_open_leads), leads_lately=bool(first.leads_lately),
        turns=tuple(PulseTurnRow(row.round_id, row.period, row.opens_at, row.closes_at, row.answered_via is not None,
                                 bool(row.away), row.prompt_at)
                    for row in rows if row.round_id is not None),
        time=first.Person,
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


@cache
def _person_asks_statement(*, waiting: bool, mine: bool) -> Select:
    team_id, user_id, now = bindparam("team_id"), bindparam("user_id"), bindparam("now", type_=UTCDateTime())
    answered = exists().where(MessagingAnswer.ask_id == MessagingAsk.id, MessagingAnswer.rep_user_id == user_id)
    # A DM'd ask lists its recipients as a JSON array of user ids: the quoted id is looked for in its text.
    sent_to_them = cast(MessagingAsk.recipients, String).like(bindparam("recipient"), escape="/")
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
    limit = bindparam("limit", type_=Integer)
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
    return (
        select(MessagingAsk, picked.c.kind, picked.c.total, theirs.reaction, theirs.updated_at,
               *(tallies.c[r] for r in REACTIONS))
        .join(picked, picked.c.id == MessagingAsk.id)
        .outerjoin(tallies, tallies.c.ask_id == MessagingAsk.id)
        .outerjoin(theirs, and_(theirs.ask_id == MessagingAsk.id, theirs.rep_user_id == user_id))
        .order_by(picked.c.kind, picked.c.place)
    )


def person_asks(*, session: Session, team_id: str, user_id: str, now: datetime, limit: int, waiting: bool,
                mine: bool) -> PersonAsks:
    """The asks waiting for this person (if `waiting`), those they answered lately, and their own open ones (if
    `mine`), with tallies: one statement."""
    pattern = "%" + f'"{user_id}"'.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    rows = session.execute(_person_asks_statement(waiting=waiting, mine=mine),
                           dict(team_id=team_id, user_id=user_id, now=now, limit=limit, recipient=pattern)).all()
    found: dict[str, tuple[list[AskRow], int]] = {kind: ([], 0) for kind in ("waiting", "answered", "mine")}
    for row in rows:
        shown, _ = found[row.kind]
        shown.append(AskRow(ask=row.MessagingAsk, tally={r: int(row._mapping[r] or 0) for r in REACTIONS},
                            reaction=row.reaction, answered_at=row.updated_at))
        found[row.kind] = (shown, row.total)
    return PersonAsks(waiting=found["waiting"], answered=found["answered"], mine=found["mine"])
