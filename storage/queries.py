"""Query functions: keyword-only, one idea each. All SQL lives here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    Select,
    String,
    all_,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.defaults import DEFAULT_REASONS, DEFAULT_SOURCES
from storage.models import (
    LeadRating,
    LeadRatingReason,
    LeadSource,
    OutboxMessage,
    ReasonCode,
    UTCDateTime,
    Workspace,
    WorkspaceConfig,
)


def dialect_insert(session: Session, model):
    """INSERT with ON CONFLICT support for whichever database the session is bound to."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_for(dialect: str, model):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


# --- workspaces -------------------------------------------------------------------------------


def ensure_workspace(*, session: Session, team_id: str) -> None:
    """Create the workspace with its default reason codes, sources and configuration, once."""
    if session.get(Workspace, team_id) is not None:
        return
    created = session.execute(
        dialect_insert(session, Workspace).values(team_id=team_id).on_conflict_do_nothing()
    ).rowcount
    if not created:
        return
    session.execute(
        dialect_insert(session, ReasonCode).on_conflict_do_nothing(),
        [
            dict(
                team_id=team_id,
                code=r.code,
                label=r.label,
                polarity=r.polarity,
                fix_area=r.fix_area,
                aliases=list(r.aliases),
                requires_note=r.requires_note,
                position=i,
            )
            for i, r in enumerate(DEFAULT_REASONS)
        ],
    )
    session.execute(
        dialect_insert(session, LeadSource).on_conflict_do_nothing(),
        [
            dict(team_id=team_id, code=s.code, label=s.label, aliases=list(s.aliases), position=i)
            for i, s in enumerate(DEFAULT_SOURCES)
        ],
    )
    # Its configuration too, so that work which only reads (composing a Home) never has to create it.
    session.execute(dialect_insert(session, WorkspaceConfig).values(team_id=team_id).on_conflict_do_nothing())


# --- reason codes and sources -------------------------------------------------------------------


def active_reasons(*, session: Session, team_id: str) -> Sequence[ReasonCode]:
    return session.scalars(
        select(ReasonCode)
        .where(ReasonCode.team_id == team_id, ReasonCode.retired_at.is_(None))
        .order_by(ReasonCode.position, ReasonCode.id)
    ).all()


def active_sources(*, session: Session, team_id: str) -> Sequence[LeadSource]:
    return session.scalars(
        select(LeadSource)
        .where(LeadSource.team_id == team_id, LeadSource.retired_at.is_(None))
        .order_by(LeadSource.position, LeadSource.id)
    ).all()


def typed_source_counts(*, session: Session, team_id: str) -> list[tuple[str, int]]:
    """Sources reps typed that matched none of the workspace's, with how many ratings name each, most first.

    Spelled differently only in case, they count as one (shown as the first spelling, alphabetically).
    """
    spelled = func.lower(LeadRating.source_text)
    rows = session.execute(
        select(func.min(LeadRating.source_text), func.count())
        .where(LeadRating.team_id == team_id, LeadRating.source_text.is_not(None))
        .group_by(spelled)
        .order_by(func.count().desc(), spelled)
    ).all()
    return [(text, count) for text, count in rows]


def search_sources(*, session: Session, team_id: str, typed: str, limit: int) -> Sequence[LeadSource]:
    """Active sources whose label or code contains what was typed, in list order."""
    pattern = f"%{typed.casefold()}%"
    return session.scalars(
        select(LeadSource)
        .where(
            LeadSource.team_id == team_id,
            LeadSource.retired_at.is_(None),
            or_(func.lower(LeadSource.label).like(pattern), LeadSource.code.like(pattern)),
        )
        .order_by(LeadSource.position, LeadSource.id)
        .limit(limit)
    ).all()


def source_by_code(*, session: Session, team_id: str, code: str) -> LeadSource | None:
    return session.scalar(select(LeadSource).where(LeadSource.team_id == team_id, LeadSource.code == code))


