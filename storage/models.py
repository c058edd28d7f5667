"""SQLAlchemy 2 models. Every row carries its workspace (`team_id`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
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
    # The Enterprise Grid org an org-wide install came from (none for a standalone workspace).
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    # The workspace's name as Slack gave it (at install, or from auth.teams.list for an org's workspaces),
    # to name it where one message speaks for several workspaces, such as a shared channel's digest.
    name: Mapped[str | None] = mapped_column(String(100))
    # When Slack said the app was uninstalled (or its bot token revoked): the workspace's rows are deleted
    # DATA_RETENTION_DAYS later, unless it is installed again before then (which clears this).
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
        # Covers the digest's lead section: a week's rows are read from the index alone.
        Index("ix_lead_ratings_team_rated_at", "team_id", "rated_at", "rating", "source_id", "rater_user_id"),
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
    # A source the rep typed that matched none of the workspace's (kept under "other" for admins to add).
    source_text: Mapped[str | None] = mapped_column(String(75))
    note: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    source: Mapped[LeadSource | None] = relationship(lazy="joined")
    reasons: Mapped[list[ReasonCode]] = relationship(
        secondary="lead_rating_reasons", order_by="ReasonCode.position", lazy="selectin"
    )


class LeadRatingReason(Base):
    """A reason given for a rating; carries the rating's time and score so the digest can count a week's
    reasons from this table's own index, without joining the whole history."""

    __tablename__ = "lead_rating_reasons"
    __table_args__ = (
        Index("ix_lead_rating_reasons_team_rated_at", "team_id", "rated_at", "rating", "reason_id"),
    )

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("lead_ratings.id", ondelete="CASCADE"), primary_key=True
    )
    reason_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id"), primary_key=True, index=True)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rating: Mapped[int] = mapped_column(SmallInteger)


class OutboxMessage(Base):
    """A Slack message to send (or re-sync) after the transaction that asked for it commits.

    `dedupe_key` makes enqueueing idempotent (queueing again re-arms the row and counts in `requests`);
    `status` moves pending → sending → sent | failed.
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
    # How many times it was queued: a sender records "sent" only if this did not move since its claim.
    requests: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- teams, admins and pulse checks ---------------------------------------------------------------


WORK_DAYS = ("mon", "tue", "wed", "thu", "fri")


class WorkspaceConfig(Base):
    """A workspace's configuration; defaults until an admin changes them."""

    __tablename__ = "workspace_configs"
    __table_args__ = (
        # Fewer than 3 answers would let people work out who said what.
        CheckConstraint("anonymity_threshold >= 3", name="anonymity_floor"),
        CheckConstraint("comment_threshold >= anonymity_threshold", name="comment_floor"),
        CheckConstraint("pulse_cadence IN ('weekly', 'biweekly')", name="cadence"),
        CheckConstraint("lead_quality_target_kind IN ('average', 'good')", name="lead_quality_target_kind"),
    )

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    first_admin_user_id: Mapped[str | None] = mapped_column(String(32))
    sales_name: Mapped[str] = mapped_column(String(40), default="Sales")
    marketing_name: Mapped[str] = mapped_column(String(40), default="Marketing")
    sales_usergroup_id: Mapped[str | None] = mapped_column(String(32))
    marketing_usergroup_id: Mapped[str | None] = mapped_column(String(32))
    pulse_cadence: Mapped[str] = mapped_column(String(8), default="weekly")
    pulse_day: Mapped[str] = mapped_column(String(3), default="wed")
    pulse_time: Mapped[str] = mapped_column(String(5), default="10:00")
    pulse_open_hours: Mapped[int] = mapped_column(Integer, default=72)
    pulse_reminder_hours: Mapped[int] = mapped_column(Integer, default=24)
    pulse_questions: Mapped[list[str] | None] = mapped_column(JSON)
    anonymity_threshold: Mapped[int] = mapped_column(Integer, default=3)
    comment_threshold: Mapped[int] = mapped_column(Integer, default=5)
    digest_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest_day: Mapped[str] = mapped_column(String(3), default="mon")
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00")
    # Where messaging asks go by default, and where 1–2 ratings are shared (both optional; env as fallback).
    sales_channel: Mapped[str | None] = mapped_column(String(32))
    lead_feed_channel: Mapped[str | None] = mapped_column(String(32))
    # Leaders see the digest summary and trend on their Home tab (admins always do).
    leader_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Whether a source typed by a rep that matches none becomes a new source (else it is kept as text).
    allow_new_sources: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the one reminder about an open messaging ask goes to reps who haven't answered (hours after it opens).
    ask_reminder_hours: Mapped[int] = mapped_column(Integer, default=24)
    # Lead handoff: working minutes a lead's owner has to accept it (a change applies to leads that arrive after),
    # the working week it is counted in (the workspace's time zone), and who hears of a breach (else the
    # sales channel).
    lead_sla_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    work_start: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    work_end: Mapped[str] = mapped_column(String(5), default="17:00", server_default="17:00")
    work_days: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(WORK_DAYS),
                                                 server_default='["mon", "tue", "wed", "thu", "fri"]')
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")  # ISO dates, e.g. "2026-12-25"
    lead_escalation_user_id: Mapped[str | None] = mapped_column(String(32))
    # Working days after acceptance before the owner is asked to rate the lead.
    lead_rate_after_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # What both teams mean by a qualified lead: shown in the rating form, linked from the digest.
    qualified_lead_definition: Mapped[str | None] = mapped_column(Text)
    # ISO weeks ("2026-W52") in which no pulse round opens (holidays): the digest says why it has no pulse.
    skipped_pulse_weeks: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # How long a messaging ask stays open unless the asker says otherwise.
    ask_open_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # Targets leaders read the digest against (None: no target): the alignment index (0–100), and lead
    # quality as an average rating (1–5) or a share of good (4–5) ratings (0–100).
    alignment_target: Mapped[int | None] = mapped_column(Integer)
    lead_quality_target: Mapped[float | None] = mapped_column(Float)
    lead_quality_target_kind: Mapped[str] = mapped_column(String(8), default="average", server_default="average")


