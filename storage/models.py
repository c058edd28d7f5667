"""SQLAlchemy 2 models. Every row carries its workspace (`team_id`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Workspace(Base):
    """A Slack workspace that has used Crossfeed; created on first use with its defaults."""

    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReasonCode(Base):
    """Why a lead was good or bad; each bad one routes to a fix area."""

    __tablename__ = "reason_codes"
    __table_args__ = (
        UniqueConstraint("team_id", "code"),
        CheckConstraint("polarity IN ('good', 'bad')", name="polarity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(75))
    polarity: Mapped[str] = mapped_column(String(4))
    fix_area: Mapped[str | None] = mapped_column(String(16))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    requires_note: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeadSource(Base):
    """Where a lead came from (maps onto HubSpot's and Salesforce's source lists)."""

    __tablename__ = "lead_sources"
    __table_args__ = (UniqueConstraint("team_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(75))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(32))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeadRating(Base):
    """A rep's current rating of one lead: one row per workspace, rep and normalised lead."""

    __tablename__ = "lead_ratings"
    __table_args__ = (
        UniqueConstraint("team_id", "rater_user_id", "lead_key"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_lead_ratings_team_rated_at", "team_id", "rated_at"),
        Index("ix_lead_ratings_rater_updated", "team_id", "rater_user_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    rater_user_id: Mapped[str] = mapped_column(String(32))
    lead_ref: Mapped[str] = mapped_column(String(200))
    lead_key: Mapped[str] = mapped_column(String(200))
    rating: Mapped[int] = mapped_column(SmallInteger)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("lead_sources.id"))
    campaign: Mapped[str | None] = mapped_column(String(150))
    note: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    source: Mapped[LeadSource | None] = relationship(lazy="joined")
    reasons: Mapped[list[ReasonCode]] = relationship(
        secondary="lead_rating_reasons", order_by="ReasonCode.position", lazy="selectin"
    )


class LeadRatingReason(Base):
    __tablename__ = "lead_rating_reasons"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("lead_ratings.id", ondelete="CASCADE"), primary_key=True
    )
    reason_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id"), primary_key=True, index=True)


class OutboxMessage(Base):
    """A Slack message to send (or re-sync) after the transaction that asked for it commits.

    `dedupe_key` makes enqueueing idempotent; `status` moves pending → sending → sent | failed.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("team_id", "dedupe_key"),
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