def add_source(*, session: Session, team_id: str, code: str, label: str, created_by: str) -> int:
    """Add a source a rep typed in (or find the existing one with that code); returns its id."""
    next_position = session.scalar(
        select(func.coalesce(func.max(LeadSource.position), 0) + 1).where(LeadSource.team_id == team_id)
    )
    session.execute(
        dialect_insert(session, LeadSource)
        .values(team_id=team_id, code=code, label=label, aliases=[], position=next_position,
                created_by=created_by)
        .on_conflict_do_nothing()
    )
    return source_by_code(session=session, team_id=team_id, code=code).id


def save_code_list(
    *, session: Session, model: type[ReasonCode] | type[LeadSource], team_id: str,
    entries: Sequence[tuple[str, str, dict]], now: datetime, retirable: set[str] | None = None,
) -> dict[str, list[str]]:
    """Make the active list `entries` (code, label, other columns), in that order.

    Known codes are renamed or brought back, new ones added, and active ones left out are retired
    if they are `retirable` (None: all are); the others, e.g. a source a rep added meanwhile, stay
    after the entries. A retired code keeps its id, so past ratings still show it. Returns the codes
    added, renamed, restored and retired.
    """
    existing = {row.code: row for row in session.scalars(select(model).where(model.team_id == team_id))}
    changes: dict[str, list[str]] = {"added": [], "renamed": [], "restored": [], "retired": []}
    for position, (code, label, extra) in enumerate(entries):
        row = existing.get(code)
        if row is None:
            # Two admins saving at once may add the same code: the first one wins, nothing fails.
            session.execute(dialect_insert(session, model).on_conflict_do_nothing().values(
                team_id=team_id, code=code, label=label, aliases=[], position=position, **extra))
            changes["added"].append(code)
            continue
        if row.retired_at is not None:
            changes["restored"].append(code)
        elif row.label != label:
            changes["renamed"].append(code)
        row.label, row.position, row.retired_at = label, position, None
        for column, value in extra.items():
            setattr(row, column, value)
    listed = {code for code, _, _ in entries}
    left_out = sorted((row for code, row in existing.items() if code not in listed and row.retired_at is None),
                      key=lambda row: (row.position, row.id))
    for position, row in enumerate(left_out, start=len(entries)):
        if retirable is None or row.code in retirable:
            row.retired_at = now
            changes["retired"].append(row.code)
        else:
            row.position = position
    session.flush()
    return changes


# --- lead ratings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """A reason code or a source, as values: matching and showing need no ORM row."""

    id: int
    code: str
    label: str
    aliases: tuple[str, ...]
    position: int
    retired: bool
    polarity: str | None = None  # reasons only
    requires_note: bool = False  # reasons only


@dataclass(frozen=True)
class RatingWorkspace:
    """What rating a lead needs to know of its workspace: every reason and source (retired ones too), and
    the two settings that decide where a rating goes."""

    reasons: tuple[Code, ...]
    sources: tuple[Code, ...]
    lead_feed_channel: str | None
    allow_new_sources: bool


@cache
def _rating_workspace_statement() -> Select:
    # Built once: putting a three-way union together costs more Python than running it.
    team_id = bindparam("team_id")
    none_int, none_str, none_bool = null().cast(Integer), null().cast(String), null().cast(Boolean)
    workspace = (
        select(literal("workspace").label("kind"), none_int.label("id"), none_str.label("code"),
               none_str.label("label"), null().cast(JSON).label("aliases"), none_int.label("position"),
               null().cast(UTCDateTime()).label("retired_at"), none_str.label("polarity"),
               none_bool.label("requires_note"), WorkspaceConfig.lead_feed_channel,
               WorkspaceConfig.allow_new_sources)
        .select_from(Workspace)
        .outerjoin(WorkspaceConfig, WorkspaceConfig.team_id == Workspace.team_id)
        .where(Workspace.team_id == team_id)
    )
    reasons = select(literal("reason"), ReasonCode.id, ReasonCode.code, ReasonCode.label, ReasonCode.aliases,
                     ReasonCode.position, ReasonCode.retired_at, ReasonCode.polarity, ReasonCode.requires_note,
                     none_str, none_bool).where(ReasonCode.team_id == team_id)
    sources = select(literal("source"), LeadSource.id, LeadSource.code, LeadSource.label, LeadSource.aliases,
                     LeadSource.position, LeadSource.retired_at, none_str, none_bool, none_str,
                     none_bool).where(LeadSource.team_id == team_id)
    everything = union_all(workspace, reasons, sources).subquery()
    return select(everything).order_by(everything.c.kind, everything.c.position, everything.c.id)