class Admin(Base):
    __tablename__ = "admins"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    user_id: Mapped[str] = mapped_column(String(32))
    added_by: Mapped[str | None] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamMember(Base):
    """A person in the sales or marketing team: added by hand, or synced from the team's user group."""

    __tablename__ = "team_members"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        CheckConstraint("side IN ('sales', 'marketing')", name="side"),
        CheckConstraint("origin IN ('explicit', 'usergroup')", name="origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    user_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(9))
    origin: Mapped[str] = mapped_column(String(9))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PulseRound(Base):
    """One pulse round: unique per workspace and period, so two clocks open it once."""

    __tablename__ = "pulse_rounds"
    __table_args__ = (UniqueConstraint("team_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    period: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    questions: Mapped[list[str]] = mapped_column(JSON)
    sales_name: Mapped[str] = mapped_column(String(40))
    marketing_name: Mapped[str] = mapped_column(String(40))
    # Each person is prompted and reminded at their own local time (the ledger's prompt_at and remind_at).
    # The clock claims the time up to which it has queued them (a conditional UPDATE from the old value), so
    # two clocks never queue one person's prompt or reminder twice.
    prompted_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Once closed, its answers and comments are rewritten in one transaction, in respondent-key order, so neither
    # their place on disk nor their transaction ids say in which order (or which time zone's wave) they came.
    answers_sealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PulseParticipation(Base):
    """Who was asked and whether they answered: the ledger that says whom to remind.

    Kept apart from the answers, holding no time of answering, and never written in an answer's
    transaction: "answered" marks are written later in batches (see bot.pulse.flush_answered_marks).
    """

    __tablename__ = "pulse_participation"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(9))
    answered_via: Mapped[str | None] = mapped_column(String(5))
    # When this person is prompted and reminded: the schedule's day and time in their own time zone.
    prompt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Away when their prompt or reminder came (time off): not prompted or reminded, not counted as asked.
    # Only the fact, never why or until when.
    away: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Person(Base):
    """What Crossfeed knows of a person's time: their Slack time zone and status (from `users.info`, kept
    current by the `user_change` event) and time off they declared with `/pulse away until DATE`."""

    __tablename__ = "people"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name, as Slack's `tz`
    status_text: Mapped[str | None] = mapped_column(String(150))
    status_emoji: Mapped[str | None] = mapped_column(String(100))
    status_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: the status doesn't expire
    # Declared time off: away through this date (inclusive, in their own zone).
    away_until: Mapped[date | None] = mapped_column(Date)
    # When Slack last told us their zone and status (None: never asked yet).
    profile_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PulseAnswer(Base):
    """One anonymous answer: no user id, no timestamp, no sequence number.

    `respondent` is HMAC(secret, round, person) under a secret kept outside the database
    (bot.pulse.respondent_key): one answer set per person and round, however they answer, that
    the database alone cannot tie to anyone.
    """

    __tablename__ = "pulse_answers"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id", ondelete="CASCADE"), primary_key=True)
    respondent: Mapped[str] = mapped_column(String(32), primary_key=True)
    question: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    side: Mapped[str] = mapped_column(String(9))
    score: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)


class PulseComment(Base):
    """One anonymous comment per respondent and round (same respondent key as the answers)."""

    __tablename__ = "pulse_comments"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id", ondelete="CASCADE"), primary_key=True)
    respondent: Mapped[str] = mapped_column(String(32), primary_key=True)
    side: Mapped[str] = mapped_column(String(9))
    text: Mapped[str] = mapped_column(Text)


# --- messaging feedback ---------------------------------------------------------------------------


class MessagingAsk(Base):
    """A marketer's question to sales: how did this message, talk track or asset land with buyers?"""

    __tablename__ = "messaging_asks"
    __table_args__ = (
        Index("ix_messaging_asks_team_closes", "team_id", "closes_at"),
        CheckConstraint("audience IN ('channel', 'dm')", name="audience"),
        # The modal's view id: a re-submitted or double-clicked modal creates one ask.
        UniqueConstraint("team_id", "submission_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    asker_user_id: Mapped[str] = mapped_column(String(32))
    asker_side: Mapped[str | None] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(100))
    link: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(7))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submission_key: Mapped[str] = mapped_column(String(64))
    # One reminder to reps who haven't answered: due at `remind_at` (set when the ask opens, from the
    # workspace's setting), claimed by setting `reminders_queued`.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_queued: Mapped[bool] = mapped_column(Boolean, default=False)
    # v2 of an asset: the ask it follows, so results and the digest can set their resonance side by side.
    previous_ask_id: Mapped[int | None] = mapped_column(ForeignKey("messaging_asks.id", ondelete="SET NULL"))
    # "What we changed", posted by the asker from the summary and sent to everyone who answered.
    change_note: Mapped[str | None] = mapped_column(Text)
    change_link: Mapped[str | None] = mapped_column(String(500))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessagingAnswer(Base):
    """A rep's answer to an ask: one per rep and ask, changeable until the ask closes. Not anonymous."""

    __tablename__ = "messaging_answers"
    __table_args__ = (
        UniqueConstraint("ask_id", "rep_user_id"),
        CheckConstraint("reaction IN ('resonated', 'mixed', 'flat', 'not_used')", name="reaction"),
        Index("ix_messaging_answers_team_answered", "team_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    ask_id: Mapped[int] = mapped_column(ForeignKey("messaging_asks.id", ondelete="CASCADE"))
    rep_user_id: Mapped[str] = mapped_column(String(32))
    reaction: Mapped[str] = mapped_column(String(9))
    buyer_stage: Mapped[str | None] = mapped_column(String(20))
    buyer_quote: Mapped[str | None] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessagingUsage(Base):
    """Where a rep used the messaging (email, call, demo, …): one row per place, for SQL counts."""

    __tablename__ = "messaging_usage"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    answer_id: Mapped[int] = mapped_column(ForeignKey("messaging_answers.id", ondelete="CASCADE"), primary_key=True)
    used_in: Mapped[str] = mapped_column(String(10), primary_key=True)


# --- weekly digest ----------------------------------------------------------------------------------


class DigestPost(Base):
    """The claim that makes the weekly digest post exactly once per audience, channel and week.

    The audience is the workspace, or the Enterprise Grid org for a workspace of an org-wide install:
    a channel shared between the org's workspaces gets one digest speaking for all of them, whichever
    workspace's clock run claims it (`team_id`). Inserted before posting (status `claimed`), marked
    `posted` with the message ts after; a claim left `claimed` by a crash is reconciled against the
    channel's history before posting again.
    """

    __tablename__ = "digest_posts"
    __table_args__ = (
        UniqueConstraint("posted_for", "channel_id", "week"),
        CheckConstraint("status IN ('claimed', 'posted')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    posted_for: Mapped[str] = mapped_column(String(32))  # the audience: the workspace's team id or its org's id
    channel_id: Mapped[str] = mapped_column(String(32))
    week: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(7), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class DigestWeek(Base):
    """A week's digest figures as first posted: next week's changes compare with what leaders read."""

    __tablename__ = "digest_weeks"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), primary_key=True)
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    figures: Mapped[dict] = mapped_column(JSON)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- closing the loop: replies, actions, field intel ------------------------------------------------


class FeedbackReply(Base):
    """Marketing's answer to one piece of feedback (a lead rating or a field-intel item).

    One row per item: a second click, by the same marketer or another, updates it (the latest status and
    note win), so the post shows one status and the digest counts one reply per item. `first_replied_at`
    stays as it was, for "replied within two working days"; `subject_at` is when the feedback was given,
    copied here so that figure needs no join.
    """

    __tablename__ = "feedback_replies"
    __table_args__ = (
        UniqueConstraint("team_id", "subject_kind", "subject_id"),
        CheckConstraint("subject_kind IN ('rating', 'intel')", name="subject_kind"),
        CheckConstraint("status IN ('on_it', 'fixed', 'wont_fix', 'replied')", name="status"),
        Index("ix_feedback_replies_team_subject_at", "team_id", "subject_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    subject_kind: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    replied_by: Mapped[str] = mapped_column(String(32))
    subject_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_replied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Action(Base):
    """Something a team commits to because of feedback: owner, due date, status and what prompted it.

    `prompt_kind`/`prompt_ref` name the feedback (a source code, a reason code, a campaign, an ask id, a pulse
    question, an intel id, a rating id); `prompt_label` is how people read it, kept as it was when the action
    was logged. `submission_key` (the modal's view id) makes a re-submitted modal one action.
    """

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("team_id", "submission_key"),
        CheckConstraint("status IN ('open', 'done', 'dropped')", name="status"),
        CheckConstraint(
            "prompt_kind IN ('source', 'reason', 'campaign', 'ask', 'pulse', 'intel', 'rating', 'talking_point',"
            " 'none')",
            name="prompt_kind",
        ),
        Index("ix_actions_team_status_due", "team_id", "status", "due_on"),
        Index("ix_actions_team_owner", "team_id", "owner_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    title: Mapped[str] = mapped_column(String(150))
    owner_user_id: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(7), default="open")
    prompt_kind: Mapped[str] = mapped_column(String(16), default="none")
    prompt_ref: Mapped[str | None] = mapped_column(String(200))
    prompt_label: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The due-date reminder's claim: set by the one clock run that queues it.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submission_key: Mapped[str] = mapped_column(String(64))


class FieldIntel(Base):
    """What a rep saw in the field (a competitor, an objection, a trend, a customer story, a product gap)."""

    __tablename__ = "field_intel"
    __table_args__ = (
        UniqueConstraint("team_id", "submission_key"),
        CheckConstraint("kind IN ('competitor', 'objection', 'trend', 'customer', 'product_gap')", name="kind"),
        Index("ix_field_intel_team_created", "team_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    user_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(11))
    # The competitor or topic as first typed, and its lower-cased form that groups the counts.
    topic: Mapped[str | None] = mapped_column(String(100))
    topic_key: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    permalink: Mapped[str | None] = mapped_column(String(500))
    message_channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submission_key: Mapped[str] = mapped_column(String(64))


# --- lead handoff ----------------------------------------------------------------------------------


class Lead(Base):
    """A lead marketing handed to sales from the CRM (`POST /hooks/leads`), and its follow-up clock.

    One row per workspace and CRM id: a resend updates the lead's details, never its clock. The clock is set
    once, when the lead arrives, with the SLA in force then: `remind_at` (half of it) and `due_at` (all of it),
    both in working time. Each `*_at` below that has a matching reminder is the claim of the one clock run
    that queued it (set under `WHERE … IS NULL`), so two clocks never send it twice.
    """

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("team_id", "crm_id"),
        CheckConstraint("status IN ('unassigned', 'assigned', 'accepted')", name="status"),
        Index("ix_leads_team_received", "team_id", "received_at"),
        Index("ix_leads_team_owner_status", "team_id", "owner_user_id", "status"),
        Index("ix_leads_team_lead_key", "team_id", "lead_key"),
        Index("ix_leads_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"))
    crm_id: Mapped[str] = mapped_column(String(200))
    # The CRM id normalised as a rating's lead reference is (bot.text.lead_key): a rating of it ties to it.
    lead_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("lead_sources.id"))
    source_text: Mapped[str | None] = mapped_column(String(75))  # a source matching none of the workspace's
    campaign: Mapped[str | None] = mapped_column(String(150))
    score: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(500))
    # The owner as the CRM named them (a Slack user id or an email), and who that turned out to be in Slack.
    owner_given: Mapped[str | None] = mapped_column(String(320))
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10), default="unassigned")
    # Set while the owner still has to be looked up and the lead routed (DM card or claim post); cleared by
    # the one routing pass that does it.
    routing_pending: Mapped[bool] = mapped_column(Boolean, default=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sla_minutes: Mapped[int] = mapped_column(Integer)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Working minutes from arrival to acceptance (the digest's figures read this, not a recomputation).
    accept_minutes: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_prompt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_prompted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    source: Mapped[LeadSource | None] = relationship(lazy="joined")


class SlackUserEmail(Base):
    """An email Slack resolved to a user (`users.lookupByEmail`), so each owner is looked up once, not per lead."""

    __tablename__ = "slack_user_emails"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    user_id: Mapped[str | None] = mapped_column(String(32))  # None: Slack knows no one by this email
    looked_up_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlackPause(Base):
    """The pace of one workspace's calls of one method, shared through the database by every outbox worker.

    `until`: no worker claims that workspace's messages that use the method before then. A 429 sets it to
    Retry-After; each claim of its paced messages moves it on by their slots (one every 1/rate seconds), so
    the workers of every process space that workspace's calls without waiting on each other.
    `rate`: the calls a second learned for it (None: Slack never refused one, so nothing is paced): set from
    a 429, cut by every later 429, grown a little by each call that went through (bot/outbox.py)."""

    __tablename__ = "slack_pauses"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspaces.team_id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(40), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    rate: Mapped[float | None] = mapped_column(Float)
