"""Field intel rows: storing an item once per modal, the post's view of it, and the digest's counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import FeedbackReply, FieldIntel, OutboxMessage
from storage.queries import dialect_insert

INTEL_KEY = "intel:"  # the outbox key of an item's post, before its id


def save_intel(
    *, session: Session, team_id: str, user_id: str, kind: str, topic: str | None, topic_key: str | None,
    text: str, permalink: str | None, message_channel: str | None, message_ts: str | None, submission_key: str,
    now: datetime,
) -> tuple[FieldIntel, bool]:
    """Insert the item once per submission key (a re-submitted modal is one row); (the row, whether it is new)."""
    inserted = session.execute(
        dialect_insert(session, FieldIntel).values(
            team_id=team_id, user_id=user_id, kind=kind, topic=topic, topic_key=topic_key, text=text,
            permalink=permalink, message_channel=message_channel, message_ts=message_ts, created_at=now,
            submission_key=submission_key,
        ).on_conflict_do_nothing(index_elements=["team_id", "submission_key"]).returning(FieldIntel.id)
    ).scalar()
    row = session.scalars(select(FieldIntel).where(
        FieldIntel.team_id == team_id, FieldIntel.submission_key == submission_key)).one()
    return row, inserted is not None


def set_missing_permalink(*, session: Session, team_id: str, intel_id: int, permalink: str) -> bool:
    """Give an item the message's link if it has none yet; whether it did."""
    return session.execute(
        update(FieldIntel)
        .where(FieldIntel.team_id == team_id, FieldIntel.id == intel_id, FieldIntel.permalink.is_(None))
        .values(permalink=permalink)
    ).rowcount == 1


def intel_with_reply(
    *, session: Session, team_id: str, intel_id: int
) -> tuple[FieldIntel, FeedbackReply | None] | None:
    """An item and marketing's current reply to it, for its post."""
    found = session.execute(
        select(FieldIntel, FeedbackReply)
        .outerjoin(FeedbackReply, (FeedbackReply.team_id == FieldIntel.team_id)
                   & (FeedbackReply.subject_kind == "intel") & (FeedbackReply.subject_id == FieldIntel.id))
        .where(FieldIntel.team_id == team_id, FieldIntel.id == intel_id)
    ).first()
    return (found[0], found[1]) if found else None


def topic_spellings(
    *, session: Session, team_id: str, key_contains: str = "", kinds: tuple[str, ...] | None = None,
    start: datetime | None = None, end: datetime | None = None,
) -> list[tuple[str, str, int, datetime]]:
    """(topic_key, spelling, count, first seen) for each way a topic was written, filtered by key, kind and time."""
    query = (
        select(FieldIntel.topic_key, FieldIntel.topic, func.count(), func.min(FieldIntel.created_at))
        .where(FieldIntel.team_id == team_id, FieldIntel.topic_key.is_not(None))
        .group_by(FieldIntel.topic_key, FieldIntel.topic)
    )
    if key_contains:
        escaped = key_contains.replace("/", "//").replace("%", "/%").replace("_", "/_")
        query = query.where(FieldIntel.topic_key.like(f"%{escaped}%", escape="/"))
    if kinds is not None:
        query = query.where(FieldIntel.kind.in_(kinds))
    if start is not None:
        query = query.where(FieldIntel.created_at >= start, FieldIntel.created_at < end)
    return [tuple(row) for row in session.execute(query)]


def kind_counts(*, session: Session, team_id: str, start: datetime, end: datetime) -> dict[str, int]:
    return dict(session.execute(
        select(FieldIntel.kind, func.count())
        .where(FieldIntel.team_id == team_id, FieldIntel.created_at >= start, FieldIntel.created_at < end)
        .group_by(FieldIntel.kind)
    ).all())


def sender_count(*, session: Session, team_id: str, start: datetime, end: datetime) -> int:
    return session.scalar(
        select(func.count(func.distinct(FieldIntel.user_id)))
        .where(FieldIntel.team_id == team_id, FieldIntel.created_at >= start, FieldIntel.created_at < end)
    ) or 0


def intel_rows(*, session: Session, team_id: str, since: datetime) -> list[tuple]:
    """For the export: created_at, user, kind, topic, text, permalink, and marketing's reply status."""
    return [tuple(row) for row in session.execute(
        select(FieldIntel.created_at, FieldIntel.id, FieldIntel.user_id, FieldIntel.kind, FieldIntel.topic,
               FieldIntel.text, FieldIntel.permalink, FeedbackReply.status, FeedbackReply.replied_by)
        .outerjoin(FeedbackReply, (FeedbackReply.team_id == FieldIntel.team_id)
                   & (FeedbackReply.subject_kind == "intel") & (FeedbackReply.subject_id == FieldIntel.id))
        .where(FieldIntel.team_id == team_id, FieldIntel.created_at >= since)
        .order_by(FieldIntel.created_at, FieldIntel.id)
    )]


def forget_intel(*, session: Session, team_id: str, user_id: str) -> int:
    """Delete one person's intel, the replies to it and its posts' outbox rows; how many items went."""
    ids = list(session.scalars(select(FieldIntel.id).where(FieldIntel.team_id == team_id,
                                                           FieldIntel.user_id == user_id)))
    if not ids:
        return 0
    session.execute(delete(OutboxMessage).where(
        OutboxMessage.team_id == team_id, OutboxMessage.dedupe_key.in_([f"{INTEL_KEY}{i}" for i in ids])))
    session.execute(delete(FeedbackReply).where(
        FeedbackReply.team_id == team_id, FeedbackReply.subject_kind == "intel", FeedbackReply.subject_id.in_(ids)))
    return session.execute(delete(FieldIntel).where(FieldIntel.team_id == team_id, FieldIntel.id.in_(ids))).rowcount
