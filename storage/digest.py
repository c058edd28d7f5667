"""The weekly digest's aggregations, in SQL over one week's rows (indexed by workspace and time)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.claims import claim_new, claim_one
from storage.messaging import counts_in_tally
from storage.models import (
    DigestPost,
    DigestWeek,
    LeadRating,
    LeadRatingReason,
    LeadSource,
    MessagingAnswer,
    MessagingAsk,
    PulseAnswer,
    PulseRound,
    ReasonCode,
    TeamMember,
)
from storage.queries import dialect_insert


def _week(start: datetime, end: datetime):
    return and_(LeadRating.rated_at >= start, LeadRating.rated_at < end)


def lead_totals(
    *, session: Session, team_id: str, start: datetime, end: datetime
) -> tuple[int, int, float | None, int, int]:
    """(ratings, distinct raters, average, good 4–5, bad 1–2) for the week."""
    row = session.execute(
        select(
            func.count(),
            func.count(func.distinct(LeadRating.rater_user_id)),
            func.avg(LeadRating.rating),
            func.coalesce(func.sum(case((LeadRating.rating >= 4, 1), else_=0)), 0),
            func.coalesce(func.sum(case((LeadRating.rating <= 2, 1), else_=0)), 0),
        ).where(LeadRating.team_id == team_id, _week(start, end))
    ).one()
    return int(row[0]), int(row[1]), float(row[2]) if row[2] is not None else None, int(row[3]), int(row[4])


def lead_sources(
    *, session: Session, team_id: str, start: datetime, end: datetime
) -> list[tuple[str | None, int, float]]:
    """(source label or None, ratings, average) per source for the week."""
    rows = session.execute(
        select(LeadRating.source_id, func.count(), func.avg(LeadRating.rating))
        .where(LeadRating.team_id == team_id, _week(start, end))
        .group_by(LeadRating.source_id)
    ).all()
    labels = dict(
        session.execute(
            select(LeadSource.id, LeadSource.label).where(LeadSource.id.in_([r[0] for r in rows if r[0] is not None]))
        ).all()
    )
    return [(labels.get(source_id), int(count), float(average)) for source_id, count, average in rows]


def lead_campaigns(
    *, session: Session, team_id: str, start: datetime, end: datetime, min_ratings: int
) -> list[tuple[str, int, float]]:
    """(campaign, ratings, average) for campaigns with at least `min_ratings` ratings in the week.

    Campaigns are typed by reps, so case and surrounding spaces don't split one campaign in two.
    """
    key = func.lower(func.trim(LeadRating.campaign))
    rows = session.execute(
        select(func.min(func.trim(LeadRating.campaign)), func.count(), func.avg(LeadRating.rating))
        .where(LeadRating.team_id == team_id, _week(start, end), LeadRating.campaign.is_not(None),
               func.trim(LeadRating.campaign) != "")
        .group_by(key)
        .having(func.count() >= min_ratings)
    ).all()
    return [(label, int(count), float(average)) for label, count, average in rows]


def bad_lead_reasons(
    *, session: Session, team_id: str, weeks: list[tuple[datetime, datetime]]
) -> list[dict[str, tuple[str, int]]]:
    """For each of `weeks` (adjacent, in order): code → (label, count) of reasons given for leads rated 1–2.

    Counted from the reasons table's own (team, time, rating) index: no join with the rating history.
    """
    in_range = and_(LeadRatingReason.rated_at >= weeks[0][0], LeadRatingReason.rated_at < weeks[-1][1])
    counts = [
        func.count(case((and_(LeadRatingReason.rated_at >= start, LeadRatingReason.rated_at < end), 1))).label(f"w{n}")
        for n, (start, end) in enumerate(weeks)
    ]
    per_reason = (
        select(LeadRatingReason.reason_id, *counts)
        .where(LeadRatingReason.team_id == team_id, in_range, LeadRatingReason.rating <= 2)
        .group_by(LeadRatingReason.reason_id)
        .subquery()
    )
    rows = session.execute(
        select(ReasonCode.code, ReasonCode.label, *(per_reason.c[f"w{n}"] for n in range(len(weeks)))).join(
            per_reason, per_reason.c.reason_id == ReasonCode.id
        )
    ).all()
    return [{row[0]: (row[1], int(row[2 + n])) for row in rows if row[2 + n]} for n in range(len(weeks))]


def top_bad_reason_by_source(
    *, session: Session, team_id: str, start: datetime, end: datetime
) -> dict[str | None, str]:
    """Source label (None: no source) → the reason given most often for that source's leads rated 1–2 in the week."""
    rows = session.execute(
        select(LeadSource.label, ReasonCode.label, func.count())
        .select_from(LeadRatingReason)
        .join(LeadRating, LeadRating.id == LeadRatingReason.rating_id)
        .join(ReasonCode, ReasonCode.id == LeadRatingReason.reason_id)
        .outerjoin(LeadSource, LeadSource.id == LeadRating.source_id)
        .where(LeadRatingReason.team_id == team_id, LeadRatingReason.rated_at >= start,
               LeadRatingReason.rated_at < end, LeadRatingReason.rating <= 2)
        .group_by(LeadSource.label, ReasonCode.label)
    ).all()
    top: dict[str | None, tuple[int, str]] = {}
    for source, reason, count in rows:
        best = top.get(source)
        if best is None or (-count, reason) < (-best[0], best[1]):
            top[source] = (int(count), reason)
    return {source: reason for source, (_, reason) in top.items()}


def record_posted_figures(*, session: Session, team_id: str, week: str, figures: dict, now: datetime) -> None:
    """Keep a week's figures as first posted; a later post of the same week (another channel) keeps the first."""
    session.execute(
        dialect_insert(session, DigestWeek)
        .values(team_id=team_id, week=week, figures=figures, posted_at=now)
        .on_conflict_do_nothing(index_elements=["team_id", "week"])
    )