def rating_workspace(*, session: Session, team_id: str) -> RatingWorkspace | None:
    """The workspace's codes and rating settings in one statement; None when the workspace is new.

    Read on every rating rather than cached: an admin's change in setup is seen by every process at once.
    """
    rows = session.execute(_rating_workspace_statement(), {"team_id": team_id}).all()
    settings = next((row for row in rows if row.kind == "workspace"), None)
    if settings is None:
        return None

    def codes(of: str) -> tuple[Code, ...]:
        return tuple(Code(id=row.id, code=row.code, label=row.label, aliases=tuple(row.aliases or ()),
                          position=row.position, retired=row.retired_at is not None, polarity=row.polarity,
                          requires_note=bool(row.requires_note)) for row in rows if row.kind == of)

    return RatingWorkspace(reasons=codes("reason"), sources=codes("source"),
                           lead_feed_channel=settings.lead_feed_channel,
                           allow_new_sources=bool(settings.allow_new_sources))


@dataclass(frozen=True)
class HeldRating:
    """A stored rating as rating again needs it: what it says, and whether it has a lead-feed post."""

    id: int
    rater_user_id: str
    lead_key: str
    source_id: int | None
    source_text: str | None
    campaign: str | None
    note: str | None
    reason_ids: tuple[int, ...]
    feed_post: bool


@cache
def _held_ratings_statement(*, editing: bool) -> Select:
    team_id = bindparam("team_id")
    feed_post = exists().where(OutboxMessage.team_id == team_id,
                               OutboxMessage.dedupe_key == bindparam("feed_key_prefix", type_=String)
                               + cast(LeadRating.id, String))
    mine = and_(LeadRating.rater_user_id == bindparam("rater_user_id"), LeadRating.lead_key == bindparam("lead_key"))
    return (
        select(LeadRating.id, LeadRating.rater_user_id, LeadRating.lead_key, LeadRating.source_id,
               LeadRating.source_text, LeadRating.campaign, LeadRating.note, LeadRatingReason.reason_id,
               feed_post.label("feed_post"))
        .outerjoin(LeadRatingReason, LeadRatingReason.rating_id == LeadRating.id)
        .where(LeadRating.team_id == team_id, or_(mine, LeadRating.id == bindparam("rating_id")) if editing else mine)
    )


def held_ratings(*, session: Session, team_id: str, rater_user_id: str, lead_key: str, rating_id: int | None,
                 feed_key_prefix: str) -> list[HeldRating]:
    """The rep's rating of this lead and the rating `rating_id` (the one edited), in one statement.

    A rating's lead-feed post is the outbox message keyed `feed_key_prefix` + its id.
    """
    rows = session.execute(_held_ratings_statement(editing=rating_id is not None),
                           dict(team_id=team_id, rater_user_id=rater_user_id, lead_key=lead_key, rating_id=rating_id,
                                feed_key_prefix=feed_key_prefix)).all()
    held: dict[int, HeldRating] = {}
    for row in rows:
        earlier = held.get(row.id)
        reasons = (*(earlier.reason_ids if earlier else ()), *((row.reason_id,) if row.reason_id else ()))
        held[row.id] = HeldRating(id=row.id, rater_user_id=row.rater_user_id, lead_key=row.lead_key,
                                  source_id=row.source_id, source_text=row.source_text, campaign=row.campaign,
                                  note=row.note, reason_ids=reasons, feed_post=bool(row.feed_post))
    return list(held.values())


@dataclass(frozen=True)
class SavedRating:
    id: int
    rated_at: datetime
    created: bool


