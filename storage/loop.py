"""Reads for where people see the loop close: the digest's "You said, we did" and each role's Home section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from storage.messaging import _in_sales_team
from storage.models import (
    Action,
    FeedbackReply,
    FieldIntel,
    LeadRating,
    LeadSource,
    MessagingAnswer,
    MessagingAsk,
    OutboxMessage,
    UTCDateTime,
)


def source_codes(*, session: Session, team_id: str, labels: list[str]) -> dict[str, str]:
    """Source label → its code, so a talking point's "Log action" names a source as every other surface does
    (a retired source still labels its ratings; the live one wins a shared label)."""
    rows = session.execute(
        select(LeadSource.label, LeadSource.code)
        .where(LeadSource.team_id == team_id, LeadSource.label.in_(labels))
        .order_by(LeadSource.retired_at.is_not(None), LeadSource.id)).all()
    codes: dict[str, str] = {}
    for label, code in rows:
        codes.setdefault(label, code)
    return codes


def done_actions(*, session: Session, team_id: str, start: datetime, end: datetime) -> list[Action]:
    """Actions marked done in [start, end), earliest first."""
    return list(session.scalars(
        select(Action)
        .where(Action.team_id == team_id, Action.status == "done", Action.closed_at >= start, Action.closed_at < end)
        .order_by(Action.closed_at, Action.id)))


def overdue_actions(*, session: Session, team_id: str, due_before: date, as_of: datetime) -> list[Action]:
    """Actions due before `due_before` and still open at `as_of` (open now, or closed only after it), oldest due
    first: a week read later shows what was overdue then."""
    return list(session.scalars(
        select(Action)
        .where(Action.team_id == team_id, Action.due_on < due_before, Action.created_at < as_of,
               or_(Action.status == "open", Action.closed_at >= as_of))
        .order_by(Action.due_on, Action.id)))


def actions_logged(*, session: Session, team_id: str, start: datetime, end: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Action).where(
        Action.team_id == team_id, Action.created_at >= start, Action.created_at < end))


@dataclass(frozen=True)
class FeedbackItem:
    """A piece of feedback marketing could answer: a lead flag (a 1–2 rating posted to the lead feed) or field
    intel, when it was given and when it was first answered (None: not yet)."""

    kind: str  # "rating" | "intel"
    given_at: datetime
    first_replied_at: datetime | None


def feedback_items(*, session: Session, team_id: str, start: datetime, end: datetime,
                   feed_key_prefix: str) -> list[FeedbackItem]:
    """Lead flags and field intel given in [start, end), each with its first reply: one statement.

    A lead flag is a rating still at 1–2 whose lead-feed post (the outbox message keyed `feed_key_prefix` + its
    id) was queued: a rating marketing never saw is not one it could answer.
    """
    def replied(kind: str, item_id):
        return and_(FeedbackReply.team_id == team_id, FeedbackReply.subject_kind == kind,
                    FeedbackReply.subject_id == item_id)

    flags = (
        select(literal("rating").label("kind"), LeadRating.rated_at.label("given_at"),
               FeedbackReply.first_replied_at)
        .join(OutboxMessage, and_(OutboxMessage.team_id == team_id,
                                  OutboxMessage.dedupe_key == literal(feed_key_prefix) + cast(LeadRating.id, String)))
        .outerjoin(FeedbackReply, replied("rating", LeadRating.id))
        .where(LeadRating.team_id == team_id, LeadRating.rating <= 2, LeadRating.rated_at >= start,
               LeadRating.rated_at < end)
    )
    intel = (
        select(literal("intel").label("kind"), FieldIntel.created_at.label("given_at"),
               FeedbackReply.first_replied_at)
        .outerjoin(FeedbackReply, replied("intel", FieldIntel.id))
        .where(FieldIntel.team_id == team_id, FieldIntel.created_at >= start, FieldIntel.created_at < end)
    )
    items = union_all(flags, intel).subquery()
    # Read back through the timestamp type: a union's columns lose it, and SQLite then returns text.
    rows = session.execute(select(items.c.kind, type_coerce(items.c.given_at, UTCDateTime()),
                                  type_coerce(items.c.first_replied_at, UTCDateTime()))).all()
    return [FeedbackItem(kind, given_at, replied_at) for kind, given_at, replied_at in rows]


def _changed_after_their_answer(team_id, user_id):
    """Asks this person answered that got a "what we changed" note, while their answers count (they are in the
    sales team), as for the DM: from their answers, so it reads only those."""
    return and_(MessagingAnswer.team_id == team_id, MessagingAnswer.rep_user_id == user_id,
                MessagingAsk.id == MessagingAnswer.ask_id, MessagingAsk.change_note.is_not(None),
                _in_sales_team(team_id, user_id))


def heard_back_clause(team_id, user_id):
    """Whether anything came of this person's ratings, intel or ask answers yet (a reply, an action not dropped, a
    "what we changed"): for the one statement that reads who they are, so Home reads what came of it only for
    those it has something for."""
    theirs = {"rating": (LeadRating.id, and_(LeadRating.team_id == team_id, LeadRating.rater_user_id == user_id)),
              "intel": (FieldIntel.id, and_(FieldIntel.team_id == team_id, FieldIntel.user_id == user_id))}

    def answered(kind: str):
        item_id, mine = theirs[kind]
        return or_(
            exists().where(FeedbackReply.team_id == team_id, FeedbackReply.subject_kind == kind,
                           FeedbackReply.subject_id.in_(select(item_id).where(mine))),
            exists().where(Action.team_id == team_id, Action.prompt_kind == kind, Action.status != "dropped",
                           Action.prompt_ref.in_(select(cast(item_id, String)).where(mine))))

    return or_(answered("rating"), answered("intel"), exists().where(_changed_after_their_answer(team_id, user_id)))


def owns_open_actions_clause(team_id, user_id):
    return exists().where(Action.team_id == team_id, Action.owner_user_id == user_id, Action.status == "open")


def open_actions_owned(*, session: Session, team_id: str, user_id: str, limit: int) -> tuple[list[Action], int]:
    """This person's open actions, soonest due first, and how many there are."""
    rows = session.execute(
        select(Action, func.count().over().label("total"))
        .where(Action.team_id == team_id, Action.owner_user_id == user_id, Action.status == "open")
        .order_by(Action.due_on, Action.id).limit(limit)).all()
    return [row.Action for row in rows], (rows[0].total if rows else 0)