def posted_figures(*, session: Session, team_id: str, week: str) -> dict | None:
    return session.scalar(select(DigestWeek.figures).where(DigestWeek.team_id == team_id, DigestWeek.week == week))


def weekly_lead_averages(
    *, session: Session, team_id: str, weeks: list[tuple[datetime, datetime]]
) -> list[float | None]:
    """The average rating of each week, for the trend chart, in one pass over the weeks' index range."""
    columns = []
    for n, (start, end) in enumerate(weeks):
        in_week = and_(LeadRating.rated_at >= start, LeadRating.rated_at < end)
        columns.append(func.avg(case((in_week, LeadRating.rating))).label(f"w{n}"))
    row = session.execute(select(*columns).where(LeadRating.team_id == team_id, _week(weeks[0][0], weeks[-1][1]))).one()
    return [float(value) if value is not None else None for value in row]


def weekly_pulse_alignment(
    *, session: Session, team_id: str, periods: list[str]
) -> dict[tuple[str, str], tuple[int, float]]:
    """(period, side) → (respondents, average) of the first ("how aligned") question, for the trend."""
    rows = session.execute(
        select(
            PulseRound.period,
            PulseAnswer.side,
            func.count(func.distinct(PulseAnswer.respondent)),
            func.avg(PulseAnswer.score),
        )
        .join(PulseRound, PulseRound.id == PulseAnswer.round_id)
        .where(PulseRound.team_id == team_id, PulseRound.period.in_(periods), PulseAnswer.question == 0)
        .group_by(PulseRound.period, PulseAnswer.side)
    ).all()
    return {(period, side): (int(n), float(avg)) for period, side, n, avg in rows}


def sales_team_size(*, session: Session, team_id: str) -> int:
    return session.scalar(
        select(func.count()).select_from(TeamMember).where(TeamMember.team_id == team_id, TeamMember.side == "sales")
    )


def active_asks(*, session: Session, team_id: str, start: datetime, end: datetime) -> list[MessagingAsk]:
    """Asks open at some point of the week."""
    return list(
        session.scalars(
            select(MessagingAsk)
            .where(
                MessagingAsk.team_id == team_id,
                MessagingAsk.opened_at < end,
                MessagingAsk.closes_at >= start,
                or_(MessagingAsk.closed_at.is_(None), MessagingAsk.closed_at >= start),
            )
            .order_by(MessagingAsk.opened_at)
        )
    )


def quotes_in_week(
    *, session: Session, ask_ids: list[int], start: datetime, end: datetime, limit: int
) -> list[tuple[int, str, str]]:
    """(ask id, reaction, quote) given in the week, resonated first."""
    order = case((MessagingAnswer.reaction == "resonated", 0), (MessagingAnswer.reaction == "mixed", 1), else_=2)
    return [
        tuple(r)
        for r in session.execute(
            select(MessagingAnswer.ask_id, MessagingAnswer.reaction, MessagingAnswer.buyer_quote)
            .where(
                MessagingAnswer.ask_id.in_(ask_ids),
                MessagingAnswer.buyer_quote.is_not(None),
                counts_in_tally(),  # only reps' answers: the same rule as the tallies
                MessagingAnswer.updated_at >= start,
                MessagingAnswer.updated_at < end,
            )
            .order_by(order, MessagingAnswer.updated_at.desc())
            .limit(limit)
        ).all()
    ]


def round_for_week(*, session: Session, team_id: str, period: str) -> PulseRound | None:
    return session.scalar(select(PulseRound).where(PulseRound.team_id == team_id, PulseRound.period == period))


def claim_digest_post(*, session: Session, team_id: str, posted_for: str, channel_id: str, week: str, now: datetime,
                      late: bool) -> bool:
    """Claim the channel's digest for the week and audience before posting; False when it is already claimed."""
    return claim_new(session, DigestPost, unique=("posted_for", "channel_id", "week"),
                     values=dict(team_id=team_id, posted_for=posted_for, channel_id=channel_id, week=week,
                                 status="claimed", claimed_at=now, late=late)) is not None


def digest_claims(*, session: Session, posted_for: str, week: str) -> dict[str, DigestPost]:
    """channel → the claim of `week`'s digest there for this audience (posted, being posted, or left by a crash)."""
    claims = session.scalars(select(DigestPost).where(DigestPost.posted_for == posted_for, DigestPost.week == week))
    return {claim.channel_id: claim for claim in claims}


def retake_claim(*, session: Session, claim_id: int, now: datetime) -> bool:
    """Take over a claim whose lease ran out (its clock died or hung); only one caller wins it."""
    return claim_one(session, DigestPost, values=dict(claimed_at=now), where=(DigestPost.id == claim_id) & (
        DigestPost.status == "claimed") & (DigestPost.claimed_at < now))


def mark_digest_posted(*, session: Session, posted_for: str, channel_id: str, week: str, ts: str,
                       now: datetime) -> None:
    session.execute(
        update(DigestPost)
        .where(
            DigestPost.posted_for == posted_for,
            DigestPost.channel_id == channel_id,
            DigestPost.week == week,
        )
        .values(status="posted", slack_ts=ts, posted_at=now)
    )


def release_claim(*, session: Session, posted_for: str, channel_id: str, week: str) -> None:
    """Give a claim back after a post that failed, so the next run tries again."""
    session.execute(
        delete(DigestPost).where(
            DigestPost.posted_for == posted_for,
            DigestPost.channel_id == channel_id,
            DigestPost.week == week,
            DigestPost.status == "claimed",
        )
    )