def save_lead_rating(
    *,
    session: Session,
    team_id: str,
    rater_user_id: str,
    rating_id: int | None = None,
    lead_ref: str,
    lead_key: str,
    rating: int,
    source_id: int | None,
    source_text: str | None,
    campaign: str | None,
    note: str | None,
    reason_ids: Sequence[int],
    now: datetime,
) -> SavedRating:
    """Store the rep's one current rating of a lead (insert, or replace the one with that key), or rewrite
    `rating_id`; then its reasons. Two statements for a new rating; one more to drop reasons on SQLite."""
    dialect = session.get_bind().dialect.name
    values = dict(lead_ref=lead_ref, lead_key=lead_key, rating=rating, source_id=source_id,
                  source_text=source_text, campaign=campaign, note=note, updated_at=now)
    if rating_id is None:
        statement = _upsert_rating_statement(dialect)
        values.update(team_id=team_id, rater_user_id=rater_user_id, rated_at=now)
    else:
        statement = _edit_rating_statement()
        values.update(team_id=team_id, rating_id=rating_id)
    saved_id, rated_at = session.execute(statement, {f"new_{name}": value for name, value in values.items()}).one()
    # An update keeps the first rating's time, so the rating was inserted exactly when it carries this one's.
    created = rating_id is None and rated_at == now
    reasons = list(dict.fromkeys(reason_ids))
    replace = not created
    if replace and (not reasons or dialect != "postgresql"):
        session.execute(_drop_reasons_statement(dialect, keep=bool(reasons)),
                        dict(rating_id=saved_id, reason_ids=reasons))
    if reasons:
        session.execute(_add_reasons_statement(dialect, replace=replace and dialect == "postgresql"),
                        dict(team_id=team_id, rating_id=saved_id, reason_ids=reasons, rated_at=rated_at, rating=rating))
    return SavedRating(id=saved_id, rated_at=rated_at, created=created)


# Statements built once per dialect, with bound parameters: building them cost more than running them.
# Core tables, not ORM entities: the ORM's bulk-insert handling adds nothing to these.
_RATINGS, _REASONS = LeadRating.__table__, LeadRatingReason.__table__
_RATING_COLUMNS = ("lead_ref", "lead_key", "rating", "source_id", "source_text", "campaign", "note", "updated_at")


@cache
def _upsert_rating_statement(dialect: str):
    changed = {name: bindparam(f"new_{name}") for name in _RATING_COLUMNS}
    insert = insert_for(dialect, _RATINGS).values(
        team_id=bindparam("new_team_id"), rater_user_id=bindparam("new_rater_user_id"),
        rated_at=bindparam("new_rated_at"), **changed)
    return insert.on_conflict_do_update(
        index_elements=["team_id", "rater_user_id", "lead_key"],
        set_={name: insert.excluded[name] for name in _RATING_COLUMNS},
    ).returning(_RATINGS.c.id, _RATINGS.c.rated_at)


@cache
def _edit_rating_statement():
    return (
        update(_RATINGS)
        .where(_RATINGS.c.team_id == bindparam("new_team_id"), _RATINGS.c.id == bindparam("new_rating_id"))
        .values({name: bindparam(f"new_{name}") for name in _RATING_COLUMNS})
        .returning(_RATINGS.c.id, _RATINGS.c.rated_at)
    )


def _reason_ids(dialect: str):
    """The reason ids, bound as one value: a PostgreSQL array, or a JSON list that SQLite's json_each reads."""
    if dialect == "postgresql":
        return bindparam("reason_ids", type_=postgresql.ARRAY(Integer))
    return func.json_each(bindparam("reason_ids", type_=JSON)).table_valued("value")


@cache
def _drop_reasons_statement(dialect: str, *, keep: bool):
    """Delete a rating's reasons, all of them or (`keep`) those not among the reason ids."""
    gone = delete(_REASONS).where(_REASONS.c.rating_id == bindparam("rating_id"))
    if not keep:
        return gone
    ids = _reason_ids(dialect)
    if dialect == "postgresql":
        return gone.where(_REASONS.c.reason_id != all_(ids))
    return gone.where(_REASONS.c.reason_id.not_in(select(ids.c.value)))