@dataclass(frozen=True)
class HeardBackRow:
    """What came of one of a rep's ratings, intel items or ask answers: a reply to it, an action it prompted, or
    what the asker changed."""

    what: str  # "reply" | "action" | "change"
    subject_kind: str  # "rating" | "intel" | "ask"
    subject: str | None  # the lead reference, the intel's topic (its text when it has none), or the ask's name
    status: str  # the reply's status, or the action's ("changed" for an ask)
    by: str  # who replied, the action's owner, or the asker
    note: str | None  # the reply's note, the action's outcome, or what changed
    link: str | None
    title: str | None  # the action's title
    due_on: date | None
    at: datetime  # replied, or the action's last change (closed, else logged)


@cache
def _heard_back_statement() -> Select:
    team_id, user_id = bindparam("team_id"), bindparam("user_id")
    theirs_rated = (select(LeadRating.id, LeadRating.lead_ref.label("subject"))
                    .where(LeadRating.team_id == team_id, LeadRating.rater_user_id == user_id).subquery())
    theirs_intel = (select(FieldIntel.id, func.coalesce(FieldIntel.topic, func.substr(FieldIntel.text, 1, 100))
                           .label("subject"))
                    .where(FieldIntel.team_id == team_id, FieldIntel.user_id == user_id).subquery())

    def replies(kind: str, items) -> Select:
        return (select(literal("reply").label("what"), literal(kind).label("subject_kind"), items.c.subject,
                       FeedbackReply.status, FeedbackReply.replied_by.label("by"), FeedbackReply.note,
                       FeedbackReply.link, cast(null(), String).label("title"), cast(null(), Date).label("due_on"),
                       FeedbackReply.replied_at.label("at"))
                .join(items, items.c.id == FeedbackReply.subject_id)
                .where(FeedbackReply.team_id == team_id, FeedbackReply.subject_kind == kind))

    def actions(kind: str, items) -> Select:
        return (select(literal("action").label("what"), literal(kind).label("subject_kind"), items.c.subject,
                       Action.status, Action.owner_user_id.label("by"), Action.outcome.label("note"),
                       cast(null(), String).label("link"), Action.title,
                       Action.due_on, func.coalesce(Action.closed_at, Action.created_at).label("at"))
                .join(items, cast(items.c.id, String) == Action.prompt_ref)
                .where(Action.team_id == team_id, Action.prompt_kind == kind, Action.status != "dropped"))

    changes = (select(literal("change").label("what"), literal("ask").label("subject_kind"),
                      MessagingAsk.name.label("subject"), literal("changed").label("status"),
                      MessagingAsk.asker_user_id.label("by"), MessagingAsk.change_note.label("note"),
                      MessagingAsk.change_link.label("link"), cast(null(), String).label("title"),
                      cast(null(), Date).label("due_on"), MessagingAsk.changed_at.label("at"))
               .where(_changed_after_their_answer(team_id, user_id)))

    found = union_all(replies("rating", theirs_rated), replies("intel", theirs_intel),
                      actions("rating", theirs_rated), actions("intel", theirs_intel), changes).subquery()
    # Read back through the columns' types: a union's columns lose them, and SQLite then returns text.
    return (select(found.c.what, found.c.subject_kind, found.c.subject, found.c.status, found.c.by, found.c.note,
                   found.c.link, found.c.title, type_coerce(found.c.due_on, Date).label("due_on"),
                   type_coerce(found.c.at, UTCDateTime()).label("at"), func.count().over().label("total"))
            .order_by(found.c.at.desc(), found.c.what, found.c.subject)
            .limit(bindparam("limit", type_=Integer)))


def heard_back(*, session: Session, team_id: str, user_id: str, limit: int) -> tuple[list[HeardBackRow], int]:
    """The latest replies to this rep's ratings and intel, the actions they prompted (open or done, not dropped) and
    what changed after asks they answered, newest first, and how many there are in all: one statement."""
    rows = session.execute(_heard_back_statement(), dict(team_id=team_id, user_id=user_id, limit=limit)).all()
    return [HeardBackRow(what=row.what, subject_kind=row.subject_kind, subject=row.subject, status=row.status,
                         by=row.by, note=row.note, link=row.link, title=row.title, due_on=row.due_on, at=row.at)
            for row in rows], (rows[0].total if rows else 0)
