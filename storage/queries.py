"""Query functions: keyword-only, one idea each. All SQL lives here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.defaults import DEFAULT_REASONS, DEFAULT_SOURCES
from storage.models import (
    LeadRating,
    LeadRatingReason,
    LeadSource,
    ReasonCode,
    Workspace,
    WorkspaceConfig,
)


def dialect_insert(session: Session, model):
    """INSERT with ON CONFLICT support for whichever database the session is bound to."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


# --- workspaces -------------------------------------------------------------------------------


def ensure_workspace(*, session: Session, team_id: str) -> None:
    """Create the workspace with its default reason codes and sources, once."""
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


def retired_sources(*, session: Session, team_id: str) -> Sequence[LeadSource]:
    return session.scalars(
        select(LeadSource)
        .where(LeadSource.team_id == team_id, LeadSource.retired_at.is_not(None))
        .order_by(LeadSource.position, LeadSource.id)
    ).all()


def allows_new_sources(*, session: Session, team_id: str) -> bool:
    """Whether a source a rep types that matches none becomes a new source (an admin's choice in setup)."""
    return bool(session.scalar(
        select(WorkspaceConfig.allow_new_sources).where(WorkspaceConfig.team_id == team_id)
    ))


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


def ratings_with_typed_source(*, session: Session, team_id: str) -> Sequence[tuple[int, str]]:
    """(rating id, typed text) of the ratings whose source is still text a rep typed."""
    return session.execute(
        select(LeadRating.id, LeadRating.source_text)
        .where(LeadRating.team_id == team_id, LeadRating.source_text.is_not(None))
    ).all()


def move_ratings_to_source(*, session: Session, team_id: str, rating_ids: Sequence[int], source_id: int) -> None:
    """Ratings whose typed source is now a source: count them under it, the typed text done with."""
    session.execute(
        update(LeadRating)
        .where(LeadRating.team_id == team_id, LeadRating.id.in_(rating_ids))
        .values(source_id=source_id, source_text=None)
    )


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


def source_by_id(*, session: Session, team_id: str, source_id: int) -> LeadSource | None:
    return session.scalar(
        select(LeadSource).where(LeadSource.team_id == team_id, LeadSource.id == source_id)
    )


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


def rating_id_for_lead(*, session: Session, team_id: str, rater_user_id: str, lead_key: str) -> int | None:
    return session.scalar(
        select(LeadRating.id).where(
            LeadRating.team_id == team_id,
            LeadRating.rater_user_id == rater_user_id,
            LeadRating.lead_key == lead_key,
        )
    )


def upsert_lead_rating(
    *,
    session: Session,
    team_id: str,
    rater_user_id: str,
    lead_ref: str,
    lead_key: str,
    rating: int,
    source_id: int | None,
    source_text: str | None,
    campaign: str | None,
    note: str | None,
    reason_ids: Sequence[int],
    now: datetime,
) -> int:
    """Insert or replace the rep's one current rating of a lead; returns the row id."""
    values = dict(
        lead_ref=lead_ref, rating=rating, source_id=source_id, source_text=source_text, campaign=campaign,
        note=note, updated_at=now,
    )
    statement = dialect_insert(session, LeadRating).values(
        team_id=team_id, rater_user_id=rater_user_id, lead_key=lead_key, rated_at=now, **values
    )
    rating_id = session.scalar(
        statement.on_conflict_do_update(
            index_elements=["team_id", "rater_user_id", "lead_key"], set_=values
        ).returning(LeadRating.id)
    )
    _replace_reasons(session=session, team_id=team_id, rating_id=rating_id, reason_ids=reason_ids)
    return rating_id


def update_lead_rating(
    *,
    session: Session,
    team_id: str,
    rating_id: int,
    lead_ref: str,
    lead_key: str,
    rating: int,
    source_id: int | None,
    source_text: str | None,
    campaign: str | None,
    note: str | None,
    reason_ids: Sequence[int],
    now: datetime,
) -> None:
    session.execute(
        update(LeadRating)
        .where(LeadRating.team_id == team_id, LeadRating.id == rating_id)
        .values(
            lead_ref=lead_ref, lead_key=lead_key, rating=rating, source_id=source_id, source_text=source_text,
            campaign=campaign, note=note, updated_at=now,
        )
    )
    _replace_reasons(session=session, team_id=team_id, rating_id=rating_id, reason_ids=reason_ids)


def _replace_reasons(*, session: Session, team_id: str, rating_id: int, reason_ids: Sequence[int]) -> None:
    session.execute(delete(LeadRatingReason).where(LeadRatingReason.rating_id == rating_id))
    if reason_ids:
        rated_at, rating = session.execute(
            select(LeadRating.rated_at, LeadRating.rating).where(LeadRating.id == rating_id)
        ).one()
        session.execute(
            dialect_insert(session, LeadRatingReason),
            [{"team_id": team_id, "rating_id": rating_id, "reason_id": reason_id, "rated_at": rated_at,
              "rating": rating} for reason_id in dict.fromkeys(reason_ids)],
        )
    session.expire_all()


def lead_rating(*, session: Session, team_id: str, rating_id: int) -> LeadRating | None:
    return session.scalar(select(LeadRating).where(LeadRating.team_id == team_id, LeadRating.id == rating_id))


def recent_ratings(*, session: Session, team_id: str, rater_user_id: str, limit: int) -> Sequence[LeadRating]:
    return session.scalars(
        select(LeadRating)
        .where(LeadRating.team_id == team_id, LeadRating.rater_user_id == rater_user_id)
        .order_by(LeadRating.updated_at.desc(), LeadRating.id.desc())
        .limit(limit)
    ).all()


def count_ratings(*, session: Session, team_id: str, rater_user_id: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LeadRating)
        .where(LeadRating.team_id == team_id, LeadRating.rater_user_id == rater_user_id)
    )