@cache
def _add_reasons_statement(dialect: str, *, replace: bool):
    """A rating's reasons, each row carrying the rating's time and score for the digest; with `replace`
    (PostgreSQL), the reasons not given any more are dropped in the same statement."""
    ids = _reason_ids(dialect)
    each = func.unnest(ids) if dialect == "postgresql" else ids.c.value
    rows = select(bindparam("team_id", type_=String), bindparam("rating_id", type_=Integer), each,
                  bindparam("rated_at", type_=UTCDateTime()), bindparam("rating", type_=Integer))
    if dialect != "postgresql":
        rows = rows.select_from(ids).where(true())  # SQLite reads ON CONFLICT after a bare SELECT as a join
    insert = insert_for(dialect, _REASONS).from_select(
        ["team_id", "rating_id", "reason_id", "rated_at", "rating"], rows)
    insert = insert.on_conflict_do_update(index_elements=["rating_id", "reason_id"],
                                          set_=dict(rating=insert.excluded.rating))
    if replace:
        # The dropped reasons and the kept or new ones are different rows: one statement does both.
        insert = insert.add_cte(_drop_reasons_statement(dialect, keep=True).cte("gone"))
    return insert


@dataclass(frozen=True)
class RatingRow:
    """A rating with the labels people read: its source's and its reasons' (in list order)."""

    id: int
    lead_ref: str
    rating: int
    source_id: int | None
    source_label: str | None
    source_text: str | None
    campaign: str | None
    note: str | None
    rater_user_id: str
    updated_at: datetime
    reasons: tuple[tuple[str, str], ...]  # (code, label)
    source_code: str | None = None


@cache
def _rating_rows_statement(*, by_id: bool, by_rater: bool) -> Select:
    wanted = [LeadRating.team_id == bindparam("team_id")]
    if by_id:
        wanted.append(LeadRating.id == bindparam("rating_id"))
    if by_rater:
        wanted.append(LeadRating.rater_user_id == bindparam("rater_user_id"))
    newest = (LeadRating.updated_at.desc(), LeadRating.id.desc())
    page = (select(LeadRating.id, func.count().over().label("total")).where(*wanted).order_by(*newest)
            .limit(bindparam("limit", type_=Integer)).subquery())
    return (
        select(LeadRating.id, LeadRating.lead_ref, LeadRating.rating, LeadRating.source_id,
               LeadSource.label.label("source_label"), LeadSource.code.label("source_code"), LeadRating.source_text,
               LeadRating.campaign,
               LeadRating.note, LeadRating.rater_user_id, LeadRating.updated_at, page.c.total,
               ReasonCode.code.label("reason_code"), ReasonCode.label.label("reason_label"))
        .join(page, page.c.id == LeadRating.id)
        .outerjoin(LeadSource, LeadSource.id == LeadRating.source_id)
        .outerjoin(LeadRatingReason, LeadRatingReason.rating_id == LeadRating.id)
        .outerjoin(ReasonCode, ReasonCode.id == LeadRatingReason.reason_id)
        .order_by(*newest, ReasonCode.position, ReasonCode.id)
    )


def rating_rows(*, session: Session, team_id: str, rating_id: int | None = None, rater_user_id: str | None = None,
                limit: int = 1) -> tuple[list[RatingRow], int]:
    """One rating (`rating_id`) or a rep's latest, newest first, with labels, and how many match in all:
    one statement."""
    rows = session.execute(_rating_rows_statement(by_id=rating_id is not None, by_rater=rater_user_id is not None),
                           dict(team_id=team_id, rating_id=rating_id, rater_user_id=rater_user_id, limit=limit)).all()
    found: dict[int, RatingRow] = {}
    for row in rows:
        earlier = found.get(row.id)
        reasons = (*(earlier.reasons if earlier else ()),
                   *(((row.reason_code, row.reason_label),) if row.reason_code is not None else ()))
        found[row.id] = RatingRow(id=row.id, lead_ref=row.lead_ref, rating=row.rating, source_id=row.source_id,
                                  source_label=row.source_label, source_text=row.source_text,
                                  campaign=row.campaign, note=row.note, rater_user_id=row.rater_user_id,
                                  updated_at=row.updated_at, reasons=reasons, source_code=row.source_code)
    return list(found.values()), (rows[0].total if rows else 0)
