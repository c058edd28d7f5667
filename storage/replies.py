"""Queries for marketing's replies to feedback: the one reply row per subject, and what it is about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from storage.models import FeedbackReply, FieldIntel, LeadRating, TeamMember
from storage.queries import dialect_insert


@dataclass(frozen=True)
class SubjectRow:
    """The feedback a reply is about: who gave it, when, and how people name it."""

    kind: str
    id: int
    author_user_id: str
    given_at: datetime
    title: str  # the lead reference, or the intel's topic (or its text when it has none)
    rating: int | None = None  # a lead rating's 1–5
    intel_kind: str | None = None


def subject_row(*, session: Session, team_id: str, kind: str, subject_id: int) -> SubjectRow | None:
    """The rating or field-intel item a reply is about, or None when it no longer exists."""
    if kind == "rating":
        row = session.execute(
            select(LeadRating.rater_user_id, LeadRating.rated_at, LeadRating.lead_ref, LeadRating.rating)
            .where(LeadRating.team_id == team_id, LeadRating.id == subject_id)
        ).first()
        return SubjectRow(kind=kind, id=subject_id, author_user_id=row.rater_user_id, given_at=row.rated_at,
                          title=row.lead_ref, rating=row.rating) if row else None
    row = session.execute(
        select(FieldIntel.user_id, FieldIntel.created_at, FieldIntel.topic, FieldIntel.text, FieldIntel.kind)
        .where(FieldIntel.team_id == team_id, FieldIntel.id == subject_id)
    ).first()
    return SubjectRow(kind=kind, id=subject_id, author_user_id=row.user_id, given_at=row.created_at,
                      title=row.topic or row.text, intel_kind=row.kind) if row else None


def marketing_ids(*, session: Session, team_id: str) -> list[str]:
    return list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id,
                                                                 TeamMember.side == "marketing")))


def has_teams(*, session: Session, team_id: str) -> bool:
    return session.scalar(select(TeamMember.id).where(TeamMember.team_id == team_id).limit(1)) is not None


def save_reply(*, session: Session, team_id: str, kind: str, subject_id: int, status: str, note: str | None,
               link: str | None, replied_by: str, subject_at: datetime, now: datetime) -> None:
    """Upsert the subject's one reply: the latest status, note, link and replier win; first_replied_at stays."""
    insert = dialect_insert(session, FeedbackReply)
    session.execute(insert.values(
        team_id=team_id, subject_kind=kind, subject_id=subject_id, status=status, note=note, link=link,
        replied_by=replied_by, subject_at=subject_at, first_replied_at=now, replied_at=now,
    ).on_conflict_do_update(
        index_elements=["team_id", "subject_kind", "subject_id"],
        set_=dict(status=insert.excluded.status, note=insert.excluded.note, link=insert.excluded.link,
                  replied_by=insert.excluded.replied_by, replied_at=insert.excluded.replied_at),
    ))


def reply_of(*, session: Session, team_id: str, kind: str, subject_id: int) -> FeedbackReply | None:
    return session.scalar(select(FeedbackReply).where(
        FeedbackReply.team_id == team_id, FeedbackReply.subject_kind == kind, FeedbackReply.subject_id == subject_id))


def delete_replies_of(*, session: Session, team_id: str, user_id: str) -> tuple[int, Sequence[tuple[str, int]]]:
    """Delete the replies to `user_id`'s ratings and field intel, and the replies they wrote.

    Returns how many went, and the subjects (kind, id) of other people's feedback whose reply was theirs:
    those posts are shown again without it.
    """
    theirs = or_(
        (FeedbackReply.subject_kind == "rating") & FeedbackReply.subject_id.in_(
            select(LeadRating.id).where(LeadRating.team_id == team_id, LeadRating.rater_user_id == user_id)),
        (FeedbackReply.subject_kind == "intel") & FeedbackReply.subject_id.in_(
            select(FieldIntel.id).where(FieldIntel.team_id == team_id, FieldIntel.user_id == user_id)),
    )
    written = session.execute(
        select(FeedbackReply.subject_kind, FeedbackReply.subject_id)
        .where(FeedbackReply.team_id == team_id, FeedbackReply.replied_by == user_id, ~theirs)
    ).all()
    deleted = session.execute(delete(FeedbackReply).where(
        FeedbackReply.team_id == team_id, or_(theirs, FeedbackReply.replied_by == user_id))).rowcount
    return deleted, [(row.subject_kind, row.subject_id) for row in written]
